/**
 * h3 v1 served without a Node server (`toWebHandler`, `toPlainHandler`): h3 reads its stand-in
 * for Node's response as soon as the app's handler returns, on a store that answers at once and
 * on one that answers later.
 */
import {
  createApp,
  createError,
  createRouter,
  eventHandler,
  send,
  sendError,
  setResponseStatus,
  toNodeListener,
  toPlainHandler,
  toWebHandler,
} from 'h3v1';
import type { App, AppOptions } from 'h3v1';
import { describe, expect, it } from 'vitest';
import { Client, SECRET, closedAfterEach, cookiesNamed, listen } from '@sess/adapter-test';
import { SessConfigError } from '@sess/core';
import type { Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import * as v1 from '../src/v1.js';
import { captureFrameworkLogs } from './logs.js';

declare module '../src/v1.js' {
  interface SessionData {
    n?: number;
  }
}

type Op = 'get' | 'set' | 'destroy' | 'touch';

/**
 * The memory store answering as it does (`sync`: at once, but `destroy` by a promise) or only by
 * promises (`async`, as Redis does), with failures to inject.
 */
function testStore(answer: 'sync' | 'async') {
  const inner = memoryStore({ sweepIntervalMs: 0 });
  const failing = new Set<Op>();
  const calls: Op[] = [];
  const call = <T>(op: Op, run: () => T): T | Promise<T> => {
    calls.push(op);
    if (failing.has(op)) {
      const error = new Error(`injected ${op} failure`);
      if (answer === 'sync') throw error;
      return Promise.reject(error);
    }
    return answer === 'sync' ? run() : Promise.resolve().then(run);
  };
  const store: Store & { readonly failing: Set<Op>; readonly calls: Op[]; readonly size: number } = {
    name: `${answer} memory`,
    capabilities: inner.capabilities,
    failing,
    calls,
    get size() {
      return inner.size;
    },
    get: (id) => call('get', () => inner.get(id)),
    set: (id, record, ttlMs, changes) => call('set', () => inner.set(id, record, ttlMs, changes)),
    destroy: (id) => call('destroy', () => inner.destroy(id)) as Promise<void>,
    touch: (id, meta, ttlMs) => call('touch', () => inner.touch(id, meta, ttlMs)),
  };
  return store;
}

function appWith(store: Store, options: AppOptions = {}): App {
  const app = createApp(options);
  app.use(v1.session({ secret: SECRET, store }));
  const router = createRouter();
  const write = async (event: Parameters<typeof v1.useSession>[0]) => {
    const s = await v1.useSession(event);
    s.data.n = (s.data.n ?? 0) + 1;
  };
  router.get(
    '/write',
    eventHandler(async (event) => {
      await write(event);
      return 'written';
    }),
  );
  router.get(
    '/read',
    eventHandler(async (event) => `n=${(await v1.useSession(event)).data.n}`),
  );
  router.get(
    '/regenerate',
    eventHandler(async (event) => {
      await (await v1.useSession(event)).regenerate();
      return 'regenerated';
    }),
  );
  router.get(
    '/destroy',
    eventHandler(async (event) => {
      await (await v1.useSession(event)).destroy();
      return 'destroyed';
    }),
  );
  router.get(
    '/stream',
    eventHandler(async (event) => {
      await write(event);
      return new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('streamed')), c.close()) });
    }),
  );
  router.get(
    '/unauthorized',
    eventHandler(async (event) => {
      await write(event);
      throw createError({ statusCode: 401, statusMessage: 'sign in again' });
    }),
  );
  router.get(
    '/failing',
    eventHandler(async (event) => {
      await write(event);
      throw createError({ statusCode: 500, statusMessage: 'it broke' });
    }),
  );
  app.use(router);
  return app;
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly cookies: readonly string[];
}
type Send = (path: string, cookie?: string) => Promise<Reply>;

/** A request through `toWebHandler` or `toPlainHandler`, answered as status, body and Set-Cookie lines. */
function sender(kind: 'web' | 'plain', app: App): Send {
  if (kind === 'web') {
    const handle = toWebHandler(app);
    return async (path, cookie) => {
      const response = await handle(new Request(`http://localhost${path}`, { headers: cookie ? { cookie } : {} }));
      return { status: response.status, body: await response.text(), cookies: response.headers.getSetCookie() };
    };
  }
  const handle = toPlainHandler(app);
  return async (path, cookie) => {
    const { status, headers, body } = await handle({ method: 'GET', path, headers: cookie ? { cookie } : {} });
    const text = body instanceof ReadableStream ? await new Response(body).text() : String(body ?? '');
    return { status, body: text, cookies: headers.filter(([name]) => name === 'set-cookie').map(([, value]) => value) };
  };
}

/** The `sid=...` pair a reply sets, if any. */
const sid = (reply: Reply) => reply.cookies.find((line) => line.startsWith('sid='))?.split(';')[0];
const deletesSid = (reply: Reply) => reply.cookies.some((line) => line.startsWith('sid=') && /max-age=0/i.test(line));

