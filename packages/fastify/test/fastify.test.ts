/**
 * What is particular to Fastify, on Fastify 4 and 5 over real HTTP: the plugin's scope, errors
 * through Fastify's error handling, hijacked replies, @fastify/session's names, getSession(),
 * and the options refused when the plugin is registered.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable, pipeline } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { SessConfigError, SessStoreError, SessUsageError } from '@sess/core';
import { Client, cookiesNamed, fakeClock, inspectableStore, keptAliveAnswers, largeBody } from '@sess/adapter-test';
import { getSession, memoryStore, session } from '../src/index.js';
import type { FastifySession, SessionCookieOverrides, SessionOptions } from '../src/index.js';
import { type FastifyFactory, MAJORS, serve } from './app.js';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
    cart?: string[];
    n?: number;
  }
}

const SECRET = 'fastify-adapter-test-secret-of-32-bytes!';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const idOf = (client: Client) => client.jar.get('sid')?.split('.')[0];

describe('declaration merging', () => {
  it('types request.session from SessionData, with the operations beside the data', () => {
    expectTypeOf<FastifyRequest['session']>().toEqualTypeOf<FastifySession>();
    expectTypeOf<FastifySession['user']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<FastifySession['cart']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf((session: FastifySession) => session.get('n')).returns.toEqualTypeOf<number | undefined>();
    expectTypeOf<FastifySession['sessionId']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<FastifySession['options']>().parameter(0).toEqualTypeOf<SessionCookieOverrides>();
    expectTypeOf<FastifyInstance['sessions']['socket']>().parameters.toEqualTypeOf<[request: FastifyRequest]>();
    const typed = (request: FastifyRequest) => {
      // @ts-expect-error: user is a string in SessionData
      request.session.user = 42;
      // @ts-expect-error: set checks the value against SessionData too
      request.session.set('n', 'one');
    };
    expect(typed).toBeTypeOf('function');
  });
});

describe.each(MAJORS)('%s', (major, Fastify: FastifyFactory) => {
  /** An app made by `build` (which registers the plugin where it wants), served on loopback, with a log of its errors. */
  async function start(build: (app: FastifyInstance) => void | Promise<void>) {
    const logged: Array<{ level: number; msg: string; err?: { message: string } }> = [];
    const stream = new Writable({ write: (line, _, done) => (logged.push(JSON.parse(String(line))), done()) });
    const app = Fastify({ forceCloseConnections: true, logger: { level: 'error', stream } });
    await build(app);
    const served = await serve(app);
    closers.push(served.close);
    return { app, client: new Client(served.url), url: served.url, logged };
  }

  /** `start` with the plugin at the root, on the suite's inspectable store and clock. */
  async function withSession(options: Partial<SessionOptions>, routes: (app: FastifyInstance) => void) {
    const store = inspectableStore(fakeClock());
    closers.push(() => store.close());
    const started = await start(async (app) => {
      await app.register(session, { secret: SECRET, store, ...options });
      routes(app);
    });
    return { ...started, store };
  }

  it(`runs on ${major}`, async () => {
    const { app } = await start(() => undefined);
    expect(app.version.split('.')[0]).toBe(major.at(-1));
  });

  describe('scope', () => {
    it('registered at the root, covers routes in every child plugin', async () => {
      const { client } = await start(async (app) => {
        await app.register(session, { secret: SECRET });
        await app.register(async (child) => {
          child.get('/count', async (request) => (request.session.n = (request.session.n ?? 0) + 1));
        });
      });
      expect((await client.request('/count')).body).toBe('1');
      expect((await client.request('/count')).body).toBe('2');
    });

    it('registered inside a plugin, leaves sibling plugins without a session, cookie or Vary', async () => {
      const { client } = await start(async (app) => {
        await app.register(async (child) => {
          await child.register(session, { secret: SECRET });
          child.get('/inside', async (request) => (request.session.n = 1));
        });
        await app.register(async (sibling) => {
          sibling.get('/outside', async (request) => String(request.session));
        });
      });
      const inside = await client.request('/inside');
      expect(cookiesNamed(inside, 'sid')).toHaveLength(1);
      const outside = await client.request('/outside');
      expect([outside.body, outside.setCookies, outside.headers.get('vary')]).toEqual(['undefined', [], null]);
    });

    it('leaves another app in the process, and Node’s own response prototype, as they were', async () => {
      const writeHead = ServerResponse.prototype.writeHead;
      const { client: withSess } = await start(async (app) => {
        await app.register(session, { secret: SECRET });
        app.get('/', async (request) => (request.session.n = 1));
      });
      let bareResponse: ServerResponse | undefined;
      const { client: bare } = await start((app) => {
        app.get('/', async (_, reply) => ((bareResponse = reply.raw), 'bare'));
      });
      await withSess.request('/');
      const reply = await bare.request('/');
      expect([reply.body, reply.setCookies, reply.headers.get('vary')]).toEqual(['bare', [], null]);
      expect(Object.getPrototypeOf(bareResponse)).toBe(ServerResponse.prototype);
      expect(ServerResponse.prototype.writeHead).toBe(writeHead);
    });

    it("names idGenerator as the app wrote it in the core's refusal of the ids it makes", async () => {
      const app = Fastify();
      app.register(session, { secret: SECRET, idGenerator: () => 'short' });
      await expect(app.ready()).rejects.toThrow(/^\[sess\] idGenerator returned "short": ids must be/);
    });

    it('refuses a second registration in the same scope when Fastify starts', async () => {
      const app = Fastify();
      app.register(session, { secret: SECRET });
      app.register(session, { secret: SECRET });
      await expect(app.ready()).rejects.toThrow(/session/);
    });
  });

  describe('a web Response from the handler', () => {
    it('Response.error() fails as without sess (Fastify refuses its status 0), with nothing saved behind the 500', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/error', async (request) => {
          request.session.views = 1;
          return Response.error();
        });
      });
      const reply = await client.request('/error');
      expect([reply.status, JSON.parse(reply.body).code, store.calls.set, cookiesNamed(reply, 'sid')]).toEqual([
        500,
        'FST_ERR_BAD_STATUS_CODE',
        0,
        [],
      ]);
    });

    it("a Response the app returns to every request (a shared one) never carries one visitor's cookie to another", async () => {
      const shared = new Response(null, { status: 204 });
      const { client, url, store } = await withSession({}, (app) => {
        app.get('/', async (request) => ((request.session.n = 1), shared));
      });
      const first = await client.request('/');
      const second = await new Client(url).request('/');
      expect([first.status, second.status]).toEqual([204, 204]);
      expect(cookiesNamed(second, 'sid')).toHaveLength(1);
      expect(cookiesNamed(second, 'sid')[0]).not.toBe(cookiesNamed(first, 'sid')[0]);
      expect(shared.headers.getSetCookie()).toEqual([]);
      expect(store.size).toBe(2);
    });

    it('commits for its status and headers: nothing saved behind its 500, its Vary and Set-Cookie joined, not replaced', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/failed', async (request) => {
          request.session.views = 1;
          return new Response('boom', { status: 500 });
        });
        app.get('/vary', async (request, reply) => {
          request.session.views = 1;
          reply.header('x-reply', '1');
          return new Response('ok', { headers: { vary: 'Accept', 'set-cookie': 'app=1; Path=/' } });
        });
        app.get('/own-cookie', async (request) => {
          request.session.views = 1;
          return new Response('mine', { headers: { 'set-cookie': 'sid=mine; Path=/' } });
        });
        app.get('/fetched', async (request) => {
          request.session.views = 1;
          // A Response whose headers are immutable, as fetch() gives them.
          return Response.redirect('http://127.0.0.1/next', 303);
        });
      });
      const failed = await client.request('/failed');
      expect([failed.status, store.calls.set, cookiesNamed(failed, 'sid')]).toEqual([500, 0, []]);
      const vary = await client.request('/vary');
      expect([vary.status, vary.headers.get('vary'), vary.headers.get('x-reply')]).toEqual([200, 'Accept, Cookie', '1']);
      expect(vary.setCookies).toEqual(['app=1; Path=/', expect.stringMatching(/^sid=/)]);
      expect(cookiesNamed(await client.request('/own-cookie'), 'sid')).toEqual(['sid=mine; Path=/']);
      const fetched = await client.request('/fetched');
      expect([fetched.status, fetched.headers.get('location'), cookiesNamed(fetched, 'sid')]).toEqual([
        303,
        'http://127.0.0.1/next',
        [expect.stringMatching(/^sid=/)],
      ]);
    });

    it("sees the Set-Cookie lines set on the reply too: a session cookie the app set there is left alone, and the app's other cookies go out", async () => {
      const { client, url, store } = await withSession({}, (app) => {
        const response = () => new Response('ok', { headers: { 'set-cookie': 'app=1; Path=/' } });
        app.get('/reply-cookie', async (request, reply) => {
          request.session.views = 1;
          reply.header('set-cookie', 'lang=en; Path=/');
          return response();
        });
        app.get('/reply-own-cookie', async (request, reply) => {
          request.session.views = 2;
          reply.header('set-cookie', 'lang=en; Path=/');
          reply.header('set-cookie', 'sid=mine; Path=/');
          return response();
        });
        app.post('/reply-own-logout', async (request, reply) => {
          await request.session.destroy();
          reply.header('set-cookie', 'sid=; Path=/; Max-Age=0');
          return response();
        });
      });
      const other = await client.request('/reply-cookie');
      expect(other.setCookies).toEqual(['lang=en; Path=/', 'app=1; Path=/', expect.stringMatching(/^sid=[^;]+; Max-Age=/)]);
      // A new visitor, whose new session would send its cookie.
      const own = await new Client(url).request('/reply-own-cookie');
      expect(own.setCookies).toEqual(['lang=en; Path=/', 'sid=mine; Path=/', 'app=1; Path=/']);
      // The session is still saved: only its cookie is the app's.
      expect(store.calls.set).toBe(2);
      const logout = await client.post('/reply-own-logout');
      expect([logout.status, logout.setCookies]).toEqual([200, ['sid=; Path=/; Max-Age=0', 'app=1; Path=/']]);
    });
  });

  describe('a Set-Cookie the app set on reply.raw', () => {
    it('goes out beside the session cookie, for a payload and for a web Response, as without sess', async () => {
      const { client } = await withSession({}, (app) => {
        // As a middleware (@fastify/middie, @fastify/express) sets a cookie: on the Node response.
        app.addHook('onRequest', async (_request, reply) => void reply.raw.setHeader('set-cookie', ['csrf=1; Path=/', 'lang=en; Path=/']));
        app.get('/payload', async (request) => ((request.session.views = 1), 'ok'));
        app.get('/response', async (request) => ((request.session.views = 1), new Response('ok')));
        app.get('/both', async (request, reply) => {
          request.session.views = 1;
          // The reply's own Set-Cookie replaces the raw one in Fastify itself: sess changes nothing there.
          reply.header('set-cookie', 'own=1; Path=/');
          return 'ok';
        });
      });
      for (const path of ['/payload', '/response']) {
        client.jar.clear();
        const reply = await client.request(path);
        expect(reply.setCookies, path).toEqual(['csrf=1; Path=/', 'lang=en; Path=/', expect.stringMatching(/^sid=/)]);
      }
      client.jar.clear();
      expect((await client.request('/both')).setCookies).toEqual(['own=1; Path=/', expect.stringMatching(/^sid=/)]);
    });
  });

  describe("errors through Fastify's error handling", () => {
    it('a failed store write reaches setErrorHandler as a 503 error, its cause the store error, saves nothing and closes the connection', async () => {
      const seen: Array<Error & { statusCode?: number }> = [];
      const { client, store } = await withSession({}, (app) => {
        app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
          seen.push(error);
          return reply.code(error.statusCode ?? 500).send({ handled: error.message });
        });
        app.get('/count', async (request) => (request.session.n = (request.session.n ?? 0) + 1));
      });
      store.failing.add('set');
      const reply = await client.request('/count');
      expect([reply.status, JSON.parse(reply.body), reply.setCookies, reply.headers.get('connection')]).toEqual([
        503,
        { handled: 'Session store unavailable' },
        [],
        'close',
      ]);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.statusCode).toBe(503);
      expect(seen[0]?.cause).toBeInstanceOf(SessStoreError);
      expect(store.size).toBe(0);
    });

    it('a failed store write or load answers 503 whatever status the reply had: under an error handler that sets none, and after a thrown 4xx already answered', async () => {
      const { url, store } = await withSession({}, (app) => {
        app.register(async (scope) => {
          // An error handler that leaves the status alone (Fastify keeps the reply's for it).
          scope.setErrorHandler((error: Error, _request, reply) => reply.send({ handled: error.message }));
          scope.get('/lazy-handler', async (request) => (request.session.n = 1));
        });
        // A 4xx thrown under Fastify's default error handler: the commit fails for that error answer.
        app.get('/thrown-401', async (request) => {
          request.session.n = 1;
          throw Object.assign(new Error('sign in'), { statusCode: 401 });
        });
        app.get('/set-401', async (request, reply) => {
          request.session.n = 1;
          return reply.code(401).send('sign in');
        });
      });
      const known = new Client(url);
      await known.request('/lazy-handler');
      store.failing.add('set');
      for (const [path, message] of [
        ['/lazy-handler', { handled: 'Session store unavailable' }],
        ['/thrown-401', expect.objectContaining({ statusCode: 503, message: 'Session store unavailable' })],
        ['/set-401', expect.objectContaining({ statusCode: 503, message: 'Session store unavailable' })],
      ] as const) {
        const reply = await new Client(url).request(path);
        expect([path, reply.status, JSON.parse(reply.body), reply.setCookies]).toEqual([path, 503, message, []]);
      }
      expect(store.size).toBe(1);
      // A failed load, under the error handler that sets no status.
      store.failing.add('get');
      const loaded = await known.request('/lazy-handler');
      expect([loaded.status, JSON.parse(loaded.body)]).toEqual([503, { handled: 'Session store unavailable' }]);
    });

    it('a failed store write drops a streamed payload: a Node stream is destroyed and a web stream cancelled, so its producer is not left waiting', async () => {
      const dropped: string[] = [];
      // A producer that never ends by itself, as a file or an upstream fetch would stay open.
      const nodeStream = () => new Readable({ read() {}, destroy: (error, callback) => (dropped.push('node'), callback(error)) });
      const webStream = (kind: string) => new ReadableStream({ cancel: () => void dropped.push(kind) });
      const { client, store } = await withSession({}, (app) => {
        app.get('/node', async (request, reply) => ((request.session.n = 1), reply.send(nodeStream())));
        app.get('/web', async (request, reply) => ((request.session.n = 1), reply.send(webStream('web'))));
        app.get('/response', async (request) => ((request.session.n = 1), new Response(webStream('response'))));
      });
      store.failing.add('set');
      for (const path of ['/node', '/web', '/response']) {
        const reply = await client.request(path);
        expect([path, reply.status, JSON.parse(reply.body).message]).toEqual([path, 503, 'Session store unavailable']);
      }
      expect(dropped).toEqual(['node', 'web', 'response']);
    });

    it('closes the connection with a failed commit’s error answer, so an app that destroys the socket on its cut-off pipe resets no next request on it', async () => {
      const { url, store } = await withSession({}, (app) => {
        const cutOff = (request: FastifyRequest) => {
          const pass = new PassThrough();
          // The dropped payload cuts the pipe short, which the app takes for a client that went away.
          pipeline(Readable.from(largeBody()), pass, (error) => void (error && request.raw.socket.destroy()));
          return pass;
        };
        app.get('/stream', async (request, reply) => ((request.session.user = 'ada'), reply.send(cutOff(request))));
        // A web Response commits through its own path.
        app.get(
          '/response',
          async (request) => ((request.session.user = 'ada'), new Response(Readable.toWeb(cutOff(request)) as ReadableStream)),
        );
        app.get('/bigint', async (request, reply) => (request.session.set('big', 1n), reply.send(cutOff(request))));
      });
      store.failing.add('set');
      const message = (body: string) => JSON.parse(body).message;
      for (const path of ['/stream', '/response'])
        expect([path, await keptAliveAnswers(`${url}${path}`, 40, message)]).toEqual([path, ['503 close Session store unavailable']]);
      store.failing.delete('set');
      expect(await keptAliveAnswers(`${url}/bigint`, 40, message)).toEqual(['500 close Internal Server Error']);
    });

    it('a file stream that fails to open while the commit waits on the store reaches Fastify’s error handling, not the process', async () => {
      const faults: unknown[] = [];
      let opened: Promise<unknown> = Promise.resolve();
      const onFault = (error: unknown) => void faults.push(error);
      process.on('uncaughtException', onFault);
      closers.push(async () => void process.off('uncaughtException', onFault));
      // The store answers once the stream has failed (as a slower Redis round trip would), or once the process heard of it.
      const store = inspectableStore(fakeClock());
      const { set } = store;
      store.set = async (...args) => (await opened, set(...args));
      const { client } = await start(async (app) => {
        await app.register(session, { secret: SECRET, store });
        app.get('/file', async (request, reply) => {
          request.session.n = 1;
          const file = createReadStream(join(tmpdir(), `sess-missing-${crypto.randomUUID()}`));
          opened = new Promise<void>(
            (resolve) => (file.once('close', () => resolve()), process.once('uncaughtException', () => resolve())),
          );
          return reply.send(file);
        });
      });
      const reply = await client.request('/file');
      expect([reply.status, JSON.parse(reply.body).code, faults]).toEqual([500, 'ENOENT', []]);
    });

    it('session data JSON cannot hold (a BigInt, a cycle) fails the commit: a 500 error whose cause is the SessUsageError data_not_json, the record left as it was', async () => {
      const seen: Array<Error & { statusCode?: number }> = [];
      const { client, store } = await withSession({}, (app) => {
        app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
          seen.push(error);
          return reply.code(error.statusCode ?? 500).send({ handled: error.message });
        });
        app.get('/count', async (request) => (request.session.n = (request.session.n ?? 0) + 1));
        app.get('/bigint', async (request) => {
          request.session.n = 2;
          request.session.set('big', 1n);
          return 'ok';
        });
        // A web Response commits through its own path.
        app.get('/cycle', async (request) => {
          const cycle: Record<string, unknown> = {};
          cycle['self'] = cycle;
          request.session.n = 3;
          request.session.set('cycle', cycle);
          return new Response('ok');
        });
      });
      await client.request('/count');
      for (const path of ['/bigint', '/cycle']) {
        const reply = await client.request(path);
        expect([path, reply.status, JSON.parse(reply.body), reply.setCookies]).toEqual([
          path,
          500,
          { handled: 'Internal Server Error' },
          [],
        ]);
      }
      expect(seen.map((error) => [error.statusCode, error.cause instanceof SessUsageError && error.cause.code])).toEqual([
        [500, 'data_not_json'],
        [500, 'data_not_json'],
      ]);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
    });

    it('a failed load answers 503 from Fastify’s default handler before the handler runs', async () => {
      let ran = 0;
      const { client, store } = await withSession({}, (app) => {
        app.get('/count', async (request) => ((ran += 1), (request.session.n = (request.session.n ?? 0) + 1)));
      });
      await client.request('/count');
      store.failing.add('get');
      const reply = await client.request('/count');
      expect([reply.status, JSON.parse(reply.body).message, ran]).toEqual([503, 'Session store unavailable', 1]);
    });

    it('a failed destroy rejects with the 503 error, and the cookie is still deleted', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/in', async (request) => (request.session.user = 'ada'));
        app.get('/out', async (request) => {
          await request.session.destroy();
          return 'bye';
        });
      });
      await client.request('/in');
      store.failing.add('destroy');
      const reply = await client.request('/out');
      expect(reply.status).toBe(503);
      expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringMatching(/^sid=; Max-Age=0;/)]);
    });

    it("a handler's own error reaches the error handler as it was thrown, and the session commits with the status it answers", async () => {
      const teapot = Object.assign(new Error('short and stout'), { statusCode: 418 });
      const seen: unknown[] = [];
      const { client, store } = await withSession({}, (app) => {
        app.setErrorHandler((error, _request, reply) => {
          seen.push(error);
          // The app turns one error into a 200: the session is saved, as for any 200.
          return error === teapot ? reply.code(418).send('teapot') : reply.code(200).send('recovered');
        });
        app.get('/teapot', async (request) => {
          request.session.n = 1;
          throw teapot;
        });
        app.get('/recovered', async (request) => {
          request.session.n = 2;
          throw new Error('handled');
        });
      });
      const reply = await client.request('/teapot');
      expect([reply.status, reply.body, seen[0]]).toEqual([418, 'teapot', teapot]);
      expect(seen[0]).toBe(teapot);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
      expect((await client.request('/recovered')).status).toBe(200);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 2 });
    });

    it('a thrown error answered 500 by the default handler saves nothing', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/throw', async (request) => {
          request.session.n = 1;
          throw new Error('boom');
        });
      });
      const reply = await client.request('/throw');
      expect([reply.status, JSON.parse(reply.body).message, reply.setCookies, store.size]).toEqual([500, 'boom', [], 0]);
    });

    it('a response header value or name Node refuses answers 500 as without sess, and saves nothing', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/bad', async (request, reply) => {
          request.session.n = 1;
          reply.header('x-bad', 'naïve✓');
          return 'x';
        });
        app.get('/bad-name', async (request, reply) => {
          request.session.views = 1;
          reply.header('bad name', 'x');
          return 'x';
        });
      });
      const reply = await client.request('/bad');
      expect([reply.status, reply.setCookies, store.calls.set]).toEqual([500, [], 0]);
      const named = await client.request('/bad-name');
      expect([named.status, store.calls.set, cookiesNamed(named, 'sid')]).toEqual([500, 0, []]);
    });

    it('a header value Node refuses in a list of values, or on a web Response, answers 500 as without sess, and saves nothing', async () => {
      const cancelled: string[] = [];
      const { client, store } = await withSession({}, (app) => {
        app.get('/list', async (request, reply) => {
          request.session.n = 1;
          // Node checks each value of a list: an undefined one is refused, though the list reads as "<a>,".
          reply.header('link', ['<a>', undefined]);
          return 'x';
        });
        app.get('/response', async (request) => {
          request.session.n = 1;
          // Fetch's Headers take a control character that Node refuses when Fastify copies it onto the reply.
          const body = new ReadableStream({ cancel: () => void cancelled.push('response') });
          return new Response(body, { headers: { 'x-note': 'a\u0001b' } });
        });
      });
      for (const [path, code] of [
        ['/list', 'ERR_HTTP_INVALID_HEADER_VALUE'],
        ['/response', 'ERR_INVALID_CHAR'],
      ] as const) {
        const reply = await client.request(path);
        expect([path, reply.status, JSON.parse(reply.body).code, cookiesNamed(reply, 'sid'), store.calls.set, store.size]).toEqual([
          path,
          500,
          code,
          [],
          0,
          0,
        ]);
      }
      expect(cancelled).toEqual(['response']);
    });

    it('a header Node refuses beside a streamed payload: the stream is dropped, as Fastify drops it without sess', async () => {
      const dropped: string[] = [];
      const { client, store } = await withSession({}, (app) => {
        app.get('/node', async (request, reply) => {
          request.session.n = 1;
          reply.header('x-bad', 'a\nb');
          return reply.send(new Readable({ read() {}, destroy: (error, callback) => (dropped.push('node'), callback(error)) }));
        });
        app.get('/web', async (request, reply) => {
          request.session.n = 1;
          reply.header('x-bad', 'a\nb');
          return reply.send(new ReadableStream({ cancel: () => void dropped.push('web') }));
        });
        app.get('/response', async (request, reply) => {
          request.session.n = 1;
          reply.header('x-bad', 'a\nb');
          return new Response(new ReadableStream({ cancel: () => void dropped.push('response') }));
        });
      });
      for (const path of ['/node', '/web', '/response']) {
        const reply = await client.request(path);
        expect([path, reply.status, JSON.parse(reply.body).code]).toEqual([path, 500, 'ERR_INVALID_CHAR']);
      }
      expect([dropped, store.calls.set]).toEqual([['node', 'web', 'response'], 0]);
    });

    it('closes the connection with the 500 for a header Node refuses beside a streamed payload, so an app that destroys the socket on its cut-off pipe resets no next request on it', async () => {
      const { url, store } = await withSession({}, (app) => {
        const cutOff = (request: FastifyRequest) => {
          const pass = new PassThrough();
          // The dropped payload cuts the pipe short, which the app takes for a client that went away.
          pipeline(Readable.from(largeBody()), pass, (error) => void (error && request.raw.socket.destroy()));
          return pass;
        };
        const webCutOff = (request: FastifyRequest) => Readable.toWeb(cutOff(request)) as ReadableStream;
        app.get('/stream', async (request, reply) => {
          request.session.user = 'ada';
          return reply.header('x-bad', 'a\nb').send(cutOff(request));
        });
        app.get('/web', async (request, reply) => {
          request.session.user = 'ada';
          return reply.header('x-bad', 'naïve✓').send(webCutOff(request));
        });
        // Fetch's Headers take a control character that Node refuses once Fastify copies it onto the reply.
        app.get('/response', async (request) => {
          request.session.user = 'ada';
          return new Response(webCutOff(request), { headers: { 'x-note': 'a\u0001b' } });
        });
      });
      const code = (body: string) => JSON.parse(body).code;
      const answers: Array<[string, string[]]> = [];
      for (const path of ['/stream', '/web', '/response']) answers.push([path, await keptAliveAnswers(`${url}${path}`, 40, code)]);
      expect([answers, store.calls.set]).toEqual([
        [
          ['/stream', ['500 close ERR_INVALID_CHAR']],
          ['/web', ['500 close ERR_INVALID_CHAR']],
          ['/response', ['500 close ERR_INVALID_CHAR']],
        ],
        0,
      ]);
    });

    it('a payload Fastify can’t write (not JSON-typed, not a string) answers 500 as without sess, and saves nothing', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/number', async (request, reply) => {
          request.session.n = 1;
          return reply.type('text/plain').send(42);
        });
        app.get('/object', async (request, reply) => {
          request.session.n = 1;
          return reply.type('text/html').send({ not: 'html' });
        });
        app.get('/used', async (request) => {
          request.session.n = 1;
          const response = new Response('once');
          await response.text();
          return response;
        });
        app.get('/locked', async (request, reply) => {
          request.session.n = 1;
          const body = new ReadableStream();
          body.getReader();
          return reply.send(body);
        });
        // A web Response whose body a reader holds, unread: Fastify meets the lock writing it, even
        // after the reply's own 204 (the Response's status is the one Fastify answers with).
        const held = () => {
          const response = new Response('held');
          response.body?.getReader();
          return response;
        };
        app.get('/locked-response', async (request) => ((request.session.n = 1), held()));
        app.get('/locked-response-204', async (request, reply) => ((request.session.n = 1), reply.code(204).send(held())));
        // A 204 sends no body, so Fastify checks none: it goes out, and the session is saved.
        app.get('/no-content', async (request, reply) => {
          request.session.n = 1;
          return reply.code(204).type('text/plain').send(42);
        });
      });
      for (const path of ['/number', '/object', '/used', '/locked', '/locked-response', '/locked-response-204']) {
        const reply = await client.request(path);
        expect([path, reply.status, reply.setCookies, store.calls.set]).toEqual([path, 500, [], 0]);
      }
      const noContent = await client.request('/no-content');
      expect([noContent.status, cookiesNamed(noContent, 'sid').length, store.calls.set]).toEqual([204, 1, 1]);
      // Fastify's own errors, as without sess (Fastify 4 has no code of its own for a locked stream).
      const codes = await Promise.all(
        ['/number', '/object', '/used'].map(async (path) => JSON.parse((await client.request(path)).body).code),
      );
      expect(codes).toEqual(['FST_ERR_REP_INVALID_PAYLOAD_TYPE', 'FST_ERR_REP_INVALID_PAYLOAD_TYPE', 'FST_ERR_REP_RESPONSE_BODY_CONSUMED']);
    });

    it('an error Fastify meets writing the response after the commit reaches its error handling, not the process', async () => {
      const faults: unknown[] = [];
      const onFault = (error: unknown) => void faults.push(error);
      process.on('unhandledRejection', onFault);
      closers.push(async () => void process.off('unhandledRejection', onFault));
      const { client } = await start(async (app) => {
        // Not awaited: the route, added before the plugin loads, commits in the scope's onSend
        // hook, and the app's hook after that one hands on a payload Fastify can't write (an object).
        app.register(session, { secret: SECRET });
        app.addHook('onSend', (_request, _reply, _payload, done) => done(null, { not: 'a string' }));
        app.get('/', async (request) => (request.session.n = 1));
      });
      const reply = await client.request('/');
      expect([reply.status, JSON.parse(reply.body).code]).toEqual([500, 'FST_ERR_REP_INVALID_PAYLOAD_TYPE']);
      await new Promise((resolve) => setImmediate(resolve));
      expect(faults).toEqual([]);
    });
  });

  describe("onSend hooks after the plugin's, and a route's own", () => {
    type Hook = (
      request: FastifyRequest,
      reply: FastifyReply,
      payload: unknown,
      done: (error: Error | null, payload?: unknown) => void,
    ) => void;
    const throws: Hook = () => {
      throw new Error('late hook failed');
    };
    const fails: Hook = (_request, reply, payload, done) => (reply.code(500), done(null, payload));
    const change = (request: FastifyRequest) => void (request.session.n = (request.session.n ?? 0) + 1);

    it('one that throws or sets a 500 after the handler changed the session: a 5xx, nothing saved, no cookie', async () => {
      const { client, store } = await withSession({}, (app) => {
        // Instance hooks added after the plugin, in its scope and in a child plugin's.
        app.addHook('onSend', (request, reply, payload, done) =>
          request.url === '/scope-throws' ? throws(request, reply, payload, done) : done(null, payload),
        );
        app.addHook('onSend', (request, reply, payload, done) =>
          request.url === '/scope-500' ? fails(request, reply, payload, done) : done(null, payload),
        );
        app.get('/scope-throws', async (request) => (change(request), 'x'));
        app.get('/scope-500', async (request) => (change(request), 'x'));
        app.register(async (child) => {
          child.addHook('onSend', throws);
          child.get('/child-throws', async (request) => (change(request), 'x'));
        });
        // A route's own onSend hooks, which Fastify runs after the scope's.
        app.get('/route-throws', { onSend: throws }, async (request) => (change(request), 'x'));
        app.get('/route-500', { onSend: [fails] }, async (request) => (change(request), 'x'));
        // One that hands on a payload Fastify can't write (an object): refused before the commit.
        app.get('/route-object', { onSend: (_request, _reply, _payload, done) => done(null, { not: 'a string' }) }, async (request) => {
          change(request);
          return 'x';
        });
      });
      for (const path of ['/scope-throws', '/scope-500', '/child-throws', '/route-throws', '/route-500', '/route-object']) {
        const reply = await client.request(path);
        expect([path, reply.status, cookiesNamed(reply, 'sid'), store.calls.set, store.size]).toEqual([path, 500, [], 0, 0]);
      }
    });

    it('one that throws or sets a 500 after an answer sent, or a 4xx thrown, from one of the scope’s onRequest hooks: nothing saved', async () => {
      const { client, store } = await withSession({}, (app) => {
        // The scope's onRequest hook answers before the route's own hooks (and the route's own onRequest) run.
        app.addHook('onRequest', async (request, reply) => {
          if (request.url.startsWith('/sent')) return reply.send((change(request), 'early'));
          if (request.url.startsWith('/thrown')) throw Object.assign(new Error((change(request), 'no')), { statusCode: 401 });
        });
        app.addHook('onSend', (request, reply, payload, done) =>
          request.url.endsWith('-500') ? fails(request, reply, payload, done) : done(null, payload),
        );
        for (const path of ['/sent-500', '/sent-ok', '/thrown-500', '/thrown-ok']) app.get(path, async () => 'never');
        app.get('/sent-route-throws', { onSend: throws }, async () => 'never');
      });
      for (const path of ['/sent-500', '/sent-route-throws', '/thrown-500']) {
        const reply = await client.request(path);
        expect([path, reply.status, cookiesNamed(reply, 'sid'), store.calls.set, store.size]).toEqual([path, 500, [], 0, 0]);
      }
      // Without a failing hook, the early answer and the 401 still save the session, once.
      for (const [path, status] of [
        ['/sent-ok', 200],
        ['/thrown-ok', 401],
      ] as const) {
        client.jar.clear();
        const before = store.calls.set;
        const reply = await client.request(path);
        expect([path, reply.status, cookiesNamed(reply, 'sid').length, store.calls.set - before]).toEqual([path, status, 1, 1]);
      }
    });

    it('one that changes the payload runs before the commit, which still saves the session and sets its cookie', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.addHook('onSend', (request, _reply, payload, done) => done(null, `${payload} (n=${request.session.n})`));
        app.get(
          '/',
          { onSend: (_request, _reply, payload, done) => done(null, `[${payload}]`) },
          async (request) => (change(request), 'ok'),
        );
        // The scope's hook above mends a payload Fastify could not write (a number under text/plain).
        app.get('/mended', async (request, reply) => {
          change(request);
          return reply.type('text/plain').send(42);
        });
      });
      const reply = await client.request('/');
      expect([reply.status, reply.body, cookiesNamed(reply, 'sid').length, store.calls.set]).toEqual([200, '[ok (n=1)]', 1, 1]);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
      const mended = await client.request('/mended');
      expect([mended.status, mended.body, store.calls.set]).toEqual([200, '42 (n=2)', 2]);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 2 });
    });

    it('commits exactly once for an error answer, a HEAD request, reply.callNotFound(), the not-found handler and an early answer', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.setNotFoundHandler(async (request, reply) => (change(request), reply.code(404).send('missing')));
        app.get('/teapot', { onSend: (_request, _reply, payload, done) => done(null, payload) }, async (request) => {
          change(request);
          throw Object.assign(new Error('short and stout'), { statusCode: 418 });
        });
        app.get('/head', async (request) => (change(request), 'body'));
        app.get('/not-here', async (request, reply) => (change(request), reply.callNotFound()));
        // An answer from one of the scope's onRequest hooks, before the route's own hooks ran.
        app.addHook('onRequest', async (request, reply) => {
          if (request.url === '/answered-early') return reply.send((change(request), 'early'));
        });
        app.get('/answered-early', async () => 'never');
      });
      const cases: Array<[string, string, number]> = [
        ['GET', '/teapot', 418],
        ['HEAD', '/head', 200],
        ['GET', '/not-here', 404],
        ['GET', '/nowhere', 404],
        ['GET', '/answered-early', 200],
      ];
      for (const [method, path, status] of cases) {
        client.jar.clear();
        const before = store.calls.set;
        const reply = await client.request(path, { method });
        expect([path, reply.status, cookiesNamed(reply, 'sid').length, store.calls.set - before]).toEqual([path, status, 1, 1]);
      }
    });
  });

  describe('reply.hijack()', () => {
    it('holds the raw response until the session is saved, then sends its cookie with it', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/raw', (request, reply) => {
          reply.hijack();
          request.session.user = 'ada';
          reply.raw.writeHead(200, { 'content-type': 'text/plain', vary: 'Accept' });
          reply.raw.end('raw');
        });
      });
      const reply = await client.request('/raw');
      expect([reply.status, reply.body, reply.headers.get('vary')]).toEqual([200, 'raw', 'Accept, Cookie']);
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ user: 'ada' });
    });

    it('answers a failed commit with a plain 503 on the raw response and logs it through Fastify', async () => {
      const { client, store, logged } = await withSession({}, (app) => {
        app.get('/raw', (request, reply) => {
          reply.hijack();
          request.session.user = 'ada';
          reply.raw.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
          reply.raw.end('{}');
        });
      });
      store.failing.add('set');
      const reply = await client.request('/raw');
      expect([reply.status, reply.body, reply.headers.get('content-type'), reply.setCookies]).toEqual([
        503,
        'Session store unavailable',
        'text/plain; charset=utf-8',
        [],
      ]);
      expect(logged).toEqual([expect.objectContaining({ level: 50, msg: expect.stringMatching(/could not be committed/) })]);
    });

    it('closes the connection with a failed commit’s 503, so an app that destroys the socket on its cut-off pipe resets no next request on it', async () => {
      const { url, store } = await withSession({}, (app) => {
        app.get('/raw', (request, reply) => {
          reply.hijack();
          request.session.user = 'ada';
          reply.raw.setHeader('content-type', 'application/octet-stream');
          // The 503 cuts the pipe short, which the app takes for a client that went away.
          pipeline(Readable.from(largeBody()), reply.raw, (error) => void (error && request.raw.socket.destroy()));
        });
      });
      store.failing.add('set');
      expect(await keptAliveAnswers(`${url}/raw`, 40)).toEqual(['503 close Session store unavailable']);
    });

    it('answers data JSON cannot hold with a plain 500 on the raw response, closing the connection, and leaves the record as it was', async () => {
      const { client, store, logged } = await withSession({}, (app) => {
        app.get('/count', async (request) => (request.session.n = (request.session.n ?? 0) + 1));
        app.get('/raw', (request, reply) => {
          reply.hijack();
          request.session.n = 2;
          request.session.set('big', 1n);
          reply.raw.end('raw');
        });
      });
      await client.request('/count');
      const reply = await client.request('/raw');
      expect([reply.status, reply.body, reply.headers.get('connection'), reply.setCookies]).toEqual([
        500,
        'Internal Server Error',
        'close',
        [],
      ]);
      expect(logged).toEqual([expect.objectContaining({ level: 50, err: expect.objectContaining({ type: 'SessUsageError' }) })]);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
    });

    it('holds only hijacked replies in its scope: a plain reply and a sibling plugin’s hijack go straight out', async () => {
      let held: boolean[] = [];
      const heldOf = (raw: ServerResponse) => Object.hasOwn(raw, 'end');
      const { client } = await start(async (app) => {
        await app.register(async (scope) => {
          await scope.register(session, { secret: SECRET });
          scope.get('/plain', async (_request, reply) => ((held = [heldOf(reply.raw)]), 'plain'));
          scope.get('/hijacked', (_request, reply) => {
            reply.hijack();
            held = [heldOf(reply.raw)];
            reply.raw.end('hijacked');
          });
        });
        await app.register(async (sibling) => {
          sibling.get('/sibling', (_request, reply) => {
            expect(reply.hijack()).toBe(reply);
            held = [heldOf(reply.raw)];
            reply.raw.end('sibling');
          });
        });
      });
      for (const [path, expected] of [
        ['/plain', false],
        ['/hijacked', true],
        ['/sibling', false],
      ] as const) {
        expect((await client.request(path)).body).toBe(path.slice(1));
        expect(held, path).toEqual([expected]);
      }
    });

    it('a hijacked reply that never touches the session gets no cookie, no Vary and no store call', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/raw', (_request, reply) => {
          reply.hijack();
          reply.raw.end('untouched');
        });
      });
      const reply = await client.request('/raw');
      expect([reply.body, reply.setCookies, reply.headers.get('vary'), store.calls]).toEqual([
        'untouched',
        [],
        null,
        { get: 0, set: 0, destroy: 0, touch: 0 },
      ]);
    });
  });

  describe('reply.send while the commit waits on the store', () => {
    // Fastify counts a reply as sent once its response has ended: an answer held by the commit is not yet.
    it('an async handler that sends without `return reply` answers with its payload and the cookie, as without sess', async () => {
      const { url, store, logged } = await withSession({}, (app) => {
        app.get('/', async (request, reply) => {
          request.session.n = 1;
          reply.send('sent');
        });
        app.get('/response', async (request, reply) => {
          request.session.n = 1;
          reply.send(new Response('sent'));
        });
      });
      for (const path of ['/', '/response']) {
        const client = new Client(url);
        const reply = await client.request(path);
        expect([path, reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([path, 200, 'sent', [expect.stringMatching(/^sid=/)]]);
        expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
      }
      expect(logged).toEqual([]);
    });

    it('a second send is ignored, as Fastify ignores a send once the first went out', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/', (request, reply) => {
          request.session.n = 1;
          reply.send('first');
          reply.send('second');
        });
      });
      const reply = await client.request('/');
      expect([reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([200, 'first', [expect.stringMatching(/^sid=/)]]);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
    });

    it('a handler that fails after sending: the sent answer goes out as it was, never a 5xx behind the saved session; the error is logged', async () => {
      const { client, store, logged } = await withSession({}, (app) => {
        app.get('/', async (request, reply) => {
          request.session.n = 1;
          reply.send('sent');
          throw new Error('failed after sending');
        });
      });
      const reply = await client.request('/');
      expect([reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([200, 'sent', [expect.stringMatching(/^sid=/)]]);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
      expect(logged.map((line) => line.err?.message)).toEqual(['failed after sending']);
    });

    it('an async hook that answers without `return reply` ends the request there, as without sess: the route’s own hooks and handler never run', async () => {
      const ran: string[] = [];
      const { url, store } = await withSession({}, (app) => {
        // A guard that keeps where the visitor was going (a session write) and answers from the hook.
        const guard = async (request: FastifyRequest, reply: FastifyReply) => {
          request.session.n = 1;
          reply.code(401).send('sign in');
        };
        app.addHook('onRequest', async (request, reply) => {
          if (request.url === '/on-request') await guard(request, reply);
        });
        app.get('/on-request', { preHandler: async () => void ran.push('preHandler') }, async () => (ran.push('/on-request'), 'secret'));
        app.get('/pre-handler', { preHandler: guard }, async () => (ran.push('/pre-handler'), 'secret'));
      });
      for (const path of ['/on-request', '/pre-handler']) {
        const client = new Client(url);
        const reply = await client.request(path);
        expect([path, reply.status, reply.body, cookiesNamed(reply, 'sid').length]).toEqual([path, 401, 'sign in', 1]);
        expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
      }
      expect(ran).toEqual([]);
    });
  });

  describe('after the commit', () => {
    it('a change in an onResponse hook is dropped and heard as lateChange, not thrown; regenerate() rejects', async () => {
      const events: string[] = [];
      let after: (seen: string[]) => void = () => undefined;
      const afterDone = new Promise<string[]>((resolve) => (after = resolve));
      const { client, store, logged } = await withSession({ onEvent: (event) => void events.push(event.type) }, (app) => {
        app.addHook('onResponse', async (request) => {
          const seen: string[] = [];
          request.session.n = 2;
          seen.push(`read ${request.session.n}`);
          await request.session.regenerate().then(
            () => seen.push('regenerated'),
            () => seen.push('regenerate rejected'),
          );
          after(seen);
        });
        app.get('/', async (request) => (request.session.n = 1));
      });
      expect((await client.request('/')).status).toBe(200);
      expect(await afterDone).toEqual(['read 1', 'regenerate rejected']);
      // Both the dropped change and the refused regenerate() are heard.
      expect(events.filter((type) => type === 'lateChange')).toHaveLength(2);
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
      expect(logged).toEqual([]);
    });
  });

  describe("@fastify/session's names", () => {
    it('cookieName, cookie.maxAge in ms and idGenerator', async () => {
      const { client } = await withSession(
        { cookieName: 'app.sid', cookie: { maxAge: 60_000 }, idGenerator: () => `id-${crypto.randomUUID()}` },
        (app) => {
          app.get('/', async (request) => (request.session.n = 1));
        },
      );
      const [line] = (await client.request('/')).setCookies;
      expect(line).toMatch(/^app\.sid=id-[0-9a-f-]{36}\.[A-Za-z0-9_-]+; Max-Age=60; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
    });

    it('idGenerator declaring a parameter it does without, as node:crypto’s randomUUID(options) does', async () => {
      const { client } = await withSession({ idGenerator: randomUUID }, (app) => {
        app.get('/', async (request) => (request.session.n = 1));
      });
      expect((await client.request('/')).status).toBe(200);
      expect(idOf(client)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    });

    it('get, set, sessionId and the callback forms', async () => {
      const { client } = await withSession({}, (app) => {
        app.get('/set', async (request) => {
          request.session.set('user', 'ada');
          return `${request.session.get('user')} ${request.session.user} ${typeof request.session.sessionId}`;
        });
        app.get('/destroy', (request, reply) => {
          request.session.destroy((error?: unknown) => reply.send(error === undefined ? 'gone' : 'failed'));
        });
        app.get('/me', async (request) => request.session.user ?? 'nobody');
      });
      expect((await client.request('/set')).body).toBe('ada ada string');
      expect((await client.request('/destroy')).body).toBe('gone');
      expect((await client.request('/me')).body).toBe('nobody');
    });

    it("get and set are the property: a member's name reads the member, and set refuses it as data", async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/', async (request) => {
          request.session.n = 1;
          const refused = ['id', 'cookie', 'save'].map((key) => {
            try {
              request.session.set(key, 'data');
              return 'stored';
            } catch (error) {
              return error instanceof SessUsageError ? 'refused' : String(error);
            }
          });
          const { get } = request.session;
          const read =
            get('sessionId') === request.session.sessionId && JSON.stringify(get('cookie')) === JSON.stringify(request.session.cookie);
          return { refused, read, keys: Object.keys(request.session) };
        });
      });
      const reply = await client.request('/');
      expect(JSON.parse(reply.body)).toEqual({ refused: ['refused', 'refused', 'refused'], read: true, keys: ['n'] });
      expect((await store.peek(idOf(client) as string))?.data).toEqual({ n: 1 });
    });

    it('@fastify/flash’s set of the key "flash" (sess’s flash()) is refused with what to use instead', async () => {
      const { client } = await withSession({}, (app) => {
        // What @fastify/flash's request.flash(type, message) does with the session.
        app.get('/', async (request) => {
          const messages = (request.session.get('flash') ?? {}) as Record<string, string[]>;
          request.session.set('flash', { ...messages, info: ['saved'] });
          return 'flashed';
        });
      });
      const reply = await client.request('/');
      expect([reply.status, JSON.parse(reply.body).message]).toEqual([
        500,
        expect.stringMatching(/@fastify\/flash .*request\.session\.flash\(kind, message\) and takeFlash\(kind\)/),
      ]);
    });

    it('regenerate() starts an empty session under a new id, as @fastify/session; regenerate(fields) keeps only the fields listed; { keepData: true } keeps all', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.get('/fill', async (request) => {
          request.session.user = 'ada';
          request.session.cart = ['tea'];
          return 'filled';
        });
        app.get('/keep-cart', async (request) => {
          await request.session.regenerate(['cart', 'missing']);
          return Object.keys(request.session).join(',');
        });
        app.get('/keep-all', async (request) => {
          request.session.user = 'grace';
          await request.session.regenerate({ keepData: true });
          return Object.keys(request.session).sort().join(',');
        });
        app.get('/keep-none/:how', async (request) => {
          const { session } = request;
          const calls: Record<string, () => Promise<void>> = {
            bare: () => session.regenerate(),
            undefined: () => session.regenerate(undefined),
            null: () => session.regenerate(null as unknown as undefined),
            callback: () => new Promise((resolve, reject) => session.regenerate((error?: unknown) => (error ? reject(error) : resolve()))),
          };
          await calls[(request.params as { how: string }).how]?.();
          const kept = Object.keys(request.session).join(',');
          request.session.n = 1;
          return kept;
        });
      });
      await client.request('/fill');
      const first = idOf(client) as string;
      expect((await client.request('/keep-cart')).body).toBe('cart');
      const second = idOf(client) as string;
      expect(second).not.toBe(first);
      expect(await store.peek(first)).toBeUndefined();
      expect((await store.peek(second))?.data).toEqual({ cart: ['tea'] });
      expect((await client.request('/keep-all')).body).toBe('cart,user');
      const third = idOf(client) as string;
      expect(third).not.toBe(second);
      expect((await store.peek(third))?.data).toEqual({ cart: ['tea'], user: 'grace' });
      let previous = third;
      for (const how of ['bare', 'undefined', 'null', 'callback']) {
        expect([how, (await client.request(`/keep-none/${how}`)).body]).toEqual([how, '']);
        const next = idOf(client) as string;
        expect(next).not.toBe(previous);
        expect(await store.peek(previous)).toBeUndefined();
        expect((await store.peek(next))?.data).toEqual({ n: 1 });
        previous = next;
      }
    });

    it('regenerate() with neither a list of fields nor { keepData } rejects (a usage error), rather than keeping every field', async () => {
      // @fastify/session keeps nothing for such an argument; keeping all would leave what the app meant to drop.
      const { client, store } = await withSession({}, (app) => {
        app.get('/fill', async (request) => {
          request.session.user = 'ada';
          request.session.cart = ['tea'];
          return 'filled';
        });
        const keeps: Record<string, unknown> = { string: 'cart', set: new Set(['cart']), keepData: { keepData: 'no' }, number: [5] };
        app.get('/regenerate/:kind', async (request) => {
          const keep = keeps[(request.params as { kind: string }).kind];
          const error = await request.session.regenerate(keep as string[]).then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
          // Rejected as regenerate's other usage errors are: a 500 error whose cause is the SessUsageError.
          const { statusCode, cause } = (error ?? {}) as { statusCode?: number; cause?: unknown };
          return cause instanceof SessUsageError ? `refused ${statusCode}` : `kept ${Object.keys(request.session).sort().join(',')}`;
        });
      });
      await client.request('/fill');
      const id = idOf(client) as string;
      for (const kind of ['string', 'set', 'keepData', 'number']) {
        const reply = await client.request(`/regenerate/${kind}`);
        expect([kind, reply.status, reply.body, cookiesNamed(reply, 'sid')]).toEqual([kind, 200, 'refused 500', []]);
      }
      expect(idOf(client)).toBe(id);
      expect((await store.peek(id))?.data).toEqual({ user: 'ada', cart: ['tea'] });
    });

    it('request.session.cookie is read-only and says when the session ends', async () => {
      const { client } = await withSession({ cookie: { maxAge: 3_600_000 } }, (app) => {
        app.get('/', async (request) => {
          request.session.n = 1;
          const { cookie } = request.session;
          expect(() => Object.assign(cookie, { maxAge: 1 })).toThrow(SessUsageError);
          return String(cookie.maxAge);
        });
      });
      expect((await client.request('/')).body).toBe('3600000');
    });

    it('request.session.cookie reads maxAge and expires null for a cookie that ends with the browser, as @fastify/session, once set or loaded', async () => {
      const { client } = await withSession({}, (app) => {
        app.get('/', async (request) => {
          request.session.n = 1;
          const before = { ...request.session.cookie };
          if (request.query !== null && (request.query as { browser?: string }).browser === '1') request.session.setExpiry(0);
          return JSON.stringify([before.maxAge === null, before.expires === null, request.session.cookie]);
        });
      });
      expect(JSON.parse((await client.request('/?browser=1')).body)).toEqual([false, false, { maxAge: null, expires: null }]);
      expect(JSON.parse((await client.request('/')).body)).toEqual([true, true, { maxAge: null, expires: null }]);
    });
  });

  describe('request.session.options(opts), @fastify/session’s per-session cookie options', () => {
    const DAY = 86_400_000;
    /** An app whose `/options/:name` calls options() with the case of that name (made at request time, for Dates). */
    async function withOptions(options: Partial<SessionOptions>, cases: Record<string, () => unknown>) {
      const seen: Error[] = [];
      const started = await withSession(options, (app) => {
        app.setErrorHandler((error: Error, _request, reply) => (seen.push(error), reply.code(500).send(`${error.name}: ${error.message}`)));
        app.get('/count', async (request) => String((request.session.n = (request.session.n ?? 0) + 1)));
        app.post('/login', async (request) => {
          await request.session.regenerate();
          request.session.user = 'ada';
          // "Remember me", as @fastify/session apps write it on sign-in.
          request.session.options({ maxAge: 30 * DAY });
          return 'signed in';
        });
        app.get('/touch', async (request) => (request.session.touch(), 'touched'));
        app.get('/options/:name', async (request) => {
          const make = cases[(request.params as { name: string }).name] as () => unknown;
          request.session.options(make() as Parameters<FastifySession['options']>[0]);
          return 'set';
        });
      });
      return { ...started, seen };
    }

    it('options({ maxAge }) on sign-in gives the session that lifetime: the Set-Cookie’s Max-Age, the stored expiry and later touches follow (was: TypeError, a 500)', async () => {
      const { client, store } = await withOptions({ cookie: { maxAge: 3_600_000 } }, {});
      const login = await client.request('/login', { method: 'POST' });
      expect([login.status, login.body]).toEqual([200, 'signed in']);
      expect(cookiesNamed(login, 'sid')).toEqual([expect.stringMatching(/^sid=[^;]+; Max-Age=2592000; /)]);
      const { meta } = (await store.peek(idOf(client) as string)) ?? { meta: undefined };
      expect(meta?.expiry).toEqual({ kind: 'duration', ms: 30 * DAY });
      expect((meta?.expiresAt ?? 0) - (meta?.touchedAt ?? 0)).toBe(30 * DAY);
      // The lifetime is the session's own from then on, as @fastify/session keeps it with the session.
      expect(cookiesNamed(await client.request('/touch'), 'sid')).toEqual([expect.stringMatching(/; Max-Age=2592000; /)]);
    });

    it('maxAge 0, null or undefined: a cookie that ends with the browser; under a second or negative ends the session; over 400 days is 400 days; expires a Date, maxAge winning; expires null the configured lifetime', async () => {
      const { client } = await withOptions(
        { cookie: { maxAge: 3_600_000 } },
        {
          zero: () => ({ maxAge: 0 }),
          null: () => ({ maxAge: null }),
          undefined: () => ({ maxAge: undefined }),
          long: () => ({ maxAge: 500 * DAY }),
          configured: () => ({ expires: null }),
          expires: () => ({ expires: new Date(Date.now() + 2 * DAY) }),
          both: () => ({ maxAge: 120_000, expires: new Date(Date.now() + 2 * DAY) }),
          farExpires: () => ({ expires: new Date(Date.now() + 500 * DAY) }),
          nothing: () => ({}),
          short: () => ({ maxAge: 999 }),
          negative: () => ({ maxAge: -1 }),
          past: () => ({ expires: new Date(Date.UTC(2000, 0, 1)) }),
        },
      );
      const cookieAfter = async (name: string) => {
        const reply = await client.request(`/options/${name}`);
        expect([name, reply.status, reply.body]).toEqual([name, 200, 'set']);
        return cookiesNamed(reply, 'sid');
      };
      await client.request('/count');
      for (const name of ['zero', 'null', 'undefined']) {
        expect(await cookieAfter(name)).toEqual([expect.not.stringMatching(/Max-Age|Expires/)]);
      }
      expect(await cookieAfter('long')).toEqual([expect.stringMatching(/; Max-Age=34560000; /)]);
      expect(await cookieAfter('configured')).toEqual([expect.stringMatching(/; Max-Age=3600; /)]);
      expect(await cookieAfter('expires')).toEqual([expect.stringMatching(/; Max-Age=17(27|28)\d\d; /)]);
      expect(await cookieAfter('both')).toEqual([expect.stringMatching(/; Max-Age=120; /)]);
      expect(await cookieAfter('farExpires')).toEqual([expect.stringMatching(/; Max-Age=34560000; /)]);
      expect(await cookieAfter('nothing')).toEqual([]);
      expect((await client.request('/count')).body).toBe('2');
      for (const name of ['short', 'negative', 'past']) {
        expect(await cookieAfter(name)).toEqual([expect.stringMatching(/^sid=[^;]*; Max-Age=0;/)]);
        expect([name, (await client.request('/count')).body]).toEqual([name, '1']);
      }
    });

    it('a cookie attribute other than the configured one fails into Fastify’s error handler naming the cookie option to set at registration, changing nothing; the configured value is accepted', async () => {
      const changed: Record<string, unknown> = {
        domain: 'example.com',
        path: '/app',
        secure: true,
        sameSite: 'none',
        httpOnly: false,
        partitioned: true,
        priority: 'high',
      };
      const same: Record<string, unknown> = {
        domain: undefined,
        path: '/',
        secure: 'auto',
        sameSite: 'lax',
        httpOnly: true,
        partitioned: undefined,
        priority: undefined,
      };
      const cases = Object.fromEntries([
        ...Object.entries(changed).map(([key, value]) => [`changed-${key}`, () => ({ maxAge: 30 * DAY, [key]: value })]),
        ...Object.entries(same).map(([key, value]) => [`same-${key}`, () => ({ [key]: value })]),
        // The option as written at registration is the same value too.
        ['written', () => ({ sameSite: false })],
      ]);
      const { client, seen } = await withOptions({ cookie: { sameSite: false } }, cases);
      await client.request('/count');
      for (const [key, value] of Object.entries(changed)) {
        const reply = await client.request(`/options/changed-${key}`);
        expect([key, reply.status, reply.setCookies]).toEqual([key, 500, []]);
        expect(reply.body).toMatch(new RegExp(`^SessUsageError: \\[sess\\] request\\.session\\.options\\(\\{ ${key} \\}\\) can't`));
        expect(reply.body).toContain(`cookie: { ${key}: ${JSON.stringify(value)} }`);
      }
      expect(seen.every((error) => error instanceof SessUsageError)).toBe(true);
      expect((await client.request('/options/changed-secure')).body).toContain("secure: 'auto'");
      for (const name of [...Object.keys(same).map((key) => `same-${key}`), 'written']) {
        const reply = await client.request(`/options/${name}`);
        expect([name, reply.status, reply.body, reply.setCookies]).toEqual([name, 200, 'set', []]);
      }
      // The refused calls changed nothing: the session is the same one, its lifetime the configured one.
      expect((await client.request('/count')).body).toBe('2');
      expect(cookiesNamed(await client.request('/touch'), 'sid')).toEqual([expect.stringMatching(/; Max-Age=86400; /)]);
    });

    it('an argument that is not an object of cookie options, a maxAge not a number, an expires not a Date, or an option sess has no per-session use for, is a usage error saying so', async () => {
      const { client } = await withOptions(
        {},
        {
          undefined: () => undefined,
          null: () => null,
          string: () => 'remember',
          array: () => [],
          maxAgeString: () => ({ maxAge: '2592000000' }),
          maxAgeNaN: () => ({ maxAge: Number.NaN }),
          expiresNumber: () => ({ expires: Date.now() + DAY }),
          expiresInvalid: () => ({ expires: new Date(Number.NaN) }),
          signed: () => ({ signed: true }),
          unknown: () => ({ colour: 'blue' }),
        },
      );
      const refusals: Record<string, RegExp> = {
        undefined: /opts must be an object of cookie options/,
        null: /opts must be an object of cookie options/,
        string: /opts must be an object of cookie options/,
        array: /opts must be an object of cookie options/,
        maxAgeString: /maxAge must be a number of ms/,
        maxAgeNaN: /maxAge must be a number of ms/,
        expiresNumber: /expires must be a valid Date/,
        expiresInvalid: /expires must be a valid Date/,
        signed: /signed.*the cookie is always signed/,
        unknown: /colour.*not a cookie option/,
      };
      for (const [name, message] of Object.entries(refusals)) {
        const reply = await client.request(`/options/${name}`);
        expect([name, reply.status, reply.body]).toEqual([
          name,
          500,
          expect.stringMatching(/^SessUsageError: \[sess\] request\.session\.options/),
        ]);
        expect(reply.body).toMatch(message);
      }
    });
  });

  describe('getSession()', () => {
    it('finds the session anywhere inside the request, body parsing included, with asyncContext: true', async () => {
      const deep = async () => {
        await new Promise((resolve) => setImmediate(resolve));
        const current = getSession();
        current.n = (current.n ?? 0) + 1;
        return current.n;
      };
      const { client } = await withSession({ asyncContext: true }, (app) => {
        app.post('/bump', async () => String(await deep()));
      });
      const post = () => client.request('/bump', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      expect((await post()).body).toBe('1');
      expect((await post()).body).toBe('2');
    });

    it('is not found before preValidation: the error handling of a body that failed to parse, which runs outside the request’s context', async () => {
      const { client } = await withSession({ asyncContext: true }, (app) => {
        app.setErrorHandler(async (error, request, reply) => {
          const found = (() => {
            try {
              return getSession() === request.session ? 'found' : 'another';
            } catch (thrown) {
              return thrown instanceof SessUsageError ? 'not found' : String(thrown);
            }
          })();
          return reply.code((error as { statusCode?: number }).statusCode ?? 500).send(found);
        });
        app.post('/', async () => {
          throw Object.assign(new Error('refused'), { statusCode: 409 });
        });
      });
      const post = (body: string) => client.request('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const [parsed, unparsed] = [await post('{"a":1}'), await post('{"a":')];
      expect([parsed.status, parsed.body, unparsed.status, unparsed.body]).toEqual([409, 'found', 400, 'not found']);
    });

    it('throws SessUsageError without asyncContext', async () => {
      const { client } = await withSession({}, (app) => {
        app.get('/', async () => {
          expect(() => getSession()).toThrow(SessUsageError);
          return 'ok';
        });
      });
      expect((await client.request('/')).body).toBe('ok');
    });
  });

  describe('options refused when the plugin is registered', () => {
    const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a typo', { cookiName: 'x' }, /unknown option "cookiName": did you mean "cookieName"\?/],
      ['the other adapters’ name', { name: 'x' }, /"name": use "cookieName"/],
      ['@fastify/session’s algorithm', { algorithm: 'sha512' }, /HMAC-SHA256/],
      ['@fastify/session’s cookiePrefix', { cookiePrefix: 's:' }, /no prefix/],
      ['@fastify/secure-session’s key', { key: 'k'.repeat(32) }, /cookieSessions/],
      ['a cookie attribute at the top level', { httpOnly: false }, /use cookie\.httpOnly/],
      ['cookie.expires', { cookie: { expires: new Date() } }, /cookie\.maxAge/],
      ['cookie.signed', { cookie: { signed: false } }, /always signed/],
      // @fastify/session hands its cookie options to @fastify/cookie, which takes these two.
      ['cookie.encode', { cookie: { encode: encodeURIComponent } }, /"encode": not supported by sess: sess writes the cookie value/],
      ['cookie.decode', { cookie: { decode: decodeURIComponent } }, /"decode": not supported by sess: sess writes the cookie value/],
      ['saveUninitialized: true', { saveUninitialized: true }, /saveUninitialized must be one of false/],
      ['a cookie.maxAge under a second', { cookie: { maxAge: 500 } }, /cookie\.maxAge must be a number of ms/],
      ['a callback store', { store: { get() {}, set() {}, destroy() {} } }, /not a sess store.*taking callbacks/],
      ['a short secret', { secret: 'short' }, /32/],
      [
        '@fastify/session’s idGenerator(request), which fails without the request',
        { idGenerator: (request: FastifyRequest) => `${request.session.user === undefined ? 'new' : 'back'}-${crypto.randomUUID()}` },
        /idGenerator threw when called without arguments \(TypeError: .*\): sess calls it without the request/,
      ],
      ['a near miss of a Fastify register option', { prefx: '/api' }, /unknown option "prefx"/],
      ['fastify-plugin’s encapsulate, no register option', { encapsulate: true }, /unknown option "encapsulate"/],
    ];
    it.each(refusals)('%s', async (_, options, message) => {
      const app = Fastify();
      app.register(session, { secret: SECRET, ...options } as SessionOptions);
      const error = await app.ready().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(SessConfigError);
      expect((error as Error).message).toMatch(message);
    });

    it('a second registration where request.session is already decorated (a parent scope has it) is refused with a SessConfigError saying why', async () => {
      const app = Fastify();
      await app.register(session, { secret: SECRET });
      app.register(async (child) => {
        await child.register(session, { secret: SECRET, cookieName: 'other' } as SessionOptions);
      });
      const error = await app.ready().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(SessConfigError);
      expect((error as Error).message).toMatch(/request\.session is already decorated/);
    });

    const registerOptions = { prefix: '/api', logLevel: 'fatal', logSerializers: { req: () => 'req' } } as const;
    it.each([
      ['an object', { secret: SECRET, ...registerOptions }],
      ['a function of the parent', () => ({ secret: SECRET, ...registerOptions })],
    ])(
      'accepts Fastify’s own register options beside its own, given as %s, and ignores them as Fastify does for fastify-plugin',
      async (_, options) => {
        const { client } = await start(async (app) => {
          await app.register(session, options);
          app.get('/count', async (request) => (request.session.n = (request.session.n ?? 0) + 1));
        });
        expect((await client.request('/count')).body).toBe('1');
        expect((await client.request('/count')).body).toBe('2');
      },
    );

    it('accepts saveUninitialized: false and stores nothing for an untouched visitor', async () => {
      const store = memoryStore();
      const { client } = await start(async (app) => {
        await app.register(session, { secret: SECRET, store, saveUninitialized: false });
        app.get('/', async () => 'ok');
      });
      const reply = await client.request('/');
      expect([reply.setCookies, reply.headers.get('vary')]).toEqual([[], null]);
    });
  });

  describe('WebSocket hand-off route', () => {
    it('answers 503 through Fastify when the store fails', async () => {
      const { client, store } = await withSession({}, (app) => {
        app.post('/session/handoff', app.sessions.handoff);
      });
      store.failing.add('get');
      const reply = await client.post(`/session/handoff?token=${'A'.repeat(32)}`);
      expect([reply.status, JSON.parse(reply.body).message]).toEqual([503, 'Session store unavailable']);
    });
  });
});
