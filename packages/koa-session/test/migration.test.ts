/**
 * Moving an app from koa-session to this package, and back, with the real koa-session: a browser
 * signs in on a koa-session app, keeps its cookies, and talks to the same app on
 * @sess/koa-session (same app.keys): still signed in, with its data. Then back again. In cookie
 * mode, and in store mode with one external store on the real Redis that both apps use.
 */
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, koaApp, memoryStore, redisStore, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES: Record<'koa-session' | '@sess/koa-session', Factory> = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};

/** The same small app on either library: sign in, count visits, change nested data, rotate, sign out. */
async function appOn(Koa: KoaClass, library: keyof typeof LIBRARIES, options: SessionOptions): Promise<string> {
  const app = koaApp(Koa);
  app.use(LIBRARIES[library](options, app as never));
  app.use(async (ctx: Context) => {
    const s = ctx.session!;
    if (ctx.path === '/login') Object.assign(s, { user: 'ada', cart: { items: ['apple'] }, visits: 0 });
    if (ctx.path === '/visit') s.visits += 1;
    if (ctx.path === '/add') s.cart.items.push(ctx.query.item);
    if (ctx.path === '/rotate') await s.regenerate();
    if (ctx.path === '/logout') ctx.session = null;
    ctx.body =
      ctx.session === null ? { user: null } : { user: s.user ?? null, cart: s.cart ?? null, visits: s.visits ?? null, isNew: s.isNew };
  });
  return serve(app);
}

async function body(browser: Browser, path: string): Promise<Record<string, unknown>> {
  const reply = await browser.get(path);
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as Record<string, unknown>;
}

/** One browser through koa-session, then @sess/koa-session, then koa-session again. */
async function roundTrip(Koa: KoaClass, options: SessionOptions) {
  const before = await appOn(Koa, 'koa-session', options);
  const after = await appOn(Koa, '@sess/koa-session', options);
  const browser = new Browser(before);
  await body(browser, '/login');
  await body(browser, '/visit');
  expect(await body(browser, '/add?item=pear')).toMatchObject({ user: 'ada', cart: { items: ['apple', 'pear'] }, visits: 1 });

  browser.base = after;
  expect(await body(browser, '/')).toEqual({ user: 'ada', cart: { items: ['apple', 'pear'] }, visits: 1, isNew: false });
  await body(browser, '/visit');
  expect(await body(browser, '/add?item=plum')).toEqual({
    user: 'ada',
    cart: { items: ['apple', 'pear', 'plum'] },
    visits: 2,
    isNew: false,
  });

  browser.base = before;
  expect(await body(browser, '/')).toEqual({ user: 'ada', cart: { items: ['apple', 'pear', 'plum'] }, visits: 2, isNew: false });
  return { before, after, browser };
}

