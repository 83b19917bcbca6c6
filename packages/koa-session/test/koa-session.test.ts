/**
 * koa-session's documented behaviour (its README, case by case), over real HTTP on Koa 2 and 3:
 * both signatures, app.keys and the `.sig` cookie, cookie mode, external stores, the hooks and
 * options, `ctx.session` and its properties, and the app events.
 */
import { once } from 'node:events';
import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import session, { createSession } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KEYS, KOAS, type KoaClass, decoded, koaApp, lineOf, memoryStore, serve } from './helpers.js';

/** What koa-session (through Koa's cookies and keygrip) signs: HMAC-SHA1 of `name=value`, URL-safe base64. */
const sign = (data: string, key = KEYS[0] as string) => createHmac('sha1', key).update(data).digest('base64url');
const encode = (object: object) => Buffer.from(JSON.stringify(object)).toString('base64');
const DAY = 86_400_000;

describe.each(KOAS)('%s', (_, Koa) => {
  /** An app with `options` whose handler is `handle`; its body is what `handle` returns, as JSON. */
  async function start(options: SessionOptions | undefined, handle: (ctx: Context) => unknown, Koa_: KoaClass = Koa) {
    const app = koaApp(Koa_);
    app.use(session(options ?? {}, app));
    app.use(async (ctx) => {
      const result = await handle(ctx);
      if (ctx.body === undefined) ctx.body = JSON.stringify(result ?? null);
    });
    return { app, browser: new Browser(await serve(app)) };
  }

  const count = (ctx: Context) => {
    const s = ctx.session!;
    if (ctx.path === '/inc') s.views = (s.views ?? 0) + 1;
    return s.views ?? 0;
  };

  describe('the middleware', () => {
    it('takes session(app), session(opts, app) and session(app, opts), and ctx.session is on app.context', async () => {
      for (const make of [(app: never) => session(app), (app: never) => session({}, app), (app: never) => createSession(app, {})]) {
        const app = koaApp(Koa);
        app.use(make(app as never));
        expect(Object.hasOwn(app.context, 'session')).toBe(false);
        expect('session' in app.context).toBe(true);
        app.use((ctx) => {
          ctx.session!.n = 1;
          ctx.body = 'ok';
        });
        const reply = await new Browser(await serve(app)).get('/');
        expect(lineOf(reply, 'koa.sess')).toBeDefined();
      }
    });

    it("a response that sets the cookie is never left to shared caches: the app's public Cache-Control is made private", async () => {
      const { browser } = await start(undefined, (ctx) => {
        ctx.set('Cache-Control', 'public, max-age=60, s-maxage=600');
        return count(ctx);
      });
      const reply = await browser.get('/inc');
      expect([lineOf(reply, 'koa.sess') !== undefined, reply.headers.get('cache-control')]).toEqual([true, 'private, max-age=60']);
    });

    it('needs the app, and refuses unknown options with a hint', () => {
      expect(() => session({} as never, undefined as never)).toThrow('app instance required');
      const app = koaApp(Koa);
      expect(() => session({ maxage: 1000, secret: 'x' } as never, app)).toThrow(/secret.*app\.keys/);
      expect(() => session({ rollling: true } as never, app)).toThrow(/did you mean "rolling"/);
      expect(() => session({ store: { get() {} } } as never, app)).toThrow(
        /store must have get\(\), set\(\), destroy\(\): missing set, destroy/,
      );
      expect(() => session({ maxAge: 'forever' } as never, app)).toThrow(/maxAge/);
    });
  });

  describe('cookie mode (the default)', () => {
    it('keeps the data in koa.sess (base64 JSON with _expire and _maxAge), signed in koa.sess.sig with app.keys', async () => {
      const { browser } = await start(undefined, count);
      const before = Date.now();
      const reply = await browser.get('/inc');
      const value = browser.jar.get('koa.sess') as string;
      expect(decoded(value)).toEqual({ views: 1, _expire: expect.any(Number), _maxAge: DAY });
      expect(decoded(value)._expire).toBeGreaterThanOrEqual(before + DAY);
      expect(browser.jar.get('koa.sess.sig')).toBe(sign(`koa.sess=${value}`));
      // koa-session's first cookie ends with the browser, has Path=/ and HttpOnly, and no SameSite.
      for (const name of ['koa.sess', 'koa.sess.sig']) {
        expect(lineOf(reply, name)).toMatch(/; Path=\/; HttpOnly$/);
      }
      expect((await browser.get('/inc')).body).toBe('2');
      // From the second save on, the cookie carries the saved lifetime, as with koa-session.
      expect(lineOf(await browser.get('/inc'), 'koa.sess')).toMatch(/Max-Age=86400; Path=\/; Expires=/);
    });

    it('a visit that only reads sends no cookie; one that never reads adds no header at all', async () => {
      const { browser } = await start(undefined, (ctx) => (ctx.path === '/none' ? 'none' : count(ctx)));
      await browser.get('/inc');
      const read = await browser.get('/');
      expect(read.body).toBe('1');
      expect(read.setCookies).toEqual([]);
      const none = await browser.get('/none');
      expect(none.setCookies).toEqual([]);
      expect(none.headers.get('vary')).toBeNull();
    });

    it('a cookie whose signature is missing, wrong or made with an unknown key gives a new session', async () => {
      const { browser } = await start(undefined, (ctx) => ({ views: ctx.session!.views ?? 0, isNew: ctx.session!.isNew }));
      const value = encode({ views: 5, _expire: Date.now() + DAY, _maxAge: DAY });
      for (const sig of [undefined, `${sign(`koa.sess=${value}`)}x`, sign(`koa.sess=${value}`, 'a-key-this-app-never-had-of-32-bytes')]) {
        browser.jar.clear();
        browser.jar.set('koa.sess', value);
        if (sig !== undefined) browser.jar.set('koa.sess.sig', sig);
        expect(JSON.parse((await browser.get('/')).body)).toEqual({ views: 0, isNew: true });
      }
      browser.jar.set('koa.sess.sig', sign(`koa.sess=${value}`));
      expect(JSON.parse((await browser.get('/')).body)).toEqual({ views: 5, isNew: false });
    });

    it('a cookie signed with an older key of app.keys is read, and signed again with the first once used', async () => {
      const { browser } = await start(undefined, count);
      const value = encode({ views: 3, _expire: Date.now() + DAY, _maxAge: DAY });
      browser.jar.set('koa.sess', value);
      browser.jar.set('koa.sess.sig', sign(`koa.sess=${value}`, KEYS[1]));
      const reply = await browser.get('/');
      expect(reply.body).toBe('3');
      expect(browser.jar.get('koa.sess.sig')).toBe(sign(`koa.sess=${browser.jar.get('koa.sess')}`));
    });

    it("maxAge: 'session' writes _session: true and a cookie without an expiry; a number of ms is the lifetime", async () => {
      const browserSession = await start({ maxAge: 'session' }, count);
      const reply = await browserSession.browser.get('/inc');
      expect(decoded(browserSession.browser.jar.get('koa.sess'))).toEqual({ views: 1, _session: true });
      expect(lineOf(reply, 'koa.sess')).not.toMatch(/Expires|Max-Age/);
      const minute = await start({ maxAge: 60_000 }, count);
      expect(lineOf(await minute.browser.get('/inc'), 'koa.sess')).toMatch(/Max-Age=60;/);
      expect(decoded(minute.browser.jar.get('koa.sess'))._maxAge).toBe(60_000);
    });

    it('a cookie past its _expire is a new session, and the app hears session:expired', async () => {
      const { app, browser } = await start(undefined, (ctx) => ctx.session!.isNew);
      const value = encode({ views: 3, _expire: Date.now() - 1000, _maxAge: DAY });
      browser.jar.set('koa.sess', value);
      browser.jar.set('koa.sess.sig', sign(`koa.sess=${value}`));
      const event = once(app, 'session:expired');
      expect((await browser.get('/')).body).toBe('true');
      const [payload] = (await event) as [{ key: unknown; value: unknown; ctx: Context }];
      expect(payload.value).toEqual({ views: 3, _expire: expect.any(Number), _maxAge: DAY });
      expect(payload.key).toBeUndefined();
      expect(payload.ctx.path).toBe('/');
    });

    it('encode and decode replace base64 JSON', async () => {
      const options: SessionOptions = {
        encode: (object) => Buffer.from(JSON.stringify(object)).toString('hex'),
        decode: (value) => JSON.parse(Buffer.from(value, 'hex').toString()),
      };
      const { browser } = await start(options, count);
      await browser.get('/inc');
      const value = browser.jar.get('koa.sess') as string;
      expect(JSON.parse(Buffer.from(value, 'hex').toString())).toMatchObject({ views: 1 });
      expect((await browser.get('/inc')).body).toBe('2');
    });

    it('signed: false writes no .sig and reads the cookie as it is', async () => {
      const { browser } = await start({ signed: false }, count);
      await browser.get('/inc');
      expect(browser.jar.has('koa.sess.sig')).toBe(false);
      browser.jar.set('koa.sess', encode({ views: 41, _expire: Date.now() + DAY, _maxAge: DAY }));
      expect((await browser.get('/inc')).body).toBe('42');
    });
  });

  describe('ctx.session', () => {
    it('isNew, length, populated and toJSON follow koa-session', async () => {
      const { browser } = await start(undefined, (ctx) => {
        const s = ctx.session!;
        const before = { isNew: s.isNew, length: s.length, populated: s.populated };
        if (ctx.path === '/set') Object.assign(s, { a: 1, _private: 2 });
        return { before, json: s.toJSON(), keys: Object.keys(s), string: JSON.stringify(s) };
      });
      expect(JSON.parse((await browser.get('/set')).body)).toEqual({
        before: { isNew: true, length: 0, populated: false },
        json: { a: 1 },
        keys: ['isNew', 'a', '_private'],
        string: '{"a":1}',
      });
      expect(JSON.parse((await browser.get('/')).body).before).toEqual({ isNew: false, length: 1, populated: true });
      expect(decoded(browser.jar.get('koa.sess'))).not.toHaveProperty('_private');
    });

    it('changes inside nested values are saved, and writing the same value again is no change', async () => {
      const { browser } = await start(undefined, (ctx) => {
        const s = ctx.session!;
        if (ctx.path === '/start') s.cart = { items: ['apple'] };
        if (ctx.path === '/push') s.cart.items.push('pear');
        if (ctx.path === '/same') s.cart = { items: [...s.cart.items] };
        return s.cart;
      });
      await browser.get('/start');
      expect(lineOf(await browser.get('/push'), 'koa.sess')).toBeDefined();
      expect(decoded(browser.jar.get('koa.sess')).cart).toEqual({ items: ['apple', 'pear'] });
      expect((await browser.get('/same')).setCookies).toEqual([]);
    });

    it('= { ... } replaces the data (isNew false); = null destroys it and reads back null; anything else fails', async () => {
      const { browser } = await start(undefined, (ctx) => {
        if (ctx.path === '/login') ctx.session!.user = 'ada';
        if (ctx.path === '/replace') ctx.session = { role: 'admin' };
        if (ctx.path === '/logout') ctx.session = null;
        if (ctx.path === '/bad') ctx.session = 'x' as never;
        return ctx.session === null ? null : { ...ctx.session.toJSON(), isNew: ctx.session.isNew };
      });
      await browser.get('/login');
      expect(JSON.parse((await browser.get('/replace')).body)).toEqual({ role: 'admin', isNew: false });
      expect(decoded(browser.jar.get('koa.sess'))).toMatchObject({ role: 'admin' });
      expect(decoded(browser.jar.get('koa.sess'))).not.toHaveProperty('user');
      const logout = await browser.get('/logout');
      expect(logout.body).toBe('null');
      expect(lineOf(logout, 'koa.sess')).toMatch(/^koa\.sess=; Max-Age=0/);
      expect(browser.jar.size).toBe(0);
      expect((await browser.get('/bad')).status).toBe(500);
    });

    it('maxAge reads the lifetime koa-session reports, and setting it saves the session with that lifetime', async () => {
      const { browser } = await start(undefined, (ctx) => {
        const s = ctx.session!;
        if (ctx.path === '/remember') s.maxAge = 7 * DAY;
        if (ctx.path === '/set') s.n = 1;
        return s.maxAge ?? 'default';
      });
      expect((await browser.get('/set')).body).toBe('"default"');
      expect((await browser.get('/')).body).toBe(String(DAY));
      const reply = await browser.get('/remember');
      expect(lineOf(reply, 'koa.sess')).toMatch(/Max-Age=604800;/);
      expect(decoded(browser.jar.get('koa.sess'))._maxAge).toBe(7 * DAY);
      expect((await browser.get('/')).body).toBe(String(7 * DAY));
    });

    it('maxAge = 0, which koa-session takes as a cookie without an expiry, does the same instead of failing the request', async () => {
      const { browser } = await start(undefined, (ctx) => {
        const s = ctx.session!;
        s.n = ((s.n as number | undefined) ?? 0) + 1;
        if (ctx.path === '/forget') s.maxAge = 0;
        return s.n;
      });
      await browser.get('/');
      const reply = await browser.get('/forget');
      expect([reply.status, reply.body]).toEqual([200, '2']);
      expect(lineOf(reply, 'koa.sess')).not.toMatch(/Expires|Max-Age/);
      expect((await browser.get('/')).body).toBe('3');
    });

    it('a maxAge over 400 days ("remember me for 2 years") is saved for the 400 days a browser keeps a cookie, not failed', async () => {
      const { browser } = await start(undefined, (ctx) => {
        const s = ctx.session!;
        s.n = ((s.n as number | undefined) ?? 0) + 1;
        if (ctx.path === '/remember') s.maxAge = 2 * 365 * DAY;
        return s.n;
      });
      await browser.get('/');
      const reply = await browser.get('/remember');
      expect([reply.status, reply.body]).toEqual([200, '2']);
      expect(lineOf(reply, 'koa.sess')).toMatch(/Max-Age=34560000;/);
      expect((await browser.get('/')).body).toBe('3');
    });

    it('save() sends the session again even when nothing changed', async () => {
      const { browser } = await start(undefined, async (ctx) => {
        if (ctx.path === '/set') ctx.session!.n = 1;
        if (ctx.path === '/save') await ctx.session!.save();
        return 'ok';
      });
      await browser.get('/set');
      expect(lineOf(await browser.get('/save'), 'koa.sess')).toBeDefined();
      expect((await browser.get('/')).setCookies).toEqual([]);
    });

    it('save() writes at once, even a session that holds nothing, and the commit sends its cookie', async () => {
      const store = memoryStore();
      const { browser } = await start({ store }, async (ctx) => {
        ctx.session!.step = 'before';
        await ctx.session!.save();
        const saved = store.sessions.get(ctx.session!.externalKey as string);
        ctx.session!.step = 'after';
        return saved?.step ?? null;
      });
      expect((await browser.get('/')).body).toBe('"before"');
      expect(store.sessions.get(browser.jar.get('koa.sess') as string)?.step).toBe('after');
      const empty = await start({ store }, async (ctx) => void (await ctx.session!.save()));
      await empty.browser.get('/');
      expect(store.sessions.get(empty.browser.jar.get('koa.sess') as string)).toEqual({ _expire: expect.any(Number), _maxAge: DAY });
    });

    it('= {} keeps the session, empty, as koa-session does', async () => {
      const { browser } = await start(undefined, (ctx) => {
        if (ctx.path === '/set') ctx.session!.n = 1;
        if (ctx.path === '/empty') ctx.session = {};
        return { isNew: ctx.session!.isNew, length: ctx.session!.length };
      });
      await browser.get('/set');
      await browser.get('/empty');
      expect(decoded(browser.jar.get('koa.sess'))).toEqual({ _expire: expect.any(Number), _maxAge: DAY });
      expect(JSON.parse((await browser.get('/')).body)).toEqual({ isNew: false, length: 0 });
    });

    it('sessionOptions shows the options, and its maxAge is this session’s (for the next save, which it does not cause)', async () => {
      const { browser } = await start({ maxAge: 60_000, rolling: false }, (ctx) => {
        // Read first: loading a cookie session sets maxAge to the one it was saved with, as in koa-session.
        const s = ctx.session!;
        if (ctx.path === '/long') ctx.sessionOptions.maxAge = 120_000;
        s.n = ctx.path === '/long' ? 2 : 1;
        return { key: ctx.sessionOptions.key, maxAge: ctx.sessionOptions.maxAge };
      });
      expect(JSON.parse((await browser.get('/')).body)).toEqual({ key: 'koa.sess', maxAge: 60_000 });
      expect(lineOf(await browser.get('/long'), 'koa.sess')).toMatch(/Max-Age=120;/);
    });
  });

  describe('commit', () => {
    it('autoCommit: false writes nothing until ctx.session.manuallyCommit()', async () => {
      const { browser } = await start({ autoCommit: false }, async (ctx) => {
        ctx.session!.n = 1;
        if (ctx.path === '/commit') await ctx.session!.manuallyCommit();
        return 'ok';
      });
      expect((await browser.get('/')).setCookies).toEqual([]);
      expect(lineOf(await browser.get('/commit'), 'koa.sess')).toBeDefined();
    });

    it('a handler that throws still commits, and the error response carries the cookie', async () => {
      const { browser } = await start(undefined, (ctx) => {
        ctx.session!.n = 1;
        ctx.throw(418, 'teapot');
      });
      const reply = await browser.get('/');
      expect(reply.status).toBe(418);
      expect(decoded(browser.jar.get('koa.sess'))).toMatchObject({ n: 1 });
    });

    it('overwrite: the session cookie replaces one of the same name the app set; with false, it follows it', async () => {
      for (const overwrite of [true, false]) {
        const { browser } = await start({ overwrite }, (ctx) => {
          ctx.cookies.set('koa.sess', 'mine', { signed: false });
          ctx.session!.n = 1;
        });
        const lines = (await browser.get('/')).setCookies.filter((line) => line.startsWith('koa.sess='));
        expect(lines.map((line) => line.startsWith('koa.sess=mine'))).toEqual(overwrite ? [false] : [true, false]);
        expect(decoded(browser.jar.get('koa.sess'))).toMatchObject({ n: 1 });
      }
    });

    it('rolling re-sends the cookie on every request that reads the session; renew once less than half is left', async () => {
      const rolling = await start({ rolling: true }, count);
      await rolling.browser.get('/inc');
      expect(lineOf(await rolling.browser.get('/'), 'koa.sess')).toBeDefined();
      const renew = await start({ renew: true, maxAge: 60_000 }, count);
      for (const [left, renewed] of [
        [50_000, false],
        [20_000, true],
      ] as const) {
        const value = encode({ views: 1, _expire: Date.now() + left, _maxAge: 60_000 });
        renew.browser.jar.set('koa.sess', value);
        renew.browser.jar.set('koa.sess.sig', sign(`koa.sess=${value}`));
        expect(lineOf(await renew.browser.get('/'), 'koa.sess') !== undefined).toBe(renewed);
      }
    });
  });

  describe('external stores', () => {
    it('keep the data under a UUID key the cookie carries, called as koa-session calls them', async () => {
      const store = memoryStore();
      const { browser } = await start({ store, maxAge: 60_000 }, count);
      await browser.get('/inc');
      const key = browser.jar.get('koa.sess') as string;
      expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(browser.jar.get('koa.sess.sig')).toBe(sign(`koa.sess=${key}`));
      expect(store.sessions.get(key)).toEqual({ views: 1, _expire: expect.any(Number), _maxAge: 60_000 });
      expect(store.calls.at(-1)).toMatchObject({ op: 'set', key, maxAge: 70_000, options: { rolling: false, changed: true } });
      expect(store.calls.at(-1)?.options.ctx).toHaveProperty('path', '/inc');
      expect((await browser.get('/inc')).body).toBe('2');
      expect(store.calls.find((call) => call.op === 'get')).toMatchObject({ key, maxAge: 60_000, options: { rolling: false } });
      expect(store.sessions.get(key)?.views).toBe(2);
    });

    it('= null destroys the stored session and clears both cookies; regenerate() moves the data to a new key', async () => {
      const store = memoryStore();
      const { browser } = await start({ store }, async (ctx) => {
        if (ctx.path === '/login') ctx.session!.user = 'ada';
        if (ctx.path === '/rotate') await ctx.session!.regenerate();
        if (ctx.path === '/logout') ctx.session = null;
        return ctx.session?.user ?? null;
      });
      await browser.get('/login');
      const first = browser.jar.get('koa.sess') as string;
      expect((await browser.get('/rotate')).body).toBe('"ada"');
      const second = browser.jar.get('koa.sess') as string;
      expect(second).not.toBe(first);
      expect([...store.sessions.keys()]).toEqual([second]);
      const logout = await browser.get('/logout');
      expect(lineOf(logout, 'koa.sess.sig')).toMatch(/Max-Age=0/);
      expect(store.calls.at(-1)).toMatchObject({ op: 'destroy', key: second });
      expect(store.sessions.size).toBe(0);
    });

    it('a key the store no longer has is a new session, and the app hears session:missed with the key', async () => {
      const store = memoryStore();
      const { app, browser } = await start({ store }, count);
      await browser.get('/inc');
      const key = browser.jar.get('koa.sess');
      store.sessions.clear();
      const missed = once(app, 'session:missed');
      const reply = await browser.get('/');
      expect(reply.body).toBe('0');
      expect((await missed)[0]).toMatchObject({ key, value: undefined });
      // The cookie names nothing any more: sess clears it.
      expect(lineOf(reply, 'koa.sess')).toMatch(/Max-Age=0/);
    });

    it('rolling saves with changed: false on every request, the session read or not', async () => {
      const store = memoryStore();
      const { browser } = await start({ store, rolling: true }, (ctx) => (ctx.path === '/inc' ? count(ctx) : 'unread'));
      await browser.get('/inc');
      const reply = await browser.get('/');
      expect(lineOf(reply, 'koa.sess')).toBeDefined();
      expect(store.calls.at(-1)).toMatchObject({ op: 'set', options: { rolling: true, changed: false } });
    });

    it('ContextStore is made for each request with its ctx', async () => {
      const shared = memoryStore();
      const made: string[] = [];
      class PerRequest {
        constructor(ctx: Context) {
          made.push(ctx.path);
        }
        get(...args: Parameters<typeof shared.get>) {
          return shared.get(...args);
        }
        set(...args: Parameters<typeof shared.set>) {
          return shared.set(...args);
        }
        destroy(...args: Parameters<typeof shared.destroy>) {
          return shared.destroy(...args);
        }
      }
      const { browser } = await start({ ContextStore: PerRequest }, count);
      await browser.get('/inc');
      expect((await browser.get('/inc')).body).toBe('2');
      expect(made).toEqual(['/inc', '/inc']);
    });

    it('prefix goes before new keys; genid(ctx) makes them instead', async () => {
      const prefixed = await start({ store: memoryStore(), prefix: 'koa:sess:' }, count);
      await prefixed.browser.get('/inc');
      expect(prefixed.browser.jar.get('koa.sess')).toMatch(/^koa:sess:[0-9a-f-]{36}$/);
      expect((await prefixed.browser.get('/inc')).body).toBe('2');
      const store = memoryStore();
      const generated = await start({ store, genid: (ctx) => `user-${ctx.get('x-user')}-session` }, count);
      await generated.browser.get('/inc', { 'x-user': 'ada' });
      expect([...store.sessions.keys()]).toEqual(['user-ada-session']);
    });

    it('externalKey carries the key instead of the cookie', async () => {
      const store = memoryStore();
      let issued: string | undefined;
      const externalKey = { get: (ctx: Context) => ctx.get('x-session'), set: (_ctx: Context, key: string) => void (issued = key) };
      const { browser } = await start({ store, externalKey }, count);
      expect((await browser.get('/inc')).setCookies).toEqual([]);
      expect(issued).toBeDefined();
      expect((await browser.get('/inc', { 'x-session': issued as string })).body).toBe('2');
    });
  });

  describe('hooks', () => {
    it('valid(ctx, session) turns a loaded session away (session:invalid); beforeSave(ctx, session) runs before each save', async () => {
      const saved: unknown[] = [];
      const options: SessionOptions = {
        valid: (ctx, object) => object.owner === ctx.get('x-owner'),
        beforeSave: (ctx, s) => {
          saved.push(s.toJSON());
          s.owner = ctx.get('x-owner');
        },
      };
      const { app, browser } = await start(options, count);
      await browser.get('/inc', { 'x-owner': 'ada' });
      expect(saved).toEqual([{ views: 1 }]);
      expect(decoded(browser.jar.get('koa.sess'))).toMatchObject({ views: 1, owner: 'ada' });
      expect((await browser.get('/', { 'x-owner': 'ada' })).body).toBe('1');
      expect(saved).toHaveLength(1);
      const invalid = once(app, 'session:invalid');
      expect((await browser.get('/', { 'x-owner': 'eve' })).body).toBe('0');
      expect((await invalid)[0]).toMatchObject({ value: { views: 1, owner: 'ada' } });
    });
  });
});
