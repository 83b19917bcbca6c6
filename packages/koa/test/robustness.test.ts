/**
 * What a request can do to the session beyond the happy path, on Koa 2 and 3 over real HTTP:
 * serialize it, print it, replace it with a lifetime, bypass Koa's response; and the options
 * sess refuses at construction.
 */
import type { ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import { Readable, Stream, pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { format, inspect } from 'node:util';
import Koa3 from 'koa';
import type { Context, Middleware } from 'koa';
import Koa2 from 'koa2';
import { describe, expect, it } from 'vitest';
import { SessConfigError, SessUsageError, cookieSessions } from '@sess/core';
import { headersLeft } from '@sess/core/adapter';
import {
  Client,
  closedAfterEach,
  cookiesNamed,
  fakeClock,
  inspectableStore,
  keptAliveAnswers,
  largeBody,
  listen,
  SECRET,
} from '@sess/adapter-test';
import { memoryStore, session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
    user?: string;
  }
}

const servers = closedAfterEach();

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const)('%s', (_, Koa) => {
  /** An app with `before` ahead of session() and `handler` behind it; Koa's 'error' events are kept. */
  async function start(
    options: Partial<SessionOptions>,
    handler: (ctx: Context) => unknown,
    before?: Middleware,
    /** Changes the app's `app.context` before the first request. */
    setup?: (context: { onerror(this: Context, error: Error): void }) => void,
  ) {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app = new Koa();
    setup?.(app.context);
    const errors: Error[] = [];
    app.on('error', (error: Error) => void errors.push(error));
    if (before !== undefined) app.use(before);
    app.use(session({ secret: SECRET, store, clock: clock.now, ...options }));
    app.use(async (ctx) => {
      await handler(ctx);
    });
    const served = await listen(app.callback());
    servers.push(served);
    return { client: new Client(served.url), url: served.url, store, errors };
  }

  describe('the session in a response body', () => {
    it('ctx.body = ctx.session, or an object holding it, answers 200 with the data as JSON', async () => {
      const { client, store } = await start({}, (ctx) => {
        if (ctx.path === '/set') ctx.session.user = 'ada';
        ctx.body = ctx.path === '/nested' ? { session: ctx.session } : ctx.session;
      });
      const set = await client.request('/set');
      expect([set.status, set.body]).toEqual([200, '{"user":"ada"}']);
      expect(cookiesNamed(set, 'sid')).toHaveLength(1);
      const nested = await client.request('/nested');
      expect([nested.status, nested.body]).toEqual([200, '{"session":{"user":"ada"}}']);
      const plain = await client.request('/');
      expect([plain.status, plain.body, plain.setCookies]).toEqual([200, '{"user":"ada"}', []]);
      expect(store.calls.set).toBe(1);
    });

    it('after the commit, the session reads as the data it committed, and a write is dropped', async () => {
      let seen: unknown[] = [];
      const { client, store } = await start(
        {},
        (ctx) => {
          ctx.session.user = 'ada';
          ctx.body = 'ok';
        },
        async (ctx, next) => {
          await next();
          ctx.session.n = 1;
          seen = [JSON.stringify(ctx.session), ctx.session.user, Object.keys(ctx.session), 'user' in ctx.session, inspect(ctx.session)];
        },
      );
      expect((await client.request('/')).status).toBe(200);
      expect(seen).toEqual(['{"user":"ada"}', 'ada', ['user'], true, "{ user: 'ada' }"]);
      expect(store.calls.set).toBe(1);
    });
  });

  describe('String() and util.inspect', () => {
    it('String(ctx.session) never throws and util.inspect shows the data, without a write or a cookie', async () => {
      const { client, store } = await start({}, (ctx) => {
        const before = [String(ctx.session), inspect(ctx.session)];
        if (ctx.path === '/set') ctx.session.user = 'ada';
        ctx.body = {
          before,
          string: String(ctx.session),
          template: `${ctx.session}`,
          inspected: inspect(ctx.session),
          logged: format(ctx.session),
        };
      });
      const first = JSON.parse((await client.request('/set')).body) as Record<string, unknown>;
      expect(first).toEqual({
        before: ['[object Object]', '{}'],
        string: '[object Object]',
        template: '[object Object]',
        inspected: "{ user: 'ada' }",
        logged: "{ user: 'ada' }",
      });
      const writes = store.calls.set + store.calls.touch;
      const reply = await client.request('/');
      expect(JSON.parse(reply.body)).toMatchObject({
        before: ['[object Object]', "{ user: 'ada' }"],
        string: '[object Object]',
        inspected: "{ user: 'ada' }",
      });
      expect(reply.setCookies).toEqual([]);
      expect(store.calls.set + store.calls.touch).toBe(writes);
    });
  });

  describe('maxAge', () => {
    it('ctx.session = { maxAge, ... } sets the lifetime instead of storing maxAge, as koa-session does', async () => {
      const { client } = await start({}, (ctx) => {
        if (ctx.path === '/short') ctx.session = { maxAge: 60_000, user: 'ada' } as never;
        if (ctx.path === '/browser') ctx.session = { maxAge: 'session', user: 'bob' } as never;
        ctx.body = { data: ctx.session, keys: Object.keys(ctx.session) };
      });
      const short = await client.request('/short');
      expect(short.body).toBe('{"data":{"user":"ada"},"keys":["user"]}');
      expect(cookiesNamed(short, 'sid')[0]).toMatch(/; Max-Age=60;/);
      expect((await client.request('/')).body).toBe('{"data":{"user":"ada"},"keys":["user"]}');
      const browser = await client.request('/browser');
      expect(browser.body).toBe('{"data":{"user":"bob"},"keys":["user"]}');
      expect(cookiesNamed(browser, 'sid')[0]).not.toMatch(/Max-Age|Expires/);
    });

    it('a maxAge the cookie cannot carry is refused with SessUsageError before the data changes', async () => {
      const { client } = await start({}, (ctx) => {
        if (ctx.path === '/set') ctx.session.user = 'ada';
        const refused: string[] = [];
        for (const replace of [
          () => (ctx.session = { maxAge: 100, user: 'eve' } as never),
          () => (ctx.session.maxAge = 0),
          () => (ctx.session.maxAge = '1d' as never),
        ]) {
          try {
            replace();
          } catch (error) {
            if (error instanceof SessUsageError && /maxAge must be/.test(error.message)) refused.push('refused');
          }
        }
        ctx.body = { refused, data: ctx.session };
      });
      await client.request('/set');
      expect(JSON.parse((await client.request('/')).body)).toEqual({ refused: ['refused', 'refused', 'refused'], data: { user: 'ada' } });
    });

    it('ctx.session.maxAge on a new session is the configured maxAge', async () => {
      for (const [maxAge, expected] of [
        [undefined, 86_400_000],
        [60_000, 60_000],
        ['session', 'session'],
      ] as const) {
        const { client } = await start(maxAge === undefined ? {} : { maxAge }, (ctx) => {
          ctx.body = { maxAge: ctx.session.maxAge ?? null };
        });
        expect(JSON.parse((await client.request('/')).body)).toEqual({ maxAge: expected });
      }
    });

    it('ctx.session = ctx.session keeps the data', async () => {
      const { client } = await start({}, (ctx) => {
        if (ctx.path === '/set') ctx.session.user = 'ada';
        // biome-ignore lint/correctness/noSelfAssign: assigning the view to itself is the case under test
        else ctx.session = ctx.session;
        ctx.body = ctx.session;
      });
      await client.request('/set');
      expect((await client.request('/self')).body).toBe('{"user":"ada"}');
      expect((await client.request('/self')).body).toBe('{"user":"ada"}');
    });
  });

  describe('errors Koa answers itself', () => {
    it("an error answer keeps the session's Vary: Cookie (and the error's own Vary)", async () => {
      const { client } = await start({}, (ctx) => {
        if (ctx.path === '/in') return void (ctx.body = String((ctx.session.user = 'ada')));
        if (ctx.session.user === 'ada') ctx.throw(404, { headers: { vary: 'Accept' } });
        ctx.throw(404);
      });
      await client.request('/in');
      const signedIn = await client.request('/secret');
      expect([signedIn.status, signedIn.headers.get('vary'), signedIn.setCookies]).toEqual([404, 'Accept, Cookie', []]);
      client.jar.clear();
      const anonymous = await client.request('/secret');
      expect([anonymous.status, anonymous.headers.get('vary')]).toEqual([404, 'Cookie']);
    });

    it('an error thrown after the commit, by a middleware ahead of session(), answers with the cookie of the session it saved', async () => {
      const { client, store, errors } = await start(
        {},
        async (ctx) => {
          if (ctx.path === '/login') {
            await ctx.session.regenerate();
            ctx.session.user = 'ada';
          }
          ctx.body = ctx.session.user ?? 'nobody';
        },
        async (ctx, next) => {
          await next();
          if (ctx.path === '/login') throw new Error('audit log unavailable');
        },
      );
      const login = await client.request('/login', { method: 'POST' });
      expect([login.status, store.calls.set, errors.length]).toEqual([500, 1, 1]);
      expect(cookiesNamed(login, 'sid')).toEqual([expect.stringMatching(/^sid=[^;]+; Max-Age=86400/)]);
      expect(login.headers.get('vary')).toBe('Cookie');
      // The browser names the record the store holds.
      expect((await client.request('/me')).body).toBe('ada');
    });

    it('a non-Error thrown after the commit (a string, a plain object) answers as Koa does, with the cookie of the session it saved', async () => {
      const thrown: Record<string, unknown> = { '/string': 'audit log unavailable', '/object': { status: 400, message: 'bad' } };
      const { client, store, errors } = await start(
        {},
        async (ctx) => {
          if (ctx.path !== '/me') {
            await ctx.session.regenerate();
            ctx.session.user = ctx.path;
          }
          ctx.body = ctx.session.user ?? 'nobody';
        },
        async (ctx, next) => {
          await next();
          if (ctx.path !== '/me') throw thrown[ctx.path];
        },
      );
      for (const path of ['/string', '/object']) {
        const reply = await client.request(path, { method: 'POST' });
        expect([reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([
          500,
          'Internal Server Error',
          [expect.stringMatching(/^sid=[^;]+; Max-Age=86400/)],
        ]);
      }
      expect(errors.map((error) => error.message)).toEqual([
        'non-error thrown: "audit log unavailable"',
        'non-error thrown: {"status":400,"message":"bad"}',
      ]);
      expect(store.calls.set).toBe(2);
      // The browser names the record the store holds.
      expect((await client.request('/me')).body).toBe('/object');
    });

    it("an error object thrown on many requests (a module-level one) carries no request's session headers to another", async () => {
      const denied = Object.assign(new Error('denied'), { status: 403, expose: true, headers: { 'x-reason': 'policy' } });
      const { client, store } = await start(
        {},
        (ctx) => {
          if (ctx.path === '/login') ctx.body = String((ctx.session.user = 'ada'));
          else if (ctx.path === '/logout') {
            ctx.session = null;
            throw denied;
          } else ctx.body = 'ok';
        },
        async (ctx, next) => {
          await next();
          if (ctx.path !== '/logout') throw denied;
        },
      );
      const login = await client.request('/login');
      expect([login.status, store.calls.set, cookiesNamed(login, 'sid')]).toEqual([
        403,
        1,
        [expect.stringMatching(/^sid=[^;]+; Max-Age=86400/)],
      ]);
      const logout = await client.request('/logout');
      expect([logout.status, cookiesNamed(logout, 'sid')]).toEqual([403, [expect.stringMatching(/^sid=; Max-Age=0/)]]);
      // Another visitor, answered with the same error object: none of the first one's cookies.
      client.jar.clear();
      const other = await client.request('/anything');
      expect([other.status, other.setCookies, other.headers.get('x-reason')]).toEqual([403, [], 'policy']);
      expect(denied.headers).toEqual({ 'x-reason': 'policy' });
    });
  });

  describe("an app's own app.context.onerror (koa-onerror and the like)", () => {
    /** An app that answers errors with its own `app.context.onerror`, here one that hands on to Koa's. */
    const ownOnerror = (context: { onerror(this: Context, error: Error): void }) => {
      const koaOnerror = context.onerror;
      context.onerror = function onerror(this: Context, error: Error) {
        return koaOnerror.call(this, error);
      };
    };

    it('still answers an error thrown after the commit with the cookie of the session it saved, and a failed sign-out with its deletion', async () => {
      const { client, store } = await start(
        {},
        async (ctx) => {
          if (ctx.path === '/login') {
            await ctx.session.regenerate();
            ctx.session.user = 'ada';
          } else if (ctx.path === '/logout') return void (ctx.session = null);
          ctx.body = ctx.session.user ?? 'nobody';
        },
        async (ctx, next) => {
          await next();
          if (ctx.path === '/login') throw new Error('audit log unavailable');
        },
        ownOnerror,
      );
      const login = await client.request('/login', { method: 'POST' });
      expect([login.status, store.calls.set]).toEqual([500, 1]);
      expect(cookiesNamed(login, 'sid')).toEqual([expect.stringMatching(/^sid=[^;]+; Max-Age=86400/)]);
      expect(login.headers.get('vary')).toBe('Cookie');
      expect((await client.request('/me')).body).toBe('ada');
      store.failing.add('destroy');
      const logout = await client.request('/logout', { method: 'POST' });
      expect([logout.status, cookiesNamed(logout, 'sid')]).toEqual([503, [expect.stringMatching(/^sid=; Max-Age=0/)]]);
    });
    it("one that throws on the store's failure (never called without sess) leaves it to Koa's: 503, and the process keeps serving", async () => {
      const answeredBy: string[] = [];
      const { client, store, errors } = await start(
        {},
        (ctx) => {
          ctx.session.user = 'ada';
          ctx.body = 'ok';
        },
        undefined,
        (context) => {
          context.onerror = function onerror(this: Context, error: Error | null) {
            if (error == null) return;
            answeredBy.push(error.message);
            throw new Error('error page failed to render');
          };
        },
      );
      store.failing.add('set');
      const reply = await client.request('/');
      expect([reply.status, reply.body, reply.setCookies]).toEqual([503, 'Service Unavailable', []]);
      expect(answeredBy).toEqual([expect.stringMatching(/failed to set/)]);
      expect(errors.map((error) => (error as { status?: number }).status)).toEqual([503]);
      store.failing.delete('set');
      expect((await client.request('/')).body).toBe('ok');
    });

    it('one the app made read-only is left as it is, and requests are served as before', async () => {
      const { client, store } = await start(
        {},
        (ctx) => {
          ctx.session.user = 'ada';
          ctx.body = 'ok';
        },
        undefined,
        (context) => {
          Object.defineProperty(context, 'onerror', { value: context.onerror, writable: false, configurable: true });
        },
      );
      const reply = await client.request('/');
      expect([reply.status, reply.body, store.calls.set]).toEqual([200, 'ok', 1]);
    });

    it('is wrapped once, however many session() middlewares the app has and requests it serves', async () => {
      const app = new Koa();
      app.silent = true;
      const koaOnerror = app.context.onerror;
      const own = function onerror(this: Context, error: Error) {
        return koaOnerror.call(this, error);
      };
      app.context.onerror = own;
      const seen = new Set<unknown>();
      app.use(session({ secret: SECRET }));
      app.use(session({ secret: SECRET, key: 'other' }));
      app.use((ctx) => {
        seen.add(app.context.onerror);
        ctx.body = 'ok';
      });
      const served = await listen(app.callback());
      servers.push(served);
      const client = new Client(served.url);
      for (let i = 0; i < 3; i++) expect((await client.request('/')).status).toBe(200);
      expect(seen.size).toBe(1);
      expect(app.context.onerror).not.toBe(own);
    });
  });

  describe('the WebSocket hand-off route', () => {
    /**
     * An app with the hand-off route, behind session() or `ahead` of it (as a router used before
     * the middleware, where no session() catches its errors); `/mint` starts a session on a socket
     * of its own request and answers the hand-off token, any other path the signed-in user.
     */
    async function startHandoff(options: Partial<SessionOptions>, ahead: boolean) {
      const clock = fakeClock();
      const store = inspectableStore(clock);
      const sessions = session({ secret: SECRET, store, clock: clock.now, ...options });
      const app = new Koa();
      const errors: Error[] = [];
      app.on('error', (error: Error) => void errors.push(error));
      const route: Middleware = (ctx, next) => (ctx.path === '/session/handoff' ? sessions.handoff(ctx, next) : next());
      if (ahead) app.use(route);
      app.use(sessions);
      if (!ahead) app.use(route);
      app.use(async (ctx) => {
        if (ctx.path !== '/mint') return void (ctx.body = ctx.session.user ?? 'nobody');
        ctx.body = (await sessions.socket(ctx.req).use((socketSession) => (socketSession.user = 'ada'))).handoff;
      });
      const served = await listen(app.callback());
      servers.push(served);
      return { client: new Client(served.url), store, errors };
    }

    describe.each([
      ['behind session()', false],
      ['ahead of session()', true],
    ])('%s', (_place, ahead) => {
      it("a store failure answers 503 through Koa's error handling, without a cookie; the token survives it and is redeemed once the store is back", async () => {
        const { client, store, errors } = await startHandoff({}, ahead);
        const token = (await client.request('/mint')).body;
        for (const operation of ['get', 'destroy'] as const) {
          store.failing.add(operation);
          const failed = await client.post(`/session/handoff?token=${token}`);
          expect([failed.status, failed.body, failed.setCookies], operation).toEqual([503, 'Service Unavailable', []]);
          store.failing.delete(operation);
        }
        expect(errors.map((error) => [error.name, (error as { status?: number }).status])).toEqual([
          ['SessStoreError', 503],
          ['SessStoreError', 503],
        ]);
        const redeemed = await client.post(`/session/handoff?token=${token}`);
        expect([redeemed.status, cookiesNamed(redeemed, 'sid')]).toEqual([204, [expect.stringMatching(/^sid=/)]]);
        expect((await client.request('/me')).body).toBe('ada');
      });

      it('a store that never answers is a 503 once storeTimeoutMs has passed, not a request left hanging', async () => {
        const { client, store, errors } = await startHandoff({ storeTimeoutMs: 20 }, ahead);
        store.hanging.add('get');
        const reply = await client.post(`/session/handoff?token=${'A'.repeat(32)}`);
        expect([reply.status, reply.setCookies, errors.map((error) => (error as { status?: number }).status)]).toEqual([503, [], [503]]);
      });
    });
  });

  describe('a middleware ahead of session() that does not await next()', () => {
    /** Records the rejections no one handles while `run` goes on: each would end a Node process. */
    async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
      const unhandled: unknown[] = [];
      const record = (reason: unknown) => void unhandled.push(reason);
      process.on('unhandledRejection', record);
      try {
        await run();
      } finally {
        process.off('unhandledRejection', record);
      }
      return unhandled;
    }

    // Koa answers as soon as that middleware returns; the session's work ends after the answer left.
    const early: Middleware = (ctx, next) => (ctx.path === '/early' ? void next() : next());

    it("a session written after Koa answered saves nothing and is reported on Koa's 'error' event, not thrown where no one hears it", async () => {
      const { client, url, store, errors } = await start(
        {},
        (ctx) => {
          ctx.session.n = 1;
          ctx.body = 'late';
        },
        early,
      );
      const unhandled = await unhandledDuring(async () => {
        await client.request('/early');
        await servers.at(-1)?.idle();
      });
      expect(unhandled).toEqual([]);
      expect(store.calls.set).toBe(0);
      expect(errors.map((error) => error.message)).toEqual([expect.stringMatching(/set ctx\.respond = false before writing to ctx\.res/)]);
      expect((await new Client(url).request('/')).status).toBe(200);
    });

    it("a store that fails to load the session after Koa answered is reported on Koa's 'error' event, and the process keeps serving", async () => {
      const { client, store, errors } = await start({}, (ctx) => (ctx.body = String((ctx.session.n = (ctx.session.n ?? 0) + 1))), early);
      await client.request('/');
      store.failing.add('get');
      const unhandled = await unhandledDuring(async () => {
        await client.request('/early');
        await servers.at(-1)?.idle();
      });
      expect(unhandled).toEqual([]);
      expect(errors.map((error) => error.name)).toEqual(['SessStoreError']);
      store.failing.delete('get');
      expect((await client.request('/')).body).toBe('2');
    });
  });

  describe('ctx.respond = false', () => {
    it('a sign-in that writes ctx.res itself gets its cookie, saved before the headers leave, and the next request is signed in', async () => {
      let raw: ServerResponse | undefined;
      const headersSentAroundWrite: Array<[boolean | undefined, boolean | undefined]> = [];
      const { client, store } = await start({}, async (ctx) => {
        if (ctx.path === '/login') {
          await ctx.session.regenerate();
          ctx.session.user = 'ada';
          ctx.respond = false;
          raw = ctx.res;
          ctx.res.writeHead(200, { 'Content-Type': 'text/plain', 'Set-Cookie': 'theme=dark; Path=/' });
          ctx.res.end('signed in');
          return;
        }
        ctx.body = ctx.session.user ?? 'nobody';
      });
      const set = store.set;
      // While its output is held the response acts as if its headers had left; `headersLeft` sees past that.
      const left = () => (raw === undefined ? undefined : headersLeft(raw));
      store.set = async (...args) => {
        const before = left();
        const written = await set(...args);
        headersSentAroundWrite.push([before, left()]);
        return written;
      };
      const login = await client.request('/login', { method: 'POST' });
      expect([login.status, login.body, login.headers.get('content-type')]).toEqual([200, 'signed in', 'text/plain']);
      expect(cookiesNamed(login, 'sid')).toHaveLength(1);
      expect(cookiesNamed(login, 'theme')).toHaveLength(1);
      expect(headersSentAroundWrite).toEqual([[false, false]]);
      expect((await client.request('/me')).body).toBe('ada');
    });

    it('set before session(), with a body streamed in chunks or written after next() returned', async () => {
      const { client } = await start(
        {},
        async (ctx) => {
          ctx.session.n = (ctx.session.n ?? 0) + 1;
          const n = String(ctx.session.n);
          if (ctx.path === '/late') {
            setTimeout(() => ctx.res.end(`late ${n}`), 10);
            return;
          }
          ctx.res.statusCode = 200;
          ctx.res.setHeader('Content-Type', 'text/plain');
          ctx.res.write('a');
          await delay(5);
          ctx.res.write('b');
          ctx.res.end(n);
        },
        async (ctx, next) => {
          ctx.respond = false;
          await next();
        },
      );
      const streamed = await client.request('/');
      expect([streamed.status, streamed.body]).toEqual([200, 'ab1']);
      expect(cookiesNamed(streamed, 'sid')).toHaveLength(1);
      const late = await client.request('/late');
      expect(late.body).toBe('late 2');
      expect((await client.request('/')).body).toBe('ab3');
    });

    it('a failed store write answers 503, drops the app\u2019s output, and the process keeps serving', async () => {
      const { client, store, errors } = await start({}, async (ctx) => {
        ctx.session.n = 1;
        ctx.respond = false;
        ctx.res.writeHead(200, { 'Content-Type': 'text/plain' });
        ctx.res.write('partial');
        await delay(20);
        ctx.res.write('more');
        await new Promise<void>((resolve) => ctx.res.end('done', () => resolve()));
      });
      store.failing.add('set');
      const failed = await client.request('/');
      expect([failed.status, failed.body, failed.setCookies]).toEqual([503, 'Service Unavailable', []]);
      expect(errors.map((error) => (error as { status?: number }).status)).toEqual([503]);
      store.failing.delete('set');
      const ok = await client.request('/');
      expect([ok.status, ok.body]).toEqual([200, 'partialmoredone']);
      expect(cookiesNamed(ok, 'sid')).toHaveLength(1);
    });

    it('a failed store write under a piped body closes the connection with the 503, so an app that destroys the socket on its cut stream resets no next request on it', async () => {
      const { url, store } = await start({}, (ctx) => {
        ctx.session.n = 1;
        ctx.respond = false;
        ctx.res.setHeader('Content-Type', 'application/octet-stream');
        // The 503 cuts the stream short, which the app takes for a client that went away.
        pipeline(Readable.from(largeBody()), ctx.res, (error) => void (error && ctx.req.socket.destroy()));
      });
      store.failing.add('set');
      expect(await keptAliveAnswers(url, 40)).toEqual(['503 close Service Unavailable']);
    });

    it('a status or header Node refuses in writeHead throws in the handler, as without sess: 500, nothing saved', async () => {
      const thrown: string[] = [];
      const { client, store } = await start({}, (ctx) => {
        ctx.session.n = 1;
        ctx.respond = false;
        try {
          if (ctx.path === '/status') ctx.res.writeHead(1000);
          else ctx.res.writeHead(200, { 'Content-Disposition': 'attachment; filename="naïve✓.txt"' });
        } catch (error) {
          thrown.push((error as { code: string }).code);
          throw error;
        }
      });
      expect((await client.request('/status')).status).toBe(500);
      expect((await client.request('/header')).status).toBe(500);
      expect(thrown).toEqual(['ERR_HTTP_INVALID_STATUS_CODE', 'ERR_INVALID_CHAR']);
      expect(store.calls.set).toBe(0);
    });

    it.each([false, true])(
      'without it, a response written to ctx.res saves nothing and reports why (saveOnServerError: %s)',
      async (saveOnServerError) => {
        const { client, store, errors } = await start({ saveOnServerError }, (ctx) => {
          ctx.session.n = 1;
          ctx.res.statusCode = 200;
          ctx.res.end('raw');
        });
        const reply = await client.request('/');
        expect([reply.status, reply.body, reply.setCookies]).toEqual([200, 'raw', []]);
        expect(store.calls.set).toBe(0);
        expect(errors.map((error) => error.message)).toEqual([
          expect.stringMatching(/set ctx\.respond = false before writing to ctx\.res/),
        ]);
      },
    );

    /**
     * An app that pipes a large body into ctx.res while its store write is held: `produced` counts
     * the chunks made, `paused` resolves with the count when pipe() pauses the producer, or with
     * 'ended' when every chunk went into the hold instead.
     */
    async function startPiping(chunks: number) {
      const started = { produced: 0, producer: undefined as Readable | undefined, piped: undefined as Promise<unknown> | undefined };
      let reportPaused!: (outcome: number | 'ended') => void;
      const paused = new Promise<number | 'ended'>((resolve) => (reportPaused = resolve));
      const app = await start({}, (ctx) => {
        if (ctx.path === '/ping') {
          ctx.body = 'pong';
          return;
        }
        ctx.session.n = 1;
        ctx.respond = false;
        ctx.res.statusCode = 200;
        const producer = new Readable({
          read() {
            started.produced += 1;
            this.push(started.produced > chunks ? null : Buffer.alloc(1024, 'x'));
          },
        });
        producer.once('pause', () => reportPaused(started.produced));
        producer.once('end', () => reportPaused('ended'));
        started.producer = producer;
        started.piped = new Promise((resolve) => pipeline(producer, ctx.res, resolve));
      });
      let release!: (fail?: Error) => void;
      let reportWriting!: () => void;
      const writing = new Promise<void>((resolve) => (reportWriting = resolve));
      const set = app.store.set;
      app.store.set = async (...args) => {
        const held = new Promise<Error | undefined>((resolve) => (release = resolve));
        reportWriting();
        const failure = await held;
        if (failure !== undefined) throw failure;
        return set(...args);
      };
      return { ...app, started, paused, writing, release: (fail?: Error) => release(fail) };
    }

    it('a body piped to ctx.res while the store write is held pauses at the high-water mark, and flows once committed', async () => {
      const chunks = 1024;
      const { client, started, paused, writing, release } = await startPiping(chunks);
      const reply = client.request('/');
      await writing;
      expect(await paused).not.toBe('ended');
      // Requests served meanwhile: the producer filled its own buffer and stopped, the commit still held.
      expect((await client.request('/ping')).body).toBe('pong');
      const producedWhileHeld = started.produced;
      expect((await client.request('/ping')).body).toBe('pong');
      expect(started.produced).toBe(producedWhileHeld);
      // 16 KiB (the response's high-water mark) of 1 KiB chunks held, 16 more in the producer's buffer.
      expect(producedWhileHeld).toBeLessThan(64);
      release();
      const done = await reply;
      expect([done.status, done.body.length]).toEqual([200, chunks * 1024]);
      expect(cookiesNamed(done, 'sid')).toHaveLength(1);
      expect(await started.piped).toBeUndefined();
    });

    it('a producer paused by a held commit that then fails is released, as by a closed response: 503, nothing sent', async () => {
      const { client, started, paused, writing, release, errors } = await startPiping(1024);
      const reply = client.request('/');
      await writing;
      expect(await paused).not.toBe('ended');
      release(new Error('store down'));
      const failed = await reply;
      expect([failed.status, failed.body, failed.setCookies]).toEqual([503, 'Service Unavailable', []]);
      // pipeline() gave up on the response and destroyed the producer, as when a client hangs up.
      expect(((await started.piped) as { code?: string }).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
      expect(started.producer?.destroyed).toBe(true);
      expect(errors.map((error) => (error as { status?: number }).status)).toEqual([503]);
    });
  });
});

/**
 * Node's stream internals on a base of their own, as readable-stream 4 builds its streams: not
 * `instanceof Stream`, though Koa 3 takes it for one by its shape.
 */
const FOREIGN = Object.create(EventEmitter.prototype, Object.getOwnPropertyDescriptors(Readable.prototype)) as object;
function foreignReadable(): Readable {
  const stream = Object.setPrototypeOf(new Readable({ read() {} }), FOREIGN) as Readable;
  expect(stream instanceof Stream).toBe(false);
  return stream;
}

/**
 * An app whose body stream fails while the session's store write is in flight (a file that turns
 * out to be missing, an upstream that drops): the write waits until the stream has failed.
 */
async function startFailingDuringWrite(Koa: typeof Koa3, makeBody = () => new Readable({ read() {} })) {
  const store = inspectableStore(fakeClock());
  const app = new Koa();
  const errors: string[] = [];
  app.on('error', (error: Error) => void errors.push(error.message));
  app.use(session({ secret: SECRET, store }));
  let body: Readable | undefined;
  app.use((ctx) => {
    ctx.session.user = ctx.session.user ?? ctx.path;
    if (ctx.path === '/me') return void (ctx.body = ctx.session.user);
    body = makeBody();
    ctx.body = body;
  });
  const set = store.set;
  store.set = async (...args) => {
    const failing = body;
    if (failing !== undefined) {
      body = undefined;
      failing.destroy(new Error('upstream failed'));
      // Not events.once, whose 'error' listener would be the stream's only one.
      await new Promise((resolve) => failing.once('close', resolve));
    }
    return set(...args);
  };
  const served = await listen(app.callback());
  servers.push(served);
  return { client: new Client(served.url), served, store, errors };
}

describe('Koa 2', () => {
  it("a body stream that fails while the store write is in flight is Koa's 500, with the cookie of the session it saved, and only its own error is reported", async () => {
    const { client, served, store, errors } = await startFailingDuringWrite(Koa2 as unknown as typeof Koa3);
    const reply = await client.request('/login');
    await served.idle();
    expect([reply.status, store.calls.set, cookiesNamed(reply, 'sid')]).toEqual([500, 1, [expect.stringMatching(/^sid=[^;]+; Max-Age/)]]);
    expect(errors).toEqual(['upstream failed']);
    expect((await client.request('/me')).body).toBe('/login');
  });

  it("a body stream that fails before its first chunk is Koa's 500, with the cookie of the session it saved", async () => {
    const store = inspectableStore(fakeClock());
    const app = new Koa2();
    app.silent = true;
    app.use(session({ secret: SECRET, store }));
    app.use((ctx) => {
      ctx.session.user = 'ada';
      ctx.body = new Readable({
        read() {
          setImmediate(() => this.destroy(new Error('disk failed')));
        },
      });
    });
    const served = await listen(app.callback());
    servers.push(served);
    const reply = await new Client(served.url).request('/');
    expect([reply.status, store.calls.set, cookiesNamed(reply, 'sid')]).toEqual([500, 1, [expect.stringMatching(/^sid=[^;]+; Max-Age/)]]);
  });
});

describe('Koa 3', () => {
  it('a failed store write with a file body that fails after the 503 (a missing file) does not take the process down', async () => {
    const store = inspectableStore(fakeClock());
    const app = new Koa3();
    const errors: string[] = [];
    app.on('error', (error: Error) => void errors.push(error.message));
    app.use(session({ secret: SECRET, store }));
    let file: Readable | undefined;
    app.use((ctx) => {
      ctx.session.user = 'ada';
      file = createReadStream(fileURLToPath(new URL('./no-such-file.txt', import.meta.url)));
      ctx.body = file;
    });
    const served = await listen(app.callback());
    servers.push(served);
    store.failing.add('set');
    const reply = await new Client(served.url).request('/');
    expect([reply.status, reply.body]).toEqual([503, 'Service Unavailable']);
    // The file's open fails after the answer: a body nobody reads any more, as when Koa replaces one.
    // (On a busy machine it may have failed and closed before the answer arrived.)
    await new Promise((resolve) => (file === undefined || file.closed ? resolve(undefined) : file.once('close', resolve)));
    await served.idle();
    expect(errors).toEqual([expect.stringMatching(/failed to set/)]);
  });

  it('a body stream that fails while the store write is in flight does not take the process down: Koa reports it as without sess', async () => {
    const { client, served, errors } = await startFailingDuringWrite(Koa3);
    // Koa 3 pipes a failed stream into the response, which closes the connection.
    await expect(client.request('/download')).rejects.toThrow();
    await served.idle();
    // Koa 3 reports a failed pipe twice, with or without sess.
    expect(new Set(errors)).toEqual(new Set(['upstream failed']));
    expect((await client.request('/me')).status).toBe(200);
  });

  it("a stream that is not `instanceof Stream` (readable-stream 4's, as archiver makes) failing while the store write is in flight is Koa's 500, with the cookie of the session it saved", async () => {
    const { client, served, store, errors } = await startFailingDuringWrite(Koa3, foreignReadable);
    const reply = await client.request('/download');
    await served.idle();
    expect([reply.status, store.calls.set, cookiesNamed(reply, 'sid')]).toEqual([500, 1, [expect.stringMatching(/^sid=[^;]+; Max-Age/)]]);
    expect(errors).toEqual(['upstream failed']);
    expect((await client.request('/me')).body).toBe('/download');
  });

  it('a failed store write cancels the web stream body (a ReadableStream, or a Response\u2019s) that the 503 replaces, so its producer is not left open', async () => {
    const store = inspectableStore(fakeClock());
    const app = new Koa3();
    app.silent = true;
    const cancelled: string[] = [];
    app.use(session({ secret: SECRET, store }));
    app.use((ctx) => {
      ctx.session.user = 'ada';
      // An endless producer: only a cancel ends it.
      const stream = new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(new Uint8Array(1024)),
        cancel: () => void cancelled.push(ctx.path),
      });
      ctx.body = ctx.path === '/response' ? new Response(stream) : stream;
    });
    const served = await listen(app.callback());
    servers.push(served);
    const client = new Client(served.url);
    store.failing.add('set');
    for (const path of ['/stream', '/response']) {
      const reply = await client.request(path);
      expect([path, reply.status, reply.body]).toEqual([path, 503, 'Service Unavailable']);
    }
    expect(cancelled).toEqual(['/stream', '/response']);
    // Unchanged when the write succeeds: the body is sent, not cancelled.
    store.failing.delete('set');
    const ok = await fetch(new URL('/stream', served.url));
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    expect(cancelled).toEqual(['/stream', '/response']);
  });
});