describe.each(KOAS)('%s', (_, Koa) => {
  describe('cookie mode', () => {
    it('a koa-session cookie keeps its user signed in on @sess/koa-session, and back', async () => {
      await roundTrip(Koa, {});
    });

    it('with maxAge, rolling and a rotated session: still the same user both ways', async () => {
      const { before, after, browser } = await roundTrip(Koa, { maxAge: 3_600_000, rolling: true });
      browser.base = after;
      expect(await body(browser, '/rotate')).toMatchObject({ user: 'ada', visits: 2 });
      browser.base = before;
      expect(await body(browser, '/')).toMatchObject({ user: 'ada', visits: 2, isNew: false });
    });

    it('a custom encode whose values hold % (encodeURIComponent of JSON) goes out as koa-session writes it, both ways', async () => {
      const uriJson = {
        encode: (session: object) => encodeURIComponent(JSON.stringify(session)),
        decode: (value: string) => JSON.parse(decodeURIComponent(value)) as unknown,
      };
      const { browser } = await roundTrip(Koa, uriJson);
      expect(browser.jar.get('koa.sess')).toMatch(/^%7B%22user%22/);
    });

    it('signing out on either side ends the session on the other', async () => {
      const { after, browser } = await roundTrip(Koa, {});
      browser.base = after;
      await body(browser, '/logout');
      expect(await body(browser, '/')).toMatchObject({ user: null, isNew: true });
    });

    it('overwrite: false keeps a cookie of the same name the app set, and sends the session’s after it, as koa-session', async () => {
      const seen: Record<string, unknown> = {};
      for (const library of Object.keys(LIBRARIES) as (keyof typeof LIBRARIES)[]) {
        const app = koaApp(Koa);
        app.use(LIBRARIES[library]({ overwrite: false }, app as never));
        app.use((ctx: Context) => {
          if (ctx.path === '/login') {
            ctx.cookies.set('koa.sess', 'mine', { signed: false });
            ctx.session!.user = 'ada';
          }
          ctx.body = { user: ctx.session!.user ?? null };
        });
        const browser = new Browser(await serve(app));
        const names = (await browser.get('/login')).setCookies.map((line) => line.slice(0, line.indexOf('=')));
        seen[library] = { names, after: await body(browser, '/') };
      }
      expect(seen['koa-session']).toEqual({ names: ['koa.sess', 'koa.sess', 'koa.sess.sig'], after: { user: 'ada' } });
      expect(seen['@sess/koa-session']).toEqual(seen['koa-session']);
    });
  });

  it('a session koa-session saved with a lifetime over 400 days (maxAge: 2 years) stays signed in, in either mode', async () => {
    const store = memoryStore();
    for (const storeOption of [{}, { store }]) {
      const before = await appOn(Koa, 'koa-session', { ...storeOption, maxAge: 2 * 365 * 86_400_000 });
      // sess keeps nothing past 400 days: the app lowers its maxAge to move.
      const after = await appOn(Koa, '@sess/koa-session', { ...storeOption, maxAge: 400 * 86_400_000 });
      const browser = new Browser(before);
      await body(browser, '/login');
      browser.base = after;
      expect(await body(browser, '/visit')).toMatchObject({ user: 'ada', visits: 1, isNew: false });
      expect(await body(browser, '/')).toMatchObject({ user: 'ada', visits: 1, isNew: false });
    }
  });

  describe('store mode, one Redis store', () => {
    let store: Awaited<ReturnType<typeof redisStore>>;
    beforeAll(async () => {
      store = await redisStore();
    });
    afterAll(() => store?.close());

    it('a session koa-session stored keeps its user signed in on @sess/koa-session, and back', async () => {
      const { browser } = await roundTrip(Koa, { store });
      const key = browser.jar.get('koa.sess') as string;
      expect(await store.get(key)).toMatchObject({ user: 'ada', visits: 2, _maxAge: 86_400_000 });
    });

    it('store keys holding % (a prefix of the app) travel in the cookie as they are, both ways', async () => {
      const { browser } = await roundTrip(Koa, { store, prefix: '100%:' });
      const key = browser.jar.get('koa.sess') as string;
      expect(key).toMatch(/^100%:/);
      expect(await store.get(key)).toMatchObject({ user: 'ada', visits: 2 });
    });

    it('regenerate on @sess/koa-session moves the data to a new key koa-session then reads; sign-out empties the store', async () => {
      const { before, after, browser } = await roundTrip(Koa, { store, prefix: 'shop:' });
      const old = browser.jar.get('koa.sess') as string;
      browser.base = after;
      expect(await body(browser, '/rotate')).toMatchObject({ user: 'ada', visits: 2 });
      const rotated = browser.jar.get('koa.sess') as string;
      expect(rotated).toMatch(/^shop:/);
      expect(rotated).not.toBe(old);
      expect(await store.get(old)).toBeUndefined();
      browser.base = before;
      expect(await body(browser, '/')).toMatchObject({ user: 'ada', visits: 2, isNew: false });
      browser.base = after;
      await body(browser, '/logout');
      expect(await store.get(rotated)).toBeUndefined();
      browser.base = before;
      expect(await body(browser, '/')).toMatchObject({ user: null, isNew: true });
    });
  });
});
