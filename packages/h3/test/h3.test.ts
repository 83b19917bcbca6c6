/** h3-specific behaviour beyond the shared conformance suite, on both majors. */
import { H3, HTTPError, createEventStream, fromNodeHandler, fromNodeMiddleware, iterable, redirect, toNodeHandler, toResponse } from 'h3';
import type { H3Config, H3Event } from 'h3';
import { createApp, createError, eventHandler, send, sendError, sendRedirect, sendStream, setResponseStatus, toNodeListener } from 'h3v1';
import type { AppOptions } from 'h3v1';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import { getSession, session, useSession } from '../src/index.js';
import { SessStoreError, SessUsageError, hashId } from '@sess/core';
import type { SessionEvent, SessionOptions } from '../src/index.js';
import * as v1 from '../src/v1.js';
import { holdWrites } from './held-writes.js';
import { captureFrameworkLogs, describeError } from './logs.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
    a?: number;
  }
}
declare module '../src/v1.js' {
  interface SessionData {
    n?: number;
  }
}

const servers = closedAfterEach();

async function startV2(options: Partial<SessionOptions<H3Event>>, handler: (event: H3Event) => unknown) {
  const clock = fakeClock();
  const store = inspectableStore(clock);
  const app = new H3({ silent: true });
  app.use(session({ secret: SECRET, store, clock: clock.now, ...options }));
  app.all('/**', handler);
  const served = await listen(toNodeHandler(app));
  servers.push(served);
  return { client: new Client(served.url), store, url: served.url };
}

