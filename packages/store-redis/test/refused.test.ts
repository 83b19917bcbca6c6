/**
 * Private redis-servers that refuse commands without running them, for a while: the store sends
 * them again within the call's deadline rather than failing at once.
 *
 * BUSY: with a low `busy-reply-threshold`, a long script from another connection makes Redis
 * answer every other command "BUSY Redis is busy running a script. You can only call SCRIPT KILL
 * or SHUTDOWN NOSAVE." NOREPLICAS: with `min-replicas-to-write`, writes are refused until a replica
 * is attached. READONLY: a server made a replica (REPLICAOF, as a failover does) refuses writes
 * until it is promoted back.
 *
 * Also the one-round-trip load (LOAD) against a server that fails one run of it (the store tries
 * it again next time) or will not run scripts for this user (the store reads in two from then on).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freshId, makeRecord } from '@sess/store-test';
import { redisStore } from '../src/index.js';
import { genKey } from '../src/layout.js';
import { LIBRARIES, connectUrl, describeOn } from './connect.js';
import { cli, freePort, startServer, waitFor, type RedisServer } from './servers.js';

/** Spins until ARGV[1] ms have passed by the server's clock; read-only, so SCRIPT KILL could end it. */
const SPIN = `
local function now() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return 1`;

const BUSY = 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.';

