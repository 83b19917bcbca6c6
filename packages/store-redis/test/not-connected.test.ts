/**
 * A client the app has not connected yet (ioredis with `lazyConnect: true`, node-redis before
 * `connect()`) or has closed: the store never connects a client, so every call fails at once,
 * with a message that says so and what to do, and works as soon as the app connects it; but data
 * JSON cannot hold fails as the app's bug all the same, and the user index answers the arguments
 * it needs no Redis for (a user id no session can name, options it cannot read) the same way
 * whether the client is connected or not.
 */
import { once } from 'node:events';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { Redis as IoRedis6 } from 'ioredis';
import { Redis as IoRedis5 } from 'ioredis5';
import { createClient as createClient6 } from 'redis';
import { createClient as createClient5 } from 'redis5';
import { freshId, makeRecord } from '@sess/store-test';
import { type RevokeUserOptions, SessUsageError, type SessionData } from '@sess/core';
import { RedisStoreError, type RedisStore, redisStore } from '../src/index.js';
import { LIBRARIES, TOPOLOGIES, connect, describeOn, testPrefix, type Connected } from './connect.js';

/** The client, made but not connected, and how the app would connect and close it. */
interface Unconnected {
  readonly client: object;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
}

function unconnected(library: string, url: string): Unconnected {
  if (library.startsWith('ioredis')) {
    const client = library === 'ioredis 6' ? new IoRedis6(url, { lazyConnect: true }) : new IoRedis5(url, { lazyConnect: true });
    client.on('error', () => undefined);
    // quit() resolves on Redis's reply; the client is closed at its 'end' event, a moment later.
    const close = async () => {
      const ended = once(client, 'end');
      await client.quit();
      await ended;
    };
    return { client, connect: () => client.connect(), close };
  }
  const client = library === 'node-redis 6' ? createClient6({ url }) : createClient5({ url });
  client.on('error', () => undefined);
  return { client, connect: () => client.connect(), close: () => client.close() };
}

describeOn('standalone', 'a client that is not connected', () => {
  const prefix = testPrefix('not-connected');
  let admin: Connected;
  beforeAll(async () => {
    admin = await connect('ioredis 6', 'standalone');
  });
  afterAll(async () => {
    await redisStore({ client: admin.client, prefix }).clear();
    await admin.quit();
  });

  const url = () => {
    const service = inject('standalone');
    if (!service.ok) throw new Error(service.reason);
    return service.value;
  };

  async function failure(call: Promise<unknown>): Promise<RedisStoreError> {
    const error = await call.then(
      () => undefined,
      (rejected: unknown) => rejected,
    );
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toMatchObject({ reason: 'unavailable', method: 'get' });
    return error as RedisStoreError;
  }

  for (const [library, never] of [
    ['ioredis 6', /was made with lazyConnect: true and has not connected: call `await client\.connect\(\)`/],
    ['ioredis 5', /was made with lazyConnect: true and has not connected: call `await client\.connect\(\)`/],
    ['node-redis 6', /is not open \(never connected, or closed\): call `await client\.connect\(\)`/],
    ['node-redis 5', /is not open \(never connected, or closed\): call `await client\.connect\(\)`/],
  ] as const) {
    it(`${library}: construction accepts it; calls fail at once naming connect(), then work once the app connects it, and fail naming the close after it`, async () => {
      const made = unconnected(library, url());
      const store = redisStore({ client: made.client, prefix });
      const id = freshId();
      const before = await failure(store.get(id));
      expect(before.message).toMatch(never);
      expect(before.message).toMatch(/the store never connects a client/);
      await made.connect();
      await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
      expect((await store.get(id))?.data).toEqual({ a: 1 });
      await made.close();
      const after = await failure(store.get(id));
      expect(after.message).toMatch(library.startsWith('ioredis') ? /was closed \(quit\(\) or disconnect\(\)\)/ : never);
    });
  }
});

/**
 * Data JSON cannot hold is the app's bug (SessUsageError data_not_json, a 500), whether Redis is
 * up or not: a client that cannot send must not turn it into a store outage (a 503 that is
 * retried, and pages whoever runs Redis). The connected case is the conformance suite's.
 */
async function expectDataNotJson(store: RedisStore): Promise<void> {
  // The client really cannot send: data JSON can hold fails as the store being unavailable.
  await expect(store.set(freshId(), makeRecord({ ok: 1 }, Date.now()), 60_000)).rejects.toMatchObject({
    name: 'RedisStoreError',
    reason: 'unavailable',
    method: 'set',
  });
  const loop: Record<string, unknown> = {};
  loop['self'] = loop;
  const saves: [SessionData, RegExp, { set: string[]; deleted: string[]; created: boolean }?][] = [
    [{ ok: 1, n: 10n }, /key "n" holds a BigInt/],
    [{ loop }, /key "loop" holds a circular reference/],
    [{ ok: 1, n: 10n }, /key "n" holds a BigInt/, { set: ['ok', 'n'], deleted: [], created: false }],
  ];
  for (const [data, message, changes] of saves) {
    const error = await store.set(freshId(), makeRecord(data, Date.now()), 60_000, changes).then(
      () => expect.unreachable('the set resolved'),
      (rejected: unknown) => rejected,
    );
    expect(error).toBeInstanceOf(SessUsageError);
    expect(error).toMatchObject({ code: 'data_not_json', message: expect.stringMatching(message) });
  }
}

