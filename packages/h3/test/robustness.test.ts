/**
 * What an app can get wrong, on both majors: options refused at construction with advice, and
 * handler output that Node or h3 refuses answered as it is without sess (same status, same
 * error in the app's `onError`), never a crash or a request left hanging.
 */
import { H3, HTTPError, fromNodeHandler, toNodeHandler } from 'h3';
import type { H3Event } from 'h3';
import { createApp, eventHandler, fromNodeMiddleware, toNodeListener } from 'h3v1';
import type { App as AppV1, H3Event as H3EventV1 } from 'h3v1';
import type { ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessConfigError, cookieSessions, type Store } from '@sess/core';
import { Client, closedAfterEach, fakeClock, inspectableStore, keptAliveAnswers, largeBody, listen, SECRET } from '@sess/adapter-test';
import { memoryStore, session, useSession } from '../src/index.js';
import * as v1 from '../src/v1.js';
import { captureFrameworkLogs, describeError } from './logs.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}
declare module '../src/v1.js' {
  interface SessionData {
    n?: number;
  }
}

const servers = closedAfterEach();

/**
 * With the store's writes failing, every request on one kept-alive connection gets the 503 and
 * the connection closes with it, so none is reset (h3 logs the cut stream the handler passes on).
 */
async function expectOnly503Close(served: Awaited<ReturnType<typeof listen>>, store: ReturnType<typeof inspectableStore>): Promise<void> {
  servers.push(served);
  store.failing.add('set');
  const capture = captureFrameworkLogs();
  try {
    // h3 v1's error shape, and v2's (`statusText`).
    const statusText = (body: string) => {
      const answer = JSON.parse(body) as { statusMessage?: string; statusText?: string };
      return answer.statusMessage ?? answer.statusText ?? '';
    };
    expect(await keptAliveAnswers(served.url, 40, statusText)).toEqual(['503 close Service Unavailable']);
  } finally {
    capture.stop();
  }
}

/**
 * A Node handler piping a large body: a 503 cuts the stream short, which it takes for a client
 * that went away, and destroys the socket.
 */
function pipesThenDestroysOnCut(
  req: { readonly socket: { destroy(): void } },
  res: NodeJS.WritableStream,
  next: (error?: Error) => void,
): void {
  pipeline(Readable.from(largeBody()), res, (error) => {
    if (error) req.socket.destroy();
    next(error ?? undefined);
  });
}

const entries = [
  ['@sess/h3', (options?: unknown) => session(options as never)],
  ['@sess/h3/v1', (options?: unknown) => v1.session(options as never)],
] as const;