/** One command's counters from INFO commandstats (`calls`, `rejected_calls`...), empty if never sent. */
async function commandStats(port: number, command: string): Promise<Record<string, number>> {
  const line = (await cli(port, 'INFO', 'commandstats')).split('\n').find((l) => l.startsWith(`cmdstat_${command}:`));
  if (line === undefined) return {};
  return Object.fromEntries(
    line
      .trim()
      .slice(line.indexOf(':') + 1)
      .split(',')
      .map((pair) => pair.split('='))
      .map(([name, value]) => [name, Number(value)]),
  );
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sess-redis-refused-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describeOn('binaries', 'a server busy running a script', () => {
  let server: RedisServer;
  let spinner: Redis;
  let probe: Redis;
  /** The busy script of the running test: every test waits for it to end, failed or not. */
  let running: Promise<unknown> = Promise.resolve();
  beforeAll(async () => {
    const port = await freePort();
    server = await startServer(port, dir, ['--busy-reply-threshold', '50']);
    spinner = new Redis(port, '127.0.0.1', { lazyConnect: true });
    probe = new Redis(port, '127.0.0.1', { lazyConnect: true });
    await Promise.all([spinner.connect(), probe.connect()]);
  });
  afterAll(async () => {
    spinner?.disconnect();
    probe?.disconnect();
    await server?.kill();
  });
  beforeEach(async () => {
    await cli(server.port, 'CONFIG', 'RESETSTAT');
  });
  afterEach(() => running.catch(() => undefined));

  /** Starts a script that keeps the server busy for `ms`, and resolves once the server answers BUSY. */
  async function busyFor(ms: number): Promise<{ ended: Promise<unknown> }> {
    const ended = spinner.eval(SPIN, 0, String(ms));
    running = ended;
    let refusal: unknown;
    await waitFor('the server to answer BUSY', async () => {
      refusal = await probe.ping().then(
        () => undefined,
        (error: unknown) => error,
      );
      return refusal !== undefined;
    });
    expect((refusal as Error).message).toBe(BUSY);
    return { ended };
  }

  describe.each(LIBRARIES)('with %s', (library) => {
    it('a call made while Redis is busy is sent again, and succeeds once the script ends (no EVAL sent)', async () => {
      const redis = await connectUrl(library, `redis://127.0.0.1:${server.port}`);
      try {
        const store = redisStore({ client: redis.client, prefix: 'busy:', timeoutMs: 10_000 });
        const plain = redisStore({ client: redis.client, prefix: 'busy:', timeoutMs: 10_000, userIdKey: false });
        const [kept, doomed] = [freshId(), freshId()];
        // Caches the scripts (the first EVALSHA of each on this server is NOSCRIPT, then EVAL).
        await store.set(kept, makeRecord({ a: 1 }, Date.now()), 60_000);
        await store.set(doomed, makeRecord({ b: 1 }, Date.now()), 60_000);
        await store.get(kept);
        await cli(server.port, 'CONFIG', 'RESETSTAT');

        const { ended } = await busyFor(1_000);
        // A script (LOAD), a script that writes (SAVE) and a plain command (DEL).
        const calls = Promise.all([
          store.get(kept),
          store.set(kept, makeRecord({ a: 2 }, Date.now()), 60_000, { set: ['a'], deleted: [], created: false }),
          plain.destroy(doomed),
        ]);
        const [, saved] = await calls;
        await ended;
        expect(saved).toBe(true);
        expect((await store.get(kept))?.data).toEqual({ a: 2 });
        expect(await store.get(doomed)).toBeUndefined();

        // Redis refused them while busy, and they were sent again: EVALSHA and DEL, never EVAL.
        expect((await commandStats(server.port, 'evalsha')).rejected_calls).toBeGreaterThan(0);
        const del = await commandStats(server.port, 'del');
        expect(del.calls).toBe(1);
        expect(del.rejected_calls).toBeGreaterThan(0);
        // The only EVAL is the busy script's own.
        expect(await commandStats(server.port, 'eval')).toMatchObject({ calls: 1, rejected_calls: 0 });
      } finally {
        await redis.quit();
      }
    });
  });

  it('a call whose deadline passes while Redis is busy fails as unavailable, with BUSY as cause, after retrying to the deadline', async () => {
    const redis = await connectUrl('ioredis 6', `redis://127.0.0.1:${server.port}`);
    try {
      const plain = redisStore({ client: redis.client, prefix: 'busy:', timeoutMs: 300, userIdKey: false });
      const { ended } = await busyFor(1_500);
      const startedAt = performance.now();
      const error = await plain.destroy(freshId()).then(
        () => expect.unreachable('resolved'),
        (e: unknown) => e,
      );
      const elapsed = performance.now() - startedAt;
      await ended;
      // Not 'failed' (an answer): Redis did not run it, and another try could have succeeded. On a
      // loaded machine the last try's BUSY can come back after the deadline's check, which then
      // fails the call as a timeout instead: either way it failed by its deadline, never ran.
      expect(error).toMatchObject({ name: 'RedisStoreError', method: 'destroy' });
      const { code, reason, cause } = error as { code: string; reason: string; cause?: Error };
      if (code === 'store_timeout') expect(reason).toBe('timeout');
      else expect([code, reason, cause?.message]).toEqual(['store_failed', 'unavailable', BUSY]);
      // Retries stop when the next pause would pass the deadline (300 ms).
      expect(elapsed).toBeGreaterThanOrEqual(200);
      expect((await commandStats(server.port, 'del')).rejected_calls).toBeGreaterThan(1);
    } finally {
      await redis.quit();
    }
  });
});

describeOn('binaries', 'a server that wants a replica to write (min-replicas-to-write)', () => {
  let primary: RedisServer;
  let replica: RedisServer | undefined;
  beforeAll(async () => {
    primary = await startServer(await freePort(), dir, ['--min-replicas-to-write', '1', '--repl-diskless-sync-delay', '0']);
  });
  afterAll(async () => {
    await replica?.kill();
    await primary?.kill();
  });

  it('writes refused with NOREPLICAS are sent again, and land once a replica is attached', async () => {
    const redis = await connectUrl('ioredis 6', `redis://127.0.0.1:${primary.port}`);
    try {
      const store = redisStore({ client: redis.client, prefix: 'noreplicas:', timeoutMs: 15_000 });
      const plain = redisStore({ client: redis.client, prefix: 'noreplicas:', timeoutMs: 15_000, userIdKey: false });
      const id = freshId();
      // Settled at once into a value, so a failure before the replica exists is not unhandled.
      const settled = (promise: Promise<unknown>) =>
        promise.then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
      const saved = settled(store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000));
      const destroyed = settled(plain.destroy(freshId()));
      // Both were refused at least once: the save's script (a write inside it) and the DEL.
      await waitFor('the save and the DEL to be refused', async () => {
        const [evals, dels] = await Promise.all([commandStats(primary.port, 'eval'), commandStats(primary.port, 'del')]);
        return (evals.failed_calls ?? 0) > 0 && (dels.rejected_calls ?? 0) > 0;
      });
      replica = await startServer(await freePort(), dir, ['--replicaof', '127.0.0.1', String(primary.port)]);
      expect(await saved).toEqual({ value: true });
      expect(await destroyed).toEqual({ value: undefined });
      expect((await store.get(id))?.data).toEqual({ a: 1 });
    } finally {
      await redis.quit();
    }
  }, 20_000);
});

