/**
 * What Koa apps expect of a session in their everyday idioms, on Koa 2 and 3 over real HTTP:
 * redirects, conditional GETs, HEAD, the body types Koa sends, cookies the app sets itself,
 * wrappers around the output, nested routers, body parsing, the app's own error handling, and a
 * client that leaves while the store is still loading or writing the session.
 */
import { createReadStream } from 'node:fs';
import { type Readable, Stream, pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import Koa3 from 'koa';
import type { Context, Middleware, Next } from 'koa';
import Koa2 from 'koa2';
import { describe, expect, it } from 'vitest';
import type { Store } from '@sess/core';
import { Client, closedAfterEach, cookiesNamed, escapesWatched, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
    user?: string;
  }
}

const servers = closedAfterEach();
const escaped = escapesWatched();
const THIS_FILE = fileURLToPath(import.meta.url);
/** A conditional GET; fetch would add `Cache-Control: no-cache` (which makes it unconditional) unless the request has its own. */
const CONDITIONAL = { headers: { 'if-none-match': '"v1"', 'cache-control': 'max-age=0' } };

/** koa-compose, as koa-router and koa-mount use it. */
const compose =
  (middleware: Middleware[]): Middleware =>
  (ctx, next) => {
    const dispatch = (i: number): Promise<void> => {
      const fn = i === middleware.length ? next : middleware[i];
      return Promise.resolve(fn === undefined ? undefined : fn(ctx, () => dispatch(i + 1)));
    };
    return dispatch(0);
  };

/** koa-compress's shape: after `await next()`, the body becomes a gzip stream. */
const gzip: Middleware = async (ctx, next) => {
  await next();
  const body: unknown = ctx.body;
  if (body === null || body === undefined) return;
  const zipped = createGzip();
  ctx.set('Content-Encoding', 'gzip');
  ctx.remove('Content-Length');
  ctx.body = zipped;
  if (body instanceof Stream) pipeline(body as Readable, zipped, () => undefined);
  else zipped.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
};

