/** Redis clients and stores for the server children; the URL points at the bench's own redis-server. */
import { createClient } from 'redis';
import type { RedisClientType } from 'redis';
import type { Store } from '@sess/core';
import { PRIME_DATA } from '../scenarios.js';
import { Unavailable, importOptional } from './optional.js';

export type RedisClient = RedisClientType;

export function redisUrl(): string {
  const url = process.env.BENCH_REDIS_URL;
  if (url === undefined || url === '') throw new Unavailable('no redis-server (BENCH_REDIS_URL unset)');
  return url;
}

/** node-redis, as the sess and connect-redis READMEs set it up. */
export async function connectRedis(): Promise<RedisClient> {
  // disableOfflineQueue: a command fails at once instead of waiting for a reconnect (sess README).
  return createClient({ url: redisUrl(), disableOfflineQueue: true }).connect();
}

interface StoreRedisModule {
  redisStore(options: { client: object; prefix?: string }): Store;
}

export async function sessRedisStore(client: RedisClient): Promise<Store> {
  const { redisStore } = await importOptional<StoreRedisModule>('@sess/store-redis', ['redisStore']);
  return redisStore({ client, prefix: 'bench-sess:' });
}

/** koa-session's external store contract: get/set/destroy, `maxAge` in ms or 'session'. */
export interface KoaSessionStore {
  get(key: string): Promise<unknown>;
  set(key: string, session: unknown, maxAge: number | 'session' | undefined): Promise<void>;
  destroy(key: string): Promise<void>;
}

/**
 * The smallest Redis store a koa-session user would write (koa-session ships none): JSON under
 * one key, PX from koa-session's maxAge. One round trip per operation, like connect-redis.
 */
export function koaSessionRedisStore(client: RedisClient): KoaSessionStore {
  const prefix = 'bench-koa:';
  const dayMs = 86_400_000;
  return {
    async get(key) {
      const json = await client.get(prefix + key);
      return json === null ? undefined : (JSON.parse(json) as unknown);
    },
    async set(key, session, maxAge) {
      await client.set(prefix + key, JSON.stringify(session), { PX: typeof maxAge === 'number' ? maxAge : dayMs });
    },
    async destroy(key) {
      await client.del(prefix + key);
    },
  };
}

/** What `floor+redis` does before calling on: the round trips for a request to `path`. */
export type RoundTrips = (path: string) => Promise<void>;

/**
 * The Redis client alone, for `floor+redis`: per request, as many round trips as `sess+redis`
 * makes on the same route (the bench counts them with MONITOR: read 1, write 2, new 1,
 * regenerate 2), each one command sent with `sendCommand` as sess's store sends its own, on a
 * hash shaped as the store keeps the primed session (a meta field and one field per key). The
 * commands are plain ones, not sess's scripts: Redis's own work is on another core, and the
 * client's is encoding a command and parsing a reply of the same size.
 */
export async function clientRoundTrips(client: RedisClient): Promise<RoundTrips> {
  const key = 'bench-client:record';
  const meta = JSON.stringify({ createdAt: Date.now(), touchedAt: Date.now(), expiresAt: Date.now() + 86_400_000 });
  const fields = Object.entries(PRIME_DATA).flatMap(([name, value]) => [`d:${name}`, JSON.stringify(value)]);
  await client.sendCommand(['HSET', key, 'm', meta, ...fields]);
  const load = () => client.sendCommand(['HGETALL', key]);
  const save = () => client.sendCommand(['HSET', key, 'm', meta, 'd:views', '2']);
  return async (path) => {
    switch (path) {
      case '/read':
        await load();
        return;
      case '/write':
      case '/regenerate':
        await load();
        await save();
        return;
      case '/new':
        await save();
        return;
    }
  };
}
