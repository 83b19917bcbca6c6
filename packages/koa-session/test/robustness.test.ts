/**
 * What a request, a store or the app's own code can do to the middleware: forged and malformed
 * cookies give a new session, never an error or a polluted object; a failing store answers 503
 * and never a 2xx after a write it could not make; `ctx.session` used where there is none says so.
 */
import { createHmac, randomUUID } from 'node:crypto';
import Koa3 from 'koa';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import session from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KEYS, KOAS, koaApp, lineOf, memoryStore, serve } from './helpers.js';

const sign = (data: string) =>
  createHmac('sha1', KEYS[0] as string)
    .update(data)
    .digest('base64url');

describe.each(KOAS)('%s', (_, Koa) => {
  async function start(options: SessionOptions, handle: (ctx: Context) => unknown) {
    const app = koaApp(Koa);
    const errors: Error[] = [];
    app.on('error', (error: Error) => errors.push(error));
    app.use(session(options, app));
    app.use(async (ctx) => {
      ctx.body = JSON.stringify((await handle(ctx)) ?? null);
    });
    return { browser: new Browser(await serve(app)), errors };
  }

  it('a cookie that is not base64 JSON, or that a custom decode throws on, is a new session', async () => {
    const decode = () => {
      throw new TypeError('not a cookie of mine');
    };
    const throwing = await start({ decode }, (ctx) => ctx.session!.isNew);
    for (const { browser } of [await start({}, (ctx) => ctx.session!.isNew), throwing]) {
      for (const value of ['%%%', 'bm90IGpzb24=', Buffer.from('[1,2]').toString('base64'), Buffer.from('null').toString('base64')]) {
        browser.jar.set('koa.sess', value);
        browser.jar.set('koa.sess.sig', sign(`koa.sess=${value}`));
        const reply = await browser.get('/');
        expect([reply.status, reply.body]).toEqual([200, 'true']);
      }
    }
  });

  it('a __proto__ key in a cookie pollutes nothing (koa-session never saves _ keys: it is no data either)', async () => {
    const { browser } = await start({ signed: false }, (ctx) => ({
      own: Object.hasOwn(ctx.session!, '__proto__'),
      polluted: ({} as Record<string, unknown>).polluted ?? null,
      inherited: (ctx.session as unknown as Record<string, unknown>).polluted ?? null,
      n: ctx.session!.n,
    }));
    browser.jar.set('koa.sess', Buffer.from('{"__proto__":{"polluted":true},"n":1}').toString('base64'));
    expect(JSON.parse((await browser.get('/')).body)).toEqual({ own: false, polluted: null, inherited: null, n: 1 });
  });

  it('a store that fails to read or write answers 503, and a failed write never ends in a 2xx', async () => {
    const store = memoryStore();
    const { browser, errors } = await start({ store }, (ctx) => {
      ctx.session!.n = (ctx.session!.n ?? 0) + 1;
      return ctx.session!.n;
    });
    expect((await browser.get('/')).body).toBe('1');
    const set = store.set;
    store.set = () => Promise.reject(new Error('redis is down'));
    expect((await browser.get('/')).status).toBe(503);
    store.set = set;
    store.get = () => Promise.reject(new Error('redis is down'));
    expect((await browser.get('/')).status).toBe(503);
    expect(errors.map((error) => error.name)).toEqual(['SessStoreError', 'SessStoreError']);
  });

  it('an error object thrown on many requests (a module-level one) carries no request’s cookies to another', async () => {
    const denied = Object.assign(new Error('denied'), { status: 403, expose: true });
    const { browser } = await start({}, (ctx) => {
      if (ctx.path === '/login') ctx.session!.user = 'ada';
      if (ctx.path === '/logout') ctx.session = null;
      if (ctx.path !== '/login') throw denied;
      return 'ok';
    });
    await browser.get('/login');
    // The sign-out's 403 deletes the cookies, as koa-session's does.
    expect(lineOf(await browser.get('/logout'), 'koa.sess')).toMatch(/^koa\.sess=; /);
    // Another visitor, signed in, answered with the same error object: no deletion of theirs rides on it.
    const other = new Browser(browser.base);
    await other.get('/login');
    const reply = await other.get('/denied');
    expect([reply.status, reply.setCookies]).toEqual([403, []]);
    expect(Object.hasOwn(denied, 'headers')).toBe(false);
  });

  /** Unhandled rejections seen while `work` runs and one turn after: each would end a Node process that runs with the defaults. */
  async function unhandledDuring(work: () => Promise<unknown>): Promise<unknown[]> {
    const seen: unknown[] = [];
    const listener = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', listener);
    try {
      await work();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', listener);
    }
    return seen;
  }

  it('save() or regenerate() left unawaited with a failing store: the commit answers 503, and no rejection goes unhandled', async () => {
    const store = { ...memoryStore(), set: () => Promise.reject(new Error('redis is down')) };
    const { browser, errors } = await start({ store }, (ctx) => {
      ctx.session!.n = 1;
      if (ctx.path === '/save') ctx.session!.save();
      else ctx.session!.regenerate();
    });
    const statuses: number[] = [];
    const unhandled = await unhandledDuring(async () => {
      statuses.push((await browser.get('/save')).status, (await browser.get('/regenerate')).status);
    });
    expect(unhandled).toEqual([]);
    expect(statuses).toEqual([503, 503]);
    expect(errors.map((error) => error.name)).toEqual(['SessStoreError', 'SessStoreError']);
  });

  it('manuallyCommit() left unawaited (autoCommit: false): the answer waits for it, so its cookie goes out or a failed write answers 503, and no rejection goes unhandled', async () => {
    const sessions = memoryStore();
    const store = {
      ...sessions,
      // Answers once the event loop has turned, as a networked store does: after an answer that did not wait for it has gone.
      set(...args: Parameters<typeof sessions.set>) {
        const down = args[3].ctx.path === '/down';
        return new Promise<void>((resolve, reject) =>
          setImmediate(() => (down ? reject(new Error('redis is down')) : resolve(sessions.set(...args)))),
        );
      },
    };
    const { browser, errors } = await start({ store, autoCommit: false }, (ctx) => {
      ctx.session!.path = ctx.path;
      void ctx.session!.manuallyCommit();
      return 'ok';
    });
    const seen: unknown[] = [];
    const unhandled = await unhandledDuring(async () => {
      for (const path of ['/up', '/down']) {
        const reply = await browser.get(path);
        seen.push([reply.status, lineOf(reply, 'koa.sess') !== undefined]);
      }
    });
    expect(unhandled).toEqual([]);
    expect(seen).toEqual([
      [200, true],
      [503, false],
    ]);
    expect(errors.map((error) => error.name)).toEqual(['SessStoreError']);
  });

  it('a save() or regenerate() callback that throws: the error reaches Koa, the request is answered, no rejection goes unhandled', async () => {
    const { browser, errors } = await start({}, async (ctx) => {
      ctx.session!.n = 1;
      const method = ctx.path === '/save' ? 'save' : 'regenerate';
      // The app's promise never settles: only Koa's error handling can answer the request.
      await new Promise(() =>
        ctx.session![method](() => {
          throw new Error(`${method} callback failed`);
        }),
      );
    });
    const statuses: number[] = [];
    const unhandled = await unhandledDuring(async () => {
      statuses.push((await browser.get('/save')).status, (await browser.get('/regenerate')).status);
    });
    expect(unhandled).toEqual([]);
    expect(statuses).toEqual([500, 500]);
    expect(errors.map((error) => error.message)).toEqual(['save callback failed', 'regenerate callback failed']);
  });

  it('ctx.session before the session middleware says where to use it; after the commit it reads what was loaded', async () => {
    const app = koaApp(Koa);
    const seen: unknown[] = [];
    app.use(async (ctx, next) => {
      if (ctx.path === '/early') {
        try {
          ctx.session;
        } catch (error) {
          seen.push((error as Error).message);
        }
      }
      await next();
      if (ctx.path === '/late') seen.push(ctx.session?.toJSON());
    });
    app.use(session(app));
    app.use((ctx) => {
      if (ctx.path === '/set') ctx.session!.n = 7;
      ctx.body = 'ok';
    });
    const browser = new Browser(await serve(app));
    await browser.get('/early');
    await browser.get('/set');
    const late = await browser.get('/late');
    expect(late.setCookies).toEqual([]);
    expect(seen).toEqual([expect.stringMatching(/once the session middleware has run/), { n: 7 }]);
  });

  it('concurrent requests each reach the store with their own ctx, whatever order the store answers in', async () => {
    const store = memoryStore();
    const turns = (n: number) =>
      new Promise<void>((resolve) => (n === 0 ? resolve() : setImmediate(() => void turns(n - 1).then(resolve))));
    const mismatched: string[] = [];
    const checked = {
      ...store,
      async get(key: string, maxAge: unknown, options: { rolling: boolean; ctx: Context }) {
        await turns(Number(options.ctx.get('x-user')) % 5);
        if (store.sessions.get(key)?.user !== options.ctx.get('x-user')) mismatched.push(key);
        return store.get(key, maxAge, options);
      },
    };
    const { browser } = await start({ store: checked, genid: (ctx) => `key-of-user-${ctx.get('x-user')}` }, (ctx) => {
      ctx.session!.user ??= ctx.get('x-user');
      return ctx.session!.user;
    });
    const users = Array.from({ length: 20 }, (_, n) => String(n));
    const browsers = users.map(() => new Browser(browser.base));
    await Promise.all(browsers.map((each, n) => each.get('/', { 'x-user': users[n] as string })));
    const replies = await Promise.all(browsers.map((each, n) => each.get('/', { 'x-user': users[n] as string })));
    expect(replies.map((reply) => JSON.parse(reply.body))).toEqual(users);
    expect(browsers.map((each) => each.jar.get('koa.sess'))).toEqual(users.map((user) => `key-of-user-${user}`));
    expect(mismatched).toEqual([]);
  });

  it('a genid key no cookie can carry fails the request before the store is written, and a custom encode value at the commit', async () => {
    const store = memoryStore();
    const keyed = await start({ store, genid: () => `user;${randomUUID()}` }, (ctx) => {
      ctx.session!.n = 1;
    });
    expect((await keyed.browser.get('/')).status).toBe(500);
    expect(keyed.errors.map((error) => error.message)).toEqual([expect.stringMatching(/koa\.sess cookie's value .*genid/)]);
    expect(store.calls).toEqual([]);
    const encoded = await start({ encode: (value) => `${JSON.stringify(value)};` }, (ctx) => {
      ctx.session!.n = 1;
    });
    const reply = await encoded.browser.get('/');
    expect([reply.status, reply.setCookies]).toEqual([500, []]);
    expect(encoded.errors.map((error) => error.message)).toEqual([expect.stringMatching(/koa\.sess cookie's value .*encode/)]);
  });

  it('mounted twice, the first middleware owns the session', async () => {
    const app = koaApp(Koa);
    app.use(session(app));
    app.use(session({ key: 'other' }, app));
    app.use((ctx) => {
      ctx.session!.n = 1;
      ctx.body = 'ok';
    });
    const reply = await new Browser(await serve(app)).get('/');
    expect(lineOf(reply, 'koa.sess')).toBeDefined();
    expect(lineOf(reply, 'other')).toBeUndefined();
  });
});

describe('Koa 3', () => {
  it('a web stream body that a failed commit’s error answer replaces is cancelled, so its producer is not left open', async () => {
    const store = { ...memoryStore(), set: () => Promise.reject(new Error('redis is down')) };
    const cancelled: string[] = [];
    const app = koaApp(Koa3);
    app.use(session({ store }, app));
    app.use((ctx) => {
      ctx.session!.n = 1;
      const stream = new ReadableStream({ pull() {}, cancel: () => void cancelled.push(ctx.path) });
      ctx.body = ctx.path === '/response' ? new Response(stream) : stream;
    });
    const browser = new Browser(await serve(app));
    expect((await browser.get('/stream')).status).toBe(503);
    expect((await browser.get('/response')).status).toBe(503);
    expect(cancelled).toEqual(['/stream', '/response']);
  });
});
