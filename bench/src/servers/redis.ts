/** Redis clients and stores for the server children; the URL points at the bench's own redis-server. */
import { createClient } from 'redis';
import type { RedisClientType } from 'redis';
import type { Store } from '@sess/core';
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
