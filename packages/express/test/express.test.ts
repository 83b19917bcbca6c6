import { createRequire } from 'node:module';
import express5 from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import { SessConfigError, createSigner, hashId } from '@sess/core';
import type { SessionEvent, SessionRecord, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { getSession, session } from '../src/index.js';
import type { CallbackStore, SessionOptions } from '../src/index.js';
import { Client, closedAfterEach, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    pages?: Record<string, number>;
    cart?: { items: string[]; note?: string };
  }
}

const servers = closedAfterEach();

/** express-session, as its users install it; its types would redeclare `req.session`, so it is loaded untyped. */
const expressSession = createRequire(import.meta.url)('express-session') as {
  Store: new () => object;
  MemoryStore: new () => { sessions: Record<string, string> };
};
/** A callback store as express-session's stores are written: methods on a subclass of its `Store`. */
const expressSessionStore = (methods: CallbackStore): Store => Object.assign(new expressSession.Store(), methods) as unknown as Store;

type Routes = (app: Express) => void;

const errorHandler = (error: { statusHint?: number }, _req: Request, res: Response, _next: NextFunction) => {
  res.status(error.statusHint ?? 500).send('session error');
};

describe.each([
  ['Express 4', express4],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  async function start(options: Partial<SessionOptions> = {}, routes: Routes = () => {}, configure: Routes = () => {}) {
    const store = (options.store as Store | undefined) ?? memoryStore();
    const app = express();
    configure(app);
    app.use(session({ secret: SECRET, ...options, store }));
    app.get('/count', (req, res) => {
      req.session.views = (req.session.views ?? 0) + 1;
      res.send(`views ${req.session.views}`);
    });
    app.get('/plain', (_req, res) => res.send('no session here'));
    app.post('/login', (req, res, next) => {
      req.session.regenerate((error) => {
        if (error) return next(error);
        req.session.user = 'ada';
        res.send(`hello ${req.sessionID}`);
      });
    });
    app.get('/me', (req, res) => res.send(req.session.user ?? 'nobody'));
    app.post('/logout', async (req, res, next) => {
      try {
        await req.session.destroy();
        res.redirect(303, '/');
      } catch (error) {
        next(error);
      }
    });
    routes(app);
    app.use(errorHandler);
    const served = await listen(app);
    servers.push(served);
    return { store, client: new Client(served.url), url: served.url };
  }

  it('sets a signed, HttpOnly, SameSite=Lax cookie on the first write, and nothing after', async () => {
    const { client } = await start();
    const first = await client.request('/count');
    expect(first.body).toBe('views 1');
    expect(first.setCookies).toHaveLength(1);
    expect(first.setCookies[0]).toMatch(
      /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/,
    );
    expect(first.headers.get('vary')).toMatch(/Cookie/);
    expect(first.headers.get('cache-control')).toBe('private');
    const second = await client.request('/count');
    expect(second.body).toBe('views 2');
    expect(second.setCookies).toEqual([]);
  });

  it('a route that never touches the session sends no cookie, no Vary and writes nothing', async () => {
    const { client, store } = await start();
    const reply = await client.request('/plain');
    expect(reply.setCookies).toEqual([]);
    expect(reply.headers.get('vary')).toBeNull();
    expect((store as ReturnType<typeof memoryStore>).size).toBe(0);
  });

  it('regenerate (callback form) starts an empty session under a new id, as express-session, and kills the old one', async () => {
    const { client, url } = await start();
    await client.request('/count');
    const before = client.jar.get('sid');
    const login = await client.request('/login', { method: 'POST' });
    const after = client.jar.get('sid');
    expect(after).not.toBe(before);
    expect(login.body).toBe(`hello ${after?.split('.')[0]}`);
    expect((await client.request('/me')).body).toBe('ada');
    expect((await client.request('/count')).body).toBe('views 1');
    const attacker = new Client(url);
    attacker.jar.set('sid', before as string);
    expect((await attacker.request('/me')).body).toBe('nobody');
  });

  it('regenerate() puts a new session object on req; the one it replaced reads the data it had and refuses changes; { keepData: true } keeps the data and the object', async () => {
    const { client } = await start({}, (app) => {
      app.post('/regenerate', async (req, res) => {
        const old = req.session;
        await req.session.regenerate();
        const refusals = [() => (old.user = 'mallory'), () => delete old.views, () => old.save()].map((change) => {
          try {
            change();
            return 'allowed';
          } catch (error) {
            return (error as Error).name;
          }
        });
        res.json({ same: old === req.session, old: { ...old }, views: req.session.views ?? null, refusals });
      });
      app.post('/regenerate-keeping', async (req, res) => {
        const old = req.session;
        await req.session.regenerate({ keepData: true });
        res.json({ same: old === req.session, views: req.session.views ?? null });
      });
    });
    await client.request('/count');
    const emptied = JSON.parse((await client.request('/regenerate', { method: 'POST' })).body);
    expect(emptied).toEqual({
      same: false,
      old: { views: 1 },
      views: null,
      refusals: ['SessUsageError', 'SessUsageError', 'SessUsageError'],
    });
    await client.request('/count');
    const kept = JSON.parse((await client.request('/regenerate-keeping', { method: 'POST' })).body);
    expect(kept).toEqual({ same: true, views: 1 });
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it('destroy (promise form) deletes the record and the cookie, then redirects', async () => {
    const { client, store } = await start();
    await client.request('/login', { method: 'POST' });
    const reply = await client.request('/logout', { method: 'POST' });
    expect(reply.status).toBe(303);
    expect(reply.setCookies[0]).toMatch(/^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
    expect(client.jar.has('sid')).toBe(false);
    expect((store as ReturnType<typeof memoryStore>).size).toBe(0);
  });

  it('destroy after the response has gone (res.redirect, then destroy) still signs the user out, as express-session does', async () => {
    const destroyed: Array<Promise<unknown>> = [];
    const { client, store } = await start({}, (app) => {
      app.post('/logout-late', (req, res) => {
        res.redirect(303, '/');
        destroyed.push(req.session.destroy());
      });
      app.post('/logout-late-callback', (req, res) => {
        res.redirect(303, '/');
        destroyed.push(new Promise((resolve) => req.session.destroy(resolve)));
      });
    });
    for (const route of ['/logout-late', '/logout-late-callback']) {
      await client.request('/login', { method: 'POST' });
      expect((await client.request('/me')).body).toBe('ada');
      const reply = await client.request(route, { method: 'POST' });
      expect(reply.status).toBe(303);
      await expect(destroyed.shift()).resolves.toBeFalsy();
      expect((store as ReturnType<typeof memoryStore>).size).toBe(0);
      expect((await client.request('/me')).body).toBe('nobody');
    }
  });

  it('a streamed response waits for the store write before its headers leave', async () => {
    let release!: () => void;
    let saving!: () => void;
    const saveCalled = new Promise<void>((resolve) => (saving = resolve));
    const inner = memoryStore();
    const slow: Store = {
      ...inner,
      async set(...args) {
        saving();
        await new Promise<void>((resolve) => (release = resolve));
        return inner.set(...args);
      },
    };
    const { client } = await start({ store: slow }, (app) =>
      app.get('/stream', (req, res) => {
        req.session.views = 1;
        res.write('a');
        res.write('b');
        res.end('c');
      }),
    );
    let answered = false;
    const reply = client.request('/stream').then((value) => ((answered = true), value));
    await saveCalled;
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    release();
    const done = await reply;
    expect(done.body).toBe('abc');
    expect(done.setCookies).toHaveLength(1);
    expect(await inner.get(client.jar.get('sid')?.split('.')[0] as string)).toBeDefined();
  });

  it('res.redirect after a write carries the cookie', async () => {
    const { client } = await start({}, (app) =>
      app.get('/go', (req, res) => {
        req.session.user = 'ada';
        res.redirect('/me');
      }),
    );
    const reply = await client.request('/go');
    expect(reply.status).toBe(302);
    expect(reply.setCookies).toHaveLength(1);
    expect((await client.request('/me')).body).toBe('ada');
  });

  it('a failed store write becomes a 5xx through Express error handling, never a 2xx', async () => {
    const inner = memoryStore();
    let failWrites = false;
    const flaky: Store = {
      ...inner,
      set: (...args) => (failWrites ? Promise.reject(new Error('disk on fire')) : inner.set(...args)),
    };
    const { client } = await start({ store: flaky });
    await client.request('/count');
    failWrites = true;
    const reply = await client.request('/count');
    expect(reply.status).toBe(503);
    expect(reply.body).toBe('session error');
    failWrites = false;
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it('a store that fails to load answers 503 instead of running the handler', async () => {
    const inner = memoryStore();
    const { client } = await start({ store: { ...inner, get: () => Promise.reject(new Error('down')) } as Store });
    client.jar.set('sid', createSigner(SECRET).sign('sid', 'A'.repeat(32)));
    const reply = await client.request('/count');
    expect(reply.status).toBe(503);
  });

  it("secure: 'auto' follows Express's trust proxy", async () => {
    const trusted = await start({}, undefined, (app) => app.set('trust proxy', true));
    const viaProxy = await trusted.client.request('/count', { headers: { 'x-forwarded-proto': 'https' } });
    expect(viaProxy.setCookies[0]).toMatch(/; Secure/);
    const untrusted = await start();
    const spoofed = await untrusted.client.request('/count', { headers: { 'x-forwarded-proto': 'https' } });
    expect(spoofed.setCookies[0]).not.toMatch(/; Secure/);
  });

  it('secure: true on a plain-HTTP request still sends the Secure cookie (the browser decides; see README)', async () => {
    const { client } = await start({ cookie: { secure: true } });
    const reply = await client.request('/count');
    expect(reply.setCookies[0]).toMatch(/; Secure/);
  });

  it('req.session.cookie.maxAge sets this session\u2019s lifetime; maxAge: null makes a browser-session cookie', async () => {
    const short = await start({}, (app) =>
      app.get('/short', (req, res) => {
        req.session.views = 1;
        req.session.cookie.maxAge = 60_000;
        res.send(String(req.session.cookie.maxAge));
      }),
    );
    const reply = await short.client.request('/short');
    expect(reply.body).toBe('60000');
    expect(reply.setCookies[0]).toMatch(/Max-Age=60;/);
    const browser = await start({ cookie: { maxAge: null } });
    expect((await browser.client.request('/count')).setCookies[0]).not.toMatch(/Max-Age|Expires/);
  });

  it('a cookie that ends with the browser reads maxAge and expires null, as in express-session: configured, set this request, or loaded', async () => {
    const routes = (app: Express) => {
      const read = (req: Request) => [req.session.cookie.maxAge, req.session.cookie.expires];
      app.get('/read', (req, res) => {
        req.session.views = (req.session.views ?? 0) + 1;
        res.json(read(req));
      });
      app.get('/browser', (req, res) => {
        req.session.views = 1;
        const before = read(req);
        req.session.cookie.maxAge = null;
        res.json([...before, ...read(req)]);
      });
    };
    const configured = await start({ cookie: { maxAge: null } }, routes);
    expect(JSON.parse((await configured.client.request('/read')).body)).toEqual([null, null]);
    expect(JSON.parse((await configured.client.request('/read')).body)).toEqual([null, null]);
    const set = await start({}, routes);
    expect(JSON.parse((await set.client.request('/browser')).body)).toEqual([86_400_000, expect.any(String), null, null]);
    expect(JSON.parse((await set.client.request('/read')).body)).toEqual([null, null]);
  });

  it('cookie.originalMaxAge is the configured lifetime, 24 h by default (null: until the browser closes), so setting maxAge back to it keeps it', async () => {
    const routes = (app: Express) =>
      app.get('/reset', (req, res) => {
        req.session.views = 1;
        const { cookie } = req.session;
        const original = cookie.originalMaxAge;
        cookie.maxAge = original;
        res.send(String(original));
      });
    const byDefault = await start({}, routes);
    const reply = await byDefault.client.request('/reset');
    expect([reply.body, reply.setCookies]).toEqual(['86400000', [expect.stringMatching(/; Max-Age=86400;/)]]);
    const configured = await start({ cookie: { maxAge: 60_000 } }, routes);
    expect((await configured.client.request('/reset')).body).toBe('60000');
    const browser = await start({ cookie: { maxAge: null } }, routes);
    const browserReply = await browser.client.request('/reset');
    expect([browserReply.body, browserReply.setCookies]).toEqual(['null', [expect.not.stringMatching(/Max-Age|Expires/)]]);
  });

  it("express-session's cookie idioms: cookie.expires = false is a browser-session cookie, cookie.maxAge = 0 ends the session", async () => {
    const { client } = await start({}, (app) => {
      app.get('/browser', (req, res) => {
        // express-session's documented idiom, from JavaScript (the type says `null`).
        (req.session.cookie as { expires: unknown }).expires = false;
        res.send('browser');
      });
      app.get('/end-now', (req, res) => {
        req.session.cookie.maxAge = 0;
        res.send('ended');
      });
    });
    await client.request('/count');
    const browser = await client.request('/browser');
    expect(browser.status).toBe(200);
    expect(browser.setCookies).toEqual([expect.not.stringMatching(/Max-Age|Expires/)]);
    expect((await client.request('/count')).body).toBe('views 2');
    const ended = await client.request('/end-now');
    expect(ended.setCookies).toEqual([expect.stringMatching(/^sid=[^;]*; Max-Age=0/)]);
    expect((await client.request('/count')).body).toBe('views 1');
  });

  it("req.session.cookie reads the cookie's configured attributes, defaults filled in, as the Set-Cookie carries them (was: undefined)", async () => {
    const keys = ['domain', 'path', 'secure', 'sameSite', 'httpOnly', 'partitioned', 'priority'] as const;
    const routes = (app: Express) =>
      app.get('/attributes', (req, res) => {
        req.session.views = 1;
        res.json(keys.map((key) => req.session.cookie[key] ?? null));
      });
    const cookie = {
      domain: 'example.test',
      path: '/',
      secure: true,
      sameSite: true,
      httpOnly: false,
      partitioned: true,
      priority: 'high',
    } as const;
    const configured = await (await start({ cookie }, routes)).client.request('/attributes');
    expect(JSON.parse(configured.body)).toEqual(['example.test', '/', true, 'strict', false, true, 'high']);
    expect(configured.setCookies).toEqual([
      expect.stringMatching(/; Domain=example\.test; Path=\/; Expires=[^;]*; Secure; SameSite=Strict; Partitioned; Priority=High$/),
    ]);
    const defaults = await (await start({}, routes)).client.request('/attributes');
    expect(JSON.parse(defaults.body)).toEqual([null, '/', 'auto', 'lax', true, null, null]);
    // A __Secure- cookie is always sent Secure, whatever `secure: 'auto'` would say of the request.
    const prefixed = await (await start({ name: '__Secure-sid' }, routes)).client.request('/attributes');
    expect(JSON.parse(prefixed.body)[2]).toBe(true);
    expect(prefixed.setCookies).toEqual([expect.stringMatching(/; Secure;/)]);
  });

  it('assigning a cookie attribute per request fails into the error handler naming the session() option, also from sloppy-mode code (was: silently ignored); the value it already has is accepted', async () => {
    // express-session code, as its apps write it (sloppy mode, where a refused assignment is dropped silently).
    const assign = new Function('return function(cookie, key, value) { cookie[key] = value; }')() as (
      cookie: object,
      key: string,
      value: unknown,
    ) => void;
    const changed: Record<string, unknown> = {
      domain: 'example.com',
      path: '/app',
      secure: true,
      sameSite: 'none',
      httpOnly: false,
      partitioned: true,
      priority: 'high',
    };
    const same = {
      domain: undefined,
      path: '/',
      secure: 'auto',
      sameSite: 'lax',
      httpOnly: true,
      partitioned: undefined,
      priority: undefined,
    };
    const { client } = await start({ cookie: { sameSite: false } }, (app) => {
      app.get('/assign/:key', (req, res) => {
        req.session.views = 1;
        const { key } = req.params as { key: string };
        assign(req.session.cookie, key, req.query.same === undefined ? changed[key] : (same as Record<string, unknown>)[key]);
        res.send('assigned');
      });
      app.get('/configured', (req, res) => {
        req.session.views = 1;
        // The option as written in session() is the same value too.
        assign(req.session.cookie, 'sameSite', false);
        res.send('assigned');
      });
      app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => res.status(500).send(`${error.name}: ${error.message}`));
    });
    for (const [key, value] of Object.entries(changed)) {
      const reply = await client.request(`/assign/${key}`);
      expect([reply.status, reply.setCookies]).toEqual([500, []]);
      expect(reply.body).toMatch(/^SessUsageError: \[sess\] req\.session\.cookie\.\w+ can't be set per request/);
      expect(reply.body).toContain(`session({ cookie: { ${key}: ${JSON.stringify(value)} } })`);
    }
    expect((await client.request('/assign/secure')).body).toContain("secure: 'auto'");
    for (const key of Object.keys(same)) {
      const reply = await client.request(`/assign/${key}?same`);
      expect([key, reply.status, reply.body]).toEqual([key, 200, 'assigned']);
    }
    expect((await client.request('/configured')).status).toBe(200);
  });

  it('cookie.maxAge under a second or cookie.expires in the past ends the session; over 400 days is 400 days, as browsers keep it', async () => {
    const { client } = await start({}, (app) => {
      app.get('/set-max-age', (req, res) => {
        req.session.cookie.maxAge = Number(req.query.ms);
        res.send('set');
      });
      app.get('/set-expires', (req, res) => {
        req.session.cookie.expires = new Date(Number(req.query.at));
        res.send('set');
      });
    });
    await client.request('/count');
    const long = await client.request(`/set-max-age?ms=${500 * 86_400_000}`);
    expect(long.status).toBe(200);
    expect(long.setCookies).toEqual([expect.stringMatching(/; Max-Age=34560000;/)]);
    expect((await client.request('/count')).body).toBe('views 2');
    const far = await client.request(`/set-expires?at=${Date.now() + 500 * 86_400_000}`);
    expect(far.status).toBe(200);
    expect(far.setCookies).toEqual([expect.stringMatching(/; Max-Age=34560000;/)]);
    expect((await client.request('/count')).body).toBe('views 3');
    const short = await client.request('/set-max-age?ms=999');
    expect(short.status).toBe(200);
    expect(short.setCookies).toEqual([expect.stringMatching(/^sid=[^;]*; Max-Age=0/)]);
    expect((await client.request('/count')).body).toBe('views 1');
    const past = await client.request(`/set-expires?at=${Date.UTC(2000, 0, 1)}`);
    expect(past.status).toBe(200);
    expect(past.setCookies).toEqual([expect.stringMatching(/^sid=[^;]*; Max-Age=0/)]);
    expect((await client.request('/count')).body).toBe('views 1');
  });

  it("a new session's cookie reads the lifetime its first save will give it, as express-session's does (was undefined until it had an id)", async () => {
    const clock = fakeClock(Date.UTC(2020, 0, 1));
    const { client } = await start({ clock: clock.now, store: memoryStore({ clock: clock.now }), cookie: { maxAge: 3_600_000 } }, (app) =>
      app.get('/cookie', (req, res) => {
        const before = [req.session.cookie.maxAge, req.session.cookie.expires?.getTime()];
        req.session.cookie.maxAge = 60_000;
        res.json([...before, req.session.cookie.maxAge, req.session.cookie.expires?.getTime()]);
      }),
    );
    const now = clock.now();
    expect(JSON.parse((await client.request('/cookie')).body)).toEqual([3_600_000, now + 3_600_000, 60_000, now + 60_000]);
  });

  it('cookie.maxAge = 0 ends the session on the configured clock, however far it is from the wall clock', async () => {
    const clock = fakeClock(Date.UTC(2020, 0, 1));
    const { client } = await start({ clock: clock.now, store: memoryStore({ clock: clock.now }) }, (app) =>
      app.get('/end-now', (req, res) => {
        req.session.cookie.maxAge = 0;
        res.send('ended');
      }),
    );
    await client.request('/count');
    const ended = await client.request('/end-now');
    expect(ended.status).toBe(200);
    expect(ended.setCookies).toEqual([expect.stringMatching(/^sid=[^;]*; Max-Age=0/)]);
    expect((await client.request('/count')).body).toBe('views 1');
  });

  it('cookie.expires far ahead is 400 days however far the clock stepped during the request (was a 500 from setExpiry)', async () => {
    const clock = fakeClock();
    const { client } = await start({ clock: clock.now, store: memoryStore({ clock: clock.now }) }, (app) =>
      app.get('/far-after-step', (req, res) => {
        // A clock step forward (or a request that ran long) between the request's start and the assignment.
        clock.advance(10 * 60_000);
        req.session.cookie.expires = new Date(clock.now() + 500 * 86_400_000);
        res.send('set');
      }),
    );
    await client.request('/count');
    const far = await client.request('/far-after-step');
    expect([far.status, far.body]).toEqual([200, 'set']);
    expect(far.setCookies).toEqual([expect.stringMatching(/; Max-Age=34560000;/)]);
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it.each([
    ['NaN', Number.NaN],
    ['a Date', new Date(0)],
  ])(
    'a clock that turns bad (%s) mid-request fails req.session.cookie changes with the clock error a data change gets, and writes nothing (was a setExpiry bad-date error)',
    async (_, reading) => {
      const base = fakeClock();
      let bad = false;
      const clock = () => (bad ? (reading as number) : base.now());
      const store = inspectableStore(base);
      const errors: unknown[] = [];
      const changes: Record<string, (session: Request['session']) => void> = {
        '/data': (session) => void (session.views = 1),
        '/max-age': (session) => void (session.cookie.maxAge = 60_000),
        '/max-age-zero': (session) => void (session.cookie.maxAge = 0),
        '/max-age-null': (session) => void (session.cookie.maxAge = null),
        '/expires': (session) => void (session.cookie.expires = new Date(base.now() + 60_000)),
        '/expires-past': (session) => void (session.cookie.expires = new Date(base.now() - 60_000)),
        '/expires-far': (session) => void (session.cookie.expires = new Date(base.now() + 500 * 86_400_000)),
      };
      const { client } = await start({ clock, store }, (app) => {
        for (const [path, change] of Object.entries(changes))
          app.get(path, (req, res) => {
            bad = true;
            change(req.session);
            res.send('changed');
          });
        app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
          errors.push(error);
          next(error);
        });
      });
      const seen = (error: unknown) => {
        const { name, code, message } = error as SessConfigError;
        return { name, code, message };
      };
      const outcomes: Record<string, unknown> = {};
      for (const path of Object.keys(changes)) {
        bad = false;
        expect((await client.request('/count')).status).toBe(200);
        const writes = store.calls.set + store.calls.touch + store.calls.destroy;
        errors.length = 0;
        const reply = await client.request(path);
        outcomes[path] = {
          status: reply.status,
          errors: errors.map(seen),
          writes: store.calls.set + store.calls.touch + store.calls.destroy - writes,
        };
      }
      const dataChange = outcomes['/data'];
      expect(dataChange).toEqual({
        status: 500,
        errors: [
          { name: 'SessConfigError', code: 'config_invalid', message: expect.stringMatching(/clock must return the time in epoch ms/) },
        ],
        writes: 0,
      });
      expect(outcomes).toEqual(Object.fromEntries(Object.keys(changes).map((path) => [path, dataChange])));
    },
  );

  it("changes inside a loaded nested value are saved, as express-session's hash of the session sees them (was lost: its README's page counter stuck at 1)", async () => {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const { client } = await start({ store, clock: clock.now }, (app) => {
      // express-session's README example, word for word but for the types.
      app.get('/pages/:page', (req, res) => {
        if (!req.session.pages) req.session.pages = {};
        req.session.pages[req.path] = (req.session.pages[req.path] ?? 0) + 1;
        res.send(String(req.session.pages[req.path]));
      });
      app.get('/cart/add/:item', (req, res) => {
        if (!req.session.cart) req.session.cart = { items: [], note: 'first' };
        req.session.cart.items.push(req.params.item);
        delete req.session.cart.note;
        res.send(req.session.cart.items.join(','));
      });
      app.get('/cart', (req, res) => res.json(req.session.cart ?? null));
      app.get('/cart/fail/:item', (req, res) => {
        req.session.cart?.items.push(req.params.item);
        res.status(500).send('failed halfway');
      });
      app.get('/cart/clear', async (req, res) => {
        req.session.cart?.items.push('gone');
        await req.session.destroy();
        res.send('cleared');
      });
    });
    expect((await client.request('/pages/a')).body).toBe('1');
    expect((await client.request('/pages/a')).body).toBe('2');
    expect((await client.request('/pages/a')).body).toBe('3');
    expect((await client.request('/pages/b')).body).toBe('1');
    await client.request('/cart/add/apple');
    await client.request('/cart/add/pear');
    expect(JSON.parse((await client.request('/cart')).body)).toEqual({ items: ['apple', 'pear'] });
    // Reading a nested value without changing it writes nothing; a failed request saves nothing.
    const sets = store.calls.set;
    await client.request('/cart');
    expect(store.calls.set).toBe(sets);
    expect((await client.request('/cart/fail/plum')).status).toBe(500);
    expect(store.calls.set).toBe(sets);
    expect(JSON.parse((await client.request('/cart')).body)).toEqual({ items: ['apple', 'pear'] });
    // A destroyed session stays destroyed, whatever the app changed inside it before.
    const cleared = await client.request('/cart/clear');
    expect(cleared.setCookies[0]).toMatch(/^sid=; Max-Age=0/);
    expect(store.size).toBe(0);
  });

  it('a change inside a nested value on a read-only route is not saved and fails nothing (nothing is saved there)', async () => {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const { client } = await start({ store, clock: clock.now, readOnly: (req) => req.path.startsWith('/peek') }, (app) => {
      app.get('/fill', (req, res) => {
        req.session.cart = { items: ['apple'] };
        res.send('filled');
      });
      app.get('/peek', (req, res) => {
        req.session.cart?.items.sort().push('sneaked');
        res.send('peeked');
      });
      app.get('/cart', (req, res) => res.json(req.session.cart ?? null));
    });
    await client.request('/fill');
    const sets = store.calls.set;
    const peek = await client.request('/peek');
    expect([peek.status, peek.body, peek.setCookies]).toEqual([200, 'peeked', []]);
    expect(store.calls.set).toBe(sets);
    expect(JSON.parse((await client.request('/cart')).body)).toEqual({ items: ['apple'] });
  });

  it("unset: 'destroy' destroys the session when the app sets req.session to null", async () => {
    const { client, store } = await start({ unset: 'destroy' }, (app) =>
      app.get('/forget', (req, res) => {
        (req as { session: unknown }).session = null;
        res.send('forgotten');
      }),
    );
    await client.request('/count');
    const reply = await client.request('/forget');
    expect(reply.setCookies[0]).toMatch(/^sid=; Max-Age=0/);
    expect((store as ReturnType<typeof memoryStore>).size).toBe(0);
  });

  it("unset: 'keep' (the default) drops this request's changes when the app sets req.session to null, as express-session does", async () => {
    const { client, store } = await start({}, (app) =>
      app.get('/drop', (req, res) => {
        req.session.views = 99;
        (req as { session: unknown }).session = null;
        res.send('dropped');
      }),
    );
    const fresh = await client.request('/drop');
    expect(fresh.setCookies).toEqual([]);
    expect((store as ReturnType<typeof memoryStore>).size).toBe(0);
    await client.request('/count');
    const kept = await client.request('/drop');
    expect(kept.setCookies).toEqual([]);
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it('req.session replaced by another object fails the request with a SessUsageError naming the fix, and saves nothing (a signed-in user is not left signed in silently)', async () => {
    const errors: unknown[] = [];
    const { client } = await start({}, (app) => {
      app.get('/replace', (req, res) => {
        req.session.views = 99;
        (req as { session: unknown }).session = req.query.with === 'data' ? { user: 'bob' } : {};
        res.send('replaced');
      });
      app.use((error: unknown, _req: Request, _res: Response, next: NextFunction) => {
        errors.push(error);
        next(error);
      });
    });
    await client.request('/count');
    for (const path of ['/replace', '/replace?with=data']) {
      const reply = await client.request(path);
      expect([reply.status, reply.body, reply.setCookies]).toEqual([500, 'session error', []]);
    }
    expect(errors).toEqual([
      expect.objectContaining({ name: 'SessUsageError', message: expect.stringContaining('req.session = null') }),
      expect.objectContaining({ name: 'SessUsageError' }),
    ]);
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it("unset: 'destroy' whose destroy fails answers the store's error and still deletes the cookie", async () => {
    const store = inspectableStore(fakeClock());
    const { client } = await start({ unset: 'destroy', store }, (app) =>
      app.get('/forget', (req, res) => {
        (req as { session: unknown }).session = null;
        res.send('forgotten');
      }),
    );
    await client.request('/count');
    store.failing.add('destroy');
    const reply = await client.request('/forget');
    expect([reply.status, reply.body]).toEqual([503, 'session error']);
    expect(reply.setCookies).toEqual([expect.stringMatching(/^sid=; Max-Age=0/)]);
  });

  it('runs an express-session callback store as it is', async () => {
    const map = new Map<string, string>();
    const calls: string[] = [];
    const legacy: CallbackStore = {
      get: (sid, done) => process.nextTick(() => (calls.push('get'), done(null, map.has(sid) ? JSON.parse(map.get(sid) as string) : null))),
      set: (sid, value, done) => process.nextTick(() => (calls.push('set'), map.set(sid, JSON.stringify(value)), done())),
      destroy: (sid, done) => process.nextTick(() => (calls.push('destroy'), map.delete(sid), done())),
    };
    const { client } = await start({ store: expressSessionStore(legacy) });
    await client.request('/count');
    expect((await client.request('/count')).body).toBe('views 2');
    const [stored] = [...map.values()].map((json) => JSON.parse(json) as { cookie: { expires: string }; data: SessionRecord['data'] });
    expect(stored?.data).toEqual({ views: 2 });
    expect(Date.parse(stored?.cookie.expires as string)).toBeGreaterThan(Date.now());
    await client.request('/logout', { method: 'POST' });
    expect(map.size).toBe(0);
    // Express reads before the handler runs (req.session is synchronous), so sign-out is a get and a destroy.
    expect(calls).toEqual(['set', 'get', 'set', 'get', 'destroy']);
  });

  it("a callback store's ENOENT on get (session-file-store's missing file) is no session, as in express-session, not a 503", async () => {
    const map = new Map<string, object>();
    const files: CallbackStore = {
      get: (sid, done) =>
        process.nextTick(() =>
          map.has(sid) ? done(null, map.get(sid)) : done(Object.assign(new Error('no such file'), { code: 'ENOENT' })),
        ),
      set: (sid, value, done) => process.nextTick(() => (map.set(sid, value), done())),
      destroy: (sid, done) => process.nextTick(() => (map.delete(sid), done())),
    };
    const { client } = await start({ store: expressSessionStore(files) });
    await client.request('/count');
    expect((await client.request('/count')).body).toBe('views 2');
    map.clear();
    const after = await client.request('/count');
    expect([after.status, after.body]).toEqual([200, 'views 1']);
  });

  it('a callback store written as async functions that call back later is answered by its callback, as express-session reads it', async () => {
    const map = new Map<string, object>();
    const later: CallbackStore = {
      // The returned promise settles (with nothing) before the callback brings the session.
      get: async (sid, done) => void setImmediate(() => done(null, map.get(sid) ?? null)),
      set: async (sid, value, done) => void setImmediate(() => (map.set(sid, value), done())),
      destroy: async (sid, done) => void setImmediate(() => (map.delete(sid), done())),
    };
    const { client } = await start({ store: expressSessionStore(later) });
    await client.request('/count');
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it("runs express-session's own MemoryStore as it is", async () => {
    const store = new expressSession.MemoryStore();
    const { client } = await start({ store: store as unknown as Store });
    await client.request('/count');
    expect((await client.request('/count')).body).toBe('views 2');
    expect(Object.values(store.sessions).map((json) => JSON.parse(json) as unknown)).toEqual([
      expect.objectContaining({ data: { views: 2 } }),
    ]);
    await client.request('/logout', { method: 'POST' });
    expect(store.sessions).toEqual({});
  });

  it('refuses a promise-style sess store without capabilities when session() is called, and serves it once it declares them', async () => {
    // Taken for an express-session store, it left every save waiting for a callback, then a 503.
    const inner = memoryStore();
    const promised = {
      name: 'promised',
      get: (id: string) => inner.get(id),
      set: (id: string, record: SessionRecord, ttlMs: number) => inner.set(id, record, ttlMs),
      destroy: (id: string) => inner.destroy(id),
    };
    const options = { secret: SECRET, store: promised as unknown as Store };
    expect(() => session(options)).toThrow(SessConfigError);
    expect(() => session(options)).toThrow(/store is not a sess store \(missing or wrong: capabilities\)/);
    const { client } = await start({ store: { ...promised, capabilities: { deltaWrites: false } } });
    await client.request('/count');
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it('refuses a touchAfterMs as long as the lifetime with rolling, and keeps a rolling session in use past cookie.maxAge', async () => {
    // No touch would come due before the record expired: a session read on every visit would still end.
    for (const options of [
      { rolling: true, cookie: { maxAge: 60_000 }, touchAfterMs: 60_000 },
      { rolling: true, touchAfterMs: 86_400_000 },
    ]) {
      expect(() => session({ secret: SECRET, ...options })).toThrow(SessConfigError);
      expect(() => session({ secret: SECRET, ...options })).toThrow(/touchAfterMs \(\d+\) must be shorter than the session's lifetime/);
    }
    // Without rolling a read extends nothing, so touchAfterMs has nothing to delay.
    expect(() => session({ secret: SECRET, cookie: { maxAge: 60_000 }, touchAfterMs: 60_000 })).not.toThrow();
    const clock = fakeClock();
    const store = memoryStore({ clock: clock.now });
    const { client } = await start({ clock: clock.now, store, rolling: true, cookie: { maxAge: 60_000 }, touchAfterMs: 30_000 });
    await client.request('/login', { method: 'POST' });
    for (let visit = 0; visit < 4; visit++) {
      clock.advance(30_000);
      expect((await client.request('/me')).body).toBe('ada');
    }
  });

  it('flash messages survive one redirect and are read once', async () => {
    const { client } = await start({}, (app) => {
      app.post('/flash', (req, res) => {
        req.session.flash('info', 'saved');
        res.redirect(303, '/flash');
      });
      app.get('/flash', (req, res) => res.json(req.session.takeFlash('info')));
    });
    await client.request('/flash', { method: 'POST' });
    expect((await client.request('/flash')).body).toBe('["saved"]');
    expect((await client.request('/flash')).body).toBe('[]');
  });

  it("connect-flash's req.flash, which keeps its messages in req.session.flash (sess's flash method), fails into the error handler naming the fix (was: messages silently lost)", async () => {
    // connect-flash 0.1.1's req.flash as published: sloppy-mode code, where an assignment the
    // session refuses is silently dropped (its messages then went onto a throwaway function).
    const connectFlash = new Function(
      'return function(type, msg) { var msgs = this.session.flash = this.session.flash || {}; return (msgs[type] = msgs[type] || []).push(msg); }',
    )() as (this: Request, type: string, msg: string) => number;
    const { client } = await start({}, (app) => {
      app.post('/flash', (req, res) => {
        req.session.user = 'ada';
        connectFlash.call(req, 'info', 'saved');
        res.redirect(303, '/me');
      });
      app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => res.status(500).send(`${error.name}: ${error.message}`));
    });
    const reply = await client.request('/flash', { method: 'POST' });
    expect(reply.status).toBe(500);
    expect(reply.body).toMatch(/^SessUsageError: .*connect-flash.*takeFlash/);
    expect(reply.setCookies).toEqual([]);
  });

  it('a read-only route reads the session, refuses to change it, and never writes', async () => {
    const store = memoryStore();
    const { client } = await start({ store, rolling: true, readOnly: (req) => req.path.startsWith('/api/') }, (app) => {
      app.get('/api/me', (req, res) => res.send(req.session.user ?? 'nobody'));
      app.get('/api/write', (req, res) => {
        req.session.user = 'mallory';
        res.send('written');
      });
    });
    await client.request('/login', { method: 'POST' });
    const id = client.jar.get('sid')?.split('.')[0] as string;
    const before = await store.get(id);
    const read = await client.request('/api/me');
    expect(read.body).toBe('ada');
    expect(read.setCookies).toEqual([]);
    const write = await client.request('/api/write');
    expect(write.status).toBe(500);
    expect(await store.get(id)).toEqual(before);
  });

  it('reports sign-in and sign-out to onEvent without the raw id', async () => {
    const events: SessionEvent[] = [];
    const { client } = await start({ onEvent: (event) => void events.push(event) }, (app) => {
      app.get('/fill', (req, res) => {
        req.session.views = 1;
        res.send('ok');
      });
    });
    await client.request('/fill');
    const before = client.jar.get('sid')?.split('.')[0] as string;
    await client.request('/login', { method: 'POST' });
    const after = client.jar.get('sid')?.split('.')[0] as string;
    await client.request('/logout', { method: 'POST' });
    expect(events).toEqual([
      { type: 'created', idHash: hashId(before) },
      { type: 'regenerated', idHash: hashId(after), previousIdHash: hashId(before) },
      { type: 'destroyed', idHash: hashId(after) },
    ]);
    expect(JSON.stringify(events)).not.toContain(after);
  });

  it("getSession() finds the request's session anywhere inside it with asyncContext, and only then", async () => {
    const currentUser = async () => {
      await Promise.resolve();
      return getSession().user ?? 'nobody';
    };
    const { client } = await start({ asyncContext: true }, (app) => {
      app.get('/whoami', async (_req, res, next) => {
        try {
          res.send(await currentUser());
        } catch (error) {
          next(error);
        }
      });
      // After regenerate() replaced req.session, getSession() is the new one.
      app.post('/sign-in-here', async (req, res) => {
        await req.session.regenerate();
        getSession().user = 'grace';
        res.send(String(getSession() === req.session));
      });
    });
    expect((await client.request('/whoami')).body).toBe('nobody');
    await client.request('/login', { method: 'POST' });
    expect((await client.request('/whoami')).body).toBe('ada');
    expect((await client.request('/sign-in-here', { method: 'POST' })).body).toBe('true');
    expect((await client.request('/whoami')).body).toBe('grace');
    expect(() => getSession()).toThrow(/asyncContext: true/);

    const { client: without } = await start({}, (app) => {
      app.get('/whoami', (_req, res) => {
        try {
          res.send(getSession().user ?? 'nobody');
        } catch {
          res.status(500).send('no context');
        }
      });
    });
    expect((await without.request('/whoami')).body).toBe('no context');
  });

  it('req.sessionID is there inside a mounted sub-app too', async () => {
    const sub = express();
    sub.get('/id', (req, res) => res.send(req.sessionID ?? 'none'));
    const { client } = await start({}, (app) => app.use('/sub', sub));
    await client.request('/count');
    const id = client.jar.get('sid')?.split('.')[0] as string;
    expect((await client.request('/sub/id')).body).toBe(id);
  });

  it('an app the session app calls as a function (vhost) saves the session and sets the cookie once it runs a session middleware too', async () => {
    const sessions = session({ secret: SECRET, store: inspectableStore(fakeClock()) });
    for (const inner of [sessions, session({ secret: SECRET, name: 'unused' })]) {
      const api = express();
      // The outer middleware owns the session; this one makes this app's responses wait for its commit.
      api.use(inner);
      api.get('/count', (req, res) => {
        req.session.views = (req.session.views ?? 0) + 1;
        res.send(`views ${req.session.views} as ${req.sessionID}`);
      });
      const app = express();
      app.use(sessions);
      // What vhost(hostname, api) does: calls the app, unmounted.
      app.use((req, res, next) => api(req, res, next));
      const served = await listen(app);
      servers.push(served);
      const client = new Client(served.url);
      const first = await client.request('/count');
      const id = client.jar.get('sid')?.split('.')[0];
      expect([first.body, first.setCookies.length]).toEqual([`views 1 as ${id}`, 1]);
      expect((await client.request('/count')).body).toBe(`views 2 as ${id}`);
    }
  });

  it('refuses a short secret and cookie.expires at construction', () => {
    expect(() => session({ secret: 'short' })).toThrow(/32 bytes|at least/);
    expect(() => session({ secret: SECRET, cookie: { expires: new Date() } as never })).toThrow(/cookie.maxAge/);
  });
});
