/**
 * What a request or a config can get wrong: a handler's own bad output answers as it would
 * without sess (and never takes the process down), writeHead's headers join the session's,
 * `req.session` prints like an object, and every option is checked once, at construction.
 */
import { get as httpGet } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import express5 from 'express';
import type { ErrorRequestHandler, Express, NextFunction, RequestHandler } from 'express';
import express4 from 'express4';
import { afterAll, describe, expect, it } from 'vitest';
import { SessConfigError, cookieSessions } from '@sess/core';
import type { SessionRecord, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { callbackStore, session } from '../src/index.js';
import type { CallbackStore, SessionOptions } from '../src/index.js';
import {
  Client,
  closedAfterEach,
  cookiesNamed,
  escapesWatched,
  fakeClock,
  inspectableStore,
  keptAliveAnswers,
  largeBody,
  listen,
  SECRET,
} from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
  }
}

const servers = closedAfterEach();

/** express-session, as its users install it; its types would redeclare `req.session`, so it is loaded untyped. */
const expressSession = createRequire(import.meta.url)('express-session') as ((options: object) => RequestHandler) & {
  MemoryStore: new () => { set(...args: unknown[]): void };
  Store: new () => object;
};

/** Whatever escapes to the process: with sess as without, there must be nothing. */
const escaped = escapesWatched();

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const served = await listen(handler);
  servers.push(served);
  return served.url;
}

/** The status of GET `path`; 'aborted' when the connection dies before the body ends, 'hung' after 2 s without an answer. */
function outcome(url: string, path: string): Promise<number | 'aborted' | 'hung'> {
  return new Promise((resolve) => {
    // A connection of its own: one that an earlier answer's error closed is never reused.
    const request = httpGet(`${url}${path}`, { agent: false }, (response) => {
      response.resume();
      response.on('close', () => resolve(response.complete ? (response.statusCode as number) : 'aborted'));
    });
    request.on('error', () => resolve('aborted'));
    request.setTimeout(2_000, () => {
      resolve('hung');
      request.destroy();
    });
  });
}

/** A file larger than a held write's high-water mark, so its stream is still running when the save fails. */
const largeFileContent = Buffer.concat([...largeBody()]);
const largeFile = join(mkdtempSync(join(tmpdir(), 'sess-express-')), 'report.bin');
writeFileSync(largeFile, largeFileContent);
afterAll(() => rmSync(dirname(largeFile), { recursive: true, force: true }));

const touch = (req: { session?: { views?: number } }) => {
  if (req.session !== undefined) req.session.views = (req.session.views ?? 0) + 1;
};

/** Handlers whose own output Node refuses; the `-session` ones change the session first. */
const badOutput: Record<string, RequestHandler> = {
  '/bad-value': (_req, res) => {
    res.writeHead(200, { 'Content-Disposition': 'attachment; filename="naïve…✓.txt"' }).end('x');
  },
  '/bad-value-session': (req, res) => {
    touch(req);
    res.writeHead(200, { 'Content-Disposition': 'attachment; filename="naïve…✓.txt"' }).end('x');
  },
  '/bad-name': (_req, res) => {
    res.writeHead(200, { 'Bad Name': 'x' }).end('x');
  },
  '/bad-array-session': (req, res) => {
    touch(req);
    res.writeHead(200, ['X-Lonely']).end('x');
  },
  '/status-1000': (_req, res) => {
    res.writeHead(1000).end();
  },
  '/status-text-session': (req, res) => {
    touch(req);
    res.writeHead('abc' as never).end();
  },
  '/status-999-session': (req, res) => {
    touch(req);
    res.writeHead(999).end('odd but legal');
  },
  '/bad-reason-session': (req, res) => {
    touch(req);
    res.writeHead(200, 'O\nK').end('x');
  },
  '/bad-write-session': (req, res) => {
    touch(req);
    res.write('a');
    res.write(123 as never);
  },
};

