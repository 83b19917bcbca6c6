/**
 * Round trips, measured: a private redis-server whose MONITOR stream shows every command a
 * client sends (commands run inside scripts show with source "lua" and are not round trips).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freshId, makeRecord } from '@sess/store-test';
import { redisStore } from '../src/index.js';
import { LIBRARIES, connectUrl, describeOn, type Connected } from './connect.js';
import { freePort, startServer, waitFor, type RedisServer } from './servers.js';

describeOn('binaries', 'round trips, counted with MONITOR on a private server', () => {
  let server: RedisServer;
  let dir: string;
  let monitor: Awaited<ReturnType<Redis['monitor']>>;
  const seen: string[][] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sess-redis-rt-'));
    server = await startServer(await freePort(), dir);
    const admin = new Redis(server.port, '127.0.0.1');
    monitor = await admin.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push(args.map((arg, i) => (i === 0 ? arg.toLowerCase() : arg)));
    });
    await admin.quit();
  });

  afterAll(async () => {
    monitor?.disconnect();
    await server?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * The commands `client` sent while `work` ran: everything between two ECHO markers it sends
   * itself, collected once MONITOR has shown the closing marker (no sleep).
   */
  async function sent(redis: Connected, work: () => Promise<unknown>): Promise<string[][]> {
    const [open, close] = [randomUUID(), randomUUID()];
    await redis.command('', ['ECHO', open]);
    await work();
    await redis.command('', ['ECHO', close]);
    const at = (marker: string) => seen.findIndex((args) => args[0] === 'echo' && args[1] === marker);
    await waitFor('MONITOR to show the closing marker', async () => at(close) >= 0, 5_000);
    return seen.slice(at(open) + 1, at(close));
  }

  const names = (commands: string[][]) => commands.map((args) => args[0]);

  describe.each(LIBRARIES)('round trips with %s', (library) => {
    let redis: Connected;
    beforeAll(async () => {
      redis = await connectUrl(library, `redis://127.0.0.1:${server.port}`);
    });
    afterAll(() => redis.quit());

    it('load, save, delta save, touch and destroy are one command each', async () => {
      const store = redisStore({ client: redis.client, prefix: `rt:${randomUUID()}:` });
      const id = freshId();
      const record = makeRecord({ a: 1, b: 2 }, Date.now());
      // Loads the scripts into the server's cache; a cold cache costs one more command (below).
      await store.set(id, record, 60_000);
      await store.touch(id, record.meta, 60_000);
      await store.destroy(freshId());
      await store.get(id);

      // On a standalone server, a load is one script: the session and, signed in, its user's generation.
      expect(names(await sent(redis, () => store.get(id)))).toEqual(['evalsha']);
      expect(names(await sent(redis, () => store.set(id, record, 60_000, { set: ['a', 'b'], deleted: [], created: true })))).toEqual([
        'evalsha',
      ]);
      const deltaSave = await sent(redis, () =>
        store.set(id, makeRecord({ a: 5 }, Date.now()), 60_000, { set: ['a'], deleted: ['b'], created: false }),
      );
      expect(names(deltaSave)).toEqual(['evalsha']);
      // Only the changed field travels: the delta carries `d:a` and deletes `d:b`, nothing else.
      expect(deltaSave[0]?.slice(-3)).toEqual(['d:a', '5', 'd:b']);
      expect(names(await sent(redis, () => store.touch(id, record.meta, 60_000)))).toEqual(['evalsha']);
      // The destroy script reads the user id to take the session out of its user's index.
      expect(names(await sent(redis, () => store.destroy(id)))).toEqual(['evalsha']);
    });

    it("a signed-in session: sign-in reads the user's generation first, then saves and indexes together; a load is still one command", async () => {
      const store = redisStore({ client: redis.client, prefix: `rt:${randomUUID()}:` });
      const record = makeRecord({ userId: 'u1', a: 1 }, Date.now());
      await store.set(freshId(), record, 60_000);
      const id = freshId();
      // Sign-in: GET of the generation, then the save and the index write sent together.
      expect(names(await sent(redis, () => store.set(id, record, 60_000, { set: ['userId', 'a'], deleted: [], created: true })))).toEqual([
        'get',
        'evalsha',
        'evalsha',
      ]);
      // A later save keeps the stamp it finds: the save and the index write, sent together.
      expect(names(await sent(redis, () => store.set(id, record, 60_000, { set: ['a'], deleted: [], created: false })))).toEqual([
        'evalsha',
        'evalsha',
      ]);
      expect(names(await sent(redis, () => store.get(id)))).toEqual(['evalsha']);
      expect(names(await sent(redis, () => store.touch(id, record.meta, 60_000)))).toEqual(['evalsha', 'evalsha']);
      expect(names(await sent(redis, () => store.destroy(id)))).toEqual(['evalsha', 'zrem']);
    });

    it('a signed-in save of a session the index lost costs one command more, which lists it again', async () => {
      const prefix = `rt:${randomUUID()}:`;
      const store = redisStore({ client: redis.client, prefix });
      const id = freshId();
      const record = makeRecord({ userId: 'u1', a: 1 }, Date.now());
      await store.set(id, record, 60_000, { set: ['userId', 'a'], deleted: [], created: true });
      const indexKey = `${prefix}user:{u1}`;
      await redis.command(indexKey, ['ZREM', indexKey, id]);
      // The index write sent with the save only extends a listed entry; the save's stamp then lists it.
      expect(names(await sent(redis, () => store.set(id, record, 60_000, { set: ['a'], deleted: [], created: false })))).toEqual([
        'evalsha',
        'evalsha',
        'evalsha',
      ]);
      expect(await redis.command(indexKey, ['ZSCORE', indexKey, id])).not.toBeNull();
      expect(names(await sent(redis, () => store.set(id, record, 60_000, { set: ['a'], deleted: [], created: false })))).toEqual([
        'evalsha',
        'evalsha',
      ]);
    });

    it('through a cluster client (session and user in different slots), a load is HGETALL, then GET of the generation if signed in', async () => {
      // The same server, but the store is told keys may live on different nodes, as on a cluster.
      const asCluster = { send: redis.command, nodes: async () => [], isReady: () => true, cluster: true };
      const store = redisStore({ client: asCluster, prefix: `rt:${randomUUID()}:` });
      const [anonymous, signedIn] = [freshId(), freshId()];
      await store.set(anonymous, makeRecord({ a: 1 }, Date.now()), 60_000);
      await store.set(signedIn, makeRecord({ userId: 'u1' }, Date.now()), 60_000);
      expect(names(await sent(redis, () => store.get(anonymous)))).toEqual(['hgetall']);
      expect(names(await sent(redis, () => store.get(signedIn)))).toEqual(['hgetall', 'get']);
    });

    it('a refused save costs its one command; signed in, one more afterwards takes the index entry back', async () => {
      const store = redisStore({ client: redis.client, prefix: `rt:${randomUUID()}:` });
      const changes = { set: ['a'], deleted: [], created: false };
      await store.set(freshId(), makeRecord({ a: 1 }, Date.now()), 60_000, changes);
      expect(names(await sent(redis, () => store.set(freshId(), makeRecord({ a: 1 }, Date.now()), 60_000, changes)))).toEqual(['evalsha']);
      const signedIn = await sent(redis, () => store.set(freshId(), makeRecord({ a: 1, userId: 'u1' }, Date.now()), 60_000, changes));
      expect(names(signedIn)).toEqual(['evalsha', 'evalsha', 'zrem']);
    });

    it('after the script cache is flushed, a save retries once with EVAL and then uses EVALSHA again', async () => {
      const store = redisStore({ client: redis.client, prefix: `rt:${randomUUID()}:` });
      const id = freshId();
      await redis.command('', ['SCRIPT', 'FLUSH']);
      expect(names(await sent(redis, () => store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000)))).toEqual(['evalsha', 'eval']);
      expect(names(await sent(redis, () => store.set(id, makeRecord({ a: 2 }, Date.now()), 60_000)))).toEqual(['evalsha']);
      expect((await store.get(id))?.data).toEqual({ a: 2 });
    });
  });
});
