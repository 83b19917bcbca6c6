/**
 * `ctx.sessionOptions` and the store's `changed`, next to the real koa-session: the same app runs
 * on both libraries over real HTTP, and each visit's Set-Cookie lines (attributes as a browser
 * reads them) and store writes are compared.
 */
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { describe, expect, it, vi } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, type Reply, decoded, koaApp, memoryStore, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};
type Library = keyof typeof LIBRARIES;

/** A Set-Cookie line as a browser keeps it: the name, and the attributes but the expiry, in any case and order. */
function attributesOf(line: string): string {
  const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
  const kept = attributes.map((attribute) => attribute.toLowerCase()).filter((attribute) => !/^(expires|max-age)=/.test(attribute));
  return [pair.slice(0, pair.indexOf('=')), ...kept.sort()].join('; ');
}

interface Visit {
  readonly path: string;
  readonly status: number;
  readonly body: string;
  readonly cookies: string[];
  /** The `_maxAge` of the session written in this visit (cookie mode). */
  readonly maxAge?: unknown;
  /** The store's writes in this visit: their ttl and `changed`. */
  readonly writes?: string[];
}

/** How the visits reach the app: behind a proxy (`app.proxy`), with these headers. */
interface Via {
  readonly proxy?: boolean;
  readonly headers?: Record<string, string>;
}

/** Visits `paths` in turn on `library`, with `handle` as the app. */
async function visits(
  Koa: KoaClass,
  library: Library,
  options: SessionOptions,
  handle: (ctx: Context) => unknown,
  paths: readonly string[],
  via: Via = {},
): Promise<Visit[]> {
  const store = options.store === undefined ? undefined : memoryStore();
  const app = koaApp(Koa);
  app.proxy = via.proxy ?? false;
  app.use(LIBRARIES[library]({ ...options, ...(store && { store }) }, app as never));
  app.use(async (ctx: Context) => {
    ctx.body = JSON.stringify((await handle(ctx)) ?? null);
  });
  const browser = new Browser(await serve(app));
  const result: Visit[] = [];
  for (const path of paths) {
    const reply: Reply = await browser.get(path, via.headers);
    const cookies = reply.setCookies.map(attributesOf);
    const writes = store?.calls
      .splice(0)
      .filter((call) => call.op === 'set')
      .map((call) => `ttl ${String(call.maxAge)}, changed ${String(call.options.changed)}`);
    const written = store === undefined && cookies.some((line) => line.startsWith('koa.sess;')) && browser.jar.has('koa.sess');
    result.push({
      path,
      status: reply.status,
      body: reply.body,
      cookies,
      ...(written && { maxAge: decoded(browser.jar.get('koa.sess'))._maxAge }),
      ...(writes && { writes }),
    });
  }
  return result;
}

/** The visits on koa-session, checked to equal the ones on @sess/koa-session. */
async function sideBySide(
  Koa: KoaClass,
  options: SessionOptions,
  handle: (ctx: Context) => unknown,
  paths: readonly string[],
  via: Via = {},
) {
  const real = await visits(Koa, 'koa-session', options, handle, paths, via);
  expect(await visits(Koa, '@sess/koa-session', options, handle, paths, via)).toEqual(real);
  return real;
}

