/**
 * Session data JSON cannot hold (a BigInt, a cycle, a toJSON that throws) is the app's bug, not a
 * store outage: it must fail as SessUsageError `data_not_json` (500), never as SessStoreError
 * (503, which clients and load balancers retry and which pages whoever runs the store). Stores
 * encode through the store kit's `dataJson`; the runner passes the error through; cookie
 * sessions fail the same way when sealing.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpFailure } from '../src/adapter/index.js';
import type { Effect, HttpEffect, StoreEffect } from '../src/effects.js';
import { SessStoreError, SessUsageError, cookieSessions, createSessionManager } from '../src/index.js';
import type { SessionEvent, SessionRecord, Store } from '../src/index.js';
import { createDeadlines, runEffects } from '../src/runner.js';
import type { StoreFeedback } from '../src/runner.js';
import { dataJson } from '../src/store-kit/index.js';
import { CookieJar, SECRET, fakeClock } from './fixtures.js';

const circular = (): Record<string, unknown> => {
  const self: Record<string, unknown> = { name: 'loop' };
  self['self'] = self;
  return self;
};

/** The error `work` throws (synchronously). */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('dataJson (the store kit)', () => {
  it('writes what JSON.stringify writes, undefined for what JSON drops', () => {
    const data = { a: 1, list: ['x', null], nested: { b: true } };
    expect(dataJson(data, data)).toBe(JSON.stringify(data));
    expect(dataJson('text', 'key')).toBe('"text"');
    expect(dataJson(undefined, 'key')).toBeUndefined();
    expect(dataJson(() => 1, 'key')).toBeUndefined();
  });

  it('fails a BigInt as SessUsageError data_not_json naming the key it was stored under, the TypeError as its cause', () => {
    const error = thrown(() => dataJson(10n, 'n'));
    expect(error).toBeInstanceOf(SessUsageError);
    expect(error).toMatchObject({
      code: 'data_not_json',
      statusHint: 500,
      message: '[sess] session data is not JSON: key "n" holds a BigInt',
    });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('finds the key at fault in the session data the value holds, however deep the value sits', () => {
    const data = { ok: 1, cart: { items: [{ price: 5n }] } };
    const error = thrown(() => dataJson([{ createdAt: 0 }, data], data));
    expect(error).toMatchObject({ code: 'data_not_json', message: '[sess] session data is not JSON: key "cart" holds a BigInt' });
  });

  it('names a circular reference', () => {
    const data = { ok: 1, 'a "quoted" key': circular() };
    expect(thrown(() => dataJson(data, data))).toMatchObject({
      code: 'data_not_json',
      message: '[sess] session data is not JSON: key "a \\"quoted\\" key" holds a circular reference',
    });
  });

  it('passes on what a throwing toJSON said, and names no key when no single key is at fault', () => {
    const boom = {
      toJSON: () => {
        throw new RangeError('no JSON for you');
      },
    };
    expect(thrown(() => dataJson(boom, 'widget'))).toMatchObject({
      code: 'data_not_json',
      message: '[sess] session data is not JSON: key "widget": no JSON for you',
    });
    const whole = {
      a: 1,
      toJSON: () => {
        throw new Error('whole');
      },
    };
    expect(thrown(() => dataJson(whole, whole))).toMatchObject({
      code: 'data_not_json',
      message: '[sess] session data is not JSON: whole',
    });
  });
});

describe('the runner passes a store\u2019s SessUsageError through', () => {
  const save: StoreEffect = {
    type: 'store.save',
    id: 'a'.repeat(22),
    record: { data: { n: 1 }, meta: { createdAt: 0, touchedAt: 0, expiresAt: 1 } },
    ttlMs: 1,
    changes: { set: ['n'], deleted: [], created: true },
  };

  function feedback() {
    const heard: unknown[] = [];
    const hears: StoreFeedback = {
      answered(_effect, outcome): readonly Effect[] {
        heard.push(outcome.ok ? 'ok' : outcome.error);
        return [];
      },
      settled: () => void heard.push('settled'),
    };
    return { heard, hears };
  }

  const store = (set: Store['set']): Store => ({
    name: 'test',
    capabilities: { deltaWrites: false },
    get: () => undefined,
    set,
    destroy: () => undefined,
  });
  const usage = new SessUsageError('session data is not JSON: key "n" holds a BigInt', 'data_not_json');

  it.each([
    [
      'thrown',
      () => {
        throw usage;
      },
    ],
    ['rejected', () => Promise.reject(usage)],
  ] as const)('as the failure, not wrapped in SessStoreError (%s)', async (_how, set) => {
    const { heard, hears } = feedback();
    await expect(runEffects([save], store(set), createDeadlines(1000), hears)).rejects.toBe(usage);
    expect(heard).toEqual([usage, 'settled']);
  });

  it('still wraps any other failure, a TypeError included, as SessStoreError', async () => {
    const { heard, hears } = feedback();
    const failing = store(() => {
      throw new TypeError('Do not know how to serialize a BigInt');
    });
    await expect(runEffects([save], failing, createDeadlines(1000), hears)).rejects.toBeInstanceOf(SessStoreError);
    expect(heard[0]).toBeInstanceOf(SessStoreError);
  });
});

/** A store that encodes as sess's stores do, through `dataJson`; answering synchronously or with promises. */
function jsonStore(synchronous: boolean) {
  const records = new Map<string, string>();
  const answer = <T>(work: () => T): T | Promise<T> => {
    if (synchronous) return work();
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const store = {
    name: 'json',
    capabilities: { deltaWrites: false },
    records,
    get: (id: string) =>
      answer(() => {
        const text = records.get(id);
        return text === undefined ? undefined : (JSON.parse(text) as SessionRecord);
      }),
    set: (id: string, record: SessionRecord, ttlMs: number) =>
      answer(() => {
        if (!(ttlMs > 0)) records.delete(id);
        else records.set(id, `{"meta":${JSON.stringify(record.meta)},"data":${dataJson(record.data, record.data)}}`);
      }),
    destroy: (id: string) => answer(() => void records.delete(id)),
  } satisfies Store & { records: Map<string, string> };
  return store;
}

function world(synchronous: boolean) {
  const clock = fakeClock();
  const store = jsonStore(synchronous);
  const events: SessionEvent[] = [];
  const manager = createSessionManager({ secret: SECRET, store, clock: clock.now, onEvent: (event) => void events.push(event) });
  const jar = new CookieJar();
  const begin = () => manager.begin({ cookieHeader: jar.header(), secure: false });
  return { store, events, jar, begin };
}

describe('a commit whose data JSON cannot hold', () => {
  it.each([true, false])(
    'rejects with SessUsageError data_not_json naming the key, stores nothing, sends no cookie (synchronous store: %s)',
    async (synchronous) => {
      const { store, events, begin } = world(synchronous);
      const session = begin();
      session.set('ok', 1);
      session.set('n', 10n);
      const commit = session.commit({ status: 200 });
      await expect(commit).rejects.toBeInstanceOf(SessUsageError);
      await expect(commit).rejects.toMatchObject({
        code: 'data_not_json',
        statusHint: 500,
        message: expect.stringContaining('key "n" holds a BigInt'),
      });
      expect(store.records.size).toBe(0);
      // The app's bug is no store outage: monitoring must not hear one.
      expect(events.filter((event) => event.type === 'storeError')).toEqual([]);
    },
  );

  it.each([true, false])('leaves the record a returning visitor has as it was (synchronous store: %s)', async (synchronous) => {
    const { store, jar, begin } = world(synchronous);
    const first = begin();
    first.set('user', 'ada');
    jar.apply(await first.commit({ status: 200 }));
    const stored = [...store.records.values()];
    const next = begin();
    await next.load();
    next.set('loop', circular());
    await expect(next.commit({ status: 200 })).rejects.toMatchObject({
      code: 'data_not_json',
      message: expect.stringContaining('key "loop" holds a circular reference'),
    });
    expect([...store.records.values()]).toEqual(stored);
    const again = begin();
    await again.load();
    expect(again.get('user')).toBe('ada');
  });

  it.each(['encrypt', 'sign'] as const)('on cookie sessions (%s) rejects with the same error', async (mode) => {
    const manager = createSessionManager({ secret: SECRET, store: cookieSessions({ secret: SECRET, mode }) });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    session.set('n', 10n);
    const commit = session.commit({ status: 200 });
    await expect(commit).rejects.toBeInstanceOf(SessUsageError);
    await expect(commit).rejects.toMatchObject({ code: 'data_not_json', message: expect.stringContaining('key "n" holds a BigInt') });
  });
});

describe('over HTTP', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** A server whose handler stores `value` under `key`, answering a failed commit as adapters do (`httpFailure`). */
  async function serve(store: Store, value: unknown): Promise<string> {
    const manager = createSessionManager({ secret: SECRET, store });
    const server = createServer((req, res) => {
      const session = manager.begin({ cookieHeader: req.headers.cookie, secure: false });
      session.set('value', value);
      Promise.resolve(session.commit({ status: 200 })).then(
        (effects: readonly HttpEffect[]) => {
          const cookie = effects.find((effect) => effect.type === 'cookie.set');
          if (cookie?.type === 'cookie.set') res.setHeader('set-cookie', `${cookie.name}=${cookie.value}`);
          res.end('ok');
        },
        (error: unknown) => {
          // What the frameworks do with an error sess did not mark: a 500.
          const failure = httpFailure(error) ?? { status: 500, message: 'Internal Server Error' };
          res.statusCode = failure.status;
          res.end(failure.message);
        },
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    close = () => new Promise((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  it('a BigInt in the session answers 500 with no cookie; a store that is down still answers 503', async () => {
    const bug = await fetch(await serve(jsonStore(false), 10n));
    expect(bug.status).toBe(500);
    expect(bug.headers.get('set-cookie')).toBeNull();
    await close?.();
    const down = jsonStore(false);
    const outage = await fetch(await serve({ ...down, set: () => Promise.reject(new Error('ECONNREFUSED')) }, 1));
    expect(outage.status).toBe(503);
    expect(await outage.text()).toBe('Session store unavailable');
  });
});