describe.each([
  ['Express 4', express4],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  function app(options: Partial<SessionOptions> | undefined, routes: (app: Express) => void): Express {
    const app = express();
    if (options !== undefined) app.use(session({ secret: SECRET, store: memoryStore(), ...options }));
    routes(app);
    return app;
  }

  it("a handler's output that Node refuses answers exactly as on bare Express, and nothing reaches the process", async () => {
    const routes = (app: Express) => {
      for (const [path, handler] of Object.entries(badOutput)) app.get(path, handler);
      app.get('/count', (req, res) => {
        touch(req);
        res.send(`views ${req.session.views}`);
      });
    };
    const withSess = await serve(app({}, routes));
    const bare = await serve(app(undefined, routes));
    for (const path of Object.keys(badOutput)) {
      const expected = await outcome(bare, path);
      expect([path, await outcome(withSess, path)]).toEqual([path, expected]);
    }
    // The survey of bare Express's answers, so a change in Node or Express shows up here.
    expect(await Promise.all(Object.keys(badOutput).map((path) => outcome(bare, path)))).toEqual([
      500,
      500,
      500,
      500,
      500,
      500,
      999,
      500,
      'aborted',
    ]);
    expect((await new Client(withSess).request('/count')).body).toBe('views 1');
    await Promise.all(servers.map((served) => served.idle()));
    expect(escaped).toEqual([]);
  });

  it('a handler that answers twice while its session is saved fails into Express as on bare Express, and nothing reaches the process', async () => {
    const errors = { sess: [] as string[], bare: [] as string[] };
    const twice = (seen: string[], store?: Store) => {
      const application = express();
      // A store that answers asynchronously, as Redis does: the first answer waits for the save.
      if (store !== undefined) application.use(session({ secret: SECRET, store }));
      application.get('/twice', (req, res) => {
        touch(req);
        res.send('first');
        res.send('second answer');
      });
      application.get('/caught', (req, res) => {
        touch(req);
        res.send('first');
        try {
          res.set('X-Second', '1').send('second answer');
        } catch (error) {
          seen.push(`caught ${(error as { code: string }).code}`);
        }
      });
      application.use(((error, _req, _res, next) => {
        seen.push((error as { code: string }).code);
        next(error);
      }) as ErrorRequestHandler);
      return application;
    };
    const store = inspectableStore(fakeClock());
    const withSess = await serve(twice(errors.sess, store));
    const bare = await serve(twice(errors.bare));
    expect(await outcome(bare, '/twice')).toBe(200);
    expect(await outcome(withSess, '/twice')).toBe(200);
    // Express's final handler finds the headers gone and ends the connection: while the save is
    // still under way, the held first answer goes with it (without sess it had left already).
    store.hanging.add('set');
    expect(await outcome(withSess, '/twice')).toBe('aborted');
    store.hanging.delete('set');
    for (const url of [bare, withSess]) {
      const reply = await new Client(url).request('/caught');
      expect([reply.status, reply.body, reply.headers.get('content-length'), reply.headers.get('x-second')]).toEqual([
        200,
        'first',
        '5',
        null,
      ]);
    }
    expect(cookiesNamed(await new Client(withSess).request('/caught'), 'sid')).toHaveLength(1);
    expect(errors.bare).toEqual(['ERR_HTTP_HEADERS_SENT', 'caught ERR_HTTP_HEADERS_SENT']);
    expect(errors.sess).toEqual([
      'ERR_HTTP_HEADERS_SENT',
      'ERR_HTTP_HEADERS_SENT',
      'caught ERR_HTTP_HEADERS_SENT',
      'caught ERR_HTTP_HEADERS_SENT',
    ]);
    expect(store.calls.set).toBe(4);
    await Promise.all(servers.map((served) => served.idle()));
    expect(escaped).toEqual([]);
  });

  it("a handler that answers, then passes an error to next, loses its held answer to Express's final handler, as with express-session (README)", async () => {
    // A store write that ends after Express's final handler has run, as a network store's can:
    // here, once the connection has closed.
    let closed: Promise<void> = Promise.resolve();
    const answerThenFail: RequestHandler = (req, res, next) => {
      closed = new Promise((resolve) => req.socket.once('close', () => resolve()));
      touch(req);
      res.send('ok');
      next(new Error('late'));
    };
    const late = (middleware?: RequestHandler) => {
      const application = express();
      if (middleware !== undefined) application.use(middleware);
      application.get('/late', answerThenFail);
      return application;
    };
    const inner = memoryStore();
    const store: Store = { ...inner, set: async (...args) => (await closed, inner.set(...args)) };
    const legacyStore = new expressSession.MemoryStore();
    const legacySet = legacyStore.set.bind(legacyStore);
    legacyStore.set = (...args: unknown[]) => void closed.then(() => legacySet(...args));
    const legacy = expressSession({ secret: SECRET, resave: false, saveUninitialized: false, store: legacyStore });

    expect(await outcome(await serve(late()), '/late')).toBe(200);
    // The final handler finds the headers sent (the answer is held, so they act as sent) and
    // closes the connection before the save ends: the held answer never leaves. express-session
    // has sent all but the answer's last byte by then.
    expect(await outcome(await serve(late(session({ secret: SECRET, store }))), '/late')).toBe('aborted');
    expect(await outcome(await serve(late(legacy)), '/late')).toBe('aborted');
    await Promise.all(servers.map((served) => served.idle()));
    expect(escaped).toEqual([]);
  });

  it('output a stream sends after its save failed, before an async error handler answers, goes out as the 5xx, never a 2xx', async () => {
    const inner = memoryStore();
    let saveCalled!: () => void;
    const saving = new Promise<void>((resolve) => (saveCalled = resolve));
    let failSave!: () => void;
    const store: Store = {
      ...inner,
      name: 'fails when told',
      capabilities: inner.capabilities,
      set: () =>
        new Promise((_, reject) => {
          failSave = () => reject(new Error('store down'));
          saveCalled();
        }),
    };
    const source = new PassThrough();
    let reached!: () => void;
    const errorReached = new Promise<void>((resolve) => (reached = resolve));
    let answer!: () => void;
    const answerNow = new Promise<void>((resolve) => (answer = resolve));
    const application = app({ store }, (app) => {
      app.get('/stream', (req, res) => {
        touch(req);
        source.pipe(res);
        source.write('first;');
      });
      // An error handler that logs somewhere first, and answers a moment later.
      app.use(((_error, _req, res, _next) => {
        reached();
        void answerNow.then(() => {
          if (!res.headersSent) res.status(503).send('store down');
        });
      }) as ErrorRequestHandler);
    });
    const client = new Client(await serve(application));
    const reply = client.request('/stream');
    await saving;
    failSave();
    await errorReached;
    // The handler does not know its save failed: its stream goes on.
    source.end('late');
    const done = await reply.finally(answer);
    expect(done.status).toBe(503);
    expect(cookiesNamed(done, 'sid')).toEqual([]);
    expect(inner.size).toBe(0);
    await Promise.all(servers.map((served) => served.idle()));
    expect(escaped).toEqual([]);
  });

  it("a failed save's error answer drops the headers that described the held body (was a 503 marked gzip, as an attachment, that no client could read)", async () => {
    const store = inspectableStore(fakeClock());
    const application = app({ store }, (app) => {
      app.get('/report', (req, res) => {
        touch(req);
        res.set('ETag', '"v1"');
        res
          .writeHead(200, {
            'Content-Encoding': 'gzip',
            'Content-Type': 'application/pdf',
            'Content-Disposition': 'attachment; filename="r.pdf"',
          })
          .end(gzipSync('%PDF-1.7'));
      });
      app.use(((error, _req, res, _next) => {
        res.status((error as { statusHint?: number }).statusHint ?? 500).send('store down');
      }) as ErrorRequestHandler);
    });
    const client = new Client(await serve(application));
    expect((await client.request('/report')).headers.get('content-encoding')).toBe('gzip');
    store.failing.add('set');
    const failed = await client.request('/report');
    expect([failed.status, failed.body, failed.headers.get('content-type')]).toEqual([503, 'store down', 'text/html; charset=utf-8']);
    expect(['content-encoding', 'content-disposition', 'etag'].map((name) => [name, failed.headers.get(name)])).toEqual([
      ['content-encoding', null],
      ['content-disposition', null],
      // Express's own, for the error body.
      ['etag', expect.not.stringMatching(/"v1"/)],
    ]);
  });

  // A hundred requests that each read a 256 KiB file: under a second alone, past five on a loaded machine.
  const DOWNLOADS_TIMEOUT_MS = 20_000;
  it(
    'a failed save under res.download / res.sendFile with a callback answers every request on a kept-alive connection with the 503 (was a reset of every other one: the cut file reached the callback as a client abort, and Express destroyed the socket the next request was on)',
    async () => {
      const store = inspectableStore(fakeClock());
      const forward = (next: NextFunction) => (error?: Error) => {
        if (error) next(error);
      };
      const application = app({ store }, (app) => {
        app.get('/download', (req, res, next) => {
          touch(req);
          res.download(largeFile, 'report.bin', forward(next));
        });
        app.get('/send-file', (req, res, next) => {
          touch(req);
          res.sendFile(largeFile, forward(next));
        });
        // The usual error handler: one that finds the headers gone leaves the request to Express.
        app.use(((error, _req, res, next) => {
          if (res.headersSent) return next(error);
          res.status((error as { statusHint?: number }).statusHint ?? 500).send('store down');
        }) as ErrorRequestHandler);
      });
      const url = await serve(application);
      const client = new Client(url);
      const saved = await client.request('/download');
      expect([saved.status, saved.body.length, saved.headers.get('content-disposition')]).toEqual([
        200,
        largeFileContent.length,
        expect.stringMatching(/^attachment; filename="?report\.bin"?$/),
      ]);
      store.failing.add('set');
      for (const path of ['/download', '/send-file']) {
        const failed = await client.request(path);
        expect([path, failed.status, failed.body, failed.headers.get('content-type'), failed.headers.get('content-disposition')]).toEqual([
          path,
          503,
          'store down',
          'text/html; charset=utf-8',
          null,
        ]);
        // Each answer closes its connection: one left open would be reset under the next request.
        expect([path, await keptAliveAnswers(`${url}${path}`, 50)]).toEqual([path, ['503 close store down']]);
      }
      await Promise.all(servers.map((served) => served.idle()));
      expect(escaped).toEqual([]);
    },
    DOWNLOADS_TIMEOUT_MS,
  );

  it('a handler can catch its own bad writeHead and answer instead, as without sess', async () => {
    const withSess = await serve(
      app({}, (app) =>
        app.get('/fallback', (req, res) => {
          touch(req);
          try {
            res.writeHead(200, { 'Content-Disposition': 'attachment; filename="naïve…✓.txt"' });
          } catch {
            res.writeHead(200, { 'Content-Disposition': 'attachment; filename="naive.txt"' });
          }
          res.end('file');
        }),
      ),
    );
    const reply = await new Client(withSess).request('/fallback');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-disposition')).toBe('attachment; filename="naive.txt"');
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
  });

  it("writeHead's Set-Cookie and Vary (object form) join the session's cookie and Vary: Cookie", async () => {
    const { client } = await start(
      app({}, (app) =>
        app.get('/object', (req, res) => {
          touch(req);
          res.writeHead(200, { 'Set-Cookie': 'a=1', Vary: 'Accept', 'Content-Type': 'text/plain' }).end('ok');
        }),
      ),
    );
    const reply = await client.request('/object');
    expect(reply.body).toBe('ok');
    expect(reply.setCookies).toContain('a=1');
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toBe('Accept, Cookie');
    expect(reply.headers.get('content-type')).toBe('text/plain');
  });

  it("writeHead's raw header array keeps its duplicates and the session's cookie and Vary", async () => {
    const { client } = await start(
      app({}, (app) =>
        app.get('/array', (req, res) => {
          touch(req);
          res.writeHead(201, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Vary', 'Accept']).end('ok');
        }),
      ),
    );
    const reply = await client.request('/array');
    expect(reply.status).toBe(201);
    expect(reply.setCookies.slice(0, 2)).toEqual(['a=1', 'b=2']);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toBe('Accept, Cookie');
  });

  it("a session-named Set-Cookie passed to writeHead wins over the session's own (cookieAlreadySet)", async () => {
    const { client } = await start(
      app({}, (app) => {
        app.get('/own-object', (req, res) => {
          touch(req);
          res.writeHead(200, { 'Set-Cookie': 'sid=from-app; Path=/' }).end('app');
        });
        app.get('/own-array', (req, res) => {
          touch(req);
          res.writeHead(200, ['Set-Cookie', 'x=1', 'Set-Cookie', 'sid=from-app; Path=/']).end('app');
        });
      }),
    );
    expect((await client.request('/own-object')).setCookies).toEqual(['sid=from-app; Path=/']);
    expect((await client.request('/own-array')).setCookies).toEqual(['x=1', 'sid=from-app; Path=/']);
  });

  it('String(), template literals, util.inspect and JSON.stringify show req.session, and reading them writes nothing', async () => {
    let saves = 0;
    const inner = memoryStore();
    const store: Store = { ...inner, set: (...args) => (saves++, inner.set(...args)) };
    let afterResponse!: (printed: string) => void;
    const printedAfterResponse = new Promise<string>((resolve) => (afterResponse = resolve));
    const { client } = await start(
      app({ store }, (app) => {
        app.get('/fill', (req, res) => {
          req.session.views = 1;
          req.session.user = 'ada';
          res.send('filled');
        });
        app.get('/print', (req, res) => {
          res.on('finish', () => afterResponse(inspect(req.session)));
          res.json({
            string: String(req.session),
            template: `${req.session}`,
            tag: Object.prototype.toString.call(req.session),
            inspect: inspect(req.session),
            nested: inspect({ session: req.session }, { depth: 0 }),
            json: JSON.stringify(req.session),
          });
        });
      }),
    );
    await client.request('/fill');
    expect(saves).toBe(1);
    const reply = await client.request('/print');
    expect(JSON.parse(reply.body)).toEqual({
      string: '[object Session]',
      template: '[object Session]',
      tag: '[object Session]',
      inspect: "Session { views: 1, user: 'ada' }",
      nested: '{ session: [Session] }',
      json: '{"views":1,"user":"ada"}',
    });
    expect(reply.setCookies).toEqual([]);
    expect(saves).toBe(1);
    // Logged once the response is committed, it shows the data it committed.
    expect(await printedAfterResponse).toBe("Session { views: 1, user: 'ada' }");
  });

  it('works on a plain node:http server (no Express prototype): no request hangs, cookie and Vary merge', async () => {
    const middleware = session({ secret: SECRET });
    const url = await serve((req, res) =>
      middleware(req as never, res as never, (error?: unknown) => {
        if (error !== undefined) {
          res.statusCode = 500;
          res.end('error');
          return;
        }
        const visit = req as unknown as { url: string; session: { views?: number } };
        if (visit.url === '/plain') return void res.end('plain');
        const views = (visit.session.views ?? 0) + 1;
        visit.session.views = views;
        res.setHeader('Vary', 'Accept');
        res.writeHead(200, { 'Set-Cookie': 'a=1' });
        res.end(`views ${views}`);
      }),
    );
    expect(await outcome(url, '/plain')).toBe(200);
    const client = new Client(url);
    const first = await client.request('/count', { signal: AbortSignal.timeout(2_000) });
    expect(first.body).toBe('views 1');
    expect(first.setCookies[0]).toBe('a=1');
    expect(cookiesNamed(first, 'sid')).toHaveLength(1);
    expect(first.headers.get('vary')).toBe('Accept, Cookie');
    expect((await client.request('/count', { signal: AbortSignal.timeout(2_000) })).body).toBe('views 2');
    expect(escaped).toEqual([]);
  });

  it('a hand-off whose slow store read ends after a timeout middleware answered reaches Express, not the process', async () => {
    const inner = memoryStore();
    let answerFirst: (() => Promise<void>) | undefined;
    const store: Store = {
      ...inner,
      name: 'slow to read',
      capabilities: inner.capabilities,
      // The read of the token outlives the request: the app's timeout answers first.
      get: async (id) => {
        await answerFirst?.();
        return inner.get(id);
      },
      set: (...args) => inner.set(...args),
      destroy: (id) => inner.destroy(id),
    };
    const sessions = session({ secret: SECRET, store });
    const application = express();
    application.use((_req, res, next) => {
      answerFirst = () => new Promise((finished) => res.status(503).send('timed out').once('finish', finished));
      next();
    });
    application.use(sessions);
    application.post('/session/handoff', sessions.handoff);
    let reached: (error: unknown) => void = () => {};
    const handled = new Promise((resolve) => (reached = resolve));
    application.use(((error, _req, _res, next) => {
      reached(error);
      next(error);
    }) as ErrorRequestHandler);
    const url = await serve(application);
    const { handoff } = await sessions.socket({ headers: {}, socket: {} } as IncomingMessage).use((data) => {
      data.views = 1;
    });
    let onEscapeHere: (reason: unknown) => void = () => {};
    const escaping = new Promise((resolve) => process.once('unhandledRejection', (onEscapeHere = resolve)));
    const reply = await new Client(url).post(`/session/handoff?token=${handoff}`);
    expect([reply.status, reply.body]).toEqual([503, 'timed out']);
    expect(await Promise.race([handled.then(() => 'handled'), escaping.then(() => 'escaped')])).toBe('handled');
    process.off('unhandledRejection', onEscapeHere);
    expect(escaped).toEqual([]);
  });

  it('a destroy() neither awaited nor given a callback, whose delete fails, takes nothing down, as with express-session (was an unhandled rejection)', async () => {
    // express-session's sign-out idioms: destroy() without a callback, before or after the answer.
    const signOut = (application: Express) => {
      application.get('/in', (req, res) => {
        touch(req);
        res.send('in');
      });
      application.get('/out', (req, res) => {
        req.session.destroy();
        res.redirect('/');
      });
      application.get('/out-after', (req, res) => {
        res.redirect('/');
        req.session.destroy();
      });
      // An app that awaits still hears the failure.
      application.get('/out-awaited', async (req, res, next) => {
        try {
          await req.session.destroy();
          res.redirect('/');
        } catch (error) {
          next(error);
        }
      });
      application.use(((error, _req, res, _next) => {
        res.status((error as { statusHint?: number }).statusHint ?? 500).send('sign-out failed');
      }) as ErrorRequestHandler);
      return application;
    };
    const store = inspectableStore(fakeClock());
    const events: string[] = [];
    const sess = await serve(signOut(app({ store, onEvent: (event) => void events.push(event.type) }, () => {})));
    const legacyStore = new expressSession.MemoryStore() as unknown as { destroy(sid: string, callback?: (error: Error) => void): void };
    legacyStore.destroy = (_sid, callback) => void (callback && setImmediate(callback, new Error('store down')));
    const legacyApp = express();
    legacyApp.use(expressSession({ secret: SECRET, resave: false, saveUninitialized: false, store: legacyStore }));
    const legacy = await serve(signOut(legacyApp));
    for (const url of [sess, legacy]) {
      for (const path of ['/out', '/out-after']) {
        const client = new Client(url);
        await client.request('/in');
        store.failing.add('destroy');
        expect([url === sess ? 'sess' : 'express-session', path, (await client.request(path)).status]).toEqual([
          url === sess ? 'sess' : 'express-session',
          path,
          302,
        ]);
        store.failing.delete('destroy');
      }
    }
    const client = new Client(sess);
    await client.request('/in');
    store.failing.add('destroy');
    expect((await client.request('/out-awaited')).status).toBe(503);
    await Promise.all(servers.map((served) => served.idle()));
    expect(escaped.splice(0)).toEqual([]);
    // The failures the app did not hear are still told.
    expect(events.filter((type) => type === 'storeError')).toHaveLength(3);
  });

  it("an error handler that reads req.session?.user after the store failed to load answers its own page, as with express-session, which leaves req.session undefined (was a SessUsageError from the read, and Express's default page)", async () => {
    const store = inspectableStore(fakeClock());
    const seen: unknown[] = [];
    const application = app({ store, unset: 'destroy' }, (app) => {
      app.get('/in', (req, res) => {
        req.session.user = 'ada';
        res.send('in');
      });
      app.get('/page', (req, res) => {
        touch(req);
        res.send('page');
      });
      app.use(((error, req, res, _next) => {
        seen.push(req.session?.user, req.sessionID);
        // express-session's sign-out idiom, which must not destroy a session the store could not read.
        if (req.query.out !== undefined) (req as { session: unknown }).session = null;
        res.status((error as { statusHint?: number }).statusHint ?? 500).send(`sorry ${req.session?.user ?? 'visitor'}`);
      }) as ErrorRequestHandler);
    });
    const client = new Client(await serve(application));
    await client.request('/in');
    store.failing.add('get');
    const reply = await client.request('/page');
    expect([reply.status, reply.body, reply.setCookies]).toEqual([503, 'sorry visitor', []]);
    expect(seen).toEqual([undefined, undefined]);
    const out = await client.request('/page?out');
    expect([out.status, out.body, out.setCookies]).toEqual([503, 'sorry visitor', []]);
    expect(seen).toHaveLength(4);
    store.failing.delete('get');
    // Nothing was written or destroyed: the session is there as it was.
    expect([store.calls.set, store.calls.destroy]).toEqual([1, 0]);
    expect((await client.request('/page')).body).toBe('page');
    await Promise.all(servers.map((served) => served.idle()));
    expect(escaped).toEqual([]);
  });
});

async function start(app: Express) {
  const url = await serve(app);
  return { client: new Client(url), url };
}

describe('options are checked once, at construction', () => {
  const refuses = (options: unknown, message: RegExp) => {
    expect(() => session(options as SessionOptions)).toThrow(SessConfigError);
    expect(() => session(options as SessionOptions)).toThrow(message);
  };

  it('refuses a missing options object', () => {
    refuses(undefined, /session\(\) of @sess\/express needs an options object, got undefined/);
    refuses(null, /needs an options object, got null/);
  });

  it('refuses unknown options with a hint, at the top level and in cookie', () => {
    refuses({ secret: SECRET, maxAge: 1000 }, /unknown option "maxAge": use cookie\.maxAge/);
    refuses({ secret: SECRET, secure: true }, /unknown option "secure": use cookie\.secure/);
    refuses({ secret: SECRET, rollling: true }, /unknown option "rollling": did you mean "rolling"\?/);
    refuses({ secret: SECRET, saveUnitialized: false }, /did you mean "saveUninitialized"\?/);
    refuses({ secret: SECRET, cookie: { maxage: 1000 } }, /cookie.*unknown option "maxage": did you mean "maxAge"\?/);
    refuses({ secret: SECRET, cookie: { expires: new Date() } }, /cookie\.maxAge/);
  });

  it('refuses a cookie.maxAge out of range or not a number by its own name (was "maxAgeMs ..., got 3600000" for the string "3600000")', () => {
    refuses({ secret: SECRET, cookie: { maxAge: '3600000' } }, /^\[sess\] cookie\.maxAge must be .*or null.*, got "3600000"$/);
    refuses(
      { secret: SECRET, cookie: { maxAge: 500 } },
      /^\[sess\] cookie\.maxAge must be a number of ms from 1000 to 34560000000 .*, got 500$/,
    );
    refuses({ secret: SECRET, cookie: { maxAge: Number.NaN } }, /^\[sess\] cookie\.maxAge .*, got NaN$/);
    refuses({ secret: SECRET, cookie: { maxAge: 1e16 } }, /^\[sess\] cookie\.maxAge .*, got 10000000000000000$/);
    for (const maxAge of [1000, 34_560_000_000, null]) expect(() => session({ secret: SECRET, cookie: { maxAge } })).not.toThrow();
  });

  it('refuses non-functions where a function goes', () => {
    refuses({ secret: SECRET, genid: 'bogus' }, /genid must be a function, got "bogus"/);
    refuses({ secret: SECRET, readOnly: true }, /readOnly must be a function/);
    refuses({ secret: SECRET, clock: 1 }, /clock must be a function/);
    refuses({ secret: SECRET, onEvent: 'log' }, /onEvent must be a function/);
    refuses({ secret: SECRET, migrate: {} }, /migrate must be a function/);
  });

  it('refuses non-booleans where a boolean goes, and unknown words', () => {
    for (const option of ['rolling', 'resave', 'proxy', 'saveOnServerError', 'asyncContext']) {
      refuses({ secret: SECRET, [option]: 'yes' }, new RegExp(`${option} must be one of true, false, got "yes"$`));
    }
    // sess never stores a session that holds no data: true would be taken and not done.
    refuses({ secret: SECRET, saveUninitialized: true }, /saveUninitialized must be one of false, got true$/);
    refuses({ secret: SECRET, saveUninitialized: 'yes' }, /saveUninitialized must be one of false, got "yes"$/);
    refuses({ secret: SECRET, unset: 'bogus' }, /unset must be one of "keep", "destroy", got "bogus"/);
    refuses({ secret: SECRET, cookie: { sameSite: 'bogus' } }, /cookie\.sameSite must be one of true, false, "lax", "strict", "none"/);
  });

  it('refuses a store that is neither a sess store nor an express-session store, and takes both kinds', () => {
    refuses({ secret: SECRET, store: 'redis' }, /store.*express-session store/);
    refuses({ secret: SECRET, store: {} }, /store is not a sess store.*express-session store/);
    refuses({ secret: SECRET, store: { get: () => undefined } }, /store is not a sess store/);
    const legacy: CallbackStore = { get: (_id, done) => done(), set: (_id, _value, done) => done(), destroy: (_id, done) => done() };
    const stores = [
      memoryStore(),
      Object.assign(new expressSession.Store(), legacy),
      new expressSession.MemoryStore(),
      callbackStore(legacy),
      cookieSessions({ secret: 'express-robustness-cookie-secret-32-bytes' }),
    ];
    for (const store of stores) expect(() => session({ secret: SECRET, store: store as Store })).not.toThrow();
  });

  it('refuses a sess store without capabilities, and callback methods outside an express-session Store, saying what is missing and what to pass', () => {
    const inner = memoryStore();
    const promised = {
      name: 'promised',
      get: (id: string) => inner.get(id),
      set: (id: string, record: SessionRecord, ttlMs: number) => inner.set(id, record, ttlMs),
      destroy: (id: string) => inner.destroy(id),
    };
    const missingCapabilities =
      /^\[sess\] session\(\) of @sess\/express: store is not a sess store \(missing or wrong: capabilities\)\. .*its capabilities/;
    refuses({ secret: SECRET, store: promised }, missingCapabilities);
    // An EventEmitter is not enough: it takes an express-session Store to be read as one.
    refuses({ secret: SECRET, store: Object.assign(new EventEmitter(), promised) }, missingCapabilities);
    const legacy: CallbackStore = { get: (_id, done) => done(), set: (_id, _value, done) => done(), destroy: (_id, done) => done() };
    refuses(
      { secret: SECRET, store: legacy },
      /missing or wrong: name, capabilities\)\. .*extends express-session's Store.*callbackStore\(store\)/,
    );
  });

  it('refuses store: null, saying to omit it for the memory store (was a per-process memory store, silently); undefined is the default', () => {
    refuses(
      { secret: SECRET, store: null },
      /^\[sess\] session\(\) of @sess\/express: store is null: omit store \(or pass undefined\) for the default memoryStore\(\)/,
    );
    expect(() => session({ secret: SECRET, store: undefined } as unknown as SessionOptions)).not.toThrow();
  });

  it('refuses cookie: null, or anything but an object, as cookie (was the defaults, silently); undefined is the default', () => {
    refuses({ secret: SECRET, cookie: null }, /^\[sess\] cookie must be an object of cookie attributes, got null$/);
    refuses({ secret: SECRET, cookie: 'secure' }, /^\[sess\] cookie must be an object of cookie attributes, got "secure"$/);
    refuses({ secret: SECRET, cookie: [] }, /^\[sess\] cookie must be an object of cookie attributes, got \[\]$/);
    expect(() => session({ secret: SECRET, cookie: undefined } as unknown as SessionOptions)).not.toThrow();
  });

  it('callbackStore() refuses, when called, a store without get, set and destroy, a sess store, and options it does not take (was a 503 on every request, or a TypeError)', () => {
    const wrapRefuses = (store: unknown, options: unknown, message: RegExp) => {
      const wrap = () => callbackStore(store as CallbackStore, options as { name?: string });
      expect(wrap).toThrow(SessConfigError);
      expect(wrap).toThrow(message);
    };
    const legacy: CallbackStore = { get: (_id, done) => done(), set: (_id, _value, done) => done(), destroy: (_id, done) => done() };
    const where = /^\[sess\] callbackStore\(\) of @sess\/express/;
    wrapRefuses(
      {},
      undefined,
      /^\[sess\] callbackStore\(\) of @sess\/express: store cannot serve as an express-session store \(missing or wrong: get\(\), set\(\), destroy\(\)\)\. .*get\(sid, callback\)/,
    );
    wrapRefuses({ ...legacy, destroy: 'destroy' }, undefined, /: store cannot serve .*\(missing or wrong: destroy\(\)\)\./);
    wrapRefuses(null, undefined, /: store must be an express-session store object, got null\./);
    wrapRefuses(memoryStore(), undefined, /: store declares capabilities, so it is a sess store: pass it to session\(\) as it is/);
    for (const options of [null, 'name', []]) wrapRefuses(legacy, options, where);
    wrapRefuses(legacy, null, /needs an options object, got null$/);
    wrapRefuses(legacy, { nmae: 'legacy' }, /unknown option "nmae": did you mean "name"\?$/);
    wrapRefuses(legacy, { name: 42 }, /: name must be a string, got number$/);
    expect(callbackStore(legacy, { name: 'legacy' }).name).toBe('legacy');
    for (const options of [undefined, {}]) expect(() => callbackStore(legacy, options)).not.toThrow();
  });

  it('refuses an express-session Store without a method sess calls the same way as callbackStore() does, naming the method', () => {
    const { get, set } = { get: (_id: string, done: () => void) => done(), set: (_id: string, _value: object, done: () => void) => done() };
    refuses(
      { secret: SECRET, store: Object.assign(new expressSession.Store(), { get, set }) },
      /^\[sess\] session\(\) of @sess\/express: store cannot serve as an express-session store \(missing or wrong: destroy\(\)\)\. .*destroy\(sid, callback\)/,
    );
    refuses(
      { secret: SECRET, store: Object.assign(new expressSession.Store(), { get, set, destroy: true }) },
      /\(missing or wrong: destroy\(\)\)\./,
    );
  });

  it('accepts every documented option', () => {
    expect(() =>
      session({
        secret: SECRET,
        store: memoryStore(),
        name: 'app.sid',
        cookie: {
          maxAge: null,
          httpOnly: true,
          secure: 'auto',
          sameSite: true,
          path: '/',
          domain: 'example.com',
          partitioned: false,
          priority: 'high',
        },
        rolling: false,
        resave: false,
        saveUninitialized: false,
        genid: () => crypto.randomUUID(),
        proxy: true,
        unset: 'destroy',
        readOnly: () => false,
        idleTimeoutMs: 60_000,
        absoluteTimeoutMs: 3_600_000,
        touchAfterMs: 1_000,
        regenerateGraceMs: 1_000,
        saveOnServerError: false,
        storeTimeoutMs: 1_000,
        clock: Date.now,
        asyncContext: false,
        onEvent: () => {},
        migrate: (data) => data,
      }),
    ).not.toThrow();
  });
});