describe('options are validated once, at construction', () => {
  const refusal = (options: unknown): SessConfigError => {
    try {
      session(options as SessionOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(SessConfigError);
      return error as SessConfigError;
    }
    throw new Error(`accepted ${JSON.stringify(options)}`);
  };

  it('session() without options throws SessConfigError', () => {
    expect(refusal(undefined).message).toMatch(/session\(\) of @sess\/koa needs an options object, got undefined/);
    expect(refusal(null).message).toMatch(/needs an options object/);
  });

  it('an unknown option is refused with a "did you mean" hint', () => {
    expect(refusal({ secret: SECRET, roling: true }).message).toMatch(/unknown option "roling": did you mean "rolling"\?/);
    expect(refusal({ secret: SECRET, maxAgeMs: 60_000 }).message).toMatch(/unknown option "maxAgeMs": did you mean "maxAge"\?/);
    expect(refusal({ secret: SECRET, samesite: 'lax' }).message).toMatch(/did you mean "sameSite"\?/);
    expect(refusal({ secret: SECRET, whatever: 1 }).message).toMatch(/unknown option "whatever": known options: secret, store, key/);
  });

  it.each([
    ['maxage', 60_000, /old spelling: use maxAge/],
    ['prefix', 'sess:', /not supported by sess: .*redisStore\(\{ client, prefix \}\)/],
    ['valid', () => true, /not supported by sess: check loaded data with schema/],
    ['beforeSave', () => undefined, /not supported by sess: change the session in your handler/],
    ['encode', (value: unknown) => JSON.stringify(value), /not supported by sess: .*cookieSessions/],
    ['decode', (value: string) => JSON.parse(value) as unknown, /not supported by sess: .*cookieSessions/],
    ['ContextStore', class {}, /not supported by sess: pass a sess store as store/],
    ['externalKey', { get: () => 'id', set: () => undefined }, /not supported by sess: the session id always travels in the signed cookie/],
    ['overwrite', true, /not supported by sess/],
    ['expires', new Date(), /use maxAge/],
    ['cookie', { httpOnly: true }, /cookie options are top-level in @sess\/koa/],
  ])('koa-session\u2019s %s is refused, saying what to do in sess instead', (key, value, hint) => {
    const error = refusal({ secret: SECRET, [key]: value });
    expect(error.message).toContain(`unknown option "${key}"`);
    expect(error.message).toMatch(hint);
  });

  it('enum, flag and callback options are checked, naming the option', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ secure: 'yes' }, /secure must be one of true, false, "auto", got "yes"/],
      [{ sameSite: 'Lax' }, /sameSite must be one of true, false, "lax", "strict", "none", got "Lax"/],
      [{ priority: 'urgent' }, /priority must be one of "low", "medium", "high"/],
      [{ rolling: 'true' }, /rolling must be one of true, false/],
      [{ renew: 1 }, /renew must be one of true, false/],
      [{ httpOnly: 'no' }, /httpOnly must be one of true, false/],
      [{ asyncContext: 'yes' }, /asyncContext must be one of true, false/],
      [{ genid: 'abc' }, /genid must be a function/],
      [{ readOnly: true }, /readOnly must be a function/],
      [{ onEvent: {} }, /onEvent must be a function/],
      [{ clock: 0 }, /clock must be a function/],
      [{ migrate: 'x' }, /migrate must be a function/],
      [{ maxAge: 100 }, /maxAge must be a number of ms from 1000/],
      [{ maxAge: '1d' }, /maxAge must be a number of ms from 1000/],
      [{ signed: false }, /signed: false is not supported/],
      [{ autoCommit: false }, /autoCommit: false is not supported: the session always commits after `await next\(\)`/],
      [{ autoCommit: 'yes' }, /autoCommit must be one of true, false/],
    ];
    for (const [options, message] of cases) expect(refusal({ secret: SECRET, ...options }).message).toMatch(message);
    expect(() =>
      session({
        secret: SECRET,
        secure: 'auto',
        sameSite: true,
        rolling: false,
        signed: true,
        autoCommit: true,
        genid: () => crypto.randomUUID(),
      }),
    ).not.toThrow();
  });

  it('a koa-session store is refused, pointing at sess stores; sess stores are accepted', () => {
    const koaSessionStore = {
      get: async (_key: string, _maxAge: number, _options: object) => undefined,
      set: async (_key: string, _session: object, _maxAge: number, _options: object) => undefined,
      destroy: async (_key: string) => undefined,
    };
    expect(refusal({ secret: SECRET, store: koaSessionStore }).message).toMatch(
      /^\[sess\] session\(\) of @sess\/koa: store is not a sess store \(missing or wrong: name, capabilities\)\. Use a sess store: memoryStore\(\) \(the default\) or redisStore/,
    );
    expect(() => session({ secret: SECRET, store: memoryStore() })).not.toThrow();
    expect(() => session({ secret: SECRET, store: cookieSessions({ secret: 'koa-cookie-session-secret-of-32-bytes!!!' }) })).not.toThrow();
  });
});