describe.each(entries)('options of %s, checked once at construction', (_, make) => {
  const refuses = (options: unknown, message: RegExp) => {
    expect(() => make(options)).toThrow(SessConfigError);
    expect(() => make(options)).toThrow(message);
  };

  it('refuses a missing or non-object options argument with SessConfigError, not a TypeError', () => {
    refuses(undefined, /needs an options object, got undefined/);
    refuses(null, /needs an options object, got null/);
    refuses(SECRET, /needs an options object, got string/);
  });

  it('refuses an unknown option, suggesting the close one or listing the known ones', () => {
    refuses({ secret: SECRET, rolinng: true }, /unknown option "rolinng": did you mean "rolling"\?/);
    refuses({ secret: SECRET, MaxAge: 60 }, /unknown option "MaxAge": did you mean "maxAge"\?/);
    refuses({ secret: SECRET, zzzzzzzzzz: 1 }, /unknown option "zzzzzzzzzz": known options: secret, store, name, maxAge, .*asyncContext/);
  });

  it("names the sess equivalent of each option of h3's useSession that sess does not take", () => {
    refuses({ password: SECRET }, /unknown option "password": sess calls it "secret"/);
    refuses({ secret: SECRET, idleTimeout: 60 }, /"idleTimeout": .*"idleTimeoutMs", in milliseconds/);
    refuses({ secret: SECRET, sessionHeader: 'x-session' }, /"sessionHeader": .*cookie only/);
    refuses({ secret: SECRET, seal: {} }, /"seal": .*signed id.*cookieSessions/);
    refuses({ secret: SECRET, legacySealFallback: false }, /"legacySealFallback": .*sealed/);
    refuses({ secret: SECRET, crypto: globalThis.crypto }, /"crypto": .*node:crypto/);
    refuses({ secret: SECRET, genid: () => 'x' }, /"genid": sess calls it "generateId"/);
    refuses({ secret: SECRET, maxAgeMs: 60_000 }, /"maxAgeMs": .*"maxAge" in seconds/);
    refuses({ secret: SECRET, trustProxy: true }, /"trustProxy": .*"proxy: true"/);
  });

  it('checks the cookie options: an object, known keys (with hints), and their words', () => {
    refuses({ secret: SECRET, cookie: false }, /cookie must be an object of cookie attributes.*got false/);
    refuses({ secret: SECRET, cookie: { httpOnyl: true } }, /cookie: unknown option "httpOnyl": did you mean "httpOnly"\?/);
    refuses({ secret: SECRET, cookie: { maxAge: 60 } }, /cookie: unknown option "maxAge": .*top-level "maxAge"/);
    refuses({ secret: SECRET, cookie: { expires: new Date() } }, /cookie: unknown option "expires": .*top-level "maxAge"/);
    refuses({ secret: SECRET, cookie: { encode: String } }, /cookie: unknown option "encode": /);
    refuses({ secret: SECRET, cookie: { chunkMaxLength: 4000 } }, /cookie: unknown option "chunkMaxLength": .*never chunked/);
    refuses({ secret: SECRET, cookie: { sameSite: 'Lax' } }, /cookie.sameSite must be one of "lax", "strict", "none", got "Lax"/);
    refuses({ secret: SECRET, cookie: { sameSite: true } }, /cookie.sameSite must be one of/);
    refuses({ secret: SECRET, cookie: { priority: 'urgent' } }, /cookie.priority must be one of "low", "medium", "high"/);
    refuses({ secret: SECRET, cookie: { secure: 'yes' } }, /cookie.secure must be one of true, false, "auto"/);
    refuses({ secret: SECRET, cookie: { httpOnly: 'false' } }, /cookie.httpOnly must be one of true, false/);
    refuses({ secret: SECRET, cookie: { partitioned: 1 } }, /cookie.partitioned must be one of true, false/);
  });

  it('checks flags and callbacks', () => {
    for (const flag of ['proxy', 'asyncContext', 'rolling', 'saveOnServerError']) {
      refuses({ secret: SECRET, [flag]: 'true' }, new RegExp(`${flag} must be one of true, false, got "true"`));
    }
    for (const callback of ['readOnly', 'clock', 'generateId', 'onEvent', 'migrate']) {
      refuses({ secret: SECRET, [callback]: true }, new RegExp(`${callback} must be a function, got true`));
    }
  });

  it("refuses a maxAge that isn't whole seconds in range or 'session'", () => {
    for (const maxAge of ['1d', 0, 0.5, -60, Number.NaN, 401 * 86_400])
      refuses({ secret: SECRET, maxAge }, /maxAge must be a number of seconds from 1 to 34560000 \(400 days\) or 'session'/);
  });

  it('refuses a store written for another library (unstorage, koa-session), naming the sess stores', () => {
    // The shapes those libraries expect: unstorage's storage and a koa-session external store.
    const unstorage = {
      hasItem() {},
      getItem() {},
      setItem() {},
      removeItem() {},
      getKeys() {},
      clear() {},
      dispose() {},
      get() {},
      set() {},
      has() {},
      del() {},
      keys() {},
    };
    const koaSession = {
      get(_key: string, _maxAge: number) {},
      set(_key: string, _session: object, _maxAge: number) {},
      destroy(_key: string) {},
    };
    for (const store of [unstorage, koaSession])
      refuses(
        { secret: SECRET, store },
        /store is not a sess store \(missing or wrong: name, capabilities.*memoryStore\(\).*redisStore\(\)/,
      );
    refuses({ secret: SECRET, store: null }, /store must be a sess store object, got null.*memoryStore\(\)/);
  });

  it('takes every option it documents', () => {
    const all = {
      secret: [SECRET],
      store: memoryStore(),
      name: '__Host-sid',
      maxAge: 'session',
      proxy: true,
      readOnly: () => false,
      asyncContext: undefined,
      idleTimeoutMs: 60_000,
      absoluteTimeoutMs: 3_600_000,
      touchAfterMs: 1_000,
      regenerateGraceMs: 1_000,
      saveOnServerError: false,
      storeTimeoutMs: 1_000,
      clock: Date.now,
      rolling: true,
      generateId: () => crypto.randomUUID(),
      cookie: { httpOnly: true, secure: true, sameSite: 'none', path: '/', partitioned: true, priority: 'high' },
      onEvent: () => {},
      migrate: (data: object) => data,
      schema: undefined,
    };
    expect(() => make(all)).not.toThrow();
    expect(() => make({ secret: SECRET, store: cookieSessions({ secret: SECRET }) })).not.toThrow();
  });
});

describe('options are read once', () => {
  it('changing the options object after construction changes nothing (h3 v2)', async () => {
    const options: { secret: string; readOnly?: unknown; asyncContext?: unknown } = { secret: SECRET, readOnly: () => false };
    const app = new H3({ silent: true });
    app.use(session(options as never));
    app.all('/**', async (event) => {
      (await useSession(event)).data.n = 1;
      return 'ok';
    });
    options.readOnly = 'not a function';
    options.asyncContext = true;
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const reply = await fetch(served.url);
    expect([reply.status, await reply.text()]).toEqual([200, 'ok']);
  });

  it('changing the options object after construction changes nothing (h3 v1)', async () => {
    const options: { secret: string; readOnly?: unknown } = { secret: SECRET, readOnly: () => false };
    const app = createApp();
    app.use(v1.session(options as never));
    app.use(
      eventHandler(async (event) => {
        (await v1.useSession(event)).data.n = 1;
        return 'ok';
      }),
    );
    options.readOnly = 'not a function';
    const served = await listen(toNodeListener(app));
    servers.push(served);
    const capture = captureFrameworkLogs();
    const reply = await fetch(served.url);
    expect([reply.status, await reply.text(), capture.stop()]).toEqual([200, 'ok', []]);
  });
});

/** A request that can't hang the test: `status: 0` with the failure's name when no answer comes. */
async function hit(url: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: (error as Error).name };
  }
}

