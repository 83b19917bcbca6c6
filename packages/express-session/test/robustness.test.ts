/**
 * The wire format against the real peer, and what a request or a handler can throw at the
 * middleware: forged and malformed cookies, handlers that fail, values JSON can't hold. The
 * process stays up, every request gets an answer, and nothing is written behind a 5xx.
 */
import { createRequire } from 'node:module';
import type { RequestHandler } from 'express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { Client, SECRET, SHORT_SECRET, closedAfterEach, listen, serve, session, sessionCookie } from './helpers.js';

const servers = closedAfterEach();
const real = createRequire(import.meta.url)('express-session') as (options: object) => RequestHandler;
const ID = 'a-fixed-session-id-of-32-chars-xy';

/** The Set-Cookie line an app on `middleware` sends for a new session whose id is `ID`. */
async function firstCookie(middleware: RequestHandler): Promise<string | undefined> {
  const app = express();
  app.use(middleware);
  app.get('/', (req, res) => {
    (req.session as unknown as { views: number }).views = 1;
    res.send('ok');
  });
  const served = await listen(app);
  servers.push(served);
  return sessionCookie((await new Client(served.url).request('/')).setCookies);
}

describe('the wire format', () => {
  it.each([SECRET, SHORT_SECRET])('is byte for byte express-session’s cookie for the same id and secret (%s)', async (secret) => {
    const options = { secret, genid: () => ID, resave: false, saveUninitialized: false };
    const theirs = await firstCookie(real(options));
    const ours = await firstCookie(session(options));
    expect(ours).toBe(theirs);
    expect(ours).toMatch(/^connect\.sid=s%3Aa-fixed-session-id-of-32-chars-xy\.[A-Za-z0-9%]+; Path=\/; HttpOnly$/);
  });
});

describe('what a request can send', () => {
  it.each([
    ['an unsigned id', `connect.sid=${ID}`],
    ['a signature of another secret', 'connect.sid=s%3Aa-fixed-session-id-of-32-chars-xy.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a bad escape', 'connect.sid=s%3A%E0%A4%A'],
    ['no dot', 'connect.sid=s%3Aabcdef'],
    ['a path-like id', 'connect.sid=s%3A..%2F..%2Fetc%2Fpasswd.x'],
    ['__proto__ and duplicates', '__proto__=1; connect.sid=; connect.sid=s%3A'],
    ['a huge value', `connect.sid=s%3A${'a'.repeat(8_000)}.x`],
  ])('%s: a new session, and the stored one left alone', async (_, cookie) => {
    const store = new session.MemoryStore();
    const { url } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: false }, (app) =>
      app.get('/', (req, res) => res.send(String((req.session as unknown as { user?: string }).user))),
    );
    store.sessions[ID] = JSON.stringify({ cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, user: 'ada' });
    const reply = await new Client(url).request('/', { headers: { cookie } });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('undefined');
    expect(Object.keys(store.sessions)).toEqual([ID]);
  });
});