describe.each(['web', 'plain'] as const)('h3 v1 %s handler', (kind) => {
  describe.each(['sync', 'async'] as const)('on a store answering %s', (answer) => {
    function start() {
      const store = testStore(answer);
      return { store, send: sender(kind, v1.awaitSessions(appWith(store))) };
    }

    it('a new session write carries the cookie, and is saved before the response is returned', async () => {
      const { store, send } = start();
      const reply = await send('/write');
      expect([reply.status, reply.body]).toEqual([200, 'written']);
      expect(sid(reply)).toBeDefined();
      expect(store.size).toBe(1);
      const read = await send('/read', sid(reply));
      expect([read.status, read.body, read.cookies]).toEqual([200, 'n=1', []]);
    });

    it('regenerate sends the new id and drops the old record; destroy deletes the record and the cookie', async () => {
      const { store, send } = start();
      const first = sid(await send('/write'));
      const regenerated = await send('/regenerate', first);
      expect([regenerated.status, regenerated.body]).toEqual([200, 'regenerated']);
      const second = sid(regenerated);
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      expect(store.size).toBe(1);
      expect((await send('/read', second)).body).toBe('n=1');
      expect((await send('/read', first)).body).toBe('n=undefined');
      const destroyed = await send('/destroy', second);
      expect([destroyed.status, destroyed.body, deletesSid(destroyed)]).toEqual([200, 'destroyed', true]);
      expect(store.size).toBe(0);
    });

    it('a stream h3 hands over as it is carries the cookie of the write before it', async () => {
      const { store, send } = start();
      const reply = await send('/stream');
      expect([reply.status, reply.body]).toEqual([200, 'streamed']);
      expect(sid(reply)).toBeDefined();
      expect(store.size).toBe(1);
    });

    it('a thrown error after a write commits as its status and carries the cookie', async () => {
      const { store, send } = start();
      const capture = captureFrameworkLogs();
      const reply = await send('/unauthorized');
      capture.stop();
      expect(reply.status).toBe(401);
      expect(sid(reply)).toBeDefined();
      expect(store.size).toBe(1);
    });

    it('a failed save answers 503, never a 2xx with the write lost, for an answer or a stream', async () => {
      const { store, send } = start();
      store.failing.add('set');
      const capture = captureFrameworkLogs();
      const replies = [await send('/write'), await send('/stream'), await send('/unauthorized')];
      const logged = capture.stop();
      expect(replies.map(({ status }) => status)).toEqual([503, 503, 503]);
      expect(replies.map(({ body }) => JSON.parse(body).statusCode)).toEqual([503, 503, 503]);
      expect(replies.map(sid)).toEqual([undefined, undefined, undefined]);
      expect(logged.length).toBeGreaterThan(0);
      expect(store.size).toBe(0);
    });

    describe("the app's onError answering a thrown error (Nitro always has one)", () => {
      /** `/write` stores `n: 1` first; `/unauthorized` (401) and `/failing` (500) add one more before they throw. */
      async function signedIn(onError: NonNullable<AppOptions['onError']>) {
        const store = testStore(answer);
        const send = sender(kind, v1.awaitSessions(appWith(store, { onError })));
        const cookie = sid(await send('/write'));
        return { store, request: (path: string) => send(path, cookie), n: async () => (await send('/read', cookie)).body };
      }

      it('with a 5xx for a 4xx, the 5xx goes out with nothing written', async () => {
        const { request, n } = await signedIn((_, event) => sendError(event, createError({ statusCode: 500 })));
        const reply = await request('/unauthorized');
        expect([reply.status, reply.cookies]).toEqual([500, []]);
        expect(await n()).toBe('n=1');
      });

      it('with a 200 page for a 5xx, the session commits as the 200 the client receives', async () => {
        const { request, n } = await signedIn((_, event) => (setResponseStatus(event, 200), send(event, 'sorry')));
        const reply = await request('/failing');
        expect([reply.status, reply.body]).toEqual([200, 'sorry']);
        expect(await n()).toBe('n=2');
      });

      it("that leaves the answer to h3, the session commits as the error's status; a failed save answers 503", async () => {
        const seen: number[] = [];
        const { store, request, n } = await signedIn((error) => void seen.push(error.statusCode));
        const capture = captureFrameworkLogs();
        const reply = await request('/unauthorized');
        expect(reply.status).toBe(401);
        expect(await n()).toBe('n=2');
        store.failing.add('set');
        const failed = await request('/unauthorized');
        capture.stop();
        expect([failed.status, JSON.parse(failed.body).statusCode, seen]).toEqual([503, 503, [401, 401]]);
        store.failing.clear();
        expect(await n()).toBe('n=2');
      });
    });

    it('an app not wrapped by awaitSessions is refused with a SessConfigError before any store call', async () => {
      const store = testStore(answer);
      const send = sender(kind, appWith(store));
      const capture = captureFrameworkLogs();
      const reply = await send('/write');
      const logged = capture.stop();
      expect(reply.status).toBe(500);
      expect(sid(reply)).toBeUndefined();
      expect(store.calls).toEqual([]);
      const [error] = logged.map(({ error }) => (error as { cause?: unknown }).cause);
      expect(error).toBeInstanceOf(SessConfigError);
      expect((error as Error).message).toMatch(/awaitSessions\(app\)/);
    });
  });
});

describe('awaitSessions', () => {
  const servers = closedAfterEach();

  it('leaves an app on a Node server as it was, and wraps an app once', async () => {
    const store = testStore('async');
    const app = appWith(store);
    const { handler } = v1.awaitSessions(app);
    expect(v1.awaitSessions(app).handler).toBe(handler);
    const served = await listen(toNodeListener(app));
    servers.push(served);
    const client = new Client(served.url);
    const reply = await client.request('/write');
    expect([reply.status, reply.body, cookiesNamed(reply, 'sid')]).toMatchObject([200, 'written', [expect.any(String)]]);
    expect((await client.request('/read')).body).toBe('n=1');
  });

  it('marks the cookie Secure when toWebHandler is given an https request, as a TLS socket would', async () => {
    const handle = toWebHandler(v1.awaitSessions(appWith(testStore('sync'))));
    const cookieOf = async (url: string) => (await handle(new Request(url))).headers.getSetCookie().find((line) => line.startsWith('sid='));
    expect(await cookieOf('https://example.test/write')).toMatch(/; Secure/i);
    expect(await cookieOf('http://example.test/write')).not.toMatch(/; Secure/i);
  });
});