/** Every unhandled rejection or uncaught exception while a test runs: there must be none. */
const crashes: unknown[] = [];
const crashed = (error: unknown) => void crashes.push(error);

/** One app with the session in use and one without: what each answered, what reached `onError`, what h3 logged. */
interface Outcome {
  readonly reply: { status: number; body: string };
  readonly onError: string[];
  readonly logged: string[];
}

describe('handler output that Node or h3 refuses', () => {
  beforeEach(() => {
    process.on('unhandledRejection', crashed);
    process.on('uncaughtException', crashed);
  });
  afterEach(async () => {
    // A rejection from work the response left behind surfaces once its response has closed.
    await Promise.all(servers.map((served) => served.idle()));
    process.off('unhandledRejection', crashed);
    process.off('uncaughtException', crashed);
    expect(crashes.splice(0).map(describeError)).toEqual([]);
  });

  async function outcomeV1(withSession: boolean, handler: (res: ServerResponse, event: H3EventV1) => unknown): Promise<Outcome> {
    const onError: string[] = [];
    const app: AppV1 = createApp({ onError: (error) => void onError.push(describeError(error)) });
    if (withSession) app.use(v1.session({ secret: SECRET }));
    app.use(
      eventHandler(async (event) => {
        if (withSession) (await v1.useSession(event)).data.n = 1;
        return handler(event.node.res, event);
      }),
    );
    const served = await listen(toNodeListener(app));
    servers.push(served);
    const capture = captureFrameworkLogs();
    const reply = await hit(served.url);
    return { reply, onError, logged: capture.stop().map(({ tag, error }) => `${tag} ${describeError(error)}`) };
  }

  const v1Cases: Array<[string, string, (res: ServerResponse) => unknown]> = [
    ['writeHead() with a status Node refuses', 'ERR_HTTP_INVALID_STATUS_CODE', (res) => res.writeHead(1000).end('never')],
    [
      'writeHead() with a header value Node refuses (a non-Latin-1 filename)',
      'ERR_INVALID_CHAR',
      (res) => res.writeHead(200, { 'content-disposition': 'attachment; filename="report-€.txt"' }).end('never'),
    ],
    ['end() with a chunk Node refuses', 'ERR_INVALID_ARG_TYPE', (res) => res.end(42 as never)],
    [
      'end() after a status Node refuses',
      'ERR_HTTP_INVALID_STATUS_CODE',
      (res) => {
        res.statusCode = 1000;
        res.end('never');
      },
    ],
    [
      'setHeader() with a value Node refuses',
      'ERR_INVALID_CHAR',
      (res) => res.setHeader('content-disposition', 'attachment; filename="€.txt"'),
    ],
  ];

  it.each(v1Cases)('h3 v1, Node response: %s answers as without sess', async (_, code, handler) => {
    const without = await outcomeV1(false, handler);
    const withSession = await outcomeV1(true, handler);
    expect(without).toEqual({
      reply: { status: 500, body: expect.stringContaining('"statusCode": 500') },
      onError: [code],
      logged: [`[h3] ${code}`],
    });
    expect(withSession).toEqual(without);
  });

  it('h3 v1: direct Node output that Node accepts is replayed unchanged after the commit, each callback called once', async () => {
    let callbacks = 0;
    const app = createApp();
    app.use(v1.session({ secret: SECRET }));
    app.use(
      eventHandler(async (event) => {
        (await v1.useSession(event)).data.n = 1;
        const { res } = event.node;
        res.writeHead(201, 'Made', { 'content-type': 'text/plain', 'x-direct': ['a', 'b'] });
        res.write('one,', () => void callbacks++);
        res.write(Buffer.from('two,'), 'utf8', () => void callbacks++);
        res.end('three', () => void callbacks++);
      }),
    );
    const served = await listen(toNodeListener(app));
    servers.push(served);
    const reply = await fetch(served.url, { signal: AbortSignal.timeout(3_000) });
    expect([reply.status, reply.statusText, reply.headers.get('x-direct'), await reply.text()]).toEqual([
      201,
      'Made',
      'a, b',
      'one,two,three',
    ]);
    expect(reply.headers.getSetCookie()).toEqual([expect.stringMatching(/^sid=/)]);
    await served.idle();
    expect(callbacks).toBe(3);
  });

  it('h3 v1: a failed store write under a Node handler piping its body closes the connection with the 503, so a handler that destroys the socket on its cut stream resets no next request on it', async () => {
    const store = inspectableStore(fakeClock());
    const app = createApp();
    app.use(v1.session({ secret: SECRET, store }));
    app.use(
      eventHandler(async (event) => {
        (await v1.useSession(event)).data.n = 1;
      }),
    );
    app.use(fromNodeMiddleware(pipesThenDestroysOnCut));
    await expectOnly503Close(await listen(toNodeListener(app)), store);
  });

  it.each([
    ['', false],
    [" (the app's onError answering inside the request)", true],
  ])(
    'h3 v2: a failed store write under a Node handler (fromNodeHandler) piping its body closes the connection with the 503%s, so a handler that destroys the socket on its cut stream resets no next request on it',
    async (_, asyncContext) => {
      const store = inspectableStore(fakeClock());
      const app = new H3({ silent: true, ...(asyncContext && { onError: () => undefined }) });
      app.use(session({ secret: SECRET, store, asyncContext }));
      app.use(async (event) => {
        (await useSession(event)).data.n = 1;
      });
      app.get('/', fromNodeHandler(pipesThenDestroysOnCut));
      await expectOnly503Close(await listen(toNodeHandler(app)), store);
    },
  );

  /** A wrapper another library installed before sess, which refuses the chunk 'refused'. */
  const refusingWrapper = eventHandler((event) => {
    const { res } = event.node;
    const { end, write } = res;
    res.end = function refusing(this: ServerResponse, ...args: unknown[]) {
      if (args[0] === 'refused') throw new Error('wrapper refused end');
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['end'];
    res.write = function refusing(this: ServerResponse, ...args: unknown[]) {
      if (args[0] === 'refused') throw new Error('wrapper refused write');
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as ServerResponse['write'];
  });

  /** `/end` ends with the refused chunk; `/write` writes one chunk, then the refused one. */
  async function refusedOutput(store: Store | undefined, paths = ['/end', '/write']) {
    const app = createApp();
    app.use(refusingWrapper);
    if (store !== undefined) app.use(v1.session({ secret: SECRET, store }));
    app.use(
      eventHandler(async (event) => {
        if (store !== undefined) (await v1.useSession(event)).data.n = 1;
        const { res } = event.node;
        if (event.path === '/end') res.end('refused');
        else {
          res.write('sent');
          res.write('refused');
          res.end();
        }
      }),
    );
    const served = await listen(toNodeListener(app));
    servers.push(served);
    const capture = captureFrameworkLogs();
    const ended = await hit(`${served.url}/end`);
    const streamed = paths.includes('/write') ? await hit(`${served.url}/write`) : undefined;
    return { ended, streamed, logs: capture.stop().map(({ tag, error }) => `${tag} ${describeError(error)}`) };
  }

  it('h3 v1: output a wrapped Node method refuses only once replayed answers 500, or ends the connection once headers went out', async () => {
    // A store that answers with a promise: the output is held, and refused when replayed.
    const { ended, streamed, logs } = await refusedOutput(inspectableStore(fakeClock()));
    expect(ended).toEqual({
      status: 500,
      body: JSON.stringify({ statusCode: 500, statusMessage: 'Internal Server Error', message: 'Internal Server Error' }),
    });
    expect(streamed?.status).toBe(0);
    expect(logs).toEqual(['[@sess/h3/v1] wrapper refused end', '[@sess/h3/v1] wrapper refused write']);
  });

  it('h3 v1: on a store that answers at once, output a wrapped Node method refuses is answered as without sess', async () => {
    // Nothing is held: the refusal is thrown in the handler, where h3 answers it itself. (Past
    // the headers, h3 v1 leaves such a response open, with or without sess: not checked here.)
    const without = await refusedOutput(undefined, ['/end']);
    const withSess = await refusedOutput(memoryStore(), ['/end']);
    expect(withSess.ended).toEqual(without.ended);
    expect(withSess.ended.status).toBe(500);
    expect(withSess.logs).toEqual(without.logs);
  });

  async function outcomeV2(withSession: boolean, handler: (event: H3Event) => unknown, store?: Store): Promise<Outcome> {
    const onError: string[] = [];
    const app = new H3({ silent: true, onError: (error) => void onError.push(describeError(error)) });
    if (withSession) app.use(session({ secret: SECRET, ...(store && { store }) }));
    app.all('/route/**', async (event) => {
      if (withSession) (await useSession(event)).data.n = 1;
      return handler(event);
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const capture = captureFrameworkLogs();
    const reply = await hit(`${served.url}/route/`);
    return { reply, onError, logged: capture.stop().map(({ tag, error }) => `${tag} ${describeError(error)}`) };
  }

  const nodeRes = (event: H3Event) => event.runtime?.node?.res as ServerResponse;
  const v2Cases: Array<[string, number, string[], (event: H3Event) => unknown]> = [
    [
      'Node response: writeHead() with a status Node refuses',
      500,
      ['ERR_HTTP_INVALID_STATUS_CODE'],
      (event) => nodeRes(event).writeHead(1000),
    ],
    [
      'Node response: setHeader() with a value Node refuses',
      500,
      ['ERR_INVALID_CHAR'],
      (event) => nodeRes(event).setHeader('content-disposition', 'attachment; filename="€.txt"'),
    ],
    ['a returned Error', 500, ['returned, not thrown'], () => new Error('returned, not thrown')],
    ['a returned value h3 cannot serialize', 500, ['Do not know how to serialize a BigInt'], () => ({ n: 1n })],
    [
      'a thrown error carrying a status',
      409,
      ['conflict'],
      () => Promise.reject(Object.assign(new Error('conflict'), { statusCode: 409 })),
    ],
  ];

  it.each(v2Cases)('h3 v2: %s answers as without sess and reaches onError', async (_, status, errors, handler) => {
    const without = await outcomeV2(false, handler);
    const withSession = await outcomeV2(true, handler);
    expect(without).toMatchObject({ reply: { status }, onError: errors, logged: [] });
    expect(withSession).toEqual(without);
  });

  it('h3 v2: a thrown error carrying a 4xx status commits as that status, so the session is saved', async () => {
    const app = new H3({ silent: true });
    app.use(session({ secret: SECRET }));
    app.all('/**', async (event) => {
      (await useSession(event)).data.n = 1;
      throw Object.assign(new Error('conflict'), { statusCode: 409 });
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    const reply = await fetch(served.url);
    expect(reply.status).toBe(409);
    expect(reply.headers.getSetCookie()).toEqual([expect.stringMatching(/^sid=/)]);
  });

  it.each<[string, (event: H3Event) => unknown]>([
    [
      'set on event.res',
      (event) => {
        event.res.headers.set('x-control', 'a\u0001b');
        return 'never';
      },
    ],
    ['on a returned Response', () => new Response('never', { headers: { 'content-disposition': 'attachment; filename="a\u0007.txt"' } })],
  ])(
    'h3 v2: a header value Headers accept but Node refuses (%s) fails in srvx as without sess, with nothing saved behind the 500',
    async (_, handler) => {
      const store = inspectableStore(fakeClock());
      const without = await outcomeV2(false, handler);
      const withSession = await outcomeV2(true, handler, store);
      expect(without).toEqual({
        reply: { status: 500, body: '' },
        onError: [],
        logged: ['[srvx] Failed to send response: ERR_INVALID_CHAR'],
      });
      expect(withSession).toEqual(without);
      expect(store.calls.set).toBe(0);
    },
  );

  it.each<[string, (event: H3Event) => never]>([
    [
      "a thrown HTTPError's own headers",
      () => {
        throw new HTTPError({ status: 401, headers: { 'www-authenticate': 'Basic realm="a\u0001"' } });
      },
    ],
    [
      "a thrown Error's headers, which h3 answers it with",
      () => {
        throw Object.assign(new Error('upstream'), { statusCode: 409, headers: { 'x-upstream': 'a\u0007' } });
      },
    ],
    [
      'event.res.errHeaders',
      (event) => {
        event.res.errHeaders.set('x-control', 'a\u0001b');
        throw new HTTPError({ status: 403 });
      },
    ],
  ])(
    'h3 v2 without onError: a header value Node refuses in %s fails in srvx as a 500, with the stored session left as it was',
    async (_, fail) => {
      const store = inspectableStore(fakeClock());
      const app = new H3({ silent: true });
      app.use(session({ secret: SECRET, store }));
      app.get('/login', async (event) => ((await useSession(event)).data.n = 1));
      app.get('/n', async (event) => String((await useSession(event)).data.n));
      app.get('/fail', async (event) => {
        (await useSession(event)).data.n = 2;
        return fail(event);
      });
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      const client = new Client(served.url);
      await client.request('/login');
      const capture = captureFrameworkLogs();
      const failed = await client.request('/fail');
      const logged = capture.stop().map(({ tag, error }) => `${tag} ${describeError(error)}`);
      expect([failed.status, failed.setCookies, logged]).toEqual([500, [], ['[srvx] Failed to send response: ERR_INVALID_CHAR']]);
      expect(store.calls.set).toBe(1);
      expect((await client.request('/n')).body).toBe('1');
    },
  );

  it('h3 v2: Response.error() fails in srvx as without sess, with nothing saved behind the 500', async () => {
    const store = inspectableStore(fakeClock());
    const without = await outcomeV2(false, () => Response.error());
    const withSession = await outcomeV2(true, () => Response.error(), store);
    expect(without).toEqual({
      reply: { status: 500, body: '' },
      onError: [],
      logged: ['[srvx] Failed to send response: ERR_HTTP_INVALID_STATUS_CODE'],
    });
    expect(withSession).toEqual(without);
    expect(store.calls.set).toBe(0);
  });

  const bytes = () => new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode('x')) });
  it.each<[string, () => Response | Promise<Response>]>([
    [
      'already read',
      async () => {
        const response = new Response('read');
        await response.text();
        return response;
      },
    ],
    [
      'locked by a reader',
      () => {
        const response = new Response(bytes());
        response.body?.getReader();
        return response;
      },
    ],
  ])('h3 v2: a returned Response whose body is %s fails in srvx as without sess, with nothing saved', async (_, handler) => {
    const store = inspectableStore(fakeClock());
    const without = await outcomeV2(false, handler);
    const withSession = await outcomeV2(true, handler, store);
    expect(without).toEqual({
      reply: { status: 0, body: 'TypeError' },
      onError: [],
      logged: ['[srvx] Failed to send response: ERR_INVALID_STATE'],
    });
    expect(withSession).toEqual(without);
    expect(store.calls.set).toBe(0);
  });

  it.each<[string, unknown, number]>([
    ['a string', 'not an Error', 500],
    ['an object carrying a status', { status: 418 }, 500],
    ['undefined', undefined, 500],
    ['a number', 409, 409],
  ])('h3 v2: a thrown non-Error (%s) reaches onError as the HTTPError h3 makes of it, as without sess', async (_, thrown, status) => {
    const handler = () => Promise.reject(thrown);
    const without = await outcomeV2(false, handler);
    const withSession = await outcomeV2(true, handler);
    expect(without).toMatchObject({ reply: { status }, onError: [expect.any(String)], logged: [] });
    expect(withSession).toEqual(without);
  });

  it("h3 v2: a returned value becomes the body h3 makes of it, pretty-printed JSON under the app's debug too", async () => {
    const body = async (withSession: boolean, debug: boolean) => {
      const app = new H3({ silent: true, debug });
      if (withSession) app.use(session({ secret: SECRET }));
      app.get('/', async (event) => {
        if (withSession) (await useSession(event)).data.n = 1;
        return { n: 1 };
      });
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      return (await hit(served.url)).body;
    };
    for (const debug of [false, true]) expect(await body(true, debug)).toBe(await body(false, debug));
    expect(await body(true, true)).toBe('{\n  "n": 1\n}');
  });

  it('h3 v2: no matching route reaches onError as a 404, as without sess', async () => {
    const outcome = async (withSession: boolean) => {
      const onError: string[] = [];
      const app = new H3({ silent: true, onError: (error) => void onError.push(String(error.status)) });
      if (withSession) app.use(session({ secret: SECRET }));
      app.get('/here', () => 'here');
      const served = await listen(toNodeHandler(app));
      servers.push(served);
      return { status: (await hit(`${served.url}/elsewhere`)).status, onError };
    };
    expect(await outcome(true)).toEqual(await outcome(false));
    expect(await outcome(true)).toEqual({ status: 404, onError: ['404'] });
  });
});

describe('h3 v1: a thrown non-Error', () => {
  /**
   * What one thrown value came to: the answer the client got (`null`: none), whether the server
   * ever sent one, `onError`, h3's log, the process's crashes, and the store's writes.
   */
  interface Thrown {
    readonly reply: { status: number; body: string; cookies: string[] } | null;
    readonly headersSent: boolean;
    readonly onError: string[];
    readonly logged: string[];
    readonly crashes: string[];
    readonly writes: number;
  }

  /**
   * One request to a handler that throws `thrown`: without sess, or after writing or only
   * reading a session an earlier request saved. h3 giving up a request it never answers shows as
   * its listener's rejection reaching the process, which ends the wait instead of a timeout.
   */
  async function thrownV1(session: 'none' | 'write' | 'read', thrown: unknown): Promise<Thrown> {
    const store = inspectableStore(fakeClock());
    const onError: string[] = [];
    const app = createApp({ onError: (error) => void onError.push(describeError(error)) });
    if (session !== 'none') app.use(v1.session({ secret: SECRET, store }));
    app.use(
      eventHandler(async (event) => {
        if (session === 'none') throw thrown;
        const s = await v1.useSession(event);
        if (event.path === '/login') return String((s.data.n = 1));
        if (session === 'write') s.data.n = 2;
        else void s.data.n;
        throw thrown;
      }),
    );
    const listener = toNodeListener(app);
    let last: ServerResponse | undefined;
    const served = await listen((req, res) => {
      last = res;
      // Left unhandled, as a Node server leaves it.
      void listener(req, res);
    });
    servers.push(served);
    const login = session === 'none' ? undefined : await fetch(`${served.url}/login`, { signal: AbortSignal.timeout(3_000) });
    const cookie = login?.headers.getSetCookie()[0]?.split(';')[0] ?? '';
    const before = store.calls.set + store.calls.touch;

    const crashes: unknown[] = [];
    let gaveUp = () => {};
    const crashed = (error: unknown) => {
      crashes.push(error);
      gaveUp();
    };
    process.on('unhandledRejection', crashed);
    process.on('uncaughtException', crashed);
    const capture = captureFrameworkLogs();
    try {
      const abort = new AbortController();
      const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(3_000)]);
      const answered = fetch(`${served.url}/throw`, { signal, headers: { cookie } }).then(async (response) => ({
        status: response.status,
        body: await response.text(),
        cookies: response.headers.getSetCookie(),
      }));
      const given = new Promise<null>((resolve) => (gaveUp = () => resolve(null)));
      const reply = await Promise.race([answered, given]);
      if (reply === null) {
        // Nothing answers the request now, with or without sess: the client stops waiting.
        abort.abort();
        await answered.catch(() => {});
      }
      await served.idle();
      return {
        reply,
        headersSent: last?.headersSent ?? false,
        onError,
        logged: capture.stop().map(({ tag, error }) => `${tag} ${describeError(error)}`),
        crashes: crashes.map(describeError),
        writes: store.calls.set + store.calls.touch - before,
      };
    } finally {
      capture.stop();
      process.off('unhandledRejection', crashed);
      process.off('uncaughtException', crashed);
    }
  }

  const answered500 = (error: string): Thrown => ({
    reply: { status: 500, body: expect.stringContaining('"statusCode": 500'), cookies: [] },
    headersSent: true,
    onError: [error],
    logged: [`[h3] ${error}`],
    crashes: [],
    writes: 0,
  });

  it.each<[string, unknown, Thrown]>([
    ['a string', 'boom', answered500('boom')],
    // h3 keeps the number as its error's cause, which has no message.
    ['a number', 42, answered500('undefined')],
    ['an Error, for reference', new Error('failed'), answered500('failed')],
  ])('%s reaches onError as the 500 h3 makes of it, as without sess, with nothing saved', async (_, thrown, expected) => {
    const without = await thrownV1('none', thrown);
    expect(without).toEqual(expected);
    expect(await thrownV1('write', thrown)).toEqual(without);
    expect(await thrownV1('read', thrown)).toEqual(without);
  });

  // h3 v1's own error handling fails on these: its createError reads `.message` off the thrown
  // value, so its listener rejects before answering or calling onError. A v1 middleware runs
  // before the handler, not around it, so sess can neither cause nor catch this.
  it.each<[string, unknown, string]>([
    ['undefined', undefined, "Cannot read properties of undefined (reading 'message')"],
    ['null', null, "Cannot read properties of null (reading 'message')"],
  ])('%s fails in h3 as without sess, unanswered and unhandled, with nothing saved', async (_, thrown, failure) => {
    const without = await thrownV1('none', thrown);
    expect(without).toEqual({ reply: null, headersSent: false, onError: [], logged: [], crashes: [failure], writes: 0 });
    expect(await thrownV1('write', thrown)).toEqual(without);
    expect(await thrownV1('read', thrown)).toEqual(without);
  });
});
