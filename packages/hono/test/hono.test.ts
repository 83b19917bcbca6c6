/** Hono-specific behaviour beyond the shared conformance suite, over real HTTP on node-server 2. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as connectHttp2, createSecureServer } from 'node:http2';
import type { Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { getRequestListener as getRequestListenerV1 } from 'hono-node-server1';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler, Next } from 'hono';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { stream, streamSSE } from 'hono/streaming';
import { timeout } from 'hono/timeout';
import { afterEach, describe, expect, expectTypeOf, it, onTestFinished, vi } from 'vitest';
import { SessStoreError, SessUsageError, hashId } from '@sess/core';
import { Client, cookiesNamed, fakeClock, inspectableStore, keptAliveAnswers, largeBody, listen } from '@sess/adapter-test';
import type { Served } from '@sess/adapter-test';
import { getSession, session } from '../src/index.js';
import type { HonoSession, SessionEnv, SessionEvent, SessionOptions, SessionVariables } from '../src/index.js';
import { quietErrors } from './routes.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}

const SECRET = 'hono-adapter-test-secret-of-at-least-32-bytes!';
const servers: Served[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(app: Hono<SessionEnv>) {
  const served = await listen(getRequestListener(app.fetch));
  servers.push(served);
  return new Client(served.url);
}

/** An app with the session middleware on a fake clock and a store the test can inspect and break. */
function sessionApp(options: Partial<SessionOptions> = {}) {
  const clock = fakeClock();
  const store = inspectableStore(clock);
  const app = new Hono<SessionEnv>();
  app.use(session({ secret: SECRET, store, clock: clock.now, ...options }));
  return { app, store };
}

const write = async (c: Context<SessionEnv>) => {
  const s = await c.get('session').load();
  s.data.n = (s.data.n ?? 0) + 1;
};

/** A self-signed certificate for 127.0.0.1, made by openssl for this run. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'sess-hono-tls-'));
  try {
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem')];
    const cert = ['-x509', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-out', join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', ...key, ...cert], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The session cookie a GET over HTTP/2 and TLS to 127.0.0.1 sets, with `:scheme` as given. */
function h2CookieOf(port: number, ca: Buffer, scheme: string): Promise<string | undefined> {
  const client = connectHttp2(`https://127.0.0.1:${port}`, { ca });
  return new Promise<string | undefined>((resolve, reject) => {
    client.on('error', reject);
    const stream = client.request({ ':path': '/', ':scheme': scheme });
    stream.on('response', (headers) => resolve(headers['set-cookie']?.find((line) => line.startsWith('sid='))));
    stream.on('error', reject);
    stream.resume();
  }).finally(() => client.close());
}

/** The session cookie a GET to 127.0.0.1 sets, `path` written as the request target as it is. */
function cookieOf(
  send: typeof httpRequest | typeof httpsRequest,
  options: { port: number; path: string; ca?: Buffer },
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    send({ host: '127.0.0.1', ...options }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.headers['set-cookie']?.find((line) => line.startsWith('sid='))));
    })
      .on('error', reject)
      .end();
  });
}

describe('types', () => {
  it('types c.get("session") through Variables, declared by the app or inferred along a chain', () => {
    const declared = new Hono<SessionEnv>().get('/', (c) => {
      expectTypeOf(c.get('session')).toEqualTypeOf<HonoSession>();
      expectTypeOf(c.var.session.data.n).toEqualTypeOf<number | undefined>();
      // @ts-expect-error SessionData says n is a number
      c.get('session').data.n = 'one';
      return c.text('ok');
    });
    const chained = new Hono().use(session({ secret: SECRET })).get('/', async (c) => {
      const s = await c.get('session').load();
      expectTypeOf(s).toEqualTypeOf<HonoSession>();
      return c.text(String(s.data.n));
    });
    const mixed = new Hono<{ Variables: SessionVariables & { user: string } }>().get('/', (c) => {
      expectTypeOf(c.get('user')).toEqualTypeOf<string>();
      expectTypeOf(c.get('session').load).returns.toEqualTypeOf<Promise<HonoSession>>();
      return c.text('ok');
    });
    expect([declared, chained, mixed].every((app) => app instanceof Hono)).toBe(true);
  });
});