describeOn('binaries', 'a server demoted to a replica (READONLY), then promoted back', () => {
  let server: RedisServer;
  let master: RedisServer;
  beforeAll(async () => {
    master = await startServer(await freePort(), dir, ['--repl-diskless-sync-delay', '0']);
    server = await startServer(await freePort(), dir);
  });
  afterAll(async () => {
    await server?.kill();
    await master?.kill();
  });
  // A failed test must not leave the next one a replica.
  afterEach(() => cli(server.port, 'REPLICAOF', 'NO', 'ONE'));

  /** Makes the server a replica of `master` and waits until it has synced (so it refuses writes, and holds the master's data). */
  async function demote(): Promise<void> {
    await cli(server.port, 'REPLICAOF', '127.0.0.1', String(master.port));
    await waitFor('the replica to sync', async () => (await cli(server.port, 'INFO', 'replication')).includes('master_link_status:up'));
    await cli(server.port, 'CONFIG', 'RESETSTAT');
  }

  /** How many writes the demoted server refused: scripts (EVALSHA, or EVAL if the sync dropped the cache) and DEL. */
  async function refusals(): Promise<{ scripts: number; dels: number }> {
    const [evalsha, evals, del] = await Promise.all(['evalsha', 'eval', 'del'].map((command) => commandStats(server.port, command)));
    return { scripts: (evalsha?.failed_calls ?? 0) + (evals?.failed_calls ?? 0), dels: del?.rejected_calls ?? 0 };
  }

  describe.each(LIBRARIES)('with %s', (library) => {
    it('writes refused with READONLY are sent again, and land once the server is promoted back within the deadline', async () => {
      const redis = await connectUrl(library, `redis://127.0.0.1:${server.port}`);
      try {
        const store = redisStore({ client: redis.client, prefix: 'readonly:', timeoutMs: 10_000 });
        const plain = redisStore({ client: redis.client, prefix: 'readonly:', timeoutMs: 10_000, userIdKey: false });
        // Caches the scripts while the server is a master.
        await store.get(freshId());
        await demote();
        const [userId, id, doomed] = [freshId('user'), freshId(), freshId()];
        // Settled at once into a value, so a failure before the promotion is not unhandled.
        const settled = (promise: Promise<unknown>) =>
          promise.then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          );
        // A sign-in (SAVE and the user index, both scripts that write) and a plain command (DEL).
        const saved = settled(store.set(id, makeRecord({ userId, a: 1 }, Date.now()), 60_000));
        const destroyed = settled(plain.destroy(doomed));
        await waitFor('the save and the DEL to be refused with READONLY', async () => {
          const { scripts, dels } = await refusals();
          return scripts > 0 && dels > 0;
        });
        await cli(server.port, 'REPLICAOF', 'NO', 'ONE');
        expect(await saved).toEqual({ value: true });
        expect(await destroyed).toEqual({ value: undefined });
        expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
        expect((await store.sessionsOf!(userId)).map((session) => session.id)).toEqual([id]);
      } finally {
        await redis.quit();
      }
    }, 20_000);
  });

  it('a write whose deadline passes while the server is a replica fails as unavailable, with READONLY as cause, after retrying', async () => {
    const redis = await connectUrl('ioredis 6', `redis://127.0.0.1:${server.port}`);
    try {
      const plain = redisStore({ client: redis.client, prefix: 'readonly:', timeoutMs: 300, userIdKey: false });
      await demote();
      const error = await plain.destroy(freshId()).then(
        () => expect.unreachable('resolved'),
        (e: unknown) => e,
      );
      // Not 'failed' (an answer): Redis did not run it, and the same write could land after a promotion.
      expect(error).toMatchObject({ name: 'RedisStoreError', code: 'store_failed', reason: 'unavailable', method: 'destroy' });
      expect((error as { cause: Error }).cause.message).toMatch(/^READONLY /);
      expect((await refusals()).dels).toBeGreaterThan(1);
    } finally {
      await redis.quit();
    }
  });
});