describeOn('standalone', 'data JSON cannot hold, on a client never connected or closed', () => {
  const url = () => {
    const service = inject('standalone');
    if (!service.ok) throw new Error(service.reason);
    return service.value;
  };
  for (const library of LIBRARIES) {
    it(`${library}: a set fails as the app's bug (SessUsageError data_not_json), not as Redis unavailable`, async () => {
      const made = unconnected(library, url());
      const store = redisStore({ client: made.client, prefix: testPrefix('data-not-json') });
      await expectDataNotJson(store);
      await made.connect();
      await made.close();
      await expectDataNotJson(store);
    });
  }
});

describeOn('cluster', 'data JSON cannot hold, on a cluster client closed', () => {
  for (const library of LIBRARIES) {
    it(`${library}: a set fails as the app's bug (SessUsageError data_not_json), not as Redis unavailable`, async () => {
      const redis = await connect(library, 'cluster');
      await redis.quit();
      await expectDataNotJson(redisStore({ client: redis.client, prefix: testPrefix('data-not-json') }));
    });
  }
});

/**
 * What the user index answers without asking Redis, the same whatever the client's state: a user
 * id that is not a non-empty string names no session (no save indexes one), and revokeUser options
 * it cannot read are the app's bug (a 500), not the store being unavailable (a 503). `connected`
 * says what a good call must do, to show the client really is in the state the caller meant.
 */
async function expectArgumentAnswers(store: RedisStore, connected: boolean): Promise<void> {
  const { sessionsOf, revokeUser } = store as Required<RedisStore>;
  const good = sessionsOf(freshId('user'));
  if (connected) expect(await good).toEqual([]);
  else await expect(good).rejects.toMatchObject({ name: 'RedisStoreError', reason: 'unavailable', method: 'sessionsOf' });
  for (const userId of ['', 42, undefined, null, {}]) {
    expect(await sessionsOf(userId as string), `sessionsOf(${String(userId)})`).toEqual([]);
    expect(await revokeUser(userId as string), `revokeUser(${String(userId)})`).toBe(0);
  }
  const refused: [string, unknown, RegExp][] = [
    ['u-1', null, /revokeUser: options must be an object such as \{ except: id \}, got null/],
    ['u-1', 'an id', /revokeUser: options must be an object such as \{ except: id \}, got a string/],
    ['u-1', ['an id'], /revokeUser: options must be an object such as \{ except: id \}, got an array/],
    ['u-1', { except: 42 }, /revokeUser: except must be a session id \(a string\), got a number/],
    // Found before the user id: a user with no sessions must not hide the bug.
    ['', { except: null }, /revokeUser: except must be a session id \(a string\), got null/],
  ];
  for (const [userId, options, message] of refused) {
    const error = await revokeUser(userId, options as RevokeUserOptions).then(
      () => expect.unreachable(`revokeUser resolved with options ${String(options)}`),
      (rejected: unknown) => rejected,
    );
    expect(error).toBeInstanceOf(SessUsageError);
    expect(error).toMatchObject({ code: 'usage_invalid', message: expect.stringMatching(message) });
  }
}

describeOn('standalone', 'user index arguments, on a client never connected, connected, then closed', () => {
  const url = () => {
    const service = inject('standalone');
    if (!service.ok) throw new Error(service.reason);
    return service.value;
  };
  for (const library of LIBRARIES) {
    it(`${library}: the same answers in every state, never the store unavailable`, async () => {
      const made = unconnected(library, url());
      const store = redisStore({ client: made.client, prefix: testPrefix('user-arguments') });
      await expectArgumentAnswers(store, false);
      await made.connect();
      await expectArgumentAnswers(store, true);
      await made.close();
      await expectArgumentAnswers(store, false);
    });
  }
});

describeOn('cluster', 'user index arguments, on a cluster client connected, then closed', () => {
  for (const library of LIBRARIES) {
    it(`${library}: the same answers in both states, never the store unavailable`, async () => {
      const redis = await connect(library, 'cluster');
      const store = redisStore({ client: redis.client, prefix: testPrefix('user-arguments') });
      await expectArgumentAnswers(store, true);
      await redis.quit();
      await expectArgumentAnswers(store, false);
    });
  }
});

/**
 * The app closes its client (node-redis `close()`, ioredis `quit()`) while requests are still
 * running: each call either completes or fails as the store being unavailable, like a call made
 * after the close, never as an answer from Redis (`failed`). A sign-in sends its save after its
 * generation read answers, by when the client is closed, so each of them fails.
 */
for (const topology of TOPOLOGIES) {
  describeOn(topology, `calls in flight when the app closes the client, ${topology}`, () => {
    for (const library of LIBRARIES) {
      it(`${library}: each completes or fails as unavailable, never as a reply from Redis`, async () => {
        const redis = await connect(library, topology);
        const store = redisStore({ client: redis.client, prefix: testPrefix('closed-in-flight') });
        const signIns = Array.from({ length: 5 }, () =>
          store.set(freshId(), makeRecord({ userId: 'u-1' }, Date.now()), 60_000, { set: ['userId'], deleted: [], created: true }),
        );
        const calls = [...signIns, store.get(freshId())].map((call) =>
          call.then(
            () => undefined,
            (error: unknown) => error,
          ),
        );
        const client = redis.client as { close?: () => Promise<unknown>; quit?: () => Promise<unknown> };
        // ioredis's quit() itself may reject when the connection closes before its reply.
        const closed = (library.startsWith('node-redis') ? client.close?.() : client.quit?.())?.catch(() => undefined);
        const errors = await Promise.all(calls);
        await closed;
        const failures = errors.filter((error) => error !== undefined);
        expect(failures.length).toBeGreaterThanOrEqual(signIns.length);
        for (const error of failures) {
          expect(error).toBeInstanceOf(RedisStoreError);
          expect(error).toMatchObject({ code: 'store_failed', reason: 'unavailable' });
        }
      });
    }
  });
}