describe('commit and the response', () => {
  it('is lazy: with a valid cookie, a route that never loads the session, or no route at all, makes no store call', async () => {
    const { app, store } = sessionApp();
    app.get('/write', async (c) => (await write(c), c.text('ok')));
    app.get('/plain', (c) => c.text('plain'));
    const client = await serve(app);
    await client.request('/write');
    const before = { ...store.calls };
    const plain = await client.request('/plain');
    const missing = await client.request('/nowhere');
    expect([plain.status, plain.setCookies, plain.headers.get('vary')]).toEqual([200, [], null]);
    expect([missing.status, missing.setCookies]).toEqual([404, []]);
    expect(store.calls).toEqual(before);
  });

  it('a Response with immutable headers (Response.redirect, a fetched one) is copied with the cookie and its own headers', async () => {
    const { app, store } = sessionApp();
    const upstream = await listen(
      getRequestListener(
        new Hono().get('/', (c) => c.text('upstream', 200, { 'x-upstream': '1', 'set-cookie': 'up=1; Path=/', vary: 'Accept' })).fetch,
      ),
    );
    servers.push(upstream);
    app.get('/redirect', async (c) => (await write(c), Response.redirect(new URL('/elsewhere', c.req.url), 303)));
    app.get('/fetched', async (c) => (await write(c), fetch(`${upstream.url}/`)));
    app.get('/hono-redirect', async (c) => (await write(c), c.redirect('/elsewhere')));
    const client = await serve(app);

    const redirect = await client.request('/redirect');
    expect([redirect.status, redirect.headers.get('location')]).toEqual([303, expect.stringMatching(/\/elsewhere$/)]);
    expect(cookiesNamed(redirect, 'sid')).toHaveLength(1);
    client.jar.clear();
    const fetched = await client.request('/fetched');
    expect([fetched.status, fetched.body, fetched.headers.get('x-upstream')]).toEqual([200, 'upstream', '1']);
    expect([cookiesNamed(fetched, 'up').length, cookiesNamed(fetched, 'sid').length]).toEqual([1, 1]);
    expect(fetched.headers.get('vary')).toBe('Accept, Cookie');
    client.jar.clear();
    const hono = await client.request('/hono-redirect');
    expect([hono.status, cookiesNamed(hono, 'sid').length]).toEqual([302, 1]);
    expect(store.size).toBe(3);
  });

  it('a Response the app hands to every request (a shared one) never carries one visitor’s cookie to another', async () => {
    const { app, store } = sessionApp();
    // Made once with the platform's Response, as a module-level one is before serve() installs node-server's.
    const Platform = Response.error().constructor as typeof Response;
    const noContent = new Platform(null, { status: 204, headers: { 'x-shared': '1' } });
    app.get('/', async (c) => (await write(c), noContent));
    const client = await serve(app);
    const first = await client.request('/');
    client.jar.clear();
    const second = await client.request('/');
    const [ada, bob] = [cookiesNamed(first, 'sid'), cookiesNamed(second, 'sid')];
    expect([first.status, second.status, second.headers.get('x-shared')]).toEqual([204, 204, '1']);
    expect([ada.length, bob.length, store.size]).toEqual([1, 1, 2]);
    expect(bob[0]).not.toBe(ada[0]);
    expect(noContent.headers.getSetCookie()).toEqual([]);
  });

  it('a lighter Response made after start-up and reused keeps each visitor’s cookie to them, and its body for all, on node-server 1 and 2', async () => {
    const Platform = Response.error().constructor as typeof Response;
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      const { app, store } = sessionApp();
      // Made on the first request, when node-server's lighter class is the global Response.
      const shared: { text?: Response; empty?: Response } = {};
      app.get(
        '/text',
        async (c) => (await write(c), (shared.text ??= new Response('shared', { status: 201, headers: { 'x-shared': '1' } }))),
      );
      app.get('/empty', async (c) => (await write(c), (shared.empty ??= c.body(null, 204, { 'x-shared': '1' }))));
      const served = await listen(requestListener(app.fetch));
      servers.push(served);
      for (const [path, status, body] of [
        ['/text', 201, 'shared'],
        ['/empty', 204, ''],
      ] as const) {
        const [ada, bob] = [new Client(served.url), new Client(served.url)];
        const replies = [await ada.request(path), await bob.request(path), await ada.request(path)];
        for (const reply of replies) {
          expect([reply.status, reply.body, reply.headers.get('x-shared'), reply.headers.get('vary')]).toEqual([
            status,
            body,
            '1',
            'Cookie',
          ]);
        }
        // Ada's second visit sends the shared response itself (it only adds Vary: Cookie): no one's cookie is on it.
        expect(replies.map((reply) => reply.setCookies.length)).toEqual([1, 1, 0]);
        expect(replies[1]?.setCookies).not.toContain(replies[0]?.setCookies[0]);
        expect(ada.jar.get('sid')).not.toBe(bob.jar.get('sid'));
        if (body !== '')
          expect(replies.map((reply) => reply.headers.get('content-type'))).toEqual(Array(3).fill('text/plain; charset=UTF-8'));
      }
      expect([Object.keys(shared).length, store.size]).toEqual([2, 4]);
      for (const response of Object.values(shared)) {
        expect(Object.getPrototypeOf(response) === Platform.prototype).toBe(false);
        expect([response.headers.getSetCookie(), response.headers.get('cache-control')]).toEqual([[], null]);
      }
    }
  });

  it('commits on the response a later middleware put in c.res, keeping its own Set-Cookie and Vary', async () => {
    const { app } = sessionApp();
    app.use(async (c: Context, next: Next) => {
      await next();
      c.res = new Response('replaced', { status: 201, headers: { 'set-cookie': 'app=1; Path=/', vary: 'Accept' } });
    });
    app.get('/', async (c) => (await write(c), c.text('original')));
    const client = await serve(app);
    const reply = await client.request('/');
    expect([reply.status, reply.body]).toEqual([201, 'replaced']);
    expect(reply.setCookies.filter((line) => line.startsWith('app=1'))).toHaveLength(1);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toBe('Accept, Cookie');
  });

  it('a response Hono has already copied (cors’ c.header after next, before or after the session) keeps its Content-Length, on node-server 1 and 2', async () => {
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      for (const corsFirst of [false, true]) {
        // cors adds `Vary: Origin` with c.header() after next(): Hono makes node-server's lighter response a platform one.
        const app = new Hono<SessionEnv>();
        if (corsFirst) app.use(cors({ origin: 'http://app.example' }));
        app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()) }));
        if (!corsFirst) app.use(cors({ origin: 'http://app.example' }));
        app.get('/', async (c) => (await write(c), c.json({ a: 1 })));
        const served = await listen(requestListener(app.fetch));
        servers.push(served);
        const reply = await new Client(served.url).request('/', { headers: { origin: 'http://app.example' } });
        expect([reply.status, reply.body, cookiesNamed(reply, 'sid').length]).toEqual([200, '{"a":1}', 1]);
        expect([reply.headers.get('content-length'), reply.headers.get('transfer-encoding')]).toEqual(['7', null]);
        expect(reply.headers.get('vary')).toBe(corsFirst ? 'Cookie, Origin' : 'Origin, Cookie');
      }
    }
  });

  it('a read keeps its Vary: Cookie through a later copy of the response (an outer c.header, a HEAD), on node-server 1 and 2', async () => {
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      for (const withCors of [true, false]) {
        const app = new Hono<SessionEnv>();
        // cors adds `Vary: Origin` with c.header() after next(), and Hono answers a HEAD with
        // `new Response(null, res)`: either has node-server 1 rebuild its lighter response from what it was made with.
        if (withCors) app.use(cors({ origin: 'http://app.example' }));
        app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()) }));
        app.post('/', async (c) => (await write(c), c.body(null, 204)));
        app.get('/', async (c) => c.json({ n: (await c.get('session').load()).data.n }));
        const served = await listen(requestListener(app.fetch));
        servers.push(served);
        const client = new Client(served.url);
        await client.request('/', { method: 'POST' });
        for (const method of ['GET', 'HEAD']) {
          const reply = await client.request('/', { method, headers: { origin: 'http://app.example' } });
          expect([reply.status, reply.setCookies, reply.body]).toEqual([200, [], method === 'GET' ? '{"n":1}' : '']);
          expect(reply.headers.get('vary')).toBe(withCors ? 'Cookie, Origin' : 'Cookie');
        }
      }
    }
  });

  it('a streamed response (stream, streamSSE) carries the cookie and its whole body', async () => {
    const { app, store } = sessionApp();
    app.get('/stream', async (c) => {
      await write(c);
      return stream(c, async (body) => {
        for (const chunk of ['a', 'b', 'c']) await body.write(chunk);
      });
    });
    app.get('/sse', async (c) => {
      await write(c);
      return streamSSE(c, async (body) => {
        for (const data of ['1', '2']) await body.writeSSE({ data });
      });
    });
    const client = await serve(app);
    const streamed = await client.request('/stream');
    expect([streamed.body, cookiesNamed(streamed, 'sid').length, store.size]).toEqual(['abc', 1, 1]);
    client.jar.clear();
    const sse = await client.request('/sse');
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(sse.body).toBe('data: 1\n\ndata: 2\n\n');
    expect(cookiesNamed(sse, 'sid')).toHaveLength(1);
  });

  it('Response.error() gets node-server’s 500 as without sess, on node-server 1 and 2, with nothing saved', async () => {
    // node-server logs the status Node refuses, with sess and without.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const requestListener of [getRequestListener, getRequestListenerV1]) {
        const { app, store } = sessionApp();
        app.get('/', async (c) => (await write(c), Response.error()));
        const served = await listen(requestListener(app.fetch));
        servers.push(served);
        const reply = await new Client(served.url).request('/');
        expect([reply.status, cookiesNamed(reply, 'sid'), store.calls.set]).toEqual([500, [], 0]);
      }
      expect(logged.mock.calls.map(([error]) => (error as { code?: string }).code)).toEqual([
        'ERR_HTTP_INVALID_STATUS_CODE',
        'ERR_HTTP_INVALID_STATUS_CODE',
      ]);
    } finally {
      logged.mockRestore();
    }
  });

  it('a response whose body the app already read or locked gets node-server’s 500 as without sess, on node-server 1 and 2, with nothing saved', async () => {
    const upstream = await listen(getRequestListener(new Hono().get('/', (c) => c.text('upstream')).fetch));
    servers.push(upstream);
    // node-server logs the body it can't read, with sess and without.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const requestListener of [getRequestListener, getRequestListenerV1]) {
        const { app, store } = sessionApp();
        app.onError(quietErrors);
        app.get('/read', async (c) => {
          await write(c);
          const response = new Response('once');
          await response.text();
          return response;
        });
        app.get('/locked', async (c) => {
          await write(c);
          const response = new Response('once');
          response.body?.getReader();
          return response;
        });
        // A fetched response's headers are immutable: a copy must not be tried on its spent body either.
        app.get('/fetched', async (c) => {
          await write(c);
          const response = await fetch(`${upstream.url}/`);
          await response.text();
          return response;
        });
        const served = await listen(requestListener(app.fetch));
        servers.push(served);
        for (const path of ['/read', '/locked', '/fetched']) {
          const reply = await new Client(served.url).request(path);
          expect([path, reply.status, cookiesNamed(reply, 'sid')]).toEqual([path, 500, []]);
        }
        expect(store.calls.set).toBe(0);
      }
    } finally {
      logged.mockRestore();
    }
  });

  it('a handler that returns no response gets Hono’s 500 with nothing saved', async () => {
    const { app, store } = sessionApp();
    app.onError(quietErrors);
    app.get('/', async (c) => {
      await write(c);
      return undefined as unknown as Response;
    });
    const reply = await (await serve(app)).request('/');
    expect([reply.status, cookiesNamed(reply, 'sid')]).toEqual([500, []]);
    expect(store.calls.set).toBe(0);
  });

  it('a handler that returns something other than a Response gets node-server’s 500 as without sess, on node-server 1 and 2: onError never sees it', async () => {
    // node-server logs the value it can't send, with sess and without.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const requestListener of [getRequestListener, getRequestListenerV1]) {
        for (const withSession of [false, true]) {
          const { app, store } = sessionApp();
          const bare = new Hono<SessionEnv>();
          const seen: unknown[] = [];
          for (const target of [app, bare]) target.onError((error, c) => (seen.push(error), c.text('handled', 200)));
          bare.use((c, next) => (c.set('session', { load: async () => ({ data: {} }) } as unknown as HonoSession), next()));
          (withSession ? app : bare).get('/', async (c) => (await write(c), 'not a response' as unknown as Response));
          const served = await listen(requestListener((withSession ? app : bare).fetch));
          servers.push(served);
          const reply = await new Client(served.url).request('/');
          expect([withSession, reply.status, reply.setCookies, seen, store.calls.set]).toEqual([withSession, 500, [], [], 0]);
        }
      }
    } finally {
      logged.mockRestore();
    }
  });

  it('with saveOnServerError, a sign-in whose response can’t carry the cookie (Response.error(), a status Node refuses, a spent body, none, not a Response) saves nothing, on node-server 1 and 2', async () => {
    // node-server logs what it can't send, with sess and without.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const requestListener of [getRequestListener, getRequestListenerV1]) {
        const { app, store } = sessionApp({ saveOnServerError: true });
        app.onError(quietErrors);
        app.get('/write', async (c) => (await write(c), c.text(String(c.get('session').data.n))));
        const answers: Record<string, (c: Context) => Promise<unknown> | unknown> = {
          error: () => Response.error(),
          status: (c) => c.text('x', 1000 as never),
          spent: async () => {
            const response = new Response('once');
            await response.text();
            return response;
          },
          none: () => undefined,
          text: () => 'not a response',
        };
        app.get('/sign-in/:answer', async (c) => {
          await (await c.get('session').load()).regenerate();
          return (await answers[c.req.param('answer')]?.(c)) as Response;
        });
        const served = await listen(requestListener(app.fetch));
        servers.push(served);
        const client = new Client(served.url);
        await client.request('/write');
        for (const answer of Object.keys(answers)) {
          const writes = store.calls.set + store.calls.destroy;
          const reply = await client.request(`/sign-in/${answer}`);
          expect([answer, reply.status, reply.setCookies, store.calls.set + store.calls.destroy - writes]).toEqual([answer, 500, [], 0]);
        }
        // The browser's cookie still names its session, with its data.
        expect((await client.request('/write')).body).toBe('2');
      }
    } finally {
      logged.mockRestore();
    }
  });

  it('leaves node-server’s shared RESPONSE_ALREADY_SENT alone when the app wrote c.env.outgoing itself', async () => {
    const { app } = sessionApp();
    app.get('/', async (c) => {
      await write(c);
      (c.env as HttpBindings).outgoing.end('raw');
      return RESPONSE_ALREADY_SENT;
    });
    const client = await serve(app);
    expect((await client.request('/')).body).toBe('raw');
    expect([...RESPONSE_ALREADY_SENT.headers.keys()]).toEqual(['x-hono-already-sent']);
  });

  it.each([false, true])(
    'saves nothing for a response the app wrote to c.env.outgoing itself: its headers left without the cookie (saveOnServerError: %s)',
    async (saveOnServerError) => {
      const { app, store } = sessionApp({ regenerateGraceMs: 5_000, saveOnServerError });
      app.get('/write', async (c) => (await write(c), c.text(String(c.get('session').data.n))));
      app.get('/raw-sign-in', async (c) => {
        await (await c.get('session').load()).regenerate();
        (c.env as HttpBindings).outgoing.end('raw');
        return RESPONSE_ALREADY_SENT;
      });
      const client = await serve(app);
      expect((await client.request('/write')).body).toBe('1');
      const setsBefore = store.calls.set;
      const raw = await client.request('/raw-sign-in');
      expect([raw.status, raw.body, raw.setCookies]).toEqual([200, 'raw', []]);
      expect(store.calls.set).toBe(setsBefore);
      // The browser still holds the first cookie, and its session still takes writes.
      const next = await client.request('/write');
      expect([next.status, next.body]).toEqual([200, '2']);
    },
  );

  describe('a middleware ahead of session() that lets Hono answer without awaiting next()', () => {
    /**
     * An app with `ahead` in front of the session on `/behind/*`, whose routes there finish only
     * once the test has their answer: the session commits after the answer left. Each session
     * run can be waited for.
     */
    function answeredAhead(ahead: MiddlewareHandler) {
      const clock = fakeClock();
      const store = inspectableStore(clock);
      const app = new Hono<SessionEnv>();
      app.onError(quietErrors);
      app.use('/behind/*', ahead);
      const sessionMiddleware = session({ secret: SECRET, store, clock: clock.now });
      const runs: Promise<unknown>[] = [];
      app.use((c, next) => {
        const run = sessionMiddleware(c, next);
        runs.push(run.catch((error: unknown) => error));
        return run;
      });
      let answerArrived: Promise<void> = Promise.resolve();
      app.use('/behind/*', async (_c, next) => (await answerArrived, next()));
      for (const prefix of ['', '/behind']) {
        app.get(`${prefix}/write`, async (c) => (await write(c), c.text('written')));
        app.get(`${prefix}/read`, async (c) => c.text(String((await c.get('session').load()).data.n)));
      }
      /** The answer to `path`, once its route (held until the answer arrived, unless `hold` is false) and the session are done. */
      const settled = async (client: Client, path: string, hold = true) => {
        let arrived = () => undefined as void;
        answerArrived = hold ? new Promise<void>((resolve) => (arrived = resolve)) : Promise.resolve();
        const reply = await client.request(path);
        arrived();
        return { reply, outcomes: await Promise.all(runs.splice(0)) };
      };
      return { app, store, settled };
    }

    it('Hono’s 500 "Context is not finalized" for a next() not awaited saves nothing, on node-server 1 and 2', async () => {
      for (const requestListener of [getRequestListener, getRequestListenerV1]) {
        const { app, store, settled } = answeredAhead(async (_c, next) => void next());
        const served = await listen(requestListener(app.fetch));
        servers.push(served);
        const { reply, outcomes } = await settled(new Client(served.url), '/behind/write');
        expect([reply.status, reply.body, reply.setCookies]).toEqual([500, 'Internal Server Error', []]);
        expect([outcomes, store.calls.set, store.size]).toEqual([[undefined], 0, 0]);
      }
    });

    it('an answer given ahead without awaiting next() (its own 202, hono/timeout’s 408) carries no cookie, so the session is not saved', async () => {
      const early = async (c: Context, next: Next) => {
        void next();
        return c.text('accepted', 202);
      };
      const timedOut = timeout(1, () => new HTTPException(408, { message: 'too slow' }));
      for (const [ahead, status, body] of [
        [early, 202, 'accepted'],
        [timedOut, 408, 'too slow'],
      ] as const) {
        const { app, store, settled } = answeredAhead(ahead);
        const client = await serve(app);
        // A new visitor's session, and the change to one the browser holds: neither may land.
        const fresh = await settled(client, '/behind/write');
        expect([fresh.reply.status, fresh.reply.body, fresh.reply.setCookies]).toEqual([status, body, []]);
        expect([fresh.outcomes, store.calls.set]).toEqual([[undefined], 0]);
        await settled(client, '/write');
        const held = await settled(client, '/behind/write');
        expect([held.reply.status, held.reply.setCookies, store.calls.set]).toEqual([status, [], 1]);
        expect((await settled(client, '/read')).reply.body).toBe('1');
      }
    });

    it('a middleware ahead that returns next() without awaiting it lets the session commit as usual', async () => {
      const { app, store, settled } = answeredAhead((_c, next) => next());
      const client = await serve(app);
      const { reply } = await settled(client, '/behind/write', false);
      expect([reply.status, reply.body, cookiesNamed(reply, 'sid').length, store.calls.set]).toEqual([200, 'written', 1, 1]);
      expect((await settled(client, '/behind/read', false)).reply.body).toBe('1');
    });
  });

  it('mounted twice, the first middleware owns the session and the second stays out of the way', async () => {
    const clock = fakeClock();
    const [first, second] = [inspectableStore(clock), inspectableStore(clock)];
    const app = new Hono<SessionEnv>();
    app.use(session({ secret: SECRET, store: first, clock: clock.now, name: 'first' }));
    app.use(session({ secret: SECRET, store: second, clock: clock.now, name: 'second' }));
    app.get('/', async (c) => (await write(c), c.text(String(c.get('session').data.n))));
    const client = await serve(app);
    await client.request('/');
    const reply = await client.request('/');
    expect(reply.body).toBe('2');
    expect([...client.jar.keys()]).toEqual(['first']);
    expect([first.size, second.size, Object.values(second.calls).every((count) => count === 0)]).toEqual([1, 0, true]);
  });
});