describe.each(KOAS)('%s', (_, Koa) => {
  it('a cookie attribute the app sets on ctx.sessionOptions goes on this response’s cookies, set or deleted', async () => {
    const real = await sideBySide(
      Koa,
      {},
      (ctx) => {
        Object.assign(ctx.sessionOptions, { domain: 'example.com', httpOnly: false, sameSite: 'strict' });
        if (ctx.path === '/login') ctx.session!.user = 'ada';
        if (ctx.path === '/logout') ctx.session = null;
        return ctx.session?.user ?? null;
      },
      ['/login', '/logout'],
    );
    expect(real.map((visit) => [visit.status, visit.cookies])).toEqual([
      [200, ['koa.sess; domain=example.com; path=/; samesite=strict', 'koa.sess.sig; domain=example.com; path=/; samesite=strict']],
      [200, ['koa.sess; domain=example.com; path=/; samesite=strict', 'koa.sess.sig; domain=example.com; path=/; samesite=strict']],
    ]);
  });

  const signIn = (ctx: Context) => {
    if (ctx.path === '/login') ctx.session!.user = 'ada';
    return ctx.session!.user ?? null;
  };

  it("sameSite: 'none' and partitioned without secure: true are taken, as koa-session takes them: a secure request's cookies carry them", async () => {
    const behindTls: Via = { proxy: true, headers: { 'x-forwarded-proto': 'https' } };
    for (const options of [
      { sameSite: 'none', partitioned: true },
      { sameSite: 'None', store: memoryStore() },
    ] as SessionOptions[]) {
      const real = await sideBySide(Koa, options, signIn, ['/login', '/'], behindTls);
      const attributes = `httponly;${options.partitioned ? ' partitioned;' : ''} path=/; samesite=none; secure`;
      expect(real.map((visit) => [visit.status, visit.body, visit.cookies])).toEqual([
        [200, '"ada"', [`koa.sess; ${attributes}`, `koa.sess.sig; ${attributes}`]],
        [200, '"ada"', []],
      ]);
    }
  });

  it('on a plain request, SameSite=None and Partitioned (browsers drop either without Secure) are left off: the options’ or ctx.sessionOptions’, never a 500 after the write', async () => {
    const perRequest = (ctx: Context) => {
      Object.assign(ctx.sessionOptions, { sameSite: 'none', partitioned: true });
      return signIn(ctx);
    };
    for (const [options, handle] of [
      [{ sameSite: 'none', partitioned: true }, signIn],
      [{ store: memoryStore() }, perRequest],
      [{ sameSite: 'none', secure: true }, (ctx: Context) => (Object.assign(ctx.sessionOptions, { secure: false }), signIn(ctx))],
    ] as const) {
      const seen = await visits(Koa, '@sess/koa-session', options, handle, ['/login', '/']);
      expect(seen.map((visit) => [visit.status, visit.body, visit.cookies])).toEqual([
        [200, '"ada"', ['koa.sess; httponly; path=/', 'koa.sess.sig; httponly; path=/']],
        [200, '"ada"', []],
      ]);
    }
  });

  describe('SameSite=None and Partitioned go exactly on the cookies that are Secure', () => {
    const behindTls: Via = { proxy: true, headers: { 'x-forwarded-proto': 'https' } };
    // Sets, keeps, sets again (from then on with an expiry) and deletes the session.
    const account = (ctx: Context) => {
      if (ctx.path === '/login') ctx.session!.user = 'ada';
      if (ctx.path === '/rename') ctx.session!.user = 'grace';
      if (ctx.path === '/logout') ctx.session = null;
      return ctx.session?.user ?? null;
    };
    // The same app reading ctx.sessionOptions, which gives the request its own copy, unchanged.
    const reading = (ctx: Context) => {
      expect(ctx.sessionOptions.sameSite).toBe('none');
      return account(ctx);
    };
    // The app makes this response's cookie Secure on a plain request.
    const securing = (ctx: Context) => (Object.assign(ctx.sessionOptions, { secure: true }), account(ctx));
    const paths = ['/login', '/', '/rename', '/logout'];
    const expected = (attributes: string) => {
      const lines = [`koa.sess; ${attributes}`, `koa.sess.sig; ${attributes}`];
      return [lines, [], lines, lines];
    };
    const all = 'httponly; partitioned; path=/; samesite=none; secure';

    it.each([
      ["sameSite: 'none'", { sameSite: 'none' }, account, 'httponly; path=/; samesite=none; secure'],
      ['partitioned', { partitioned: true }, account, 'httponly; partitioned; path=/; secure'],
      [
        "sameSite: 'lax' and partitioned",
        { sameSite: 'lax', partitioned: true },
        account,
        'httponly; partitioned; path=/; samesite=lax; secure',
      ],
      ['both, with secure: true', { sameSite: 'none', partitioned: true, secure: true }, account, all],
      ['both, with a maxAge', { sameSite: 'none', partitioned: true, maxAge: 60_000 }, account, all],
      ['both, store mode, ctx.sessionOptions read', { sameSite: 'none', partitioned: true, store: memoryStore() }, reading, all],
    ] as [string, SessionOptions, (ctx: Context) => unknown, string][])(
      'on a secure request (TLS at the proxy), as koa-session: %s',
      async (_, options, handle, attributes) => {
        const real = await sideBySide(Koa, options, handle, paths, behindTls);
        expect(real.map((visit) => visit.cookies)).toEqual(expected(attributes));
      },
    );

    // koa-session would send SameSite=None or Partitioned without Secure, which browsers drop
    // (and with secure: true on a plain request, Koa's cookies throw): these are sess's own.
    it.each([
      ["sameSite: 'none'", { sameSite: 'none' }, account, {}, 'httponly; path=/'],
      ['partitioned', { partitioned: true }, account, {}, 'httponly; path=/'],
      ["sameSite: 'lax' and partitioned", { sameSite: 'lax', partitioned: true }, account, {}, 'httponly; path=/; samesite=lax'],
      ['both, with a maxAge', { sameSite: 'none', partitioned: true, maxAge: 60_000 }, account, {}, 'httponly; path=/'],
      [
        'both, store mode, ctx.sessionOptions read',
        { sameSite: 'none', partitioned: true, store: memoryStore() },
        reading,
        {},
        'httponly; path=/',
      ],
      [
        'both, with secure: false, even on a secure request',
        { sameSite: 'none', partitioned: true, secure: false },
        account,
        behindTls,
        'httponly; path=/',
      ],
      ['both, with secure: true, Secure on a plain request', { sameSite: 'none', partitioned: true, secure: true }, account, {}, all],
      ['both, ctx.sessionOptions.secure set true on a plain request', { sameSite: 'none', partitioned: true }, securing, {}, all],
    ] as [string, SessionOptions, (ctx: Context) => unknown, Via, string][])(
      'on a cookie that is not Secure they are left off, and one that is carries them: %s',
      async (_, options, handle, via, attributes) => {
        const seen = await visits(Koa, '@sess/koa-session', options, handle, paths, via);
        expect(seen.map((visit) => [visit.status, visit.cookies])).toEqual(expected(attributes).map((lines) => [200, lines]));
      },
    );
  });

  describe.each([
    ['cookie mode', {}],
    ['store mode', { store: memoryStore() }],
  ] as [string, SessionOptions][])('%s', (_mode, mode) => {
    it('autoCommit: false: save() sends the cookie without manuallyCommit(); what changes after it waits for a commit', async () => {
      const real = await sideBySide(
        Koa,
        { ...mode, autoCommit: false },
        async (ctx) => {
          const s = ctx.session!;
          if (ctx.path === '/login') {
            s.user = 'ada';
            await s.save();
            s.cart = ['apple'];
          }
          if (ctx.path === '/logout') {
            await s.save();
            ctx.session = null;
          }
          return ctx.session?.toJSON() ?? null;
        },
        ['/login', '/', '/logout', '/'],
      );
      expect(real.map((visit) => [visit.body, visit.cookies.length])).toEqual([
        ['{"user":"ada","cart":["apple"]}', 2],
        ['{"user":"ada"}', 0],
        ['null', 2],
        ['{"user":"ada"}', 0],
      ]);
    });

    it('autoCommit: false: regenerate() gives the session a new key (or cookie) without manuallyCommit()', async () => {
      const keys: unknown[] = [];
      const real = await sideBySide(
        Koa,
        { ...mode, autoCommit: false },
        async (ctx) => {
          const s = ctx.session!;
          if (ctx.path === '/login') {
            s.user = 'ada';
            await s.manuallyCommit();
          }
          if (ctx.path === '/regenerate') await s.regenerate();
          keys.push(ctx.cookies.get('koa.sess'));
          return ctx.session?.user ?? null;
        },
        ['/login', '/regenerate', '/'],
      );
      expect(real.map((visit) => [visit.body, visit.cookies.length])).toEqual([
        ['"ada"', 2],
        ['"ada"', 2],
        ['"ada"', 0],
      ]);
      // On each library: the request after regenerate() came with a key of its own.
      for (const at of [1, 4]) expect(keys[at + 1]).not.toBe(keys[at]);
    });

    it('ctx.sessionOptions.maxAge set on every request sends nothing by itself; the next save has that lifetime', async () => {
      const real = await sideBySide(
        Koa,
        { ...mode, maxAge: 60_000 },
        (ctx) => {
          // Read first: koa-session's cookie mode loads the session then, and its saved maxAge replaces the option's.
          const s = ctx.session!;
          ctx.sessionOptions.maxAge = 30_000;
          if (ctx.path === '/inc') s.n = (s.n ?? 0) + 1;
          return s.n ?? 0;
        },
        ['/inc', '/', '/', '/inc'],
      );
      expect(real.map((visit) => visit.cookies.length)).toEqual([2, 0, 0, 2]);
      if (mode.store === undefined) expect(real.map((visit) => visit.maxAge)).toEqual([30_000, undefined, undefined, 30_000]);
      else expect(real.map((visit) => visit.writes)).toEqual([['ttl 40000, changed true'], [], [], ['ttl 40000, changed true']]);
    });

    it('with rolling, ctx.sessionOptions.maxAge is the lifetime of every save', async () => {
      const real = await sideBySide(
        Koa,
        { ...mode, maxAge: 60_000, rolling: true },
        (ctx) => {
          const s = ctx.session!;
          if (ctx.path === '/short') ctx.sessionOptions.maxAge = 30_000;
          if (ctx.path === '/login') s.user = 'ada';
          return s.user ?? null;
        },
        ['/login', '/short', '/'],
      );
      if (mode.store === undefined) expect(real.map((visit) => visit.maxAge)).toEqual([60_000, 30_000, 30_000]);
      else
        expect(real.map((visit) => visit.writes)).toEqual([
          ['ttl 70000, changed true'],
          ['ttl 40000, changed false'],
          ['ttl 40000, changed false'],
        ]);
    });
  });

  it('with renew, a session renewed is saved with the ctx.sessionOptions.maxAge of its request', async () => {
    // Only Date is faked (both libraries read it); sockets stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const t0 = Math.floor(Date.now() / 1000) * 1000;
      const run = async (library: Library) => {
        vi.setSystemTime(t0);
        const app = koaApp(Koa);
        app.use(LIBRARIES[library]({ maxAge: 60_000, renew: true }, app as never));
        app.use((ctx: Context) => {
          const s = ctx.session!;
          if (ctx.path === '/login') s.user = 'ada';
          if (ctx.path === '/long') ctx.sessionOptions.maxAge = 120_000;
          ctx.body = String(s.user);
        });
        const browser = new Browser(await serve(app));
        await browser.get('/login');
        // 25 s of 60 left: renewed, by either lifetime.
        vi.setSystemTime(t0 + 35_000);
        await browser.get('/long');
        return decoded(browser.jar.get('koa.sess'));
      };
      const real = await run('koa-session');
      expect(real).toEqual({ user: 'ada', _expire: t0 + 35_000 + 120_000, _maxAge: 120_000 });
      expect(await run('@sess/koa-session')).toEqual(real);
    } finally {
      vi.useRealTimers();
    }
  });

  it('store mode: an error beforeSave throws reaches Koa as it is, not as a failed store', async () => {
    const real = await sideBySide(
      Koa,
      {
        store: memoryStore(),
        beforeSave(ctx) {
          if (ctx.path === '/refused') throw Object.assign(new Error('refused'), { status: 409, expose: true });
        },
      },
      async (ctx) => {
        const s = ctx.session!;
        s.n = (s.n ?? 0) + 1;
        return s.n;
      },
      ['/', '/refused', '/'],
    );
    expect(real.map((visit) => [visit.status, visit.body])).toEqual([
      [200, '1'],
      [409, 'refused'],
      [200, '2'],
    ]);
  });

  it('store mode: save() of an unchanged session writes it once; the commit writes nothing more', async () => {
    const real = await sideBySide(
      Koa,
      { store: memoryStore() },
      async (ctx) => {
        const s = ctx.session!;
        if (ctx.path === '/login') s.user = 'ada';
        if (ctx.path === '/save') await s.save();
        return s.user ?? null;
      },
      ['/login', '/save'],
    );
    expect(real.map((visit) => visit.writes)).toEqual([['ttl 86410000, changed true'], ['ttl 86410000, changed false']]);
  });

  it('store mode: after save(), the commit writes the session changed since it was loaded with changed: true', async () => {
    const real = await sideBySide(
      Koa,
      { store: memoryStore() },
      async (ctx) => {
        const s = ctx.session!;
        if (ctx.path === '/login') s.user = 'ada';
        if (ctx.path === '/save') {
          s.cart = ['apple'];
          await s.save();
        }
        return s.user ?? null;
      },
      ['/login', '/save'],
    );
    expect(real.map((visit) => visit.writes)).toEqual([
      ['ttl 86410000, changed true'],
      ['ttl 86410000, changed false', 'ttl 86410000, changed true'],
    ]);
  });
});
