/** Koa-specific behaviour beyond the shared conformance suite: options and the ctx.session API. */
import Koa3 from 'koa';
import type { Context } from 'koa';
import Koa2 from 'koa2';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import { getSession, session } from '../src/index.js';
import type { SessionEvent, SessionOptions } from '../src/index.js';
import { hashId } from '@sess/core';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
    a?: number;
    b?: number;
    passport?: { user?: string };
  }
}

const servers = closedAfterEach();

describe.each([
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const)('%s', (_, Koa) => {
  async function start(options: Partial<SessionOptions>, handler: (ctx: Context) => unknown | Promise<unknown>) {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app = new Koa();
    app.silent = true;
    app.use(session({ secret: SECRET, store, clock: clock.now, ...options }));
    app.use(async (ctx) => {
      ctx.body = String(await handler(ctx));
    });
    const served = await listen(app.callback());
    servers.push(served);
    return { client: new Client(served.url), store, clock };
  }

  it("maxAge: 'session' makes a browser-session cookie; a number is ms", async () => {
    const browser = await start({ maxAge: 'session' }, (ctx) => (ctx.session.n = 1));
    expect(cookiesNamed(await browser.client.request('/'), 'sid')[0]).not.toMatch(/Max-Age|Expires/);
    const short = await start({ maxAge: 60_000 }, (ctx) => (ctx.session.n = 1));
    expect(cookiesNamed(await short.client.request('/'), 'sid')[0]).toMatch(/; Max-Age=60;/);
  });

  it("ctx.session.maxAge reads 'session' for a cookie that ends with the browser, configured, set this request, or loaded", async () => {
    const routes = (ctx: Context) => {
      ctx.session.n = 1;
      const before = ctx.session.maxAge;
      if (ctx.path === '/browser') ctx.session.maxAge = 'session';
      return JSON.stringify([before, ctx.session.maxAge]);
    };
    const configured = await start({ maxAge: 'session' }, routes);
    expect(JSON.parse((await configured.client.request('/')).body)).toEqual(['session', 'session']);
    expect(JSON.parse((await configured.client.request('/')).body)).toEqual(['session', 'session']);
    const set = await start({ maxAge: 60_000 }, routes);
    expect(JSON.parse((await set.client.request('/browser')).body)).toEqual([60_000, 'session']);
    expect(JSON.parse((await set.client.request('/')).body)).toEqual(['session', 'session']);
  });

  it('key names the cookie, as in koa-session', async () => {
    const { client } = await start({ key: 'koa.sess' }, (ctx) => (ctx.session.n = 1));
    expect(cookiesNamed(await client.request('/'), 'koa.sess')).toHaveLength(1);
  });

  it('renew re-sends the cookie only once less than half the lifetime is left', async () => {
    const { client, clock } = await start({ renew: true, maxAge: 60_000 }, (ctx) => String(ctx.session.n ?? (ctx.session.n = 1)));
    await client.request('/');
    clock.advance(20_000);
    expect((await client.request('/')).setCookies).toEqual([]);
    clock.advance(15_000);
    expect(cookiesNamed(await client.request('/'), 'sid')).toEqual([expect.stringContaining('Max-Age=60;')]);
  });

  it('ctx.session.maxAge reads the remaining life and sets this session\u2019s lifetime', async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.n = 1;
      ctx.session.maxAge = 30_000;
      return ctx.session.maxAge;
    });
    const reply = await client.request('/');
    expect(reply.body).toBe('30000');
    expect(cookiesNamed(reply, 'sid')[0]).toMatch(/; Max-Age=30;/);
  });

  it('ctx.session.maxAge = undefined or null puts back the configured lifetime', async () => {
    const { client } = await start({ maxAge: 60_000 }, (ctx) => {
      ctx.session.n = 1;
      ctx.session.maxAge = 30_000;
      ctx.session.maxAge = ctx.path === '/null' ? (null as never) : undefined;
      return ctx.session.maxAge;
    });
    for (const path of ['/undefined', '/null']) {
      client.jar.clear();
      const reply = await client.request(path);
      expect([path, reply.body]).toEqual([path, '60000']);
      expect(cookiesNamed(reply, 'sid')[0]).toMatch(/; Max-Age=60;/);
    }
  });

  it('ctx.session.toJSON() and Object.keys give the data; method names cannot be overwritten', async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.user = 'ada';
      // Thrown in sloppy-mode code too, where a refused assignment would be dropped without a word.
      expect(() => Reflect.set(ctx.session, 'save', 1)).toThrow(/save is a member of the session, not data/);
      return JSON.stringify([ctx.session, Object.keys(ctx.session)]);
    });
    expect((await client.request('/')).body).toBe('[{"user":"ada"},["user"]]');
  });

  it('ctx.session = { ... } replaces the data; other values are refused', async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.a = 1;
      ctx.session = { b: 2 } as never;
      expect(() => (ctx.session = 'x' as never)).toThrow(/null or an object/);
      return JSON.stringify(ctx.session);
    });
    expect((await client.request('/')).body).toBe('{"b":2}');
  });

  it('ctx.session = { ... } with a member name (id, save) is refused before the data changes, so the id never shows as data', async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.a = 1;
      for (const value of [{ id: 'user-7', b: 2 }, { save: 1 }]) expect(() => (ctx.session = value as never)).toThrow(/id|save/);
      return JSON.stringify(ctx.session);
    });
    const reply = await client.request('/');
    expect(reply.body).toBe('{"a":1}');
    expect((await client.request('/')).body).toBe('{"a":1}');
  });

  it('a thrown HttpError (ctx.throw(401)) after a write saves nothing: Koa drops the headers too', async () => {
    const { client, store } = await start({}, (ctx) => {
      ctx.session.n = 1;
      ctx.throw(401);
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(401);
    expect(reply.setCookies).toEqual([]);
    expect(store.calls.set).toBe(0);
  });

  it('a failed store write answers exactly 503 through Koa\u2019s error handling', async () => {
    const { client, store } = await start({}, (ctx) => (ctx.session.n = 1));
    store.failing.add('set');
    const reply = await client.request('/');
    expect(reply.status).toBe(503);
    expect(reply.body).toBe('Service Unavailable');
  });

  it('a failed await ctx.session.destroy() answers the store’s error and still deletes the cookie, as ctx.session = null does', async () => {
    const { client, store } = await start({}, async (ctx) => {
      if (ctx.path === '/in') return void (ctx.session.user = 'ada');
      if (ctx.path === '/null') ctx.session = null;
      else await ctx.session.destroy();
      return 'bye';
    });
    for (const path of ['/destroy', '/null']) {
      await client.request('/in');
      store.failing.add('destroy');
      const reply = await client.request(path);
      store.failing.delete('destroy');
      expect([path, reply.status, cookiesNamed(reply, 'sid')]).toEqual([path, 503, [expect.stringMatching(/^sid=; Max-Age=0/)]]);
    }
  });

  it('with ctx.respond = false, a failed await ctx.session.destroy() still deletes the cookie on the 503', async () => {
    const { client, store } = await start({}, async (ctx) => {
      if (ctx.path === '/in') return void (ctx.session.user = 'ada');
      ctx.respond = false;
      await ctx.session.destroy();
      ctx.res.end('bye');
    });
    await client.request('/in');
    store.failing.add('destroy');
    const reply = await client.request('/out');
    expect([reply.status, cookiesNamed(reply, 'sid')]).toEqual([503, [expect.stringMatching(/^sid=; Max-Age=0/)]]);
  });

  it("a thrown error's own Set-Cookie header reaches the client beside the session's cookie deletion", async () => {
    const { client } = await start({}, (ctx) => {
      if (ctx.path === '/in') return void (ctx.session.user = 'ada');
      ctx.session = null;
      ctx.throw(401, { headers: { 'set-cookie': 'remember=; Max-Age=0' } });
    });
    await client.request('/in');
    const reply = await client.request('/out');
    expect(reply.status).toBe(401);
    expect(cookiesNamed(reply, 'remember')).toEqual(['remember=; Max-Age=0']);
    expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringMatching(/^sid=; Max-Age=0/)]);
  });

  it('ctx.session = null twice signs out once; if that sign-out fails, the answer is its error', async () => {
    const { client, store } = await start({}, (ctx) => {
      if (ctx.path === '/in') return void (ctx.session.user = 'ada');
      ctx.session = null;
      ctx.session = null;
      return 'bye';
    });
    for (const failing of [false, true]) {
      await client.request('/in');
      if (failing) store.failing.add('destroy');
      const reply = await client.request('/out');
      store.failing.delete('destroy');
      expect([reply.status, cookiesNamed(reply, 'sid')]).toEqual([failing ? 503 : 200, [expect.stringMatching(/^sid=; Max-Age=0/)]]);
    }
    expect(store.calls.destroy).toBe(2);
  });

  it('ctx.session = null twice, then an object: the object is the new session, saved under a new id', async () => {
    const { client, store } = await start({}, (ctx) => {
      if (ctx.path === '/in') return void (ctx.session.user = 'ada');
      if (ctx.path === '/me') return ctx.session.user ?? 'nobody';
      ctx.session = null;
      ctx.session.user = 'written between';
      ctx.session = null;
      ctx.session = { user: 'guest' } as never;
      return JSON.stringify(ctx.session);
    });
    await client.request('/in');
    const before = client.jar.get('sid');
    const out = await client.request('/out');
    expect([out.status, out.body, store.calls.destroy]).toEqual([200, '{"user":"guest"}', 1]);
    expect(cookiesNamed(out, 'sid')).toEqual([expect.stringMatching(/^sid=[^;]+; Max-Age=86400/)]);
    expect(client.jar.get('sid')?.split('.')[0]).not.toBe(before?.split('.')[0]);
    expect((await client.request('/me')).body).toBe('guest');
  });

  it.each([
    ['await ctx.session.destroy()', (ctx: Context) => ctx.session.destroy()],
    // Not awaited: the store's delete is still under way when the handler reads and writes.
    ['ctx.session = null', (ctx: Context) => void (ctx.session = null)],
  ])('after a sign-out with %s, ctx.session is empty and a write starts a new session under a new id', async (_, signOut) => {
    const { client, store } = await start({}, async (ctx) => {
      if (ctx.path === '/in') return void (ctx.session.user = 'ada');
      if (ctx.path === '/me') return ctx.session.user ?? 'nobody';
      await signOut(ctx);
      const after = JSON.stringify(ctx.session);
      ctx.session.user = 'guest';
      return after;
    });
    await client.request('/in');
    const before = client.jar.get('sid');
    const out = await client.request('/out');
    expect([out.status, out.body, store.calls.destroy]).toEqual([200, '{}', 1]);
    expect(cookiesNamed(out, 'sid')).toEqual([expect.stringMatching(/^sid=[^;]+; Max-Age=86400/)]);
    expect(client.jar.get('sid')?.split('.')[0]).not.toBe(before?.split('.')[0]);
    expect((await client.request('/me')).body).toBe('guest');
  });

  it("an app's own error middleware, around the session's, keeps a failed sign-out's cookie deletion", async () => {
    const store = inspectableStore(fakeClock());
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        ctx.status = (error as { status?: number }).status ?? 500;
        ctx.body = 'our error page';
      }
    });
    app.use(session({ secret: SECRET, store }));
    app.use(async (ctx) => {
      if (ctx.path === '/in') ctx.session.user = 'ada';
      else await ctx.session.destroy();
      ctx.body = 'ok';
    });
    const served = await listen(app.callback());
    servers.push(served);
    const client = new Client(served.url);
    await client.request('/in');
    store.failing.add('destroy');
    const reply = await client.request('/out');
    expect([reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([
      503,
      'our error page',
      [expect.stringMatching(/^sid=; Max-Age=0/)],
    ]);
  });

  it("passport's callback forms (koa-passport on passport 0.6+): regenerate(cb), save(cb) and destroy(cb) call back, as koa-session's do", async () => {
    /** A callback-style call as passport makes it, as a promise of its outcome. */
    const called = (call: (done: (error?: unknown) => void) => void) =>
      new Promise<string>((resolve) => call((error) => resolve(error === undefined ? 'ok' : String(error))));
    const { client, store } = await start({}, async (ctx) => {
      // passport's SessionManager.logIn and logOut, through koa-passport's req.session (ctx.session).
      if (ctx.path === '/login') {
        const regenerated = await called((done) => ctx.session.regenerate(done));
        ctx.session.passport = { user: 'ada' };
        return `${regenerated} ${await called((done) => ctx.session.save(done))}`;
      }
      if (ctx.path === '/logout') {
        delete ctx.session.passport?.user;
        return `${await called((done) => ctx.session.save(done))} ${await called((done) => ctx.session.regenerate(done))}`;
      }
      if (ctx.path === '/destroy') return called((done) => ctx.session.destroy(done));
      return ctx.session.passport?.user ?? 'nobody';
    });
    const login = await client.post('/login');
    expect([login.status, login.body, cookiesNamed(login, 'sid')]).toEqual([200, 'ok ok', [expect.stringMatching(/^sid=[^;]/)]]);
    expect((await client.request('/me')).body).toBe('ada');
    expect((await client.post('/logout')).body).toBe('ok ok');
    expect((await client.request('/me')).body).toBe('nobody');
    await client.post('/login');
    store.failing.add('destroy');
    const destroyed = await client.post('/destroy');
    // The failure reaches the callback, and the handler answers: here a 200 that still deletes the cookie.
    expect([destroyed.body, cookiesNamed(destroyed, 'sid')]).toEqual([
      expect.stringMatching(/^SessStoreError: .*failed to destroy/),
      [expect.stringMatching(/^sid=; Max-Age=0/)],
    ]);
  });

  it('flash messages survive one request and are read once', async () => {
    const { client } = await start({}, (ctx) => {
      if (ctx.path === '/set') return ctx.session.flash('info', 'saved');
      return JSON.stringify(ctx.session.takeFlash('info'));
    });
    await client.request('/set');
    expect((await client.request('/take')).body).toBe('["saved"]');
    expect((await client.request('/take')).body).toBe('[]');
  });

  it('a flash kept as data in ctx.session.flash (koa-better-flash, hand-written helpers) is refused loudly, even from sloppy-mode code', async () => {
    // koa-better-flash's store step, as CommonJS code without 'use strict' runs it: a refused
    // assignment there is dropped silently, and the messages with it.
    const keepFlash = new Function(
      'session',
      "var msgs = session.flash = session.flash || {}; (msgs.info = msgs.info || []).push('saved');",
    ) as (session: unknown) => void;
    const errors: unknown[] = [];
    const { client } = await start({}, (ctx) => {
      if (ctx.path === '/set') {
        ctx.app.once('error', (error) => errors.push(error));
        keepFlash(ctx.session);
      }
      ctx.session.flash('info', 'kept');
      return JSON.stringify(ctx.session.takeFlash('info'));
    });
    expect((await client.request('/set')).status).toBe(500);
    expect(errors).toEqual([expect.objectContaining({ name: 'SessUsageError', message: expect.stringMatching(/takeFlash/) })]);
    // flash(kind, message), the method, still works.
    expect((await client.request('/take')).body).toBe('["kept"]');
  });

  it('a read-only route reads the session, refuses to change it, and writes nothing', async () => {
    const { client, store } = await start({ rolling: true, readOnly: (ctx) => ctx.path.startsWith('/api/') }, (ctx) => {
      if (ctx.path === '/api/write') ctx.session.n = 99;
      else if (!ctx.path.startsWith('/api/')) ctx.session.n = 1;
      return String(ctx.session.n);
    });
    await client.request('/');
    const writes = store.calls.set + store.calls.touch;
    const read = await client.request('/api/read');
    expect([read.body, read.setCookies]).toEqual(['1', []]);
    expect((await client.request('/api/write')).status).toBe(500);
    expect(store.calls.set + store.calls.touch).toBe(writes);
    expect((await client.request('/api/read')).body).toBe('1');
  });

  it('reports created and destroyed to onEvent, with hashed ids only', async () => {
    const events: SessionEvent[] = [];
    const { client } = await start({ onEvent: (event) => void events.push(event) }, async (ctx) => {
      if (ctx.path === '/out') ctx.session = null;
      else ctx.session.n = 1;
      return 'ok';
    });
    await client.request('/');
    const id = client.jar.get('sid')?.split('.')[0] as string;
    await client.request('/out');
    expect(events).toEqual([
      { type: 'created', idHash: hashId(id) },
      { type: 'destroyed', idHash: hashId(id) },
    ]);
  });

  it('getSession() finds ctx.session anywhere inside the request with asyncContext, and only then', async () => {
    const current = async () => {
      await Promise.resolve();
      return String(getSession().n ?? 'none');
    };
    const { client } = await start({ asyncContext: true }, (ctx) => {
      if (ctx.path === '/set') ctx.session.n = 7;
      return current();
    });
    expect((await client.request('/')).body).toBe('none');
    expect((await client.request('/set')).body).toBe('7');
    const without = await start({}, () => current().catch(() => 'no context'));
    expect((await without.client.request('/')).body).toBe('no context');
  });

  it('a second session() on the same app leaves the first in charge', async () => {
    const clock = fakeClock();
    const app = new Koa();
    app.use(session({ secret: SECRET, clock: clock.now }));
    app.use(session({ secret: SECRET, clock: clock.now }));
    app.use((ctx) => {
      ctx.session.n = 1;
      ctx.body = 'ok';
    });
    const served = await listen(app.callback());
    servers.push(served);
    expect(cookiesNamed(await new Client(served.url).request('/'), 'sid')).toHaveLength(1);
  });

  it('a route session() does not serve reads ctx.session as undefined, as without sess, before and after requests that went through it', async () => {
    const app = new Koa();
    app.silent = true;
    const sessions = session({ secret: SECRET, store: inspectableStore(fakeClock()) });
    // A logger ahead of session(), and session() on the /account routes only.
    app.use(async (ctx, next) => {
      ctx.state.before = ctx.session === undefined ? 'none' : 'session';
      await next();
    });
    app.use((ctx, next) => (ctx.path.startsWith('/account') ? sessions(ctx, next) : next()));
    app.use((ctx) => {
      if (ctx.path.startsWith('/account')) ctx.session.n = (ctx.session.n ?? 0) + 1;
      ctx.body = `${ctx.state.before} ${ctx.session?.n ?? 'none'}`;
    });
    const served = await listen(app.callback());
    servers.push(served);
    const client = new Client(served.url);
    const answers: string[] = [];
    for (const path of ['/public', '/account', '/public', '/account']) {
      const reply = await client.request(path);
      answers.push(`${reply.status} ${reply.body}`);
    }
    expect(answers).toEqual(['200 none none', '200 none 1', '200 none none', '200 none 2']);
  });

  it('ctx.respond = false set ahead of session() once it has committed: nothing more is held, the output goes out with the cookie', async () => {
    const app = new Koa();
    app.silent = true;
    app.use(async (ctx, next) => {
      await next();
      ctx.respond = false;
      ctx.remove('Content-Length');
      ctx.res.end(`raw ${ctx.body}`);
    });
    app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()) }));
    app.use((ctx) => {
      ctx.session.n = (ctx.session.n ?? 0) + 1;
      ctx.body = String(ctx.session.n);
    });
    const served = await listen(app.callback());
    servers.push(served);
    const client = new Client(served.url);
    const first = await client.request('/');
    expect([first.status, first.body, cookiesNamed(first, 'sid')]).toEqual([200, 'raw 1', [expect.stringMatching(/^sid=[^;]+;/)]]);
    expect((await client.request('/')).body).toBe('raw 2');
  });

  it('two session() with their own keys on their own routes: a route writing ctx.res itself gets its own session\u2019s cookie', async () => {
    const store = inspectableStore(fakeClock());
    const app = new Koa();
    app.silent = true;
    const site = session({ secret: SECRET, store, key: 'site' });
    const admin = session({ secret: SECRET, store, key: 'admin' });
    app.use((ctx, next) => (ctx.path.startsWith('/admin') ? admin(ctx, next) : site(ctx, next)));
    app.use(async (ctx) => {
      if (ctx.path === '/admin/login') {
        await ctx.session.regenerate();
        ctx.session.user = 'root';
        // The admin sign-in signs the visitor out of the site, and writes its answer itself.
        ctx.respond = false;
        ctx.res.writeHead(200, { 'Set-Cookie': 'site=; Max-Age=0; Path=/' });
        ctx.res.end('admin');
        return;
      }
      ctx.session.user ??= 'guest';
      ctx.body = ctx.session.user;
    });
    const served = await listen(app.callback());
    servers.push(served);
    const client = new Client(served.url);
    expect((await client.request('/admin/me')).body).toBe('guest');
    expect((await client.request('/')).body).toBe('guest');
    const login = await client.request('/admin/login', { method: 'POST' });
    expect([login.status, login.body, cookiesNamed(login, 'site')]).toEqual([200, 'admin', ['site=; Max-Age=0; Path=/']]);
    expect(cookiesNamed(login, 'admin')).toEqual([expect.stringMatching(/^admin=[^;]+; Max-Age=86400/)]);
    expect((await client.request('/admin/me')).body).toBe('root');
  });
});