describe('errors and app.onError', () => {
  /** Serves `/write`, which saves a session, and `/read`, which loads it; writes once, then fails the store's reads. */
  async function failingReads(app: ReturnType<typeof sessionApp>['app'], store: ReturnType<typeof sessionApp>['store']) {
    app.get('/write', async (c) => (await write(c), c.text('ok')));
    app.get('/read', async (c) => c.text(String((await c.get('session').load()).data.n)));
    const client = await serve(app);
    await client.request('/write');
    store.failing.add('get');
    return client;
  }

  function withOnError() {
    const { app, store } = sessionApp();
    const seen: Error[] = [];
    app.onError((error, c) => {
      seen.push(error);
      return error instanceof HTTPException ? error.getResponse() : c.text(`caught ${error.message}`, 418);
    });
    return { app, store, seen };
  }

  it('sees a failed store write as an HTTPException 503 whose cause is the SessStoreError', async () => {
    const { app, store, seen } = withOnError();
    app.get('/', async (c) => (await write(c), c.text('ok', 200, { 'x-handler': '1' })));
    const client = await serve(app);
    store.failing.add('set');
    const reply = await client.request('/');
    expect([reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([503, 'Session store unavailable', []]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(HTTPException);
    expect((seen[0] as HTTPException).status).toBe(503);
    expect((seen[0] as HTTPException).cause).toBeInstanceOf(SessStoreError);
  });

  it('a failed store write drops a streamed response: its producer hears the abort instead of waiting forever, on node-server 1 and 2', async () => {
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      const { app, store } = sessionApp();
      app.onError(quietErrors);
      let producerEnded: (aborted: boolean) => void = () => undefined;
      const ended = new Promise<boolean>((resolve) => (producerEnded = resolve));
      app.get('/sse', async (c) => {
        await write(c);
        // Nothing reads the 503's dropped body: without a cancel, the second write waits forever
        // and an onAbort cleanup (a pub/sub unsubscribe) never runs.
        return streamSSE(c, async (body) => {
          for (const data of ['1', '2', '3']) await body.writeSSE({ data });
          producerEnded(body.aborted);
        });
      });
      // A response the app sends to every request keeps its body through a failed write.
      let shared: Response | undefined;
      app.get('/shared', async (c) => (await write(c), (shared ??= new Response('shared'))));
      const served = await listen(requestListener(app.fetch));
      servers.push(served);
      const client = new Client(served.url);
      store.failing.add('set');
      const reply = await client.request('/sse');
      expect([reply.status, reply.body]).toEqual([503, 'Session store unavailable']);
      expect(await ended).toBe(true);
      expect((await client.request('/shared')).status).toBe(503);
      store.failing.delete('set');
      expect((await client.request('/shared')).body).toBe('shared');
    }
  });

  it('a failed store write answers its 503 without the dropped response’s own headers (its Content-Length, cookies), on node-server 1 and 2', async () => {
    const upstream = await listen(
      getRequestListener(new Hono().get('/', (c) => c.text('up', 200, { 'set-cookie': 'up=1; Path=/', 'x-upstream': '1' })).fetch),
    );
    servers.push(upstream);
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      const { app, store } = sessionApp();
      // Hono's default onError, with a header of its own: c.header() works there as it does without sess.
      app.onError((error, c) => (c.header('x-on-error', '1'), (error as HTTPException).getResponse()));
      // Set with c.header() before the answer: on the error answer too, as when a handler throws.
      app.use(async (c, next) => (c.header('x-request-id', '7'), next()));
      // A fetched response declares its length: kept on the 503, the client would read 2 of its 25 bytes.
      app.get('/', async (c) => (await write(c), fetch(`${upstream.url}/`)));
      const served = await listen(requestListener(app.fetch));
      servers.push(served);
      store.failing.add('set');
      const reply = await new Client(served.url).request('/');
      expect([reply.status, reply.body, reply.setCookies]).toEqual([503, 'Session store unavailable', []]);
      expect(['x-upstream', 'x-request-id', 'x-on-error'].map((name) => reply.headers.get(name))).toEqual([null, '7', '1']);
    }
  });

  it('a failed store write’s 503 leaves a kept-alive connection open, a streamed response’s included: the next request on it is answered, on node-server 1 and 2', async () => {
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      const { app, store } = sessionApp();
      app.onError(quietErrors);
      app.get('/', async (c) => {
        await write(c);
        return stream(c, async (body) => {
          for (const chunk of largeBody()) await body.write(chunk);
        });
      });
      const served = await listen(requestListener(app.fetch));
      servers.push(served);
      store.failing.add('set');
      expect(await keptAliveAnswers(`${served.url}/`, 20)).toEqual(['503 keep-alive Session store unavailable']);
    }
  });

  it.each(['throws', 'returns NaN'])(
    'a streamed response whose commit fails on a clock that %s is dropped too: its producer hears the abort',
    async (fault) => {
      const clock = fakeClock();
      let failing = false;
      const now = () => {
        if (!failing) return clock.now();
        if (fault === 'throws') throw new Error('clock stopped');
        return Number.NaN;
      };
      const app = new Hono<SessionEnv>();
      app.onError(quietErrors);
      app.use(session({ secret: SECRET, store: inspectableStore(clock), clock: now }));
      let producerEnded: (aborted: boolean) => void = () => undefined;
      const ended = new Promise<boolean>((resolve) => (producerEnded = resolve));
      app.get('/sse', async (c) => {
        await write(c);
        failing = true;
        return streamSSE(c, async (body) => {
          for (const data of ['1', '2', '3']) await body.writeSSE({ data });
          producerEnded(body.aborted);
        });
      });
      const reply = await (await serve(app)).request('/sse');
      expect([reply.status, reply.body]).toEqual([500, 'Internal Server Error']);
      expect(await ended).toBe(true);
    },
  );

  it('sees a failed store read in a handler as the same 503', async () => {
    const { app, store, seen } = withOnError();
    const client = await failingReads(app, store);
    const reply = await client.request('/read');
    expect([reply.status, reply.body]).toEqual([503, 'Session store unavailable']);
    expect((seen[0] as HTTPException).cause).toBeInstanceOf(SessStoreError);
  });

  it('an onError that loads the session after a failed store read gets it empty, once: its own answer goes out, and a change there is dropped', async () => {
    const events: SessionEvent[] = [];
    const { app, store } = sessionApp({ onEvent: (event) => void events.push(event) });
    const seen: unknown[] = [];
    // Who the error was for, as an error page or a logger asks: load() first, as everywhere.
    app.onError(async (error, c) => {
      seen.push(error);
      const s = await c.get('session').load();
      const who = s.data.n ?? 'nobody';
      s.data.n = 99;
      return c.text(`failed for ${who}, then ${s.data.n ?? 'nobody'}`, (error as HTTPException).status);
    });
    const client = await failingReads(app, store);
    const reply = await client.request('/read');
    expect([reply.status, reply.body, reply.setCookies]).toEqual([503, 'failed for nobody, then nobody', []]);
    expect(seen.map((error) => (error as HTTPException).status)).toEqual([503]);
    expect(events.map((event) => event.type)).toEqual(['created', 'storeError', 'lateChange']);
    store.failing.delete('get');
    // After a failed write the session was loaded: onError reads what the request had.
    store.failing.add('set');
    const failedWrite = await client.request('/write');
    expect([failedWrite.status, failedWrite.body]).toEqual([503, 'failed for 2, then 2']);
    expect((await store.peek(client.jar.get('sid')?.split('.')[0] as string))?.data).toEqual({ n: 1 });
  });

  it('hands a handler’s own error to onError unchanged, and commits with the status onError answers', async () => {
    const { app, store, seen } = withOnError();
    const thrown = new Error('handler failed');
    app.get('/', async (c) => {
      await write(c);
      throw thrown;
    });
    const reply = await (await serve(app)).request('/');
    expect(seen).toEqual([thrown]);
    expect(seen[0]).toBe(thrown);
    expect([reply.status, reply.body]).toEqual([418, 'caught handler failed']);
    // A 4xx answer saves, so its Set-Cookie and Vary land on onError's response.
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toMatch(/cookie/i);
    expect(store.size).toBe(1);
  });

  it('a notFound handler that throws: its change is saved only with a middleware behind session() to hand the error to onError', async () => {
    const passing: MiddlewareHandler = async (_c, next) => {
      await next();
    };
    const saved: Record<string, boolean> = {};
    for (const where of ['none', 'ahead', 'behind'] as const) {
      const store = inspectableStore(fakeClock());
      const app = new Hono<SessionEnv>();
      if (where === 'ahead') app.use(passing);
      app.use(session({ secret: SECRET, store }));
      if (where === 'behind') app.use(passing);
      app.notFound(async (c) => {
        await write(c);
        throw new HTTPException(404, { message: 'no such page' });
      });
      const reply = await (await serve(app)).request('/nowhere');
      expect([where, reply.status, reply.body]).toEqual([where, 404, 'no such page']);
      saved[where] = store.size === 1 && cookiesNamed(reply, 'sid').length === 1;
    }
    // Hono calls notFound as the last middleware's next(): an error there passes out through
    // session() to onError when session() is that last middleware.
    expect(saved).toEqual({ none: false, ahead: false, behind: true });
  });

  it('a misuse of the session reaches onError as the SessUsageError it is, not an HTTPException Hono would not log', async () => {
    // A regenerate() after the commit (in a stream's callback) rejects with it...
    const { app, seen } = withOnError();
    app.get('/late', async (c) =>
      stream(c, async (body) => {
        await body.write('a');
        await c
          .get('session')
          .regenerate()
          .catch((error: unknown) => void seen.push(error as Error));
      }),
    );
    expect((await (await serve(app)).request('/late')).body).toBe('a');
    // ...and one on a read-only route reaches Hono's default onError, which logs it.
    const readOnly = sessionApp({ readOnly: () => true });
    readOnly.app.get('/', async (c) => (await (await c.get('session').load()).regenerate(), c.text('ok')));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const reply = await (await serve(readOnly.app)).request('/');
      expect([reply.status, reply.body]).toEqual([500, 'Internal Server Error']);
      expect(seen.map((error) => error.constructor)).toEqual([SessUsageError]);
      expect(logged.mock.calls.map(([error]) => (error as Error).constructor)).toEqual([SessUsageError]);
    } finally {
      logged.mockRestore();
    }
  });

  it('session data JSON cannot hold (a BigInt, a cycle) fails the commit with the SessUsageError data_not_json, which Hono’s default onError logs and answers 500; the record stays as it was', async () => {
    const { app, store } = sessionApp();
    app.get('/count', async (c) => (await write(c), c.text('ok')));
    app.get('/bigint', async (c) => {
      const s = await c.get('session').load();
      s.data.n = 2;
      Object.assign(s.data, { big: 1n });
      return c.text('ok');
    });
    app.get('/cycle', async (c) => {
      const s = await c.get('session').load();
      const cycle: Record<string, unknown> = {};
      cycle['self'] = cycle;
      s.data.n = 3;
      Object.assign(s.data, { cycle });
      return c.text('ok');
    });
    const client = await serve(app);
    await client.request('/count');
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      for (const path of ['/bigint', '/cycle']) {
        const reply = await client.request(path);
        expect([path, reply.status, reply.body, reply.setCookies]).toEqual([path, 500, 'Internal Server Error', []]);
      }
      expect(logged.mock.calls.map(([error]) => [(error as Error).constructor, (error as SessUsageError).code])).toEqual([
        [SessUsageError, 'data_not_json'],
        [SessUsageError, 'data_not_json'],
      ]);
    } finally {
      logged.mockRestore();
    }
    expect((await store.peek(client.jar.get('sid')?.split('.')[0] as string))?.data).toEqual({ n: 1 });
  });

  it('with Hono’s default onError: an HTTPException keeps its status and carries the session; any other error is logged and saves nothing', async () => {
    const { app, store } = sessionApp();
    const thrown = new Error('unexpected');
    app.get('/denied', async (c) => {
      await write(c);
      throw new HTTPException(401, { message: 'sign in again' });
    });
    app.get('/crash', async (c) => {
      await write(c);
      throw thrown;
    });
    const client = await serve(app);
    const denied = await client.request('/denied');
    expect([denied.status, denied.body, cookiesNamed(denied, 'sid').length]).toEqual([401, 'sign in again', 1]);
    expect(store.size).toBe(1);

    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      client.jar.clear();
      const crash = await client.request('/crash');
      expect([crash.status, crash.body, cookiesNamed(crash, 'sid')]).toEqual([500, 'Internal Server Error', []]);
      expect(logged.mock.calls).toEqual([[thrown]]);
    } finally {
      logged.mockRestore();
    }
    expect(store.size).toBe(1);
  });
});

