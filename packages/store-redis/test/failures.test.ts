/**
 * How the store fails, forced: a `RedisCommands` shim in front of a real client (the standalone
 * server) throws or stalls chosen commands the way node-redis and ioredis do during a failover.
 * Every failure is a RedisStoreError; one deadline covers a whole call; Redis refusals (BUSY
 * too) are retried; NOSCRIPT is found however it is wrapped, but only as a reply's code; and a
 * write that landed is never reported as failed because the user index could not be updated.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { SessError, SessStoreError } from '@sess/core';
import { freshId, makeRecord } from '@sess/store-test';
import { RedisStoreError, redisStore, type RedisCommands } from '../src/index.js';
import { userIndexKey } from '../src/layout.js';
import { LOAD } from '../src/scripts.js';
import { connect, describeOn, testPrefix, type Connected } from './connect.js';

/** What the shim does with one command: pass it on, throw, or stall for a while (then pass it on). */
type Fault = { throw: unknown } | { stallMs: number } | undefined;

describeOn('standalone', 'failures, forced through a RedisCommands shim', () => {
  let redis: Connected;
  const prefix = testPrefix('failures');
  beforeAll(async () => {
    redis = await connect('ioredis 6', 'standalone');
  });
  afterAll(async () => {
    await redisStore({ client: redis.client, prefix }).clear();
    await redis.quit();
  });

  /** A shim whose `fault` decides per command; `sent` logs every command name, `refreshes` counts refresh calls. */
  function shim(fault: (key: string, args: readonly string[]) => Fault) {
    const log = { sent: [] as string[], refreshes: 0 };
    const commands: RedisCommands = {
      async send(key, args) {
        log.sent.push(args[0] as string);
        const chosen = fault(key, args);
        if (chosen !== undefined && 'throw' in chosen) throw chosen.throw;
        if (chosen !== undefined) await sleep(chosen.stallMs);
        return redis.command(key, args);
      },
      nodes: async () => [(args: readonly string[]) => redis.command('', args)],
      isReady: () => true,
      refresh: () => void (log.refreshes += 1),
    };
    return { commands, log };
  }

  const isIndexKey = (key: string) => key.startsWith(`${prefix}user:{`) && !key.endsWith(':gen');
  const signIn = (userId: string) =>
    [makeRecord({ userId, a: 1 }, Date.now()), 600_000, { set: ['userId', 'a'], deleted: [], created: true }] as const;

  it('every failure is a RedisStoreError (a SessStoreError, status hint 503) with the client error as cause', async () => {
    const original = new Error('ERR something Redis did not like');
    const { commands } = shim(() => ({ throw: original }));
    const store = redisStore({ client: commands, prefix });
    for (const call of [() => store.get(freshId()), () => store.set(freshId(), makeRecord({}, 1), 1_000), () => store.destroy(freshId())]) {
      const error = await call().then(
        () => expect.unreachable('resolved'),
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toBeInstanceOf(SessStoreError);
      expect(error).toBeInstanceOf(SessError);
      expect(error).toMatchObject({ code: 'store_failed', reason: 'failed', statusHint: 503, store: 'redis', cause: original });
      expect((error as Error).message).toMatch(/^\[sess\] redisStore: (get|set|destroy): ERR something Redis did not like$/);
    }
    // sessionsOf and revokeUser count as core's get and destroy.
    await expect(store.sessionsOf!('u')).rejects.toMatchObject({ name: 'RedisStoreError', method: 'sessionsOf', op: 'get' });
    await expect(store.revokeUser!('u')).rejects.toMatchObject({ name: 'RedisStoreError', method: 'revokeUser', op: 'destroy' });
  });

  it('a shim that throws synchronously fails the same way', async () => {
    const commands: RedisCommands = {
      send: () => {
        throw new TypeError('not a function');
      },
      nodes: async () => [],
      isReady: () => true,
    };
    await expect(redisStore({ client: commands, prefix }).get(freshId())).rejects.toMatchObject({
      name: 'RedisStoreError',
      reason: 'failed',
      cause: expect.any(TypeError),
    });
    const noNodes: RedisCommands = {
      ...commands,
      nodes: () => {
        throw new TypeError('no nodes');
      },
    };
    const store = redisStore({ client: noNodes, prefix });
    await expect(store.clear()).rejects.toMatchObject({ name: 'RedisStoreError', method: 'clear', cause: expect.any(TypeError) });
    await expect(store.ids!()[Symbol.asyncIterator]().next()).rejects.toMatchObject({ name: 'RedisStoreError', method: 'ids' });
  });

  it('retries what Redis refused during a failover (CLUSTERDOWN, TRYAGAIN, MOVED) and asks the client to refresh its slot map', async () => {
    const id = freshId();
    await redisStore({ client: redis.client, prefix }).set(id, makeRecord({ a: 1 }, 1), 60_000);
    const refusals = [
      'CLUSTERDOWN The cluster is down',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MOVED 3999 127.0.0.1:6381',
    ];
    let left = refusals.length;
    const { commands, log } = shim(() => (left > 0 ? { throw: new Error(refusals[refusals.length - left--]) } : undefined));
    const store = redisStore({ client: commands, prefix });
    expect((await store.get(id))?.data).toEqual({ a: 1 });
    expect(log.sent).toEqual(['HGETALL', 'HGETALL', 'HGETALL', 'HGETALL']);
    // At most one refresh per 100 ms, however many commands fail.
    expect(log.refreshes).toBe(1);
  });

  it("retries a command node-redis's cluster client failed to route while a failover rebuilt its slot map (it was never sent)", async () => {
    const id = freshId();
    await redisStore({ client: redis.client, prefix }).set(id, makeRecord({ a: 1 }, 1), 60_000);
    // What @redis/client 5 throws from its slot lookup when the slot has no master yet.
    let left = 2;
    const rebuilding = () => new TypeError("Cannot read properties of undefined (reading 'master')");
    const { commands, log } = shim(() => (left-- > 0 ? { throw: rebuilding() } : undefined));
    const store = redisStore({ client: commands, prefix });
    expect((await store.get(id))?.data).toEqual({ a: 1 });
    expect(log.sent).toEqual(['HGETALL', 'HGETALL', 'HGETALL']);
    expect(log.refreshes).toBe(1);
    // Any other TypeError is a bug, not a failover: it fails at once.
    const broken = shim(() => ({ throw: new TypeError("Cannot read properties of undefined (reading 'send')") }));
    await expect(redisStore({ client: broken.commands, prefix }).get(id)).rejects.toMatchObject({ reason: 'failed' });
    expect(broken.log.sent).toEqual(['HGETALL']);
  });

  it('retries a lost connection (the command may have run: every command the store sends is idempotent)', async () => {
    const id = freshId();
    let lost = 2;
    const { commands, log } = shim(() => (lost-- > 0 ? { throw: new Error('Connection is closed.') } : undefined));
    const store = redisStore({ client: commands, prefix });
    expect(await store.set(id, makeRecord({ a: 1 }, 1), 60_000)).toBe(true);
    expect(log.sent.filter((name) => name === 'EVALSHA' || name === 'EVAL')).toHaveLength(3);
    expect((await store.get(id))?.data).toEqual({ a: 1 });
  });

  it('does not retry an answer (WRONGTYPE, ERR...): it fails at once', async () => {
    const { commands, log } = shim(() => ({ throw: new Error('ERR wrong number of arguments') }));
    const startedAt = performance.now();
    await expect(redisStore({ client: commands, prefix }).get(freshId())).rejects.toMatchObject({ reason: 'failed' });
    expect(performance.now() - startedAt).toBeLessThan(100);
    expect(log.sent).toEqual(['HGETALL']);
  });

  it('one deadline covers the whole call: a sign-in of three slow commands fails after timeoutMs, not three times it', async () => {
    const { commands } = shim(() => ({ stallMs: 200 }));
    const store = redisStore({ client: commands, prefix, timeoutMs: 300 });
    const startedAt = performance.now();
    const error = await store.set(freshId(), ...signIn(freshId('user'))).then(
      () => expect.unreachable('resolved'),
      (e: unknown) => e,
    );
    const elapsed = performance.now() - startedAt;
    expect(error).toMatchObject({ name: 'RedisStoreError', code: 'store_timeout', reason: 'timeout', method: 'set' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(450);
  });

  it('a call past its deadline sends nothing more: a sign-in whose generation read answers late does not save', async () => {
    const id = freshId();
    const sent: string[] = [];
    let answer: (reply: unknown) => void = () => undefined;
    const commands: RedisCommands = {
      send(key, args) {
        sent.push(args[0] as string);
        // The generation read hangs (a frozen node) until the test lets it answer.
        if (args[0] === 'GET') return new Promise((resolve) => (answer = resolve));
        return redis.command(key, args);
      },
      nodes: async () => [],
      isReady: () => true,
    };
    await expect(redisStore({ client: commands, prefix, timeoutMs: 100 }).set(id, ...signIn(freshId('user')))).rejects.toMatchObject({
      reason: 'timeout',
    });
    // The app has answered 503 by now; the node answers after all.
    answer(null);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual(['GET']);
    expect(await redisStore({ client: redis.client, prefix }).get(id)).toBeUndefined();
  });

  it('a timeoutMs longer than Node timers keep (2^31 - 1 ms) still waits: a slow answer arrives', async () => {
    const { commands } = shim(() => ({ stallMs: 50 }));
    const store = redisStore({ client: commands, prefix, timeoutMs: 1e12 });
    const id = freshId();
    await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
    expect((await store.get(id))?.data).toEqual({ a: 1 });
  });

  it('retries stop at the deadline; the timeout names the last error it retried, as cause', async () => {
    const refusal = new Error('CLUSTERDOWN The cluster is down');
    const { commands, log } = shim(() => ({ throw: refusal }));
    const startedAt = performance.now();
    const error = await redisStore({ client: commands, prefix, timeoutMs: 300 })
      .get(freshId())
      .then(
        () => expect.unreachable('resolved'),
        (e: unknown) => e,
      );
    expect(performance.now() - startedAt).toBeLessThan(450);
    expect(['timeout', 'unavailable']).toContain((error as RedisStoreError).reason);
    expect((error as RedisStoreError).cause).toBe(refusal);
    expect(log.sent.length).toBeGreaterThan(3);
    const sentAtFailure = log.sent.length;
    await sleep(250);
    expect(log.sent.length).toBe(sentAtFailure);
  });

  it.each([
    ['ioredis', new Error('Too many Cluster redirections. Last error: ReplyError: NOSCRIPT No matching script. Please use EVAL.')],
    ['node-redis', new Error('Too many Cluster redirections', { cause: new Error('NOSCRIPT No matching script. Please use EVAL.') })],
    [
      'a lastNodeError',
      Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: new Error('NOSCRIPT No matching script') }),
    ],
  ])('finds NOSCRIPT wrapped by %s and sends the script source', async (_, wrapped) => {
    let once = true;
    const { commands, log } = shim((_key, args) => (args[0] === 'EVALSHA' && once ? ((once = false), { throw: wrapped }) : undefined));
    const id = freshId();
    expect(await redisStore({ client: commands, prefix }).set(id, makeRecord({ a: 1 }, 1), 60_000)).toBe(true);
    expect(log.sent).toEqual(['EVALSHA', 'EVAL']);
    expect((await redisStore({ client: redis.client, prefix }).get(id))?.data).toEqual({ a: 1 });
  });

  it.each([
    'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
    'BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.',
    // NOSCRIPT here is SHUTDOWN's option, not the reply code: the script is not sent as EVAL.
    'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.',
  ])('retries "%s" (Redis did not run it): EVALSHA again, never EVAL', async (busy) => {
    let left = 2;
    const { commands, log } = shim((_key, args) => (args[0] === 'EVALSHA' && left-- > 0 ? { throw: new Error(busy) } : undefined));
    const id = freshId();
    await redisStore({ client: redis.client, prefix }).set(id, makeRecord({ a: 1 }, 1), 60_000);
    expect(await redisStore({ client: commands, prefix }).set(id, makeRecord({ a: 2 }, 1), 60_000)).toBe(true);
    expect(log.sent).toEqual(['EVALSHA', 'EVALSHA', 'EVALSHA']);
    expect((await redisStore({ client: redis.client, prefix }).get(id))?.data).toEqual({ a: 2 });
  });

  it('NOSCRIPT is a reply only as the first word of a message: elsewhere it is text, and the answer is final', async () => {
    const { commands, log } = shim((_key, args) =>
      args[0] === 'EVALSHA' ? { throw: new Error('ERR Error running script: @user_script:1: NOSCRIPT is not a command') } : undefined,
    );
    await expect(redisStore({ client: commands, prefix }).set(freshId(), makeRecord({ a: 1 }, 1), 60_000)).rejects.toMatchObject({
      reason: 'failed',
    });
    expect(log.sent).toEqual(['EVALSHA']);
  });

  it('a sign-in whose index write failed is saved (true, not an error) and still ends with revokeUser', async () => {
    const userId = freshId('user');
    const id = freshId();
    const { commands } = shim((key, args) =>
      isIndexKey(key) && args[0] !== 'ZREM' ? { throw: new Error('Connection is closed.') } : undefined,
    );
    const broken = redisStore({ client: commands, prefix, timeoutMs: 300 });
    // The session landed; the index could not be told. The app must not answer 503.
    expect(await broken.set(id, ...signIn(userId))).toBe(true);
    const store = redisStore({ client: redis.client, prefix });
    expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
    expect(await store.sessionsOf!(userId)).toEqual([]);
    // Revocation does not rest on the index: the generation rises, the unlisted session is over.
    expect(await store.revokeUser!(userId)).toBe(0);
    expect(await store.get(id)).toBeUndefined();
    // Saves of it that keep its user keep its old stamp: no request can make it live again.
    expect(await store.set(id, makeRecord({ userId, a: 2 }, Date.now()), 600_000, { set: ['a'], deleted: [], created: false })).toBe(true);
    expect(await store.set(id, makeRecord({ userId, a: 3 }, Date.now()), 600_000, { set: ['userId'], deleted: [], created: false })).toBe(
      true,
    );
    expect(await store.touch(id, makeRecord({}, Date.now()).meta, 600_000)).toBe(true);
    expect(await store.get(id)).toBeUndefined();
    // A new sign-in after the revocation is live.
    const again = freshId();
    await store.set(again, ...signIn(userId));
    expect((await store.get(again))?.data).toEqual({ userId, a: 1 });
  });

  it('a save whose index write hangs resolves true at the deadline: the session write landed', async () => {
    const userId = freshId('user');
    const id = freshId();
    const { commands } = shim((key) => (isIndexKey(key) ? { stallMs: 1_000 } : undefined));
    const startedAt = performance.now();
    expect(await redisStore({ client: commands, prefix, timeoutMs: 200 }).set(id, ...signIn(userId))).toBe(true);
    expect(performance.now() - startedAt).toBeLessThan(400);
    expect((await redisStore({ client: redis.client, prefix }).get(id))?.data).toEqual({ userId, a: 1 });
  });

  it('a destroy whose index write failed still resolves: the session is gone', async () => {
    const userId = freshId('user');
    const id = freshId();
    const store = redisStore({ client: redis.client, prefix });
    await store.set(id, ...signIn(userId));
    const { commands } = shim((key) => (isIndexKey(key) ? { throw: new Error('Connection is closed.') } : undefined));
    await redisStore({ client: commands, prefix, timeoutMs: 200 }).destroy(id);
    expect(await store.get(id)).toBeUndefined();
    // The entry left behind names a dead session, which sessionsOf checks and prunes.
    expect(await store.sessionsOf!(userId)).toEqual([]);
  });

  it("a sign-in fails, writing nothing, when the user's generation cannot be read", async () => {
    const userId = freshId('user');
    const id = freshId();
    const { commands, log } = shim((key) => (key.endsWith(':gen') ? { throw: new Error('ERR the node is gone') } : undefined));
    await expect(redisStore({ client: commands, prefix }).set(id, ...signIn(userId))).rejects.toMatchObject({ name: 'RedisStoreError' });
    expect(log.sent).toEqual(['GET']);
    expect(await redisStore({ client: redis.client, prefix }).get(id)).toBeUndefined();
  });

  it('a retried revokeUser does not revoke the session it keeps (the REVOKE script is idempotent)', async () => {
    const userId = freshId('user');
    const store = redisStore({ client: redis.client, prefix });
    const [current, other] = [freshId(), freshId()];
    await store.set(current, ...signIn(userId));
    await store.set(other, ...signIn(userId));
    // REVOKE (two keys and its arguments) runs, but its answer is lost once: the store sends it again.
    const isRevoke = (args: readonly string[]) => args[0] === 'EVALSHA' && args[2] === '2' && args.length >= 8;
    let revokes = 0;
    const lossy: RedisCommands = {
      async send(key, args) {
        const reply = await redis.command(key, args);
        if (isRevoke(args) && (revokes += 1) === 1) throw new Error('Connection is closed.');
        return reply;
      },
      nodes: async () => [],
      isReady: () => true,
    };
    expect(await redisStore({ client: lossy, prefix }).revokeUser!(userId, { except: current })).toBe(1);
    expect(revokes).toBe(2);
    expect(await store.get(current)).toBeDefined();
    expect(await store.get(other)).toBeUndefined();
    // Without the token, the second run would have raised the generation past the kept session's stamp.
    expect(await store.revokeUser!(userId, { except: current })).toBe(0);
    expect(await store.get(current)).toBeDefined();
  });

  it('a server that refuses the one-round-trip load (a proxy, a server that wants every key declared) gets two reads from then on', async () => {
    const userId = freshId('user');
    const id = freshId();
    await redisStore({ client: redis.client, prefix }).set(id, ...signIn(userId));
    const { commands, log } = shim((_key, args) =>
      args[1] === LOAD.sha1 || args[1] === LOAD.source ? { throw: new Error('ERR script tried accessing undeclared key') } : undefined,
    );
    const store = redisStore({ client: { ...commands, cluster: false }, prefix });
    expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
    expect(log.sent).toEqual(['EVALSHA', 'HGETALL', 'GET']);
    log.sent.length = 0;
    expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
    expect(log.sent).toEqual(['HGETALL', 'GET']);
  });

  it('the one-round-trip load is turned off only by a reply that says the server will not run it, not by one failed run', async () => {
    const userId = freshId('user');
    const id = freshId();
    await redisStore({ client: redis.client, prefix }).set(id, ...signIn(userId));
    const script = 'script: 0123456789abcdef0123456789abcdef01234567, on @user_script:1.';
    const refusals = [
      "ERR unknown command 'evalsha', with args beginning with: ",
      'ERR unknown command `evalsha`, with args beginning with: ',
      "NOPERM this user has no permissions to run the 'evalsha' command",
      `ERR The user executing the script can't access at least one of the keys mentioned in the command arguments ${script}`,
      'ERR script tried accessing undeclared key, key: sess:user:{u}:gen',
      `ERR Script attempted to access a non local key in a cluster node ${script}`,
      `ERR Unknown Redis command called from script ${script}`,
      `ERR This Redis command is not allowed from script ${script}`,
      "CROSSSLOT Keys in request don't hash to the same slot",
      'ERR sess LOAD: unexpected key',
    ];
    const failedRuns = [
      `OOM command not allowed when used memory > 'maxmemory'. ${script}`,
      'ERR Script killed by user with SCRIPT KILL... script: 0123, on @user_script:3.',
      `WRONGTYPE Operation against a key holding the wrong kind of value ${script}`,
      'ERR Error running script (call to f_0123): @user_script:5: user_script:5: attempt to compare nil with number',
    ];
    for (const message of [...refusals, ...failedRuns]) {
      // LOAD fails once, with `message`; the load falls back to two reads.
      let failures = 0;
      const { commands, log } = shim((_key, args) =>
        args[1] === LOAD.sha1 && failures++ === 0 ? { throw: new Error(message) } : undefined,
      );
      const store = redisStore({ client: { ...commands, cluster: false }, prefix });
      expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
      expect(log.sent).toEqual(['EVALSHA', 'HGETALL', 'GET']);
      log.sent.length = 0;
      expect((await store.get(id))?.data).toEqual({ userId, a: 1 });
      expect(log.sent, message).toEqual(refusals.includes(message) ? ['HGETALL', 'GET'] : ['EVALSHA']);
    }
  });

  it('a user id with escapes or U+FFFF: the one-round-trip load leaves the generation to a second read, and revocation holds', async () => {
    const store = redisStore({ client: { ...shim(() => undefined).commands, cluster: false }, prefix });
    for (const userId of [`${freshId('user')}\uD800`, `${freshId('user')}\uFFFF`, `${freshId('user')}"\n`, `${freshId('user')}é😀`]) {
      const [kept, revoked] = [freshId(), freshId()];
      await store.set(kept, ...signIn(userId));
      await store.set(revoked, ...signIn(userId));
      expect((await store.get(kept))?.data).toEqual({ userId, a: 1 });
      // Unlisted, so revokeUser cannot delete it: only the generation ends it.
      const indexKey = userIndexKey(prefix, userId);
      await redis.command(indexKey, ['ZREM', indexKey, revoked]);
      expect(await store.revokeUser!(userId, { except: kept })).toBe(0);
      expect((await store.get(kept))?.data, JSON.stringify(userId)).toEqual({ userId, a: 1 });
      expect(await store.get(revoked), JSON.stringify(userId)).toBeUndefined();
    }
  });

  it('an ioredis client with a keyPrefix of its own: the one-round-trip load reads the generation under that prefix', async () => {
    const service = inject('standalone');
    if (!service.ok) return;
    const client = new Redis(service.value, { keyPrefix: `${prefix}kp:`, lazyConnect: true });
    await client.connect();
    const store = redisStore({ client, prefix: 'sess:' });
    try {
      const userId = freshId('user');
      const [kept, revoked] = [freshId(), freshId()];
      await store.set(kept, ...signIn(userId));
      await store.set(revoked, ...signIn(userId));
      expect(await redis.command(`${prefix}kp:sess:${kept}`, ['EXISTS', `${prefix}kp:sess:${kept}`])).toBe(1);
      await client.call('ZREM', `sess:user:{${userId}}`, revoked);
      expect(await store.revokeUser!(userId, { except: kept })).toBe(0);
      expect(await store.get(revoked)).toBeUndefined();
      expect((await store.get(kept))?.data).toEqual({ userId, a: 1 });
    } finally {
      // Its keys are under another prefix than the one afterAll clears: the generation would stay 401 days.
      await store.clear();
      client.disconnect();
    }
  });

  it('an ioredis client with a keyPrefix of its own: ids() lists and clear() deletes the sessions under it', async () => {
    const standalone = inject('standalone');
    const cluster = inject('cluster');
    const own = `${prefix}kpc:`;
    const clients = [
      ...(standalone.ok ? [new Redis(standalone.value, { keyPrefix: own, lazyConnect: true })] : []),
      ...(cluster.ok
        ? [
            new Cluster(
              cluster.value.map((port) => ({ host: '127.0.0.1', port })),
              { keyPrefix: own, lazyConnect: true },
            ),
          ]
        : []),
    ];
    for (const client of clients) {
      await client.connect();
      try {
        const store = redisStore({ client, prefix: 'sess:' });
        const sessions = [freshId(), freshId(), freshId()];
        for (const id of sessions) await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
        const listed: string[] = [];
        for await (const id of store.ids!()) listed.push(id);
        expect(listed.sort(), client.isCluster ? 'Cluster' : 'Redis').toEqual([...sessions].sort());
        await store.clear();
        for (const id of sessions) expect(await client.exists(`sess:${id}`), client.isCluster ? 'Cluster' : 'Redis').toBe(0);
      } finally {
        client.disconnect();
      }
    }
  });
});