describe('what a handler can do', () => {
  it('throw after changing the session: Express answers 500, and nothing is written', async () => {
    const store = new session.MemoryStore();
    const { client } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: false }, (app) =>
      app.get('/', (req) => {
        (req.session as unknown as { user: string }).user = 'half signed in';
        throw new Error('database down');
      }),
    );
    const reply = await client.request('/');
    expect(reply.status).toBe(500);
    expect(reply.body).toBe('error: database down');
    expect(store.sessions).toEqual({});
    expect(sessionCookie(reply.setCookies)).toBeUndefined();
  });

  it('end the session (cookie.maxAge = 0) and then throw: Express answers 500, the record stays, the cookie too', async () => {
    const store = new session.MemoryStore();
    const { client } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: false }, (app) => {
      app.post('/login', (req, res) => {
        (req.session as unknown as { user: string }).user = 'ada';
        res.send('ok');
      });
      app.post('/logout', (req) => {
        (req.session as session.Session).cookie.maxAge = 0;
        throw new Error('audit log down');
      });
      app.get('/me', (req, res) => res.send(String((req.session as unknown as { user?: string }).user)));
    });
    await client.post('/login');
    const before = JSON.stringify(store.sessions);
    const reply = await client.post('/logout');
    expect(reply.status).toBe(500);
    expect(JSON.stringify(store.sessions)).toBe(before);
    expect(sessionCookie(reply.setCookies)).toBeUndefined();
    expect((await client.request('/me')).body).toBe('ada');
  });

  it('put a value JSON cannot hold in the session: an error answer, nothing written, the process up', async () => {
    const store = new session.MemoryStore();
    const { client, url } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: false }, (app) => {
      app.get('/bigint', (req, res) => {
        (req.session as unknown as { big: bigint }).big = 1n;
        res.send('ok');
      });
      app.get('/', (_req, res) => res.send('still here'));
    });
    expect((await client.request('/bigint')).status).toBe(500);
    expect(store.sessions).toEqual({});
    expect((await new Client(url).request('/')).body).toBe('still here');
  });

  it('replace req.session with a plain object: its properties are the data', async () => {
    const store = new session.MemoryStore();
    const { client } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: false }, (app) => {
      app.get('/replace', (req, res) => {
        (req as unknown as { session: object }).session = { user: 'ada' };
        res.send('ok');
      });
      app.get('/', (req, res) => res.send(String((req.session as unknown as { user?: string }).user)));
    });
    await client.request('/replace');
    expect((await client.request('/')).body).toBe('ada');
  });

  it('send many requests at once on one session: each answered, the session intact', async () => {
    const { client } = await serve(servers, express, { secret: SECRET, resave: false, saveUninitialized: false }, (app) =>
      app.get('/', (req, res) => {
        const data = req.session as unknown as { hits?: number };
        data.hits = (data.hits ?? 0) + 1;
        res.send(String(data.hits));
      }),
    );
    await client.request('/');
    const replies = await Promise.all(Array.from({ length: 20 }, () => client.request('/')));
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    expect(Number((await client.request('/')).body)).toBeGreaterThan(1);
  });

  it('hand in a stand-in response ({}), as WebSocket upgrades do: the session loads, and save() writes', async () => {
    const store = new session.MemoryStore();
    const middleware = session({ secret: SECRET, store, resave: false, saveUninitialized: false }) as unknown as (
      req: unknown,
      res: unknown,
      next: (error?: unknown) => void,
    ) => void;
    const served = await listen((req, res) => {
      middleware(req, {}, (error) => {
        if (error) return res.end('error');
        const current = (req as unknown as { session: session.Session & { user?: string } }).session;
        current.user = 'on a socket';
        current.save((saved) => res.end(saved ? 'error' : (req as unknown as { sessionID: string }).sessionID));
      });
    });
    servers.push(served);
    const id = (await new Client(served.url).request('/')).body;
    expect(JSON.parse(store.sessions[id] as string)).toMatchObject({ user: 'on a socket' });
  });

  it.each(['save', 'regenerate', 'reload', 'destroy'] as const)(
    'throw from a %s() callback: the error reaches Express, the request is answered, the process stays up',
    async (method) => {
      const { client } = await serve(servers, express, { secret: SECRET, resave: false, saveUninitialized: true }, (app) =>
        app.get('/', (req) => {
          req.session[method](() => {
            throw new Error(`${method} callback failed`);
          });
        }),
      );
      const uncaught: unknown[] = [];
      const listener = (error: unknown) => uncaught.push(error);
      process.on('uncaughtException', listener);
      try {
        const reply = await client.request('/');
        expect([reply.status, reply.body]).toEqual([500, `error: ${method} callback failed`]);
      } finally {
        process.off('uncaughtException', listener);
      }
      expect(uncaught).toEqual([]);
    },
  );

  it('regenerate through the store, as express-session lets a handler: req.session is new', async () => {
    const { client } = await serve(servers, express, { secret: SECRET, resave: false, saveUninitialized: false }, (app) =>
      app.get('/', (req, res, next) => {
        const before = req.sessionID;
        req.sessionStore.regenerate(req as never, (error) => (error ? next(error) : res.json(req.sessionID !== before)));
      }),
    );
    expect((await client.request('/')).body).toBe('true');
  });
});

describe('what a store can hold', () => {
  // Records written by another app or an old version, with a cookie express-session never writes.
  it.each([
    ['originalMaxAge a string', { originalMaxAge: '3600000', expires: null }],
    ['originalMaxAge an object', { originalMaxAge: {}, expires: null }],
    ['originalMaxAge NaN-like text and expires not a date', { originalMaxAge: 'soon', expires: 'not a date' }],
    ['expires an object', { originalMaxAge: null, expires: {} }],
  ])('a stored cookie with %s: touch() works and maxAge reads as a browser-session cookie', async (_, lifetime) => {
    const store = new session.MemoryStore();
    const { client } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: true }, (app) => {
      app.get('/start', (_req, res) => res.send('ok'));
      app.get('/touch', (req, res) => res.send(String(req.session.touch() === req.session)));
      app.get('/max-age', (req, res) => res.json(req.session.cookie.maxAge));
    });
    await client.request('/start');
    const [id] = Object.keys(store.sessions) as [string];
    store.sessions[id] = JSON.stringify({ cookie: { ...lifetime, httpOnly: true, path: '/' }, user: 'ada' });
    const touched = await client.request('/touch');
    expect([touched.status, touched.body]).toEqual([200, 'true']);
    store.sessions[id] = JSON.stringify({ cookie: { ...lifetime, httpOnly: true, path: '/' }, user: 'ada' });
    const read = await client.request('/max-age');
    expect([read.status, read.body]).toEqual([200, 'null']);
  });

  it('a stored cookie whose expires is a number of ms: read as that date', async () => {
    const store = new session.MemoryStore();
    const { client } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: true }, (app) => {
      app.get('/start', (_req, res) => res.send('ok'));
      app.get('/max-age', (req, res) => res.json(req.session.cookie.maxAge));
    });
    await client.request('/start');
    const [id] = Object.keys(store.sessions) as [string];
    const hour = 3_600_000;
    store.sessions[id] = JSON.stringify({ cookie: { originalMaxAge: hour, expires: Date.now() + hour, httpOnly: true, path: '/' } });
    const read = await client.request('/max-age');
    expect(read.status).toBe(200);
    expect(Number(read.body)).toBeGreaterThan(hour - 60_000);
    expect(Number(read.body)).toBeLessThanOrEqual(hour);
  });
});