describe('options', () => {
  it('refuses unknown options at construction, with "did you mean" and the sess name of hono-sessions’ options', () => {
    expect(() => session({ secret: SECRET, rollin: true } as never)).toThrow(/unknown option "rollin": did you mean "rolling"\?/);
    expect(() => session({ encryptionKey: SECRET } as never)).toThrow(/unknown option "encryptionKey": sess calls it "secret"/);
    expect(() => session({ secret: SECRET, expireAfterSeconds: 900 } as never)).toThrow(/"idleTimeoutMs"/);
    expect(() => session({ secret: SECRET, cookie: { maxAge: 60 } } as never)).toThrow(/top-level "maxAge"/);
    expect(() => session({ secret: SECRET, cookie: { prefix: 'host' } } as never)).toThrow(/__Host-sid/);
    expect(() => session({ secret: SECRET, cookie: { sameSite: 'LAX' } } as never)).toThrow(/sameSite/);
    expect(() => session({ secret: SECRET, proxy: 'yes' } as never)).toThrow(/proxy/);
    expect(() => session({ secret: 'short' })).toThrow(/32 bytes|at least/);
    expect(() => session({ secret: SECRET, maxAge: '1d' as never })).toThrow(/maxAge/);
  });

  it("takes hono/cookie's spellings ('Strict', 'High') and maxAge in seconds; 'session' is a browser-session cookie", async () => {
    const { app } = sessionApp({ maxAge: 60, cookie: { sameSite: 'Strict', priority: 'High' } });
    app.get('/', async (c) => (await write(c), c.text('ok')));
    const [line] = cookiesNamed(await (await serve(app)).request('/'), 'sid');
    expect(line).toMatch(/; Max-Age=60;/);
    expect(line).toMatch(/; SameSite=Strict/);
    expect(line).toMatch(/; Priority=High/);
    const browser = sessionApp({ maxAge: 'session' });
    browser.app.get('/', async (c) => (await write(c), c.text('ok')));
    expect(cookiesNamed(await (await serve(browser.app)).request('/'), 'sid')[0]).not.toMatch(/Max-Age|Expires/);
  });

  it('marks the cookie Secure from X-Forwarded-Proto only with proxy: true', async () => {
    const lines: Record<string, string | undefined> = {};
    for (const proxy of [false, true]) {
      const { app } = sessionApp({ proxy });
      app.get('/', async (c) => (await write(c), c.text('ok')));
      const reply = await (await serve(app)).request('/', { headers: { 'x-forwarded-proto': 'https' } });
      lines[String(proxy)] = cookiesNamed(reply, 'sid')[0];
    }
    expect(lines['false']).not.toMatch(/; Secure/);
    expect(lines['true']).toMatch(/; Secure/);
  });

  it('marks the cookie Secure by the connection, not by a scheme the client names (an absolute request target, HTTP/2’s :scheme), on node-server 1 and 2', async () => {
    const { key, cert } = selfSigned();
    const tlsServers: (HttpsServer | Http2SecureServer)[] = [];
    const started = async (server: HttpsServer | Http2SecureServer) => {
      tlsServers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    };
    onTestFinished(() => Promise.all(tlsServers.map((server) => new Promise((resolve) => server.close(resolve)))).then(() => undefined));
    for (const requestListener of [getRequestListener, getRequestListenerV1]) {
      const app = new Hono<SessionEnv>();
      app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()) }));
      app.get('/', async (c) => (await write(c), c.text('ok')));
      const plain = await listen(requestListener(app.fetch));
      servers.push(plain);
      const tls = await started(createHttpsServer({ key, cert }, requestListener(app.fetch)));
      const h2 = await started(createSecureServer({ key, cert }, requestListener(app.fetch) as never));
      // The request line's absolute-form (RFC 9112 3.2.2) and HTTP/2's :scheme are the client's to write: neither says the connection is TLS.
      const lines = {
        tls: await cookieOf(httpsRequest, { port: tls, path: '/', ca: cert }),
        tlsNamingHttp: await cookieOf(httpsRequest, { port: tls, path: `http://127.0.0.1:${tls}/`, ca: cert }),
        h2NamingHttp: await h2CookieOf(h2, cert, 'http'),
        plainNamingHttps: await cookieOf(httpRequest, { port: Number(new URL(plain.url).port), path: 'https://app.example/' }),
      };
      expect(lines).toEqual({
        tls: expect.stringMatching(/; Secure/),
        tlsNamingHttp: expect.stringMatching(/; Secure/),
        h2NamingHttp: expect.stringMatching(/; Secure/),
        plainNamingHttps: expect.not.stringMatching(/; Secure/),
      });
    }
  });

  it('a read-only route (readOnly gets the Context) reads the session, refuses to change it, and writes nothing', async () => {
    const { app, store } = sessionApp({ rolling: true, readOnly: (c) => c.req.path.startsWith('/api/') });
    app.onError(quietErrors);
    app.get('/', async (c) => (await write(c), c.text('ok')));
    app.get('/api/read', async (c) => c.text(String((await c.get('session').load()).data.n)));
    app.get('/api/write', async (c) => (await write(c), c.text('ok')));
    const client = await serve(app);
    await client.request('/');
    const writes = store.calls.set + store.calls.touch;
    const read = await client.request('/api/read');
    expect([read.body, read.setCookies]).toEqual(['1', []]);
    expect((await client.request('/api/write')).status).toBe(500);
    expect(store.calls.set + store.calls.touch).toBe(writes);
  });

  it('reports created and destroyed to onEvent, with hashed ids only', async () => {
    const events: SessionEvent[] = [];
    const { app } = sessionApp({ onEvent: (event) => void events.push(event) });
    app.get('/', async (c) => (await write(c), c.text('ok')));
    app.get('/out', async (c) => (await (await c.get('session').load()).destroy(), c.text('bye')));
    const client = await serve(app);
    await client.request('/');
    const id = client.jar.get('sid')?.split('.')[0] as string;
    await client.request('/out');
    expect(events).toEqual([
      { type: 'created', idHash: hashId(id) },
      { type: 'destroyed', idHash: hashId(id) },
    ]);
  });

  it('getSession() finds the session anywhere inside the request with asyncContext, and only then', async () => {
    const current = async () => String((await getSession().load()).data.n ?? 'none');
    const { app } = sessionApp({ asyncContext: true });
    app.get('/', async (c) => c.text(await current()));
    app.get('/set', async (c) => (await write(c), c.text(await current())));
    const client = await serve(app);
    expect((await client.request('/')).body).toBe('none');
    expect((await client.request('/set')).body).toBe('1');
    const without = sessionApp();
    without.app.get('/', async (c) => c.text(await current().catch(() => 'no context')));
    expect((await (await serve(without.app)).request('/')).body).toBe('no context');
  });
});