describe.each([
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const)('%s', (major, Koa) => {
  async function start(options: Partial<SessionOptions>, handler: (ctx: Context, next: Next) => unknown, setup?: (app: Koa3) => void) {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app: Koa3 = new Koa();
    app.silent = true;
    setup?.(app);
    app.use(session({ secret: SECRET, store, clock: clock.now, ...options }));
    app.use(async (ctx, next) => {
      await handler(ctx, next);
    });
    const served = await listen(app.callback());
    servers.push(served);
    return { client: new Client(served.url), served, store };
  }

  it('ctx.redirect() after await regenerate() sends the new cookie with the 302, and after ctx.session = null deletes it', async () => {
    const { client } = await start({}, async (ctx) => {
      if (ctx.path === '/login') {
        await ctx.session.regenerate();
        ctx.session.user = 'ada';
        ctx.redirect('/home');
      } else if (ctx.path === '/logout') {
        ctx.session = null;
        ctx.redirect('/');
      } else ctx.body = ctx.session.user ?? 'nobody';
    });
    const login = await client.post('/login');
    expect([login.status, login.headers.get('location'), cookiesNamed(login, 'sid')]).toEqual([
      302,
      '/home',
      [expect.stringMatching(/^sid=[^;]/)],
    ]);
    expect((await client.request('/home')).body).toBe('ada');
    const logout = await client.post('/logout');
    expect([logout.status, cookiesNamed(logout, 'sid')]).toEqual([302, [expect.stringMatching(/^sid=;.*Max-Age=0/)]]);
    expect((await client.request('/home')).body).toBe('nobody');
  });

  it('a 401 set as ctx.status keeps the change; ctx.throw(401) and ctx.assert save nothing, keep the status and Vary: Cookie', async () => {
    const { client, store } = await start({}, (ctx: Context) => {
      ctx.session.n = (ctx.session.n ?? 0) + 1;
      if (ctx.path === '/status') {
        ctx.status = 401;
        ctx.body = 'no';
      } else if (ctx.path === '/throw') ctx.throw(401, 'who?');
      else if (ctx.path === '/assert') ctx.assert(false, 403, 'no');
      else ctx.body = String(ctx.session.n);
    });
    const status = await client.request('/status');
    expect([status.status, cookiesNamed(status, 'sid')]).toEqual([401, [expect.stringMatching(/^sid=[^;]/)]]);
    const sets = store.calls.set;
    for (const [path, code] of [
      ['/throw', 401],
      ['/assert', 403],
    ] as const) {
      const reply = await client.request(path);
      expect([reply.status, reply.setCookies, reply.headers.get('vary')]).toEqual([code, [], 'Cookie']);
    }
    expect(store.calls.set).toBe(sets);
    expect((await client.request('/')).body).toBe('2');
  });

  it('ctx.throw(401) after a sign-out deletes the cookie; after regenerate() it keeps the old session', async () => {
    const { client, store } = await start({}, async (ctx) => {
      if (ctx.path === '/login') ctx.session.user = 'ada';
      else if (ctx.path === '/logout') {
        ctx.session = null;
        ctx.throw(401);
      } else if (ctx.path === '/regenerate') {
        await ctx.session.regenerate();
        ctx.session.user = 'eve';
        ctx.throw(401);
      }
      ctx.body = ctx.session.user ?? 'nobody';
    });
    await client.post('/login');
    const regenerated = await client.post('/regenerate');
    expect([regenerated.status, regenerated.setCookies]).toEqual([401, []]);
    expect((await client.request('/')).body).toBe('ada');
    const out = await client.post('/logout');
    expect([out.status, cookiesNamed(out, 'sid')]).toEqual([401, [expect.stringMatching(/^sid=;.*Max-Age=0/)]]);
    expect((await client.request('/')).body).toBe('nobody');
    expect(store.size).toBe(0);
  });

  it("an app's own error middleware ahead of session() that re-emits with ctx.app.emit answers its status, with the session's headers", async () => {
    const emitted: unknown[] = [];
    const { client, store } = await start(
      {},
      (ctx) => {
        if (ctx.path === '/login') ctx.session.user = 'ada';
        else if (ctx.path === '/logout') ctx.session = null;
        else ctx.session.n = 1;
        if (ctx.path !== '/login') ctx.throw(ctx.path === '/logout' ? 401 : 400, 'nope');
        ctx.body = 'in';
      },
      (app) => {
        app.on('error', (error: { status?: number }) => void emitted.push(error.status));
        app.use(async (ctx, next) => {
          try {
            await next();
          } catch (error) {
            const status = (error as { status?: number }).status ?? 500;
            ctx.status = status;
            ctx.body = { status };
            ctx.app.emit('error', error, ctx);
          }
        });
      },
    );
    await client.post('/login');
    const sets = store.calls.set;
    const bad = await client.request('/bad');
    expect([bad.status, bad.body, bad.setCookies, bad.headers.get('vary')]).toEqual([400, '{"status":400}', [], 'Cookie']);
    expect(store.calls.set).toBe(sets);
    store.failing.add('set');
    const failed = await client.request('/bad2');
    expect(failed.status).toBe(400);
    store.failing.delete('set');
    const out = await client.post('/logout');
    expect([out.status, cookiesNamed(out, 'sid')]).toEqual([401, [expect.stringMatching(/^sid=;.*Max-Age=0/)]]);
    expect(emitted).toEqual([400, 400, 401]);
  });

  it('a conditional GET answered 304 through ctx.fresh keeps the session and its cookie', async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.n = 1;
      ctx.status = 200;
      ctx.etag = '"v1"';
      if (ctx.fresh) ctx.status = 304;
      else ctx.body = 'page';
    });
    const first = await client.request('/');
    expect([first.status, first.body, first.headers.get('etag')]).toEqual([200, 'page', '"v1"']);
    client.jar.clear();
    const fresh = await client.request('/', CONDITIONAL);
    expect([fresh.status, fresh.body, cookiesNamed(fresh, 'sid')]).toEqual([304, '', [expect.stringMatching(/^sid=[^;]/)]]);
    expect(fresh.headers.get('vary')).toBe('Cookie');
  });

  it('koa-conditional-get ahead of session(): a 304 after the commit keeps the cookie', async () => {
    const conditional: Middleware = async (ctx, next) => {
      await next();
      if (ctx.fresh) {
        ctx.status = 304;
        ctx.body = null;
      }
    };
    const { client, store } = await start(
      {},
      (ctx) => {
        ctx.session.n = 1;
        ctx.etag = '"v1"';
        ctx.body = 'page';
      },
      (app) => app.use(conditional),
    );
    const fresh = await client.request('/', CONDITIONAL);
    expect([fresh.status, cookiesNamed(fresh, 'sid')]).toEqual([304, [expect.stringMatching(/^sid=[^;]/)]]);
    expect(store.calls.set).toBe(1);
  });

  it('HEAD saves a change and sends the cookie with the headers only', async () => {
    const { client } = await start({}, (ctx) => {
      if (ctx.method === 'HEAD') ctx.session.user = 'ada';
      ctx.body = ctx.session.user ?? 'nobody';
    });
    const head = await client.request('/', { method: 'HEAD' });
    expect([head.status, head.body, head.headers.get('content-length'), cookiesNamed(head, 'sid')]).toEqual([
      200,
      '',
      '3',
      [expect.stringMatching(/^sid=[^;]/)],
    ]);
    expect((await client.request('/')).body).toBe('ada');
  });

  it('a Buffer, a file stream, an attachment and a 204 with a null body all carry the cookie', async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.n = (ctx.session.n ?? 0) + 1;
      if (ctx.path === '/buffer') ctx.body = Buffer.from('bytes');
      else if (ctx.path === '/file') {
        ctx.type = 'text';
        ctx.body = createReadStream(THIS_FILE);
      } else if (ctx.path === '/attachment') {
        ctx.attachment('report.txt');
        ctx.body = 'report';
      } else ctx.body = null;
    });
    const buffer = await client.request('/buffer');
    expect([buffer.status, buffer.body, cookiesNamed(buffer, 'sid').length]).toEqual([200, 'bytes', 1]);
    for (const path of ['/file', '/attachment', '/none']) {
      client.jar.clear();
      const reply = await client.request(path);
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      if (path === '/file') expect(reply.body).toContain('koa-compress');
      if (path === '/attachment')
        expect([reply.headers.get('content-disposition'), reply.body]).toEqual(['attachment; filename="report.txt"', 'report']);
      if (path === '/none') expect([reply.status, reply.body]).toEqual([204, '']);
    }
  });

  it.runIf(major === 'Koa 3')(
    'a web ReadableStream, a Blob and a Response body carry the cookie, and a Response keeps its own headers',
    async () => {
      const { client } = await start({}, (ctx) => {
        ctx.session.n = 1;
        if (ctx.path === '/web') ctx.body = new Blob(['blob']).stream();
        else if (ctx.path === '/blob') ctx.body = new Blob(['blob']);
        else ctx.body = new Response('response', { status: 201, headers: { 'x-own': '1', vary: 'Accept' } });
      });
      for (const path of ['/web', '/blob', '/response']) {
        client.jar.clear();
        const reply = await client.request(path);
        expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
        expect(reply.body).toBe(path === '/response' ? 'response' : 'blob');
        if (path === '/response')
          expect([reply.status, reply.headers.get('x-own'), reply.headers.get('vary')]).toEqual([201, '1', 'Accept, Cookie']);
      }
    },
  );

  it("ctx.cookies.set() for another name sits beside the session's cookie; for the session's own name, the app's wins", async () => {
    const { client } = await start({}, (ctx) => {
      ctx.session.n = 1;
      if (ctx.path === '/other') ctx.cookies.set('theme', 'dark');
      else ctx.cookies.set('sid', 'mine');
      ctx.body = 'ok';
    });
    const other = await client.request('/other');
    expect([cookiesNamed(other, 'theme'), cookiesNamed(other, 'sid')]).toEqual([
      [expect.stringMatching(/^theme=dark/)],
      [expect.stringMatching(/^sid=[^;]/)],
    ]);
    client.jar.clear();
    const own = await client.request('/own');
    expect(cookiesNamed(own, 'sid')).toEqual([expect.stringMatching(/^sid=mine;/)]);
  });

  it('a gzip wrapper (koa-compress) ahead of session() keeps the cookie, and a failed store write is still a 503', async () => {
    const { client, store } = await start(
      {},
      (ctx) => {
        ctx.session.n = 1;
        ctx.body = ctx.path === '/file' ? createReadStream(THIS_FILE) : { ok: true };
      },
      (app) => app.use(gzip),
    );
    const json = await client.request('/');
    expect([json.status, json.body, json.headers.get('content-encoding'), cookiesNamed(json, 'sid').length]).toEqual([
      200,
      '{"ok":true}',
      'gzip',
      1,
    ]);
    store.failing.add('set');
    for (const path of ['/', '/file']) {
      client.jar.clear();
      const failed = await client.request(path);
      expect([failed.status, failed.setCookies]).toEqual([503, []]);
    }
  });

  it('a gzip wrapper behind session() (the body a gzip stream at commit) keeps the cookie and the 503', async () => {
    const { client, store } = await start({}, (ctx, next) =>
      gzip(ctx, async () => {
        ctx.session.n = 1;
        ctx.body = 'zipped';
        await next();
      }),
    );
    const ok = await client.request('/');
    expect([ok.status, ok.body, cookiesNamed(ok, 'sid').length]).toEqual([200, 'zipped', 1]);
    store.failing.add('set');
    client.jar.clear();
    expect((await client.request('/')).status).toBe(503);
  });

  it('the session in nested routers (koa-compose) is one session, saved once', async () => {
    const inner = compose([
      async (ctx, next) => {
        ctx.session.n = (ctx.session.n ?? 0) + 1;
        await next();
      },
      (ctx) => {
        ctx.session.user = 'ada';
        ctx.body = `${ctx.session.n}`;
      },
    ]);
    const { client, store } = await start({}, (ctx, next) =>
      ctx.path.startsWith('/api/') ? compose([session({ secret: SECRET }), inner])(ctx, next) : undefined,
    );
    expect((await client.request('/api/a')).body).toBe('1');
    expect((await client.request('/api/b')).body).toBe('2');
    expect(store.calls.set).toBe(2);
  });

  it('a body parser that refuses the body (413) before the handler keeps its status and the signed-in session', async () => {
    const { client } = await start({}, async (ctx) => {
      if (ctx.path === '/login') {
        ctx.session.user = 'ada';
        ctx.body = 'in';
        return;
      }
      ctx.session.n = 1;
      let size = 0;
      for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > 4) ctx.throw(413, 'request entity too large');
      }
      ctx.body = ctx.session.user ?? 'nobody';
    });
    await client.post('/login');
    const refused = await client.request('/upload', { method: 'POST', body: 'far too long' });
    expect([refused.status, refused.body, refused.setCookies]).toEqual([413, 'request entity too large', []]);
    expect((await client.request('/upload', { method: 'POST', body: 'ok' })).body).toBe('ada');
  });

  it("a failed store write reaches the app's own 'error' listener with ctx, as a 503", async () => {
    const seen: unknown[] = [];
    const { client, store } = await start(
      {},
      (ctx) => {
        ctx.session.n = 1;
        ctx.body = 'ok';
      },
      (app) => app.on('error', (error: { status?: number }, ctx: Context) => void seen.push([error.status, ctx.path])),
    );
    store.failing.add('set');
    expect((await client.request('/x')).status).toBe(503);
    expect(seen).toEqual([[503, '/x']]);
  });

  /** What an app's 'error' listener that logs the session's user sees (or the error reading it threw). */
  async function loggedOnStoreFailure(op: 'get' | 'set') {
    const logged: unknown[] = [];
    const { client, store } = await start(
      {},
      (ctx) => {
        ctx.session.user = 'ada';
        ctx.body = 'ok';
      },
      (app) =>
        app.on('error', (error: { status?: number }, ctx: Context) => {
          // A listener that throws leaves Koa's answer unsent and its promise rejected unhandled: caught here, so the test can say what it read.
          try {
            logged.push(error.status, ctx.session.user, JSON.stringify(ctx.session));
          } catch (failure) {
            logged.push(error.status, String(failure));
          }
        }),
    );
    await client.request('/');
    if (op === 'set') client.jar.clear();
    store.failing.add(op);
    expect((await client.request('/')).status).toBe(503);
    return logged;
  }

  it("an 'error' listener reads the session after a failed write as the data the request had", async () => {
    expect(await loggedOnStoreFailure('set')).toEqual([503, 'ada', '{"user":"ada"}']);
  });

  // Koa emits 'error' before it answers: a read that threw there would leave the request
  // unanswered and Koa's promise rejected unhandled, so a store outage would hang every request.
  it("an 'error' listener reads the session after a failed load as empty, without throwing", async () => {
    expect(await loggedOnStoreFailure('get')).toEqual([503, undefined, '{}']);
  });

  describe('a client that leaves while the store is still loading or writing the session', () => {
    /** A store whose `op` waits, once armed, until released; `waiting` settles when the first such call starts. */
    function gatedStore(inner: Store, op: 'get' | 'set') {
      let armed = false;
      let started = () => {};
      const waiting = new Promise<void>((resolve) => (started = resolve));
      let release: (ok: boolean) => void = () => {};
      const released = new Promise<boolean>((resolve) => (release = resolve));
      const gate = async <T>(call: () => Promise<T>) => {
        if (!armed) return call();
        started();
        if (!(await released)) throw new Error('store down');
        return call();
      };
      const store = Object.create(inner, {
        name: { value: 'gated' },
        [op]: { value: (...args: never[]) => gate(() => (inner[op] as (...a: never[]) => Promise<unknown>)(...args)) },
      }) as Store;
      return { store, waiting, release, arm: () => void (armed = true) };
    }

    const bodies = major === 'Koa 3' ? (['text', 'file', 'raw', 'web'] as const) : (['text', 'file', 'raw'] as const);
    for (const op of ['get', 'set'] as const)
      for (const ok of [true, false])
        for (const body of bodies)
          it(`a ${op === 'get' ? 'load' : 'write'} that then ${ok ? 'succeeds' : 'fails'}, under a ${body} body: no crash, no unhandled rejection`, async () => {
            const gated = gatedStore(inspectableStore(fakeClock()), op);
            let closed = () => {};
            let finished = () => {};
            const { client, served } = await start(
              { store: gated.store },
              (ctx) => {
                ctx.session.n = (ctx.session.n ?? 0) + 1;
                if (body === 'raw') {
                  ctx.respond = false;
                  ctx.res.statusCode = 200;
                  ctx.res.end('ok');
                } else if (body === 'web') ctx.body = new Blob(['ok']).stream();
                else ctx.body = body === 'file' ? createReadStream(THIS_FILE) : 'ok';
              },
              (app) =>
                app.use(async (ctx, next) => {
                  ctx.res.once('close', closed);
                  await next().finally(finished);
                }),
            );
            // A signed-in client, so the next request loads its session.
            expect((await client.request('/')).status).toBe(200);
            const left = new Promise<void>((resolve) => (closed = resolve));
            const over = new Promise<void>((resolve) => (finished = resolve));
            gated.arm();
            const abort = new AbortController();
            const request = client.request('/', { signal: abort.signal }).catch((error: Error) => error.name);
            await gated.waiting;
            abort.abort();
            expect(await request).toBe('AbortError');
            await left;
            gated.release(ok);
            await over.catch(() => undefined);
            await served.idle();
            // And the server keeps serving.
            expect((await client.request('/')).status).toBe(ok ? 200 : 503);
            expect(escaped).toEqual([]);
          });
  });
});