describe('options', () => {
  it('refuses signed: false, key and name that disagree, a bad maxAge and a short secret at construction', () => {
    expect(() => session({ secret: SECRET, signed: false })).toThrow(/signed: false is not supported/);
    expect(() => session({ secret: SECRET, signed: true })).not.toThrow();
    expect(() => session({ secret: SECRET, key: 'a', name: 'b' })).toThrow(/disagree/);
    expect(() => session({ secret: SECRET, maxAge: '1d' as never })).toThrow(/maxAge/);
    expect(() => session({ secret: 'short' })).toThrow(/32 bytes|at least/);
  });

  it("names options as Koa writes them in the core's refusals: top-level secure, genid", () => {
    const refusal = (options: object) => {
      try {
        session({ secret: SECRET, ...options });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    const sameSite = refusal({ sameSite: 'none', secure: false });
    expect(sameSite).toMatch(/needs secure: true/);
    expect(sameSite).not.toMatch(/cookie\.secure/);
    expect(refusal({ name: '__Host-sid', secure: false })).toMatch(/but secure is false: remove secure,/);
    expect(refusal({ genid: () => 'short' })).toMatch(/^\[sess\] genid returned "short"/);
  });

  it('does not write to the options it was given', () => {
    const options = Object.freeze({ secret: SECRET, renew: true, maxAge: 'session' as const });
    expect(() => session(options)).not.toThrow();
  });
});
