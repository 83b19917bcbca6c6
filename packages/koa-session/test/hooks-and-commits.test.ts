/**
 * Next to the real koa-session, over real HTTP: a `valid()` that throws, `manuallyCommit()`
 * in the middle of a request with `autoCommit` on, and an `externalKey` that names no session. The same app runs on both libraries; each
 * visit's status, body, cookies (set or deleted) and store calls are compared, and so are the
 * errors the app's error handling got.
 */
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { describe, expect, it } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, koaApp, memoryStore, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};
type Library = keyof typeof LIBRARIES;
type Step = readonly [path: string, headers?: Record<string, string>];

interface Run {
  readonly visits: { path: string; status: number; body: string; cookies: string[]; store?: string[] }[];
  /** What reached the app's 'error' event, and its session events. */
  readonly errors: string[];
  readonly events: string[];
  /** Rejections nobody handled: each would end a Node process run with the defaults. */
  readonly unhandled: unknown[];
}

/** A Set-Cookie line that deletes its cookie: a past expiry (koa-session also signs the empty value). */
function deletes(line: string): boolean {
  const expires = /; expires=([^;]*)/i.exec(line)?.[1];
  return /; max-age=0(;|$)/i.test(line) || (expires !== undefined && Date.parse(expires) <= Date.now());
}