describe('h3 v2', () => {
  it("a Response the app returns to every request (a shared one) never carries one visitor's cookie to another", async () => {
    const shared = new Response(null, { status: 204 });
    const { client, store, url } = await startV2({}, async (event) => {
      const s = await useSession(event);
      s.data.n = 1;
      return shared;
    });
    const first = await client.request('/');
    const other = new Client(url);
    const second = await other.request('/');
    expect([first.status, second.status]).toEqual([204, 204]);
    const [firstCookie] = cookiesNamed(first, 'sid');
    const [secondCookie] = cookiesNamed(second, 'sid');
    expect(secondCookie).toBeDefined();
    expect(cookiesNamed(second, 'sid')).toHaveLength(1);
    expect(secondCookie).not.toBe(firstCookie);
    expect(shared.headers.getSetCookie()).toEqual([]);
    expect(store.size).toBe(2);
  });

  it('a redirect or a Response (even one with immutable headers) returned after a write carries the cookie', async () => {
    const { client } = await startV2({}, async (event) => {
      const s = await useSession(event);
      s.data.n = 1;
      if (event.url.pathname === '/go') return redirect('/elsewhere');
      if (event.url.pathname === '/immutable') return Response.redirect(new URL('/elsewhere', event.url), 303);
      if (event.url.pathname === '/json') return { ok: true };
      if (event.url.pathname === '/empty') return null;
      return new Response('raw', { headers: { 'x-raw': '1' } });
    });
    for (const path of ['/json', '/empty']) {
      client.jar.clear();
      expect(cookiesNamed(await client.request(path), 'sid')).toHaveLength(1);
    }
    client.jar.clear();
    const immutable = await client.request('/immutable');
    expect(immutable.status).toBe(303);
    expect(cookiesNamed(immutable, 'sid')).toHaveLength(1);
    client.jar.clear();
    const go = await client.request('/go');
    expect(go.status).toBe(302);
    expect(cookiesNamed(go, 'sid')).toHaveLength(1);
    client.jar.clear();
    const raw = await client.request('/raw');
    expect(raw.headers.get('x-raw')).toBe('1');
    expect(cookiesNamed(raw, 'sid')).toHaveLength(1);
  });

  it('a Response another middleware made (a srvx one, of known length) keeps its Content-Length on the copy carrying the cookie, as without sess; a stream stays chunked', async () => {
    const framing = async (withSession: boolean) => {
      const app = new H3({ silent: true });
      if (withSession) app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()) }));
      // Turns the handler's value into h3's own Response (srvx's), as a timing or header middleware does.
      app.use(async (event, next) => toResponse(await next(), event));
      app.get('/text', async (event) => {
        if (withSession) (await useSession(event)).data.n = 1;
        return 'hello';
      });
      app.get('/stream', async (event) => {
        if (withSession) (await useSession(event)).data.n = 1;
        return new ReadableStream({ start: (controller) => (controller.enqueue(new TextEncoder().encode('hello')), controller.close()) });
      });
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const client = new Client(served.url);
      const answers: unknown[] = [];
      for (const path of ['/text', '/stream']) {
        client.jar.clear();
        const reply = await client.request(path);
        const framed = [reply.headers.get('content-length'), reply.headers.get('transfer-encoding')];
        answers.push([path, reply.body, ...framed, cookiesNamed(reply, 'sid').length]);
      }
      return answers;
    };
    expect(await framing(false)).toEqual([
      ['/text', 'hello', '5', null, 0],
      ['/stream', 'hello', null, 'chunked', 0],
    ]);
    expect(await framing(true)).toEqual([
      ['/text', 'hello', '5', null, 1],
      ['/stream', 'hello', null, 'chunked', 1],
    ]);
  });

  it('a thrown HTTPError after a write commits as its status and keeps the session headers', async () => {
    const { client, store } = await startV2({}, async (event) => {
      const s = await useSession(event);
      s.data.n = 1;
      throw new HTTPError({ status: 401, message: 'sign in again' });
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(401);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toMatch(/cookie/i);
    expect(store.size).toBe(1);
  });

  it("a thrown error's own headers are kept, the session's added to them, and a thrown number commits as its status", async () => {
    const { client, store } = await startV2({}, async (event) => {
      (await useSession(event)).data.n = 1;
      if (event.url.pathname === '/number') throw 429;
      throw new HTTPError({ status: 429, headers: { vary: 'Origin', 'cache-control': 'no-store' } });
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(429);
    expect([reply.headers.get('vary'), reply.headers.get('cache-control')]).toEqual(['Origin, Cookie', 'no-store']);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    client.jar.clear();
    const number = await client.request('/number');
    expect(number.status).toBe(429);
    expect(cookiesNamed(number, 'sid')).toHaveLength(1);
    expect(store.size).toBe(2);
  });

  it('a failed store write answers exactly 503 through h3\u2019s error handling, which logs it as an unhandled error and tells the client only the status', async () => {
    const store = inspectableStore(fakeClock());
    const app = new H3();
    app.use(session({ secret: SECRET, store }));
    app.get('/**', async (event) => {
      (await useSession(event)).data.n = 1;
      return 'ok';
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    store.failing.add('set');
    const logs = captureFrameworkLogs();
    const reply = await new Client(served.url).request('/');
    const logged = logs.stop();
    expect([reply.status, JSON.parse(reply.body)]).toEqual([
      503,
      { status: 503, statusText: 'Service Unavailable', unhandled: true, message: 'HTTPError' },
    ]);
    expect(logged.map(({ error }) => [(error as HTTPError).status, (error as HTTPError).unhandled, describeError(error)])).toEqual([
      [503, true, 'store_failed'],
    ]);
    expect(logged[0]?.error).toMatchObject({ cause: expect.any(SessStoreError) });
  });

  it.each([
    ['a failed commit', '/commit', 'set'],
    ['a failed load()', '/load', 'get'],
    ['a failed regenerate()', '/regenerate', 'get'],
    ['a failed destroy()', '/destroy', 'destroy'],
    ['a failed commit of a Node handler', '/node', 'set'],
  ] as const)('%s reaches onError as an HTTPError 503 whose cause is the SessStoreError', async (_, path, op) => {
    const store = inspectableStore(fakeClock());
    const errors: unknown[] = [];
    const app = new H3({ silent: true, onError: (error) => void errors.push(error) });
    app.use(session({ secret: SECRET, store, asyncContext: true }));
    app.get('/login', async (event) => String(((await useSession(event)).data.n = 1)));
    app.get('/commit', async (event) => String(((await useSession(event)).data.n = 2)));
    app.get('/load', async (event) => String(await event.context.session?.load()));
    app.get('/regenerate', async (event) => String(await event.context.session?.regenerate()));
    app.get('/destroy', async (event) => String(await (await useSession(event)).destroy()));
    app.get(
      '/node',
      fromNodeHandler(async (_req, res) => {
        const s = getSession();
        await s.load();
        s.data.n = 2;
        res.end('node');
      }),
    );
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const client = new Client(served.url);
    await client.request('/login');
    store.failing.add(op);
    expect((await client.request(path)).status).toBe(503);
    expect(errors).toHaveLength(1);
    expect((errors[0] as HTTPError).status).toBe(503);
    const { cause } = errors[0] as HTTPError;
    expect(cause).toBeInstanceOf(SessStoreError);
    expect(cause).toMatchObject({ code: 'store_failed', statusHint: 503, op });
  });

  it('session data JSON cannot hold fails the commit as a SessUsageError (data_not_json): a 500 through onError, the stored record left as it was', async () => {
    const store = inspectableStore(fakeClock());
    const errors: unknown[] = [];
    const app = new H3({ silent: true, onError: (error) => void errors.push(error) });
    app.use(session({ secret: SECRET, store }));
    app.get('/**', async (event) => {
      const s = await useSession(event);
      s.data.n = (s.data.n ?? 0) + 1;
      if (event.url.pathname === '/bigint') (s.data as Record<string, unknown>)['big'] = 1n;
      return 'ok';
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const client = new Client(served.url);
    await client.request('/');
    const id = client.jar.get('sid')?.split('.')[0] as string;
    const stored = await store.peek(id);
    expect((await client.request('/bigint')).status).toBe(500);
    expect(await store.peek(id)).toEqual(stored);
    expect(errors).toHaveLength(1);
    expect((errors[0] as HTTPError).status).toBe(500);
    const { cause } = errors[0] as HTTPError;
    expect(cause).toBeInstanceOf(SessUsageError);
    expect(cause).toMatchObject({ code: 'data_not_json' });
  });

  it("without onError, a usage error (data JSON cannot hold, a change to a read-only session) is logged by h3 and answers 500, as the app's own thrown Error is", async () => {
    const app = new H3();
    app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()), readOnly: (event) => event.url.pathname === '/read-only' }));
    app.get('/**', async (event) => {
      const s = await useSession(event);
      if (event.url.pathname === '/bug') throw new Error('the app failed');
      s.data.n = 1;
      if (event.url.pathname === '/bigint') (s.data as Record<string, unknown>)['big'] = 1n;
      return 'ok';
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const client = new Client(served.url);
    const logs = captureFrameworkLogs();
    const statuses: number[] = [];
    for (const path of ['/bug', '/bigint', '/read-only']) statuses.push((await client.request(path)).status);
    const logged = logs.stop();
    expect(statuses).toEqual([500, 500, 500]);
    expect(logged.map(({ error }) => [(error as HTTPError).unhandled, describeError(error)])).toEqual([
      [true, 'the app failed'],
      [true, 'data_not_json'],
      [true, 'usage_invalid'],
    ]);
    expect(logged.slice(1).map(({ error }) => (error as HTTPError).cause)).toEqual([
      expect.any(SessUsageError),
      expect.any(SessUsageError),
    ]);
  });

  describe('a failed store write drops a streamed answer: its producer hears the end instead of waiting forever', () => {
    /**
     * Each route writes the session and answers with a stream whose producer reports how it
     * ended: a cancelled `ReadableStream` (returned, in a `Response`, in `onError`'s `Response`),
     * `createEventStream`'s `onClosed`, `iterable()`'s generator `finally`. Nothing reads the
     * 503's dropped body, so without a cancel none of them ever ends.
     */
    function streamingApp() {
      const store = inspectableStore(fakeClock());
      const errors: unknown[] = [];
      let ended: (how: string) => void = () => undefined;
      const done = new Promise<string>((resolve) => (ended = resolve));
      const stream = () =>
        new ReadableStream<Uint8Array>({
          start: (controller) => controller.enqueue(new TextEncoder().encode('first')),
          cancel: () => ended('cancelled'),
        });
      const app = new H3({
        silent: true,
        onError: (error) => {
          errors.push(error);
          if (error.status === 409) return new Response(stream(), { status: 409 });
        },
      });
      app.use(session({ secret: SECRET, store }));
      app.use(async (event) => void ((await useSession(event)).data.n = 1));
      app.get('/stream', () => stream());
      app.get('/response', () => new Response(stream()));
      app.get('/onerror', () => {
        throw new HTTPError({ status: 409 });
      });
      app.get('/sse', (event) => {
        const events = createEventStream(event);
        events.onClosed(() => ended('closed'));
        void events.push('first');
        return events.send();
      });
      app.get('/iterable', () =>
        iterable(
          (async function* () {
            try {
              yield 'first';
              yield 'second';
            } finally {
              ended('finally');
            }
          })(),
        ),
      );
      store.failing.add('set');
      return { app, done, errors };
    }

    const answers = [
      ['/stream', 'cancelled'],
      ['/response', 'cancelled'],
      ['/onerror', 'cancelled'],
      ['/sse', 'closed'],
      ['/iterable', 'finally'],
    ] as const;

    it.each(answers)('on a Node server: %s', async (path, how) => {
      const { app, done, errors } = streamingApp();
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const reply = await new Client(served.url).request(path);
      expect([reply.status, JSON.parse(reply.body).unhandled]).toEqual([503, true]);
      expect(await done).toBe(how);
      expect((errors.at(-1) as HTTPError).status).toBe(503);
    });

    it('on a Node server: a Node stream the handler returns is destroyed', async () => {
      const { app, done } = streamingApp();
      let destroyed: (how: string) => void = () => undefined;
      const ended = new Promise<string>((resolve) => (destroyed = resolve));
      app.get('/node-stream', () => new Readable({ read() {}, destroy: (error, callback) => (destroyed('destroyed'), callback(error)) }));
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const reply = await new Client(served.url).request('/node-stream');
      expect(reply.status).toBe(503);
      expect(await Promise.race([ended, done])).toBe('destroyed');
    });

    it.each(answers)('through app.fetch: %s', async (path, how) => {
      const { app, done, errors } = streamingApp();
      const reply = await app.fetch(new Request(`http://localhost${path}`));
      expect([reply.status, ((await reply.json()) as { unhandled: boolean }).unhandled]).toEqual([503, true]);
      expect(await done).toBe(how);
      expect((errors.at(-1) as HTTPError).status).toBe(503);
    });
  });

  it('a Node stream the handler returns that fails while the commit waits on the store answers 500 as without sess, never an uncaught error', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => void uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const store = inspectableStore(fakeClock());
      const { written, open } = holdWrites(store);
      const stream = new Readable({ read() {} });
      const app = new H3({ silent: true });
      app.use(session({ secret: SECRET, store }));
      app.get('/', async (event) => {
        (await useSession(event)).data.n = 1;
        return stream;
      });
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const reply = new Client(served.url).request('/');
      await written;
      stream.destroy(new Error('producer failed'));
      // Its 'error' event is emitted on the next tick: by the next turn of the loop it has been.
      await new Promise((resolve) => setImmediate(resolve));
      open();
      expect((await reply).status).toBe(500);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('with proxy, X-Forwarded-Proto is read as the other adapters read it: any case, the first of a list', async () => {
    const { url } = await startV2({ proxy: true }, async (event) => {
      (await useSession(event)).data.n = 1;
      return 'ok';
    });
    for (const [proto, secure] of [
      ['HTTPS', true],
      ['https, http', true],
      ['http, https', false],
      ['', false],
    ] as const) {
      const reply = await new Client(url).request('/', { headers: { 'x-forwarded-proto': proto } });
      expect([proto, cookiesNamed(reply, 'sid')[0]?.includes('; Secure') ?? false]).toEqual([proto, secure]);
    }
  });

  it('is lazy: with a valid cookie, a route that never asks for the session makes no store call', async () => {
    const { client, store } = await startV2({}, async (event) => {
      if (event.url.pathname === '/plain') return 'plain';
      (await useSession(event)).data.n = 1;
      return 'ok';
    });
    await client.request('/');
    const before = { ...store.calls };
    const reply = await client.request('/plain');
    expect(reply.setCookies).toEqual([]);
    expect(store.calls).toEqual(before);
  });

  it('update() merges an object or what a function returns; clear() empties', async () => {
    const { client } = await startV2({}, async (event) => {
      const s = await useSession(event);
      await s.update({ n: 1 });
      await s.update((data) => ({ a: (data.n ?? 0) + 1 }));
      const before = JSON.stringify(s.data);
      await s.clear();
      return `${before} ${JSON.stringify(s.data)}`;
    });
    expect((await client.request('/')).body).toBe('{"n":1,"a":2} {}');
  });

  it("maxAge is in seconds, as h3's; 'session' makes a browser-session cookie", async () => {
    const write = async (event: H3Event) => ((await useSession(event)).data.n = 1);
    const minute = await startV2({ maxAge: 60 }, write);
    expect(cookiesNamed(await minute.client.request('/'), 'sid')[0]).toMatch(/; Max-Age=60;/);
    const browser = await startV2({ maxAge: 'session' }, write);
    expect(cookiesNamed(await browser.client.request('/'), 'sid')[0]).not.toMatch(/Max-Age|Expires/);
  });

  it('useSession without the middleware is a clear error', async () => {
    const app = new H3({ silent: true });
    let message = '';
    app.get('/', async (event) => {
      await useSession(event).catch((error: Error) => (message = error.message));
      return 'ok';
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    await new Client(served.url).request('/');
    expect(message).toMatch(/register session\(\{ \.\.\. \}\) with app\.use\(\)/);
  });

  it('flash messages survive one request and are read once', async () => {
    const { client } = await startV2({}, async (event) => {
      const s = await useSession(event);
      if (event.url.pathname === '/set') return s.flash('info', 'saved') ?? 'ok';
      return s.takeFlash('info');
    });
    await client.request('/set');
    expect((await client.request('/take')).body).toBe('["saved"]');
    expect((await client.request('/take')).body).toBe('[]');
  });

  it('a read-only route reads the session, refuses to change it, and writes nothing', async () => {
    const { client, store } = await startV2(
      { rolling: true, readOnly: (event) => event.url.pathname.startsWith('/api/') },
      async (event) => {
        const s = await useSession(event);
        if (event.url.pathname === '/api/write') s.data.n = 99;
        else if (!event.url.pathname.startsWith('/api/')) s.data.n = 1;
        return String(s.data.n);
      },
    );
    await client.request('/');
    const writes = store.calls.set + store.calls.touch;
    const read = await client.request('/api/read');
    expect([read.body, read.setCookies]).toEqual(['1', []]);
    expect((await client.request('/api/write')).status).toBe(500);
    expect(store.calls.set + store.calls.touch).toBe(writes);
  });

  it('reports created and destroyed to onEvent, with hashed ids only', async () => {
    const events: SessionEvent[] = [];
    const { client } = await startV2({ onEvent: (event) => void events.push(event) }, async (event) => {
      const s = await useSession(event);
      if (event.url.pathname === '/out') await s.destroy();
      else s.data.n = 1;
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

  it('getSession() finds the session anywhere inside the request with asyncContext, and only then', async () => {
    const current = async () => {
      const s = getSession();
      await s.load();
      return String(s.data.n ?? 'none');
    };
    const { client } = await startV2({ asyncContext: true }, async (event) => {
      if (event.url.pathname === '/set') (await useSession(event)).data.n = 7;
      return current();
    });
    expect((await client.request('/')).body).toBe('none');
    expect((await client.request('/set')).body).toBe('7');
    const without = await startV2({}, () => current().catch(() => 'no context'));
    expect((await without.client.request('/')).body).toBe('no context');
  });

  it("getSession() works in the app's onError too, which answers inside the request: what it changes there is saved", async () => {
    const store = inspectableStore(fakeClock());
    const app = new H3({
      silent: true,
      // What an app's error page does: flash the failure to the visitor's next page.
      onError: async (error) => {
        const s = getSession();
        await s.load();
        s.flash('error', `failed with ${error.status}`);
        return new Response(`after ${s.data.n}`, { status: error.status });
      },
    });
    app.use(session({ secret: SECRET, store, asyncContext: true }));
    app.get('/fail', async (event) => {
      (await useSession(event)).data.n = 1;
      throw new HTTPError({ status: 422 });
    });
    app.get('/next', async (event) => JSON.stringify((await useSession(event)).takeFlash('error')));
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const client = new Client(served.url);
    const failed = await client.request('/fail');
    expect([failed.status, failed.body, cookiesNamed(failed, 'sid')]).toEqual([422, 'after 1', [expect.stringMatching(/^sid=[^;]/)]]);
    expect((await client.request('/next')).body).toBe('["failed with 422"]');
  });

  describe('a Node handler (fromNodeHandler) answering on the Node response', () => {
    /**
     * `/express` is an Express-style handler that writes the session itself (through `getSession`),
     * `/connect` a connect middleware that answers later and never calls `next()`, after an h3
     * middleware wrote the session; both set a cookie of their own. `/n` reads the session; `errors` is what onError saw.
     */
    async function withNodeHandlers() {
      const store = inspectableStore(fakeClock());
      const errors: unknown[] = [];
      const app = new H3({ silent: true, onError: (error) => void errors.push(error) });
      app.use(session({ secret: SECRET, store, asyncContext: true }));
      app.use(async (event) => {
        if (event.url.pathname === '/connect') (await useSession(event)).data.n = 2;
      });
      app.get('/n', async (event) => String((await useSession(event)).data.n));
      app.get(
        '/express',
        fromNodeHandler(async (_req, res) => {
          const s = getSession();
          await s.load();
          s.data.n = 1;
          res.setHeader('set-cookie', 'app=1; Path=/');
          res.end('express');
        }),
      );
      app.get(
        '/connect',
        // It answers after `next()` is awaited, and waits for 'finish' (never calling `next`).
        fromNodeHandler((_req, res, _next) => {
          setImmediate(() => {
            res.setHeader('set-cookie', 'app=1; Path=/');
            res.end('connect');
          });
        }),
      );
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      return { client: new Client(served.url), store, errors };
    }

    it.each([
      ['an Express-style handler', '/express', '1'],
      ['a connect middleware', '/connect', '2'],
    ])('%s: the change is saved before the answer leaves, which carries its cookie', async (_, path, n) => {
      const { client, store } = await withNodeHandlers();
      const reply = await client.request(path);
      expect([reply.status, reply.body]).toEqual([200, path.slice(1)]);
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      expect(cookiesNamed(reply, 'app')).toHaveLength(1);
      // Committed once, by the Node output.
      expect([store.size, store.calls.set]).toEqual([1, 1]);
      expect((await client.request('/n')).body).toBe(n);
    });

    it.each([
      ['an Express-style handler', '/express'],
      ['a connect middleware', '/connect'],
    ])('%s: a failed store write answers 503 through onError, with no cookie, never the handler\u2019s 200', async (_, path) => {
      const { client, store, errors } = await withNodeHandlers();
      store.failing.add('set');
      const reply = await client.request(path);
      expect([reply.status, JSON.parse(reply.body).unhandled]).toEqual([503, true]);
      expect(reply.setCookies).toEqual([]);
      expect(errors.map((error) => (error as HTTPError).status)).toEqual([503]);
    });

    it.each([
      ['throws after writing part of its body', '/throw'],
      ['has a body it pipes fail', '/pipe'],
    ])(
      "getSession() in the app's onError, once a Node handler's output went out and it %s: the request's session, committed (a change there is not saved)",
      async (_, path) => {
        const store = inspectableStore(fakeClock());
        const seen: string[] = [];
        const app = new H3({
          silent: true,
          onError: async () => {
            try {
              const s = getSession();
              await s.load();
              seen.push(`n=${s.data.n}`);
              s.data.n = 3;
            } catch (error) {
              seen.push(String(error));
            }
          },
        });
        app.use(session({ secret: SECRET, store, asyncContext: true }));
        app.get('/n', async (event) => String((await useSession(event)).data.n));
        // A producer that fails once its first chunk is out, as a file read or an upstream cut off midway does.
        const failing = () => {
          const body = new Readable({ read() {} });
          body.push('partial');
          setImmediate(() => body.destroy(new Error('producer failed')));
          return body;
        };
        app.get(
          '/throw',
          fromNodeHandler(async (_req, res) => {
            const s = getSession();
            await s.load();
            s.data.n = 2;
            (res as NodeJS.WritableStream).write('partial');
            throw new Error('handler failed');
          }),
        );
        app.get(
          '/pipe',
          fromNodeHandler(async (_req, res) => {
            const s = getSession();
            await s.load();
            s.data.n = 2;
            failing().pipe(res);
          }),
        );
        const served = await listen(toNodeHandler(app));
        servers.push(served);
        const client = new Client(served.url);
        const logs = captureFrameworkLogs();
        const reply = await client.request(path);
        logs.stop();
        expect([reply.status, reply.body.startsWith('partial'), cookiesNamed(reply, 'sid')]).toEqual([
          200,
          true,
          [expect.stringMatching(/^sid=[^;]/)],
        ]);
        expect(seen).toEqual(['n=2']);
        expect((await client.request('/n')).body).toBe('2');
        expect(store.calls.set).toBe(1);
      },
    );

    it('a body it pipes that fails midway ends as without sess: onError hears of it once, and no error answer is written after the sent body', async () => {
      const store = inspectableStore(fakeClock());
      const errors: unknown[] = [];
      const app = new H3({ silent: true, onError: (error) => void errors.push(error) });
      app.use(session({ secret: SECRET, store }));
      app.get(
        '/',
        fromNodeHandler(async (_req, res) => {
          const body = new Readable({ read() {} });
          body.pipe(res);
          body.push('partial');
          // Fails once the first chunk is out, as a file read or an upstream cut off midway does.
          setImmediate(() => body.destroy(new Error('producer failed')));
        }),
      );
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const logs = captureFrameworkLogs();
      const reply = await new Client(served.url).request('/');
      logs.stop();
      // h3 reports the stream's failure to onError itself, then answers nothing more (its "handled").
      expect([reply.status, reply.body]).toEqual([200, 'partial']);
      expect(errors.map((error) => (error as HTTPError).status)).toEqual([500]);
    });
  });

  it.each([
    ['a returned value', '/value', 200],
    ['a returned Response', '/response', 200],
    ['a thrown HTTPError', '/throw', 401],
  ])("a Node middleware's headers set before %s survive the session's: its cookie, Vary, Cache-Control", async (_, path, status) => {
    const store = inspectableStore(fakeClock());
    const app = new H3({ silent: true });
    // What `cors` and a cookie-setting Express middleware do before they call next(); srvx writes
    // each header of h3's answer over the Node response's own.
    app.use(
      fromNodeMiddleware((_req, res, next) => {
        res.setHeader('vary', 'Origin');
        res.setHeader('set-cookie', ['csrf=1; Path=/']);
        if (path !== '/value') res.setHeader('cache-control', 'no-store');
        next();
      }),
    );
    app.use(session({ secret: SECRET, store }));
    app.all('/**', async (event) => {
      (await useSession(event)).data.n = 1;
      if (path === '/throw') throw new HTTPError({ status: 401 });
      return path === '/response' ? new Response('raw') : 'value';
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const client = new Client(served.url);
    const reply = await client.request(path);
    expect(reply.status).toBe(status);
    expect(cookiesNamed(reply, 'csrf')).toEqual(['csrf=1; Path=/']);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toBe('Origin, Cookie');
    expect(reply.headers.get('cache-control')).toBe(path === '/value' ? 'private' : 'no-store');
    expect(store.size).toBe(1);
  });

  describe('event.context.session replaced by another value (a sign-out that would leave the user signed in)', () => {
    /** What `?with=` puts in place of the session. */
    const REPLACEMENTS: Readonly<Record<string, unknown>> = { empty: {}, data: { data: { n: 5 } }, undefined: undefined, null: null };

    /**
     * `/login` stores `n: 1`, `/n` reads it. Under `/replace/`, an h3 middleware writes `n: 99` and
     * then replaces the session; `/replace/return` returns a value, `/replace/throw` throws a 401,
     * `/replace/node` answers on the Node response (fromNodeHandler). `errors` is what onError saw.
     */
    async function withReplacement(config: H3Config) {
      const store = inspectableStore(fakeClock());
      const app = new H3(config);
      app.use(session({ secret: SECRET, store }));
      app.use(async (event) => {
        if (!event.url.pathname.startsWith('/replace/')) return;
        (await useSession(event)).data.n = 99;
        (event.context as Record<string, unknown>).session = REPLACEMENTS[event.url.searchParams.get('with') ?? 'empty'];
      });
      app.get('/login', async (event) => String(((await useSession(event)).data.n = 1)));
      app.get('/n', async (event) => String((await useSession(event)).data.n));
      app.get('/replace/return', () => 'signed out');
      app.get('/replace/throw', () => {
        throw new HTTPError({ status: 401 });
      });
      app.get(
        '/replace/node',
        fromNodeHandler((_req, res) => void res.end('signed out')),
      );
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const client = new Client(served.url);
      await client.request('/login');
      return { client, store };
    }

    const paths = ['/replace/return', '/replace/throw', '/replace/node'].flatMap((path) =>
      Object.keys(REPLACEMENTS).map((replacement) => `${path}?with=${replacement}`),
    );

    it('fails the request through onError with a SessUsageError naming the fix, and saves nothing', async () => {
      const errors: unknown[] = [];
      const { client, store } = await withReplacement({ silent: true, onError: (error) => void errors.push(error) });
      const sets = store.calls.set;
      for (const path of paths) {
        const reply = await client.request(path);
        expect([path, reply.status, reply.setCookies]).toEqual([path, 500, []]);
      }
      expect(store.calls).toMatchObject({ set: sets, destroy: 0 });
      expect((await client.request('/n')).body).toBe('1');
      // The thrown 401 reached onError before the commit found the session replaced.
      const usageErrors = errors.filter((error) => (error as HTTPError).status !== 401);
      expect(usageErrors).toHaveLength(paths.length);
      for (const error of usageErrors) {
        expect((error as HTTPError).cause).toBeInstanceOf(SessUsageError);
        expect((error as HTTPError).message).toMatch(
          /^\[sess\] event\.context\.session was replaced by another value, so nothing was saved: .*clear\(\) or destroy\(\).*regenerate\(\)/,
        );
      }
    });

    it('without onError, h3 answers it as an unhandled 500 and logs the message', async () => {
      const { client, store } = await withReplacement({});
      const sets = store.calls.set;
      const logs = captureFrameworkLogs();
      for (const path of paths) {
        const reply = await client.request(path);
        expect([path, reply.status, reply.setCookies]).toEqual([path, 500, []]);
      }
      const logged = logs.stop();
      expect(logged).toHaveLength(paths.length);
      for (const { error } of logged) {
        expect([describeError(error), (error as HTTPError).cause]).toEqual(['usage_invalid', expect.any(SessUsageError)]);
        expect((error as HTTPError).message).toMatch(/^\[sess\] event\.context\.session was replaced/);
      }
      expect(store.calls.set).toBe(sets);
      expect((await client.request('/n')).body).toBe('1');
    });
  });

  it('refuses a short secret and a bad maxAge at construction', () => {
    expect(() => session({ secret: 'short' })).toThrow(/32 bytes|at least/);
    expect(() => session({ secret: SECRET, maxAge: '1d' as never })).toThrow(/maxAge/);
    expect(() => v1.session({ secret: 'short' })).toThrow(/32 bytes|at least/);
  });

  describe("the app's onError answering a thrown error", () => {
    /** An app whose `onError` is given; `/login` stores `n: 1`, `/n` reads it, `/x` is `handler`. */
    async function withOnError(onError: NonNullable<H3Config['onError']>, handler: (event: H3Event) => unknown) {
      const store = inspectableStore(fakeClock());
      const app = new H3({ silent: true, onError });
      app.use(session({ secret: SECRET, store }));
      app.get('/login', async (event) => ((await useSession(event)).data.n = 1));
      app.get('/n', async (event) => String((await useSession(event)).data.n));
      app.get('/x', handler);
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const client = new Client(served.url);
      await client.request('/login');
      return { client, store, url: served.url };
    }

    const writeThen404 = async (event: H3Event) => {
      (await useSession(event)).data.n = 2;
      throw new HTTPError({ status: 404 });
    };
    const turnedInto5xx: Array<[string, NonNullable<H3Config['onError']>]> = [
      ['returns a 500 Response', () => new Response('down', { status: 500 })],
      ['throws', () => Promise.reject(new Error('onError failed'))],
      ['returns nothing, having set the error\u2019s status to 503', (error) => void Object.assign(error, { status: 503 })],
    ];
    it.each(turnedInto5xx)('when it %s for a 4xx, the 5xx goes out with nothing written', async (_, onError) => {
      const { client, store } = await withOnError(onError, writeThen404);
      const sets = store.calls.set;
      const reply = await client.request('/x');
      expect(reply.status).toBeGreaterThanOrEqual(500);
      expect(store.calls.set).toBe(sets);
      expect((await client.request('/n')).body).toBe('1');
    });

    it("a Response it hands to every request (a shared one) never carries one visitor's cookie to another", async () => {
      const shared = new Response(null, { status: 401 });
      const { store, url } = await withOnError(
        () => shared,
        async (event) => {
          (await useSession(event)).data.n = 5;
          throw new HTTPError({ status: 401 });
        },
      );
      const first = await new Client(url).request('/x');
      const second = await new Client(url).request('/x');
      expect([first.status, second.status]).toEqual([401, 401]);
      expect(cookiesNamed(second, 'sid')).toHaveLength(1);
      expect(cookiesNamed(second, 'sid')).not.toEqual(cookiesNamed(first, 'sid'));
      expect(shared.headers.getSetCookie()).toEqual([]);
      expect(store.size).toBe(3);
    });

    it('a Response of another status carries the cookie deletion of a destroy', async () => {
      const { client, store } = await withOnError(
        () => new Response('page', { status: 200 }),
        async (event) => {
          await (await useSession(event)).destroy();
          throw new Error('after the sign-out');
        },
      );
      const reply = await client.request('/x');
      expect([reply.status, reply.body]).toEqual([200, 'page']);
      expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringMatching(/^sid=; Max-Age=0;/)]);
      expect(reply.headers.get('vary')).toMatch(/cookie/i);
      expect([store.size, client.jar.has('sid')]).toEqual([0, false]);
    });

    it('a Response of its own carries the new cookie of a regenerate, so the session goes on under the new id', async () => {
      const { client } = await withOnError(
        (error) => new Response('bad', { status: error.status }),
        async (event) => {
          const s = await useSession(event);
          await s.regenerate();
          s.data.n = 3;
          throw new HTTPError({ status: 400 });
        },
      );
      const before = client.jar.get('sid');
      const reply = await client.request('/x');
      expect(reply.status).toBe(400);
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      expect(client.jar.get('sid')).not.toBe(before);
      expect((await client.request('/n')).body).toBe('3');
    });

    it('a page for a 5xx, answered with a 200, commits as the 200 the client receives', async () => {
      const { client, store } = await withOnError(
        () => 'sorry',
        async (event) => {
          (await useSession(event)).data.n = 4;
          throw new Error('boom');
        },
      );
      const reply = await client.request('/x');
      expect([reply.status, reply.body]).toEqual([200, 'sorry']);
      expect(store.size).toBe(1);
      expect((await client.request('/n')).body).toBe('4');
    });
  });
});

describe('h3 v1', () => {
  async function startV1(handler: Parameters<typeof eventHandler>[0], options: Partial<v1.SessionOptions<v1.H3V1Event>> = {}) {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app = createApp();
    app.use(v1.session({ secret: SECRET, store, clock: clock.now, ...options }));
    app.use(eventHandler(handler));
    const served = await listen(toNodeListener(app));
    servers.push(served);
    return { client: new Client(served.url), store };
  }

  it('flash messages and read-only routes work as on v2', async () => {
    const logs = captureFrameworkLogs();
    const { client, store } = await startV1(
      async (event) => {
        const s = await v1.useSession(event);
        const path = event.node.req.url ?? '';
        if (path === '/set') {
          s.flash('info', 'saved');
          s.data.n = 1;
          return 'ok';
        }
        if (path === '/api/write') s.data.n = 99;
        if (path.startsWith('/api/')) return String(s.data.n);
        return JSON.stringify(s.takeFlash('info'));
      },
      { readOnly: (event) => (event.node.req.url ?? '').startsWith('/api/') },
    );
    await client.request('/set');
    expect((await client.request('/api/read')).body).toBe('1');
    const writes = store.calls.set;
    expect((await client.request('/api/write')).status).toBe(500);
    // h3 v1 logs the refused write as an error it didn't expect, as it would any thrown error.
    expect(logs.stop().map(({ tag, error }) => `${tag} ${(error as Error).message}`)).toEqual([
      expect.stringMatching(/^\[h3\] \[sess\] set\(\) on a read-only session/),
    ]);
    expect(store.calls.set).toBe(writes);
    expect((await client.request('/take')).body).toBe('["saved"]');
    expect((await client.request('/take')).body).toBe('[]');
  });

  it("a change in the app's onAfterResponse hook, after the commit, is dropped and heard as lateChange, as on every adapter; regenerate() rejects", async () => {
    const events: string[] = [];
    let after: (seen: string[]) => void = () => undefined;
    const afterDone = new Promise<string[]>((resolve) => (after = resolve));
    const store = inspectableStore(fakeClock());
    const app = createApp({
      onAfterResponse: async (event) => {
        const s = await v1.useSession(event);
        const seen: string[] = [];
        s.data.n = 2;
        seen.push(`read ${s.data.n}`);
        await s.regenerate().then(
          () => seen.push('regenerated'),
          () => seen.push('regenerate rejected'),
        );
        after(seen);
      },
    });
    app.use(v1.session({ secret: SECRET, store, onEvent: (event) => void events.push(event.type) }));
    app.use(eventHandler(async (event) => String(((await v1.useSession(event)).data.n = 1))));
    const served = await listen(toNodeListener(app));
    servers.push(served);
    const client = new Client(served.url);
    expect((await client.request('/')).status).toBe(200);
    expect(await afterDone).toEqual(['read 1', 'regenerate rejected']);
    // Both the dropped change and the refused regenerate() are heard.
    expect(events.filter((type) => type === 'lateChange')).toHaveLength(2);
    expect((await store.peek(client.jar.get('sid')?.split('.')[0] as string))?.data).toEqual({ n: 1 });
  });

  it('refuses asyncContext, which h3 v1 cannot carry into handlers', () => {
    expect(() => v1.session({ secret: SECRET, asyncContext: true })).toThrow(/asyncContext needs h3 v2/);
  });

  it('sendRedirect after a write carries the cookie (the response is held until the commit)', async () => {
    const { client, store } = await startV1(async (event) => {
      (await v1.useSession(event)).data.n = 1;
      return sendRedirect(event, '/elsewhere');
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(302);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(store.size).toBe(1);
  });

  describe("the app's onError and onBeforeResponse answering with another status (the commit follows the output)", () => {
    /** An app with `hooks`; `/login` stores `n: 1` (signed in once here), `/n` reads it, `/x` writes `n: 2` then throws a 404. */
    async function withHooks(hooks: AppOptions) {
      const store = inspectableStore(fakeClock());
      const app = createApp(hooks);
      app.use(v1.session({ secret: SECRET, store }));
      app.use(
        '/login',
        eventHandler(async (event) => String(((await v1.useSession(event)).data.n = 1))),
      );
      app.use(
        '/n',
        eventHandler(async (event) => String((await v1.useSession(event)).data.n)),
      );
      app.use(
        '/x',
        eventHandler(async (event) => {
          (await v1.useSession(event)).data.n = 2;
          throw createError({ statusCode: 404 });
        }),
      );
      const served = await listen(toNodeListener(app));
      servers.push(served);
      const client = new Client(served.url);
      await client.request('/login');
      return { client, store };
    }

    const cases: Array<[string, AppOptions, number, string]> = [
      ['onError answers a 500 for the 404', { onError: (_, event) => sendError(event, createError({ statusCode: 500 })) }, 500, '1'],
      [
        'onError ends the response itself with a 500',
        { onError: (_, event) => void Object.assign(event.node.res, { statusCode: 500 }).end('down') },
        500,
        '1',
      ],
      ['onError answers a 200 page', { onError: (_, event) => (setResponseStatus(event, 200), send(event, 'page')) }, 200, '2'],
    ];
    it.each(cases)('when %s, the session commits as the status that goes out', async (_, hooks, status, after) => {
      const { client, store } = await withHooks(hooks);
      const sets = store.calls.set;
      const reply = await client.request('/x');
      expect(reply.status).toBe(status);
      expect(reply.headers.get('vary')).toMatch(/cookie/i);
      expect(store.calls.set - sets).toBe(status >= 500 ? 0 : 1);
      expect((await client.request('/n')).body).toBe(after);
    });

    it('when onBeforeResponse turns a returned value into a 500, nothing is written', async () => {
      const { client, store } = await withHooks({ onBeforeResponse: (event) => setResponseStatus(event, 500) });
      const sets = store.calls.set;
      const reply = await client.request('/login');
      expect([reply.status, store.calls.set - sets]).toEqual([500, 0]);
      expect(reply.headers.get('vary')).toMatch(/cookie/i);
    });
  });

  it('a store failure of destroy() or reload() answers 503, as a failed read or write does', async () => {
    let failing: Set<string> | undefined;
    const { client, store } = await startV1(async (event) => {
      const s = await v1.useSession(event);
      if (event.path === '/login') return String((s.data.n = 1));
      failing?.add(event.path === '/logout' ? 'destroy' : 'get');
      if (event.path === '/logout') await s.destroy();
      else await s.reload();
      return 'never';
    });
    failing = store.failing;
    await client.request('/login');
    const logs = captureFrameworkLogs();
    const reload = await client.request('/reload');
    store.failing.clear();
    const logout = await client.request('/logout');
    expect([reload.status, logout.status]).toEqual([503, 503]);
    // The browser still ends the session the store could not.
    expect(cookiesNamed(logout, 'sid')).toEqual([expect.stringMatching(/^sid=; Max-Age=0;/)]);
    // h3 v1 logs them as it logs a failed read (`useSession`): errors it did not make itself.
    expect(logs.stop().map(({ tag, error }) => `${tag} ${describeError(error)}`)).toEqual(['[h3] store_failed', '[h3] store_failed']);
  });

  it('useSession after the response went out, of a session it never read, rejects with sess\u2019s own usage error, its message kept', async () => {
    let settle!: (outcome: unknown) => void;
    const late = new Promise<unknown>((resolve) => (settle = resolve));
    const { client } = await startV1(async (event) => {
      if (event.path === '/login') return String(((await v1.useSession(event)).data.n = 1));
      await send(event, 'sent');
      await v1.useSession(event).then(() => settle('resolved'), settle);
    });
    await client.request('/login');
    expect((await client.request('/')).body).toBe('sent');
    const error = await late;
    expect(error).toBeInstanceOf(SessUsageError);
    expect((error as Error).message).toMatch(/^\[sess\] app\.load is not allowed now.*committed/);
  });

  it('a failed store write answers 503 in h3 v1\u2019s JSON error shape, without the handler\u2019s headers', async () => {
    const { client, store } = await startV1(async (event) => {
      (await v1.useSession(event)).data.n = 1;
      event.node.res.setHeader('x-handler', '1');
      return 'ok';
    });
    store.failing.add('set');
    const logs = captureFrameworkLogs();
    const reply = await client.request('/');
    expect(reply.status).toBe(503);
    expect(reply.headers.get('x-handler')).toBeNull();
    expect(JSON.parse(reply.body)).toEqual({ statusCode: 503, statusMessage: 'Service Unavailable', message: 'Session store unavailable' });
    // Logged as h3 v1 logs a store failure thrown in a handler: an operator learns the store is failing.
    expect(logs.stop().map(({ tag, error }) => [tag, error instanceof SessStoreError, describeError(error)])).toEqual([
      ['[@sess/h3/v1]', true, 'injected set failure'],
    ]);
  });

  it('session data JSON cannot hold fails the commit as a SessUsageError (data_not_json): a logged 500 that closes the connection, the stored record left as it was', async () => {
    const { client, store } = await startV1(async (event) => {
      const s = await v1.useSession(event);
      s.data.n = (s.data.n ?? 0) + 1;
      if (event.path === '/bigint') (s.data as Record<string, unknown>)['big'] = 1n;
      return 'ok';
    });
    await client.request('/');
    const id = client.jar.get('sid')?.split('.')[0] as string;
    const stored = await store.peek(id);
    const logs = captureFrameworkLogs();
    const reply = await client.request('/bigint');
    expect([reply.status, reply.headers.get('connection')]).toEqual([500, 'close']);
    expect(JSON.parse(reply.body)).toEqual({ statusCode: 500, statusMessage: 'Internal Server Error', message: 'Internal Server Error' });
    expect(await store.peek(id)).toEqual(stored);
    expect(logs.stop().map(({ tag, error }) => [tag, error instanceof SessUsageError && error.code])).toEqual([
      ['[@sess/h3/v1]', 'data_not_json'],
    ]);
  });

  it('event.context.session replaced by another value fails the request with a SessUsageError naming the fix, and saves nothing', async () => {
    const replacements: Readonly<Record<string, unknown>> = { empty: {}, data: { data: { n: 5 } }, undefined: undefined, null: null };
    const { client, store } = await startV1(async (event) => {
      const s = await v1.useSession(event);
      if (event.path === '/login') return String((s.data.n = 1));
      if (event.path === '/n') return String(s.data.n);
      s.data.n = 99;
      const [path, replacement = ''] = event.path.split('?with=');
      (event.context as Record<string, unknown>).session = replacements[replacement];
      return path === '/redirect' ? sendRedirect(event, '/signed-out') : 'signed out';
    });
    await client.request('/login');
    const sets = store.calls.set;
    const paths = ['/return', '/redirect'].flatMap((path) => Object.keys(replacements).map((replacement) => `${path}?with=${replacement}`));
    const logs = captureFrameworkLogs();
    for (const path of paths) {
      const reply = await client.request(path);
      expect([path, reply.status, reply.setCookies]).toEqual([path, 500, []]);
      expect(JSON.parse(reply.body)).toEqual({ statusCode: 500, statusMessage: 'Internal Server Error', message: 'Internal Server Error' });
    }
    const logged = logs.stop();
    expect(logged).toHaveLength(paths.length);
    for (const { tag, error } of logged) {
      expect([tag, error instanceof SessUsageError]).toEqual(['[@sess/h3/v1]', true]);
      expect((error as Error).message).toMatch(
        /^\[sess\] event\.context\.session was replaced by another value, so nothing was saved: .*clear\(\) or destroy\(\).*regenerate\(\)/,
      );
    }
    expect(store.calls).toMatchObject({ set: sets, destroy: 0 });
    expect((await client.request('/n')).body).toBe('1');
  });

  it('a failed store write under sendStream of an endless stream answers 503 and cancels the stream, as a closed response ends it', async () => {
    let pulled = 0;
    let reportCancelled!: (outcome: string) => void;
    const outcome = new Promise<string>((resolve) => (reportCancelled = resolve));
    const { client, store } = await startV1(async (event) => {
      (await v1.useSession(event)).data.n = 1;
      const events = new ReadableStream<Uint8Array>({
        async pull(controller) {
          // One event a turn of the event loop, so the server keeps serving while it streams.
          await new Promise((resolve) => setImmediate(resolve));
          pulled += 1;
          // Still pulled long after the 503 went out: the stream writes into nothing.
          if (pulled === 1000) {
            reportCancelled(`still pulled ${pulled} times`);
            controller.close();
            return;
          }
          controller.enqueue(new TextEncoder().encode(`data: ${pulled}\n\n`));
        },
        cancel: () => reportCancelled('cancelled'),
      });
      return sendStream(event, events);
    });
    store.failing.add('set');
    const logs = captureFrameworkLogs();
    const reply = await client.request('/');
    expect([reply.status, JSON.parse(reply.body).message]).toEqual([503, 'Session store unavailable']);
    expect(await outcome).toBe('cancelled');
    // The write that stopped the stream reaches h3 as the handler's error, which finds the response answered.
    expect(logs.stop().map(({ tag, error }) => [tag, describeError(error)])).toEqual([['[@sess/h3/v1]', 'injected set failure']]);
  });

  // A web stream's pipe (sendStream, or a returned stream h3 sends so) ends the response a few
  // microtasks after its last chunk, which can fall between the failed commit and its answer.
  const answers: ReadonlyArray<readonly [string, Parameters<typeof eventHandler>[0]]> = [
    ['sendStream of a web stream', (event) => sendStream(event, new Response(Buffer.alloc(256 * 1024)).body as ReadableStream)],
    ['sendStream of a short web stream', (event) => sendStream(event, new Response('short').body as ReadableStream)],
    ['a returned web stream', () => new Response(Buffer.alloc(256 * 1024)).body],
    ['sendStream of a Node stream', (event) => sendStream(event, Readable.from([Buffer.alloc(256 * 1024)]))],
    ['send', (event) => send(event, Buffer.alloc(256 * 1024))],
  ];
  it.each(answers)('a failed store write under %s answers 503 with no cookie, never a 2xx', async (_, answer) => {
    const { client, store } = await startV1(async (event) => {
      (await v1.useSession(event)).data.n = 1;
      return answer(event);
    });
    store.failing.add('set');
    const logs = captureFrameworkLogs();
    const reply = await client.request('/');
    expect([reply.status, reply.setCookies]).toEqual([503, []]);
    expect(JSON.parse(reply.body).message).toBe('Session store unavailable');
    expect(logs.stop().map(({ tag, error }) => [tag, describeError(error)])).toEqual([['[@sess/h3/v1]', 'injected set failure']]);
    expect(store.size).toBe(0);
  });
});
