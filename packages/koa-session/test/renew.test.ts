/**
 * `renew: true` next to the real koa-session: a session is renewed once less than half of its
 * own lifetime is left, the `maxAge` it was saved with (`ctx.session.maxAge = ...` sets one per
 * session), not the configured one. The same app runs on both libraries under one clock (a fake
 * `Date`, which both read), and each visit's Set-Cookie or store write is compared.
 */
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, decoded, koaApp, lineOf, memoryStore, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};
type Library = keyof typeof LIBRARIES;

const CONFIGURED = 60_000;
const SHORT = 10_000;
const LONG = 600_000;

/** What a visit did: whether the session was written again, and the times it was written with. */
interface Visit {
  readonly at: number;
  readonly renewed: boolean;
  readonly expire?: unknown;
  readonly maxAge?: unknown;
}

/** A memory store whose `get` takes `ms` on the fake clock. */
function slowStore(ms: number) {
  const store = memoryStore();
  const get = store.get.bind(store);
  store.get = async (...args) => {
    vi.setSystemTime(Date.now() + ms);
    return get(...args);
  };
  return store;
}

let t0 = 0;
beforeEach(() => {
  // Only Date: sockets and timers stay real. Apps are made after this, so both libraries read this clock.
  vi.useFakeTimers({ toFake: ['Date'] });
  t0 = Math.floor(Date.now() / 1000) * 1000;
  vi.setSystemTime(t0);
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * Signs in at t0 with a session whose own maxAge is `own` (the app sets `ctx.session.maxAge`),
 * then visits (reading the session only) at each offset from t0.
 */
async function trace(
  Koa: KoaClass,
  library: Library,
  storeMode: boolean,
  own: number,
  offsets: readonly number[],
  path = '/',
  storeGetMs = 0,
): Promise<Visit[]> {
  const store = storeMode ? slowStore(storeGetMs) : undefined;
  const app = koaApp(Koa);
  const options: SessionOptions = { renew: true, maxAge: CONFIGURED, ...(store && { store }) };
  app.use(LIBRARIES[library](options, app as never));
  app.use((ctx: Context) => {
    if (ctx.path === '/unread') return void (ctx.body = 'unread');
    const s = ctx.session!;
    if (ctx.path === '/login') {
      s.user = 'ada';
      s.maxAge = own;
    }
    ctx.body = { user: s.user ?? null, maxAge: s.maxAge ?? null };
  });
  const browser = new Browser(await serve(app));
  const saved = () =>
    store === undefined ? decoded(browser.jar.get('koa.sess')) : (store.sessions.get(browser.jar.get('koa.sess') as string) ?? {});
  vi.setSystemTime(t0);
  await browser.get('/login');
  expect(saved()).toMatchObject({ user: 'ada', _expire: t0 + own, _maxAge: own });
  const visits: Visit[] = [];
  for (const offset of offsets) {
    vi.setSystemTime(t0 + offset);
    const writes = store?.calls.filter((call) => call.op === 'set').length ?? 0;
    const reply = await browser.get(path);
    expect(reply.body).toBe(path === '/' ? JSON.stringify({ user: 'ada', maxAge: own }) : 'unread');
    const cookie = lineOf(reply, 'koa.sess') !== undefined;
    const renewed = store === undefined ? cookie : store.calls.filter((call) => call.op === 'set').length > writes;
    // A store session's renewal also re-sends its cookie.
    if (store !== undefined) expect(cookie).toBe(renewed);
    visits.push(renewed ? { at: offset, renewed, expire: saved()._expire, maxAge: saved()._maxAge } : { at: offset, renewed });
  }
  return visits;
}

describe.each(KOAS)('%s', (_, Koa) => {
  describe.each([
    ['cookie mode', false],
    ['store mode', true],
  ] as const)('%s', (_mode, storeMode) => {
    it('a session whose own maxAge is shorter than the configured one is renewed once less than half of its own is left', async () => {
      // Half of 10s is 5s: renewed after t0 + 5s (strictly), then counted from the renewal.
      const offsets = [4_000, 5_000, 5_001, 8_000, 10_002];
      const real = await trace(Koa, 'koa-session', storeMode, SHORT, offsets);
      expect(real).toEqual([
        { at: 4_000, renewed: false },
        { at: 5_000, renewed: false },
        { at: 5_001, renewed: true, expire: t0 + 5_001 + SHORT, maxAge: SHORT },
        { at: 8_000, renewed: false },
        { at: 10_002, renewed: true, expire: t0 + 10_002 + SHORT, maxAge: SHORT },
      ]);
      expect(await trace(Koa, '@sess/koa-session', storeMode, SHORT, offsets)).toEqual(real);
    });

    it('a session whose own maxAge is longer than the configured one is not renewed before half of its own has passed', async () => {
      // Half of 600s is 300s: the configured 60s would renew it from t0 + 30s.
      const offsets = [31_000, 100_000, 300_000, 300_001, 330_000];
      const real = await trace(Koa, 'koa-session', storeMode, LONG, offsets);
      expect(real).toEqual([
        { at: 31_000, renewed: false },
        { at: 100_000, renewed: false },
        { at: 300_000, renewed: false },
        { at: 300_001, renewed: true, expire: t0 + 300_001 + LONG, maxAge: LONG },
        { at: 330_000, renewed: false },
      ]);
      expect(await trace(Koa, '@sess/koa-session', storeMode, LONG, offsets)).toEqual(real);
    });

    it('a session with the configured maxAge: renewed strictly after half of it', async () => {
      const offsets = [29_999, 30_000, 30_001];
      const real = await trace(Koa, 'koa-session', storeMode, CONFIGURED, offsets);
      expect(real.map((visit) => visit.renewed)).toEqual([false, false, true]);
      expect(await trace(Koa, '@sess/koa-session', storeMode, CONFIGURED, offsets)).toEqual(real);
    });

    it('a visit that never reads the session renews it in store mode only (koa-session loads it for every request there)', async () => {
      const offsets = [4_000, 6_000];
      const real = await trace(Koa, 'koa-session', storeMode, SHORT, offsets, '/unread');
      expect(real.map((visit) => visit.renewed)).toEqual([false, storeMode]);
      expect(await trace(Koa, '@sess/koa-session', storeMode, SHORT, offsets, '/unread')).toEqual(real);
    });
  });

  it('store mode: renewal is judged once the store has answered, as koa-session judges it at its commit', async () => {
    // A visit at t0 + 4s whose store read takes 2s: 4s of 10s are left once it answers, so renewed.
    const real = await trace(Koa, 'koa-session', true, SHORT, [4_000], '/', 2_000);
    expect(real.map((visit) => visit.renewed)).toEqual([true]);
    const ours = await trace(Koa, '@sess/koa-session', true, SHORT, [4_000], '/', 2_000);
    expect(ours.map((visit) => visit.renewed)).toEqual([true]);
  });
});