describeOn('binaries', 'the one-round-trip load (LOAD) when a run of it fails', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startServer(await freePort(), dir);
    // A user that may run everything but scripts: to it, this server will never run LOAD.
    await cli(server.port, 'ACL', 'SETUSER', 'noscripts', 'on', '>pw', '~*', '&*', '+@all', '-eval', '-evalsha');
  });
  afterAll(async () => {
    await server?.kill();
  });

  /** How many times the server ran `command` since the last RESETSTAT. */
  const calls = async (command: string) => (await commandStats(server.port, command)).calls ?? 0;

  describe.each(LIBRARIES)('with %s', (library) => {
    it('one failed run (a key of the wrong type) fails that load only: later loads run the script again', async () => {
      const redis = await connectUrl(library, `redis://127.0.0.1:${server.port}`);
      try {
        const prefix = `load-again:${freshId()}:`;
        const store = redisStore({ client: redis.client, prefix, timeoutMs: 2_000 });
        const userId = freshId('user');
        const id = freshId();
        await store.set(id, makeRecord({ userId, a: 1 }, Date.now()), 60_000);
        // The user's generation key of another type: LOAD's GET of it fails (WRONGTYPE), an
        // answer for this session, not a refusal of the script.
        const gen = genKey(prefix, userId);
        await cli(server.port, 'RPUSH', gen, 'not a generation');
        await expect(store.get(id)).rejects.toMatchObject({ name: 'RedisStoreError', reason: 'failed' });
        await cli(server.port, 'DEL', gen);
        await cli(server.port, 'CONFIG', 'RESETSTAT');
        for (let i = 0; i < 3; i += 1) expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
        // One round trip each, by the script (whose own HGETALL and GET commandstats counts too).
        expect(await calls('evalsha')).toBe(3);
      } finally {
        await redis.quit();
      }
    });

    it('a user the server will not run scripts for (NOPERM) gets two reads from then on', async () => {
      const writer = await connectUrl(library, `redis://127.0.0.1:${server.port}`);
      const reader = await connectUrl(library, `redis://noscripts:pw@127.0.0.1:${server.port}`);
      try {
        const prefix = `load-refused:${freshId()}:`;
        const userId = freshId('user');
        const id = freshId();
        await redisStore({ client: writer.client, prefix }).set(id, makeRecord({ userId, a: 1 }, Date.now()), 60_000);
        const store = redisStore({ client: reader.client, prefix, timeoutMs: 2_000 });
        expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
        await cli(server.port, 'CONFIG', 'RESETSTAT');
        for (let i = 0; i < 3; i += 1) expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
        // The script is not tried again: each load is HGETALL then GET, sent by the store.
        expect(await commandStats(server.port, 'evalsha')).toEqual({});
        expect(await calls('hgetall')).toBe(3);
        expect(await calls('get')).toBe(3);
      } finally {
        await Promise.all([writer.quit(), reader.quit()]);
      }
    });
  });
});