async function run(Koa: KoaClass, library: Library, options: SessionOptions, handle: (ctx: Context) => unknown, steps: readonly Step[]) {
  const store = options.store === undefined ? undefined : memoryStore();
  const app = koaApp(Koa);
  const errors: string[] = [];
  app.on('error', (error: Error) => errors.push(error.message));
  const events: string[] = [];
  for (const name of ['session:missed', 'session:expired', 'session:invalid']) app.on(name, () => events.push(name));
  app.use(LIBRARIES[library]({ ...options, ...(store && { store }) }, app as never));
  app.use(async (ctx: Context) => {
    ctx.body = JSON.stringify((await handle(ctx)) ?? null);
  });
  const browser = new Browser(await serve(app));
  const unhandled: unknown[] = [];
  const listener = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', listener);
  const visits: Run['visits'] = [];
  try {
    for (const [path, headers] of steps) {
      const reply = await browser.get(path, headers);
      // Each cookie set or deleted: values and expiries differ between the libraries by design.
      const cookies = reply.setCookies.map((line) => `${line.slice(0, line.indexOf('='))} ${deletes(line) ? 'deleted' : 'set'}`);
      const calls = store?.calls.splice(0).map((call) => call.op);
      visits.push({ path, status: reply.status, body: reply.body, cookies, ...(calls && { store: calls }) });
    }
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return { visits, errors, events, unhandled } satisfies Run;
}

/** The run on koa-session, checked to equal the one on @sess/koa-session. */
async function sideBySide(Koa: KoaClass, options: SessionOptions, handle: (ctx: Context) => unknown, steps: readonly Step[]) {
  const real = await run(Koa, 'koa-session', options, handle, steps);
  expect(await run(Koa, '@sess/koa-session', options, handle, steps)).toEqual(real);
  return real;
}

const MODES = [
  ['cookie mode', {}],
  ['store mode', { store: memoryStore() }],
] as [string, SessionOptions][];

const BOOM = { 'x-boom': '1' };
/** A `valid()` with a bug: it throws on the requests that carry `x-boom`. */
const throwingValid = (ctx: Context) => {
  if (ctx.get('x-boom') !== '') throw new Error('valid() failed');
  return true;
};

describe.each(KOAS)('%s', (_, Koa) => {
  describe.each(MODES)('%s', (mode, modeOptions) => {
    it('valid() that throws: the error reaches Koa, nothing is written, the cookie stays, and the session is there once valid() passes', async () => {
      const real = await sideBySide(
        Koa,
        { ...modeOptions, valid: throwingValid },
        (ctx) => {
          if (ctx.path === '/quiet') return 'no session read';
          if (ctx.path === '/login') ctx.session!.user = 'ada';
          return ctx.session!.user ?? null;
        },
        [['/login'], ['/', BOOM], ['/quiet', BOOM], ['/']],
      );
      // Cookie mode checks the session when the app first reads it; store mode loads it before the app runs.
      const quiet = mode === 'cookie mode' ? [200, '"no session read"'] : [500, 'Internal Server Error'];
      expect(real.visits.map((visit) => [visit.status, visit.body, visit.cookies.length])).toEqual([
        [200, '"ada"', 2],
        [500, 'Internal Server Error', 0],
        [...quiet, 0],
        [200, '"ada"', 0],
      ]);
      expect(real.errors).toEqual(mode === 'cookie mode' ? ['valid() failed'] : ['valid() failed', 'valid() failed']);
      expect(real.events).toEqual([]);
      expect(real.unhandled).toEqual([]);
    });

    it('manuallyCommit() with autoCommit on: what changes after it is committed too, a destroy included', async () => {
      const real = await sideBySide(
        Koa,
        modeOptions,
        async (ctx) => {
          const s = ctx.session!;
          if (ctx.path === '/login') {
            s.user = 'ada';
            await s.manuallyCommit();
            s.cart = ['apple'];
          }
          if (ctx.path === '/twice') {
            await s.manuallyCommit();
            s.n = 1;
            await s.manuallyCommit();
            s.n = 2;
          }
          if (ctx.path === '/back') {
            // Written by manuallyCommit(); back as loaded at the end, so the end's commit writes nothing more.
            s.user = 'bob';
            await s.manuallyCommit();
            s.user = 'ada';
          }
          if (ctx.path === '/logout') {
            s.user = 'eve';
            await s.manuallyCommit();
            ctx.session = null;
          }
          return ctx.session?.toJSON() ?? null;
        },
        [['/login'], ['/'], ['/twice'], ['/'], ['/back'], ['/'], ['/logout'], ['/']],
      );
      expect(real.visits.map((visit) => visit.body)).toEqual([
        '{"user":"ada","cart":["apple"]}',
        '{"user":"ada","cart":["apple"]}',
        '{"user":"ada","cart":["apple"],"n":2}',
        '{"user":"ada","cart":["apple"],"n":2}',
        '{"user":"ada","cart":["apple"],"n":2}',
        '{"user":"bob","cart":["apple"],"n":2}',
        'null',
        '{}',
      ]);
      expect(real.errors).toEqual([]);
    });
  });

  describe.each(MODES)('%s', (_mode, modeOptions) => {
    const REMEMBER = 30 * 86_400_000;
    const hooks: [string, NonNullable<SessionOptions['beforeSave']>][] = [
      ['session.maxAge', (_ctx, s) => void (s.remember && (s.maxAge = REMEMBER))],
      ['ctx.sessionOptions.maxAge', (ctx, s) => void (s.remember && (ctx.sessionOptions.maxAge = REMEMBER))],
    ];
    it.each(hooks)('a lifetime beforeSave() sets (%s) is the one that save is written with', async (_, beforeSave) => {
      const real = await sideBySide(
        Koa,
        { ...modeOptions, beforeSave },
        async (ctx) => {
          const s = ctx.session!;
          if (ctx.path === '/login') Object.assign(s, { user: 'ada', remember: true });
          if (ctx.path === '/save') {
            s.visits = 1;
            await s.save();
          }
          if (ctx.path === '/commit') {
            s.visits = 2;
            await s.manuallyCommit();
          }
          return { data: s.toJSON(), maxAge: s.maxAge ?? null };
        },
        [['/login'], ['/'], ['/save'], ['/'], ['/commit'], ['/']],
      );
      // The lifetime read back is the one each save was written with: the hook's.
      expect(real.visits.map((visit) => JSON.parse(visit.body).maxAge)).toEqual([null, REMEMBER, REMEMBER, REMEMBER, REMEMBER, REMEMBER]);
      // And the cookie (and the store's record) last as long.
      const store = modeOptions.store === undefined ? undefined : memoryStore();
      const app = koaApp(Koa);
      app.use(ourSession({ ...modeOptions, ...(store && { store }), beforeSave }, app));
      app.use((ctx: Context) => {
        ctx.session!.remember = true;
        ctx.body = 'ok';
      });
      const line = (await new Browser(await serve(app)).get('/')).setCookies[0];
      expect(line).toMatch(new RegExp(`^koa\\.sess=.*; max-age=${REMEMBER / 1000};`, 'i'));
      if (store !== undefined) expect(store.calls.at(-1)).toMatchObject({ op: 'set', maxAge: REMEMBER + 10_000 });
    });
  });

  it('cookie mode: valid() that throws, caught by the app, which then replaces the session or signs out', async () => {
    const real = await sideBySide(
      Koa,
      { valid: throwingValid },
      (ctx) => {
        if (ctx.path === '/login') ctx.session!.user = 'ada';
        try {
          return ctx.session!.toJSON();
        } catch {
          if (ctx.path === '/replace') ctx.session = { user: 'guest' };
          if (ctx.path === '/logout') ctx.session = null;
          return ctx.session?.toJSON() ?? null;
        }
      },
      [['/login'], ['/replace', BOOM], ['/'], ['/login'], ['/logout', BOOM], ['/']],
    );
    expect(real.visits.map((visit) => [visit.body, visit.cookies])).toEqual([
      ['{"user":"ada"}', ['koa.sess set', 'koa.sess.sig set']],
      ['{"user":"guest"}', ['koa.sess set', 'koa.sess.sig set']],
      ['{"user":"guest"}', []],
      ['{"user":"ada"}', ['koa.sess set', 'koa.sess.sig set']],
      ['null', ['koa.sess deleted', 'koa.sess.sig deleted']],
      ['{}', []],
    ]);
  });

  it('externalKey: a key that names no session sends no cookie (the key never travelled in one); signing out deletes them, as koa-session does', async () => {
    const issued: string[] = [];
    const externalKey = {
      get: (ctx: Context) => ctx.get('x-session') || undefined,
      set: (_ctx: Context, key: string) => void issued.push(key),
    };
    const as = (key: string) => ({ 'x-session': key });
    const real = await sideBySide(
      Koa,
      { store: memoryStore(), externalKey, genid: (ctx) => ctx.get('x-new-key'), valid: (_ctx, s) => s.user !== 'eve' },
      (ctx) => {
        if (ctx.path.startsWith('/as/')) ctx.session!.user = ctx.path.slice(4);
        if (ctx.path === '/logout') ctx.session = null;
        return ctx.session?.user ?? null;
      },
      [
        ['/as/ada', { 'x-new-key': 'k1' }],
        ['/', as('k1')],
        ['/', as('gone')],
        ['/logout', as('k1')],
        ['/', as('k1')],
        ['/as/eve', { 'x-new-key': 'k2' }],
        ['/', as('k2')],
      ],
    );
    expect(real.visits.map((visit) => [visit.body, visit.cookies])).toEqual([
      ['"ada"', []],
      ['"ada"', []],
      ['null', []],
      ['null', ['koa.sess deleted', 'koa.sess.sig deleted']],
      ['null', []],
      ['"eve"', []],
      ['null', []],
    ]);
    expect(real.events).toEqual(['session:missed', 'session:missed', 'session:invalid']);
    // Each library's saves, one after the other.
    expect(issued).toEqual(['k1', 'k2', 'k1', 'k2']);
  });
});
