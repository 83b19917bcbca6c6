/**
 * Side by side with the real peer: the same app runs on express-session 1.19 and on this package,
 * over real HTTP, and what the browser and the store see must be the same.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import express from 'express';
import type { Express, Request, RequestHandler, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, closedAfterEach, errorHandler, EXPRESS, listen, MODULES, SECRET, sessionCookie, warningsDuring } from './helpers.js';
import type { ExpressFactory, SessionModule } from './helpers.js';
import { redisClient } from './services.js';
import type { RedisClient } from './services.js';

const servers = closedAfterEach();
const installed = createRequire(import.meta.url);

type Session = Record<string, unknown> & { cookie: { maxAge: number | null } };
const sessionOf = (req: unknown) => (req as { session: Session }).session;

/** An app on `module`'s middleware with `routes`, and a browser for it. */
async function serve(module: SessionModule, options: object, routes: (app: Express) => void): Promise<Client> {
  const app = express();
  app.use(module(options));
  routes(app);
  app.use(errorHandler);
  const served = await listen(app);
  servers.push(served);
  return new Client(served.url);
}

/** What `scenario` sees on each module, by module name. */
async function onBoth<T>(scenario: (module: SessionModule) => Promise<T>): Promise<Record<string, T>> {
  const seen: Record<string, T> = {};
  for (const [name, module] of MODULES) seen[name] = await scenario(module);
  return seen;
}

const settled = { secret: SECRET, resave: false, saveUninitialized: false } as const;

/**
 * A Redis client for the describe block it is called in, and a key prefix of its own: connected
 * before its tests, and every key under the prefix deleted after them.
 */
function redisFor(label: string): { readonly prefix: string; readonly redis: () => RedisClient } {
  let redis: RedisClient | undefined;
  const prefix = `sess-express-session-${label}:${randomUUID()}:`;
  beforeAll(async () => {
    const client = await redisClient();
    if (typeof client === 'string') throw new Error(client);
    redis = client;
  });
  afterAll(async () => {
    if (redis === undefined) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.quit();
  });
  return { prefix, redis: () => redis as RedisClient };
}

describe('connect-redis 9 on Redis, side by side', () => {
  const { prefix, redis } = redisFor('parity');

  it('rolling sessions that connect-redis kept alive by touch stay signed in, though the record JSON says an old expires', async () => {
    const { RedisStore } = installed('connect-redis') as { RedisStore: new (options: object) => object };
    const seen = await onBoth(async (module) => {
      const store = new RedisStore({ client: redis(), prefix: `${prefix}${randomUUID()}:` }) as { prefix: string };
      const options = { ...settled, store, rolling: true, cookie: { maxAge: 3_600_000 } };
      const client = await serve(module, options, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send(req.sessionID);
        });
        app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
      });
      const id = (await client.post('/login')).body;
      // connect-redis's touch renews the key's TTL and leaves its JSON alone: after an hour of
      // rolling requests that changed nothing, the record still says the first write's expires.
      const key = `${store.prefix}${id}`;
      const record = JSON.parse((await redis().get(key)) as string) as { cookie: { expires: string } };
      record.cookie.expires = new Date(Date.now() - 60_000).toISOString();
      await redis().set(key, JSON.stringify(record), { KEEPTTL: true });
      expect(await redis().ttl(key)).toBeGreaterThan(3_000);
      const me = await client.request('/me');
      return { user: me.body, cookie: sessionCookie(me.setCookies)?.includes('Expires=') };
    });
    expect(seen['express-session']).toEqual({ user: 'ada', cookie: true });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('without rolling, a record past its expires is a new session on sess (the cookie ended then: only a replay brings it)', async () => {
    const { RedisStore } = installed('connect-redis') as { RedisStore: new (options: object) => object };
    const seen = await onBoth(async (module) => {
      const store = new RedisStore({ client: redis(), prefix: `${prefix}${randomUUID()}:` }) as { prefix: string };
      const client = await serve(module, { ...settled, store, cookie: { maxAge: 3_600_000 } }, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send(req.sessionID);
        });
        app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
      });
      const id = (await client.post('/login')).body;
      const key = `${store.prefix}${id}`;
      const record = JSON.parse((await redis().get(key)) as string) as { cookie: { expires: string } };
      record.cookie.expires = new Date(Date.now() - 60_000).toISOString();
      await redis().set(key, JSON.stringify(record), { KEEPTTL: true });
      return (await client.request('/me')).body;
    });
    // express-session takes whatever the store answers; sess also holds the record to its expires.
    expect(seen).toEqual({ 'express-session': 'ada', '@sess/express-session': 'undefined' });
  });
});

describe('MemoryStore, side by side', () => {
  it('saveUninitialized: false: setting cookie.maxAge alone stores nothing and sends no cookie', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        // "Remember me" decided per request: only the lifetime changes until the visitor signs in.
        app.use((req, _res, next) => {
          sessionOf(req).cookie.maxAge = 86_400_000;
          next();
        });
        app.get('/', (req, res) => res.send(String(sessionOf(req).user)));
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send('ok');
        });
      });
      const anonymous = await client.request('/');
      const anonymousRecords = Object.keys(store.sessions).length;
      const login = await client.post('/login');
      const records = Object.values(store.sessions).map((json) => JSON.parse(json) as { cookie: { originalMaxAge: number } });
      return {
        anonymous: sessionCookie(anonymous.setCookies) !== undefined,
        anonymousRecords,
        login: sessionCookie(login.setCookies)?.includes('Expires=') ?? false,
        lifetimes: records.map((record) => record.cookie.originalMaxAge),
        me: (await client.request('/')).body,
      };
    });
    expect(seen['express-session']).toEqual({ anonymous: false, anonymousRecords: 0, login: true, lifetimes: [86_400_000], me: 'ada' });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('a lifetime that is not a number of ms (NaN, an invalid Date, Infinity) makes a browser-session cookie, never a 500', async () => {
    const lifetimes = {
      // "Remember me for N days" with N missing from the form.
      nan: (cookie: Session['cookie']) => {
        cookie.maxAge = Number(undefined) * 86_400_000;
      },
      invalidDate: (cookie: Session['cookie']) => {
        (cookie as unknown as { expires: Date }).expires = new Date('not a date');
      },
      infinity: (cookie: Session['cookie']) => {
        cookie.maxAge = Number.POSITIVE_INFINITY;
      },
    };
    for (const [name, setLifetime] of Object.entries(lifetimes)) {
      const seen = await onBoth(async (module) => {
        const store = new module.MemoryStore();
        const client = await serve(module, { ...settled, store, cookie: { maxAge: 60_000 } }, (app) => {
          app.post('/login', (req, res) => {
            sessionOf(req).user = 'ada';
            setLifetime(sessionOf(req).cookie);
            res.send('ok');
          });
        });
        const login = await client.post('/login');
        const records = Object.values(store.sessions).map((json) => (JSON.parse(json) as { cookie: object }).cookie);
        return { status: login.status, records };
      });
      const browserSession = { originalMaxAge: null, expires: null, httpOnly: true, path: '/' };
      expect(seen['express-session'], name).toEqual({ status: 200, records: [browserSession] });
      expect(seen['@sess/express-session'], name).toEqual(seen['express-session']);
    }
  });

  it('a lifetime already over (maxAge 0 or negative, a past expires) ends the session: the next request finds none', async () => {
    const endings = {
      zero: (cookie: Session['cookie']) => {
        cookie.maxAge = 0;
      },
      negative: (cookie: Session['cookie']) => {
        cookie.maxAge = -60_000;
      },
      pastExpires: (cookie: Session['cookie']) => {
        (cookie as unknown as { expires: Date }).expires = new Date(Date.now() - 60_000);
      },
      negativeOriginalMaxAge: (cookie: Session['cookie']) => {
        (cookie as unknown as { originalMaxAge: number }).originalMaxAge = -60_000;
      },
    };
    /** Whether a Set-Cookie line tells the browser to drop the cookie now; `undefined` when none was sent. */
    const endsAtOnce = (line: string | undefined) => {
      if (line === undefined) return undefined;
      const expires = /Expires=([^;]+)/i.exec(line)?.[1];
      return /Max-Age=0(;|$)/i.test(line) || (expires !== undefined && Date.parse(expires) <= Date.now());
    };
    for (const [name, end] of Object.entries(endings)) {
      for (const withData of [false, true]) {
        const seen = await onBoth(async (module) => {
          const store = new module.MemoryStore();
          const client = await serve(module, { ...settled, store, cookie: { maxAge: 60_000 } }, (app) => {
            app.post('/login', (req, res) => {
              sessionOf(req).user = 'ada';
              res.send('ok');
            });
            app.post('/end', (req, res) => {
              if (withData) sessionOf(req).user = 'grace';
              end(sessionOf(req).cookie);
              res.send('ok');
            });
            app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
          });
          await client.post('/login');
          const ended = await client.post('/end');
          const records = Object.keys(store.sessions).length;
          return {
            status: ended.status,
            cookieEnds: endsAtOnce(sessionCookie(ended.setCookies)),
            records,
            me: (await client.request('/me')).body,
          };
        });
        const label = `${name}${withData ? ' with data' : ''}`;
        // express-session writes an expired record, and sends a cookie only when the data changed
        // (its hash leaves the cookie out), one that expires at once. sess deletes the record and
        // always tells the browser to drop the cookie.
        const ending = { status: 200, me: 'undefined' };
        expect(seen['express-session'], label).toEqual({ ...ending, cookieEnds: withData ? true : undefined, records: 1 });
        expect(seen['@sess/express-session'], label).toEqual({ ...ending, cookieEnds: true, records: 0 });
      }
    }
  });

  it('save() left running while the handler changes the session and answers: every change is saved, no error', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send('ok');
        });
        // Fire-and-forget saves, as apps write them: the store is still writing when the session changes again.
        app.post('/visit', (req, res) => {
          sessionOf(req).visits = 1;
          (sessionOf(req).save as () => void)();
          sessionOf(req).last = '/visit';
          res.send('ok');
        });
        app.post('/cart', (req, res, next) => {
          (sessionOf(req).save as () => void)();
          sessionOf(req).cart = ['tea'];
          (sessionOf(req).save as (callback: (error?: unknown) => void) => void)((error) => (error ? next(error) : res.send('ok')));
        });
      });
      await client.post('/login');
      const replies = [await client.post('/visit'), await client.post('/cart')].map((reply) => `${reply.status} ${reply.body}`);
      const records = Object.values(store.sessions).map((json) => {
        const { cookie: _, ...data } = JSON.parse(json) as Record<string, unknown>;
        return data;
      });
      return { replies, records };
    });
    expect(seen['express-session']).toEqual({
      replies: ['200 ok', '200 ok'],
      records: [{ user: 'ada', visits: 1, last: '/visit', cart: ['tea'] }],
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('a cookie naming a session the store no longer has is left alone, not deleted', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send('ok');
        });
        app.get('/', (req, res) => res.send(String(sessionOf(req).user)));
      });
      await client.post('/login');
      const cookie = client.jar.get('connect.sid');
      // The record went (evicted, expired by the store, or not replicated yet).
      for (const id of Object.keys(store.sessions)) delete store.sessions[id];
      const reply = await client.request('/');
      return { body: reply.body, setCookies: reply.setCookies.length, kept: client.jar.get('connect.sid') === cookie };
    });
    expect(seen['express-session']).toEqual({ body: 'undefined', setCookies: 0, kept: true });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('while the session the cookie names is read, req.sessionID is that id: genid(req) and the error handler see it', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore() as InstanceType<SessionModule['MemoryStore']> & {
        get(sid: string, callback: (error: unknown, session?: unknown) => void): void;
      };
      const read = store.get.bind(store);
      let failing = false;
      store.get = (sid, callback) => (failing ? setImmediate(callback, new Error('replica down')) : read(sid, callback));
      const genidSaw: unknown[] = [];
      let issued = 0;
      const genid = (req: { sessionID?: string }) => {
        genidSaw.push(req.sessionID);
        issued += 1;
        return `${'a'.repeat(31)}${issued}`;
      };
      const app = express();
      app.use(module({ ...settled, store, genid }));
      app.post('/login', (req, res) => {
        sessionOf(req).user = 'ada';
        res.send('ok');
      });
      app.get('/', (req, res) => res.send(String(sessionOf(req).user)));
      // An error handler that logs which session the failure hit.
      app.use((_error: Error, req: Request, res: Response, _next: unknown) => res.status(500).send(String(req.sessionID)));
      const served = await listen(app);
      servers.push(served);
      const client = new Client(served.url);
      const login = (await client.post('/login')).body;
      failing = true;
      const failed = (await client.request('/')).body;
      failing = false;
      // The record went (evicted, expired by the store): the new session's id is made with the old one at hand.
      for (const id of Object.keys(store.sessions)) delete store.sessions[id];
      const gone = (await client.request('/')).body;
      return { login, failed, gone, genidSaw };
    });
    const first = `${'a'.repeat(31)}1`;
    expect(seen['express-session']).toEqual({ login: 'ok', failed: first, gone: 'undefined', genidSaw: [undefined, first] });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('saveUninitialized: false: save(cb) of a new session nobody wrote to sends no cookie; one written to gets it', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store, cookie: { maxAge: 60_000 } }, (app) => {
        // "Make sure the session is stored before redirecting", on every page, signed in or not.
        app.use((req, _res, next) => (sessionOf(req).save as (callback: (error?: unknown) => void) => void)(next));
        app.get('/', (req, res) => res.send(String(sessionOf(req).user)));
        app.post('/remember', (req, res) => {
          sessionOf(req).cookie.maxAge = 86_400_000;
          res.redirect('/');
        });
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.redirect('/');
        });
      });
      const replies = [await client.request('/'), await client.post('/remember'), await client.post('/login')];
      return {
        cookies: replies.map((reply) => sessionCookie(reply.setCookies) !== undefined),
        me: (await client.request('/')).body,
      };
    });
    expect(seen['express-session']).toEqual({ cookies: [false, false, true], me: 'ada' });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('req.session.cookie.serialize(name, value) writes a Set-Cookie line with the session cookie’s attributes', async () => {
    const seen = await onBoth(async (module) => {
      const cookie = { domain: 'example.com', sameSite: 'strict', maxAge: 60_000 };
      const client = await serve(module, { ...settled, cookie }, (app) => {
        // Apps set the session cookie by hand this way (behind some proxies and serverless hosts).
        app.get('/', (req, res) => {
          const session = sessionOf(req) as Session & { cookie: { expires: Date; serialize(name: string, value: string): string } };
          session.cookie.expires = new Date('2030-01-01T00:00:00Z');
          res.send(session.cookie.serialize('custom', 'a b/c'));
        });
      });
      return (await client.request('/')).body;
    });
    expect(seen['express-session']).toBe(
      'custom=a%20b%2Fc; Domain=example.com; Path=/; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; SameSite=Strict',
    );
    expect(seen['@sess/express-session']).toBe(seen['express-session']);
  });

  it('req.sessionStore.load(id, cb): a Session for a stored id, and for one the store lacks a callback with no arguments', async () => {
    const seen = await onBoth(async (module) => {
      const client = await serve(module, settled, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send('ok');
        });
        // An admin page looking sessions up by id; `(...args)` callbacks and promisify wrappers count what they get.
        app.get('/load/:id', (req, res) => {
          const store = req.sessionStore as unknown as { load(id: string, callback: (...args: unknown[]) => void): void };
          const id = req.params.id === 'own' ? req.sessionID : (req.params.id as string);
          store.load(id, (...args) => {
            const loaded = args[1] as (Session & { id: string }) | undefined;
            res.json({ args: args.length, error: args[0] ?? null, user: loaded?.user, sameId: loaded?.id === id });
          });
        });
      });
      await client.post('/login');
      return { own: (await client.request('/load/own')).body, missing: (await client.request(`/load/${'m'.repeat(32)}`)).body };
    });
    expect(seen['express-session']).toEqual({
      own: JSON.stringify({ args: 2, error: null, user: 'ada', sameId: true }),
      missing: JSON.stringify({ args: 0, error: null, sameId: false }),
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });
});

/** `req.sessionStore` as express-session leaves it: the store, with the `generate(req)` the middleware adds. */
interface GeneratingStore {
  generate(req: unknown): void;
  regenerate(req: unknown, callback: (error?: unknown) => void): void;
}
const storeOf = (req: unknown) => (req as { sessionStore: GeneratingStore }).sessionStore;
const destroy = (req: unknown, callback: (error?: unknown) => void) =>
  (req as { session: { destroy(callback: (error?: unknown) => void): void } }).session.destroy(callback);

/** The Set-Cookie line without its value and Expires (which differ by id and clock). */
const cookieShape = (line: string | undefined) =>
  line
    ?.split('; ')
    .slice(1)
    .filter((attribute) => !attribute.startsWith('Expires='))
    .sort();

describe('req.sessionStore.generate(req), side by side', () => {
  /** An app where `/login` signs `user` in; `/me` says who is signed in; `/ids` lists the store's records. */
  function signingIn(app: Express, store: { sessions: Record<string, string> }): void {
    app.post('/login', (req, res) => {
      sessionOf(req).user = 'ada';
      res.send(req.sessionID);
    });
    app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
    app.get('/records', (_req, res) => {
      res.json(Object.values(store.sessions).map((json) => Object.keys(JSON.parse(json) as object).sort()));
    });
  }

  it('after destroy, generate gives the request a new, empty session under a new id, saved with a new cookie; the old one stays destroyed', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const options = { ...settled, store, cookie: { maxAge: 3_600_000, sameSite: 'auto' } };
      const client = await serve(module, options, (app) => {
        signingIn(app, store);
        // Switch user: sign the old one out, start a new session for the new one.
        app.post('/switch', (req, res, next) => {
          const before = req.sessionID;
          destroy(req, (error) => {
            if (error) return next(error);
            storeOf(req).generate(req);
            const fresh = sessionOf(req);
            const empty = Object.keys(fresh).filter((key) => key !== 'cookie').length === 0;
            fresh.user = 'bob';
            res.json({ newId: req.sessionID !== before, own: fresh.id === req.sessionID, empty, maxAge: fresh.cookie.maxAge });
          });
        });
      });
      const login = await client.post('/login');
      const oldId = login.body;
      const oldCookie = client.jar.get('connect.sid');
      const switched = await client.post('/switch');
      const { maxAge, ...facts } = JSON.parse(switched.body) as { maxAge: number };
      const line = sessionCookie(switched.setCookies);
      const ids = Object.keys(store.sessions);
      const me = (await client.request('/me')).body;
      client.jar.set('connect.sid', oldCookie as string);
      const replayed = (await client.request('/me')).body;
      return {
        ...facts,
        fullLifetime: maxAge > 3_590_000,
        // The attributes a new session's cookie has on this module (with SameSite 'auto' decided).
        sameAttributes: JSON.stringify(cookieShape(line)) === JSON.stringify(cookieShape(sessionCookie(login.setCookies))),
        sameSite: cookieShape(line)?.includes('SameSite=Lax'),
        newCookie: line !== undefined && !line.includes(oldId),
        ids: ids.length,
        oldGone: !ids.includes(oldId),
        me,
        replayed,
      };
    });
    expect(seen['express-session']).toEqual({
      newId: true,
      own: true,
      empty: true,
      fullLifetime: true,
      sameAttributes: true,
      sameSite: true,
      newCookie: true,
      ids: 1,
      oldGone: true,
      me: 'bob',
      replayed: 'undefined',
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('after destroy, a generated session nobody writes to is still saved with its cookie (its id changed), with saveUninitialized: false', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        signingIn(app, store);
        app.post('/logout', (req, res, next) => {
          destroy(req, (error) => {
            if (error) return next(error);
            storeOf(req).generate(req);
            res.send(req.sessionID);
          });
        });
      });
      const oldId = (await client.post('/login')).body;
      const logout = await client.post('/logout');
      const records = (await client.request('/records')).body;
      return {
        cookieNamesNewId: sessionCookie(logout.setCookies)?.includes(encodeURIComponent(`s:${logout.body}.`)) ?? false,
        oldGone: !Object.keys(store.sessions).includes(oldId),
        newStored: Object.keys(store.sessions).includes(logout.body),
        records,
        me: (await client.request('/me')).body,
      };
    });
    expect(seen['express-session']).toEqual({
      cookieNamesNewId: true,
      oldGone: true,
      newStored: true,
      records: '[["cookie"]]',
      me: 'undefined',
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('generate, write, save(cb), redirect: the session is stored when the callback runs, and the redirect carries its cookie', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        signingIn(app, store);
        app.post('/switch', (req, res, next) => {
          destroy(req, (error) => {
            if (error) return next(error);
            storeOf(req).generate(req);
            sessionOf(req).user = 'bob';
            (sessionOf(req) as unknown as { save(cb: (error?: unknown) => void): void }).save((failure) => {
              if (failure) return next(failure);
              const stored = Object.keys(store.sessions).includes(req.sessionID);
              res.redirect(stored ? '/me' : '/not-stored');
            });
          });
        });
      });
      await client.post('/login');
      const switched = await client.post('/switch');
      return {
        status: switched.status,
        location: switched.headers.get('location'),
        cookie: sessionCookie(switched.setCookies) !== undefined,
        ids: Object.keys(store.sessions).length,
        me: (await client.request('/me')).body,
      };
    });
    expect(seen['express-session']).toEqual({ status: 302, location: '/me', cookie: true, ids: 1, me: 'bob' });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('generate on a live session replaces req.session with a new one; the old record stays in the store as it was', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        signingIn(app, store);
        app.post('/fresh', (req, res) => {
          const before = req.sessionID;
          sessionOf(req).lost = true; // changed before generate: not saved, as the session is replaced
          storeOf(req).generate(req);
          sessionOf(req).guest = 'yes';
          res.json({ newId: req.sessionID !== before, user: sessionOf(req).user ?? null });
        });
      });
      const oldId = (await client.post('/login')).body;
      const oldCookie = client.jar.get('connect.sid');
      const fresh = await client.post('/fresh');
      const records = (await client.request('/records')).body;
      const newCookie = client.jar.get('connect.sid') !== oldCookie && sessionCookie(fresh.setCookies) !== undefined;
      const me = (await client.request('/me')).body;
      client.jar.set('connect.sid', oldCookie as string);
      const replayed = (await client.request('/me')).body;
      return {
        ...(JSON.parse(fresh.body) as object),
        oldKept: Object.keys(store.sessions).includes(oldId),
        records,
        newCookie,
        me,
        replayed,
      };
    });
    expect(seen['express-session']).toEqual({
      newId: true,
      user: null,
      oldKept: true,
      records: JSON.stringify([
        ['cookie', 'user'],
        ['cookie', 'guest'],
      ]),
      newCookie: true,
      me: 'undefined',
      replayed: 'ada',
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('generate on a new visitor (no cookie) saves the generated session with its cookie, with saveUninitialized: false', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        app.get('/start', (req, res) => {
          storeOf(req).generate(req);
          res.send(req.sessionID);
        });
      });
      const start = await client.request('/start');
      return {
        cookieNamesId: sessionCookie(start.setCookies)?.includes(encodeURIComponent(`s:${start.body}.`)) ?? false,
        ids: Object.keys(store.sessions).length,
        stored: Object.keys(store.sessions).includes(start.body),
      };
    });
    expect(seen['express-session']).toEqual({ cookieNamesId: true, ids: 1, stored: true });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('a session from store.load regenerates as express-session’s: its record goes, and its request gets a generated session', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore() as InstanceType<SessionModule['MemoryStore']> & {
        load(
          sid: string,
          callback: (error: unknown, loaded?: { req: Record<string, unknown>; regenerate(cb: (error?: unknown) => void): void }) => void,
        ): void;
      };
      const client = await serve(module, { ...settled, store }, (app) => signingIn(app, store));
      const oldId = (await client.post('/login')).body;
      const loaded = await new Promise<{ req: Record<string, unknown>; regenerate(cb: (error?: unknown) => void): void }>(
        (resolve, reject) => store.load(oldId, (error, found) => (error || !found ? reject(error) : resolve(found))),
      );
      await new Promise<void>((resolve, reject) => loaded.regenerate((error) => (error ? reject(error) : resolve())));
      const { req } = loaded;
      const generated = req.session as Session & { id: string };
      return {
        newId: typeof req.sessionID === 'string' && req.sessionID !== oldId,
        own: generated.id === req.sessionID,
        data: Object.keys(generated),
        cookie: [generated.cookie instanceof module.Cookie, generated.cookie.maxAge],
        stored: Object.keys(store.sessions).length,
      };
    });
    expect(seen['express-session']).toEqual({ newId: true, own: true, data: ['cookie'], cookie: [true, null], stored: 0 });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('store.regenerate(req, callback) after destroy gives the request a new session, as Store.prototype.regenerate calls generate', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        signingIn(app, store);
        app.post('/switch', (req, res, next) => {
          const before = req.sessionID;
          destroy(req, (error) => {
            if (error) return next(error);
            storeOf(req).regenerate(req, (failure) => {
              if (failure) return next(failure);
              sessionOf(req).user = 'bob';
              res.json({ newId: req.sessionID !== before });
            });
          });
        });
      });
      const oldId = (await client.post('/login')).body;
      const switched = await client.post('/switch');
      return {
        body: switched.body,
        cookie: sessionCookie(switched.setCookies) !== undefined,
        ids: Object.keys(store.sessions).length,
        oldGone: !Object.keys(store.sessions).includes(oldId),
        me: (await client.request('/me')).body,
      };
    });
    expect(seen['express-session']).toEqual({ body: '{"newId":true}', cookie: true, ids: 1, oldGone: true, me: 'bob' });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });
});

describe('regenerate(cb) when the store cannot delete the old session, side by side', () => {
  /** A store on `module` whose `destroy` fails once `failing.on` is set, as a replica that is down. */
  function failingDestroy(module: SessionModule) {
    const store = new module.MemoryStore() as InstanceType<SessionModule['MemoryStore']> & {
      destroy(sid: string, callback?: (error?: unknown) => void): void;
    };
    const failing = { on: false };
    const destroy = store.destroy.bind(store);
    store.destroy = (sid, callback) => (failing.on ? setImmediate(() => callback?.(new Error('replica down'))) : destroy(sid, callback));
    return { store, failing };
  }

  /** The store's own error, which sess hands on as the `cause` of its `SessStoreError`. */
  const storeErrorOf = (error: unknown) => ((error as { cause?: Error } | undefined)?.cause ?? (error as Error | undefined))?.message;

  /** What the store holds, as each record's user (the new, empty session has none). */
  const usersIn = (store: { sessions: Record<string, string> }) =>
    Object.values(store.sessions)
      .map((json) => String((JSON.parse(json) as { user?: string }).user))
      .sort();

  /**
   * Signs in, then runs `elevate` (a regenerate) while the store's destroy fails: on each module,
   * the answer, whether it set a session cookie, the users stored and the next request's user.
   */
  const elevatedWhileDestroyFails = (elevate: RequestHandler) =>
    onBoth(async (module) => {
      const { store, failing } = failingDestroy(module);
      const client = await serve(module, { ...settled, store }, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send('ok');
        });
        app.post('/elevate', elevate);
        app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
      });
      await client.post('/login');
      failing.on = true;
      const elevated = await client.post('/elevate');
      failing.on = false;
      return {
        reply: `${elevated.status} ${elevated.body}`,
        cookie: sessionCookie(elevated.setCookies) !== undefined,
        users: usersIn(store),
        me: (await client.request('/me')).body,
      };
    });

  const regenerate = (req: Request, callback: (error?: unknown) => void) =>
    (sessionOf(req).regenerate as (cb: (error?: unknown) => void) => void)(callback);

  it('an app that passes the error on: it reaches the error handler; sess writes nothing behind the 5xx and sends no cookie', async () => {
    const seen = await elevatedWhileDestroyFails((req, res, next) =>
      regenerate(req, (error) => {
        if (error) return next(error);
        sessionOf(req).user = 'admin';
        res.send('ok');
      }),
    );
    // express-session saves the new, empty session behind the 500 and sends its cookie.
    expect(seen['express-session']).toEqual({
      reply: '500 error: replica down',
      cookie: true,
      users: ['ada', 'undefined'],
      me: 'undefined',
    });
    // sess: an error answer (sess's store error, status hint 503), and nothing written behind it:
    // the browser keeps its session, whose record the failed delete left.
    expect(seen['@sess/express-session']).toEqual({
      reply: '503 error: [sess] store "MemoryStore" failed to destroy',
      cookie: false,
      users: ['ada'],
      me: 'ada',
    });
  });

  it('an app that goes on despite the error: the callback hears it, and the new session is saved with its cookie', async () => {
    const seen = await elevatedWhileDestroyFails((req, res) => {
      const before = req.sessionID;
      regenerate(req, (error) => {
        sessionOf(req).user = 'admin';
        res.json({ heard: storeErrorOf(error), newId: req.sessionID !== before });
      });
    });
    // The old record outlives the failed delete (until its TTL), as the app was told.
    expect(seen['express-session']).toEqual({
      reply: '200 {"heard":"replica down","newId":true}',
      cookie: true,
      users: ['ada', 'admin'],
      me: 'admin',
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });
});

describe('session methods started together, side by side', () => {
  it('reload(cb) then regenerate(cb) without waiting: both call back without error, and the new session is the one saved', async () => {
    const seen = await onBoth(async (module) => {
      const store = new module.MemoryStore();
      const client = await serve(module, { ...settled, store }, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send('ok');
        });
        app.post('/elevate', (req, res) => {
          const heard: string[] = [];
          const current = sessionOf(req) as unknown as Record<'reload' | 'regenerate', (cb: (error?: Error) => void) => void>;
          const answer = () => heard.length === 2 && res.json(heard);
          current.reload((error) => {
            heard.push(`reload: ${error?.message ?? 'ok'}`);
            answer();
          });
          current.regenerate((error) => {
            heard.push(`regenerate: ${error?.message ?? 'ok'}`);
            sessionOf(req).user = 'admin';
            answer();
          });
        });
        app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
      });
      await client.post('/login');
      const elevate = await client.post('/elevate');
      const users = Object.values(store.sessions).map((json) => (JSON.parse(json) as { user?: string }).user);
      return { reply: `${elevate.status} ${elevate.body}`, users, me: (await client.request('/me')).body };
    });
    expect(seen['express-session']).toEqual({ reply: '200 ["reload: ok","regenerate: ok"]', users: ['admin'], me: 'admin' });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });
});

describe('session methods after the response has gone out, side by side', () => {
  const { prefix, redis } = redisFor('late');

  type Callback = (error?: unknown) => void;
  type Methods = Record<'destroy' | 'regenerate' | 'reload' | 'save', (callback?: Callback) => void>;
  const methodsOf = (req: Request) => sessionOf(req) as unknown as Methods;

  /** Store calls that fail while set, as a replica that is down. */
  interface Failing {
    set: boolean;
    destroy: boolean;
  }

  /** A store the parity tests run on, and what it holds: each record's data but its cookie. */
  interface Backing {
    readonly store: object;
    records(): Promise<Record<string, unknown>[]>;
    /** Resolves once the store has called back from its next `destroy`. */
    nextDestroy(): Promise<void>;
  }

  interface CallbackStore {
    set(sid: string, session: unknown, callback?: Callback): unknown;
    destroy(sid: string, callback?: Callback): unknown;
  }

  /** Makes `store`'s set and destroy fail while `failing` says so, and tells each finished destroy. */
  function instrument(store: CallbackStore, failing: Failing): Backing['nextDestroy'] {
    const waiting: (() => void)[] = [];
    const [set, destroy] = [store.set.bind(store), store.destroy.bind(store)];
    const down = (callback?: Callback) => setImmediate(() => callback?.(new Error('replica down')));
    store.set = (sid, session, callback) => (failing.set ? down(callback) : set(sid, session, callback));
    store.destroy = (sid, callback) => {
      const finish = (error?: unknown) => {
        callback?.(error);
        for (const resolve of waiting.splice(0)) resolve();
      };
      return failing.destroy ? down(finish) : destroy(sid, finish);
    };
    return () => new Promise((resolve) => waiting.push(resolve));
  }

  const dataOf = (json: string) => {
    const { cookie: _, ...data } = JSON.parse(json) as Record<string, unknown>;
    return data;
  };
  const byUser = (records: Record<string, unknown>[]) => records.sort((a, b) => String(a.user).localeCompare(String(b.user)));

  const BACKINGS = {
    MemoryStore: (module: SessionModule, failing: Failing): Backing => {
      const store = new module.MemoryStore();
      const nextDestroy = instrument(store as unknown as CallbackStore, failing);
      return { store, records: async () => byUser(Object.values(store.sessions).map(dataOf)), nextDestroy };
    },
    'connect-redis': (_module: SessionModule, failing: Failing): Backing => {
      const { RedisStore } = installed('connect-redis') as { RedisStore: new (options: object) => object };
      const keys = `${prefix}${randomUUID()}:`;
      const store = new RedisStore({ client: redis(), prefix: keys });
      const records = async () => {
        const found = await redis().keys(`${keys}*`);
        const values = found.length === 0 ? [] : await redis().mGet(found);
        return byUser(values.map((json) => dataOf(json as string)));
      };
      return { store, records, nextDestroy: instrument(store as CallbackStore, failing) };
    },
  } as const;

  /** Unhandled rejections and uncaught exceptions while `work` runs (each would end an app's process). */
  async function crashesDuring<T>(work: () => Promise<T>): Promise<[T, string[]]> {
    const crashes: string[] = [];
    const onRejection = (reason: unknown) => crashes.push(`unhandledRejection: ${String(reason)}`);
    const onException = (error: unknown) => crashes.push(`uncaughtException: ${String(error)}`);
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    try {
      const value = await work();
      // A rejection nobody handles is reported once the ticks of its turn have run.
      await new Promise((resolve) => setImmediate(resolve));
      return [value, crashes];
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    }
  }

  interface Scenario {
    /** `/logout`: answers, then calls a session method, passing `callback` where it takes one. */
    readonly route: (req: Request, res: Response, callback: Callback) => void;
    /** What marks the late work done: the app's callback (the default), or the store's destroy. */
    readonly awaits?: 'callback' | 'destroy';
    /** The store calls that fail during `/logout`. */
    readonly failing?: Partial<Failing>;
    /** Middleware options over the settled ones. */
    readonly options?: object;
  }

  /**
   * Signs `ada` in, then runs `/logout` on each module and store: the reply, whether it set the
   * session cookie, what the callback heard (each call), the records stored once the late work is
   * done, the next request's user, and whatever would have ended the process.
   */
  async function afterResponse(scenario: Scenario) {
    const seen: Record<string, Record<string, unknown>> = {};
    for (const [backing, make] of Object.entries(BACKINGS)) {
      seen[backing] = await onBoth(async (module) => {
        const failing: Failing = { set: false, destroy: false };
        const { store, records, nextDestroy } = make(module, failing);
        const heard: string[] = [];
        let called = () => {};
        const callback: Callback = (error) => {
          heard.push(error ? ((error as Error).message ?? String(error)) : 'ok');
          called();
        };
        const client = await serve(module, { ...settled, store, ...scenario.options }, (app) => {
          app.post('/login', (req, res) => {
            sessionOf(req).user = 'ada';
            res.send('ok');
          });
          app.post('/logout', (req, res) => scenario.route(req, res, callback));
          app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
        });
        const [outcome, crashes] = await crashesDuring(async () => {
          await client.post('/login');
          Object.assign(failing, scenario.failing);
          const done = scenario.awaits === 'destroy' ? nextDestroy() : new Promise<void>((resolve) => (called = resolve));
          const reply = await client.post('/logout');
          await done;
          Object.assign(failing, { set: false, destroy: false });
          const stored = await records();
          const me = (await client.request('/me')).body;
          return {
            reply: `${reply.status} ${reply.headers.get('location') ?? reply.body}`,
            setCookie: sessionCookie(reply.setCookies)?.replace(/=[^;]*/, '') ?? null,
            records: stored,
            me,
          };
        });
        return { ...outcome, heard, crashes };
      });
    }
    return seen;
  }

  /** What every store shows: `peer` on express-session, `ours` on this package (the same unless told). */
  const onEveryStore = (peer: object, ours: object = peer) =>
    Object.fromEntries(Object.keys(BACKINGS).map((backing) => [backing, { 'express-session': peer, '@sess/express-session': ours }]));

  /** The user is signed out: the record is gone, the browser's cookie names nothing, and nothing crashed. */
  const signedOut = { setCookie: null, records: [], me: 'undefined', crashes: [] };
  const signedIn = { setCookie: null, records: [{ user: 'ada' }], me: 'ada', crashes: [] };

  it("res.redirect('/'); req.session.destroy() with no callback: the redirect goes out, then the record is deleted", async () => {
    const routes: Record<string, Scenario['route']> = {
      unchanged: (req, res) => {
        res.redirect('/');
        methodsOf(req).destroy();
      },
      // The commit writes the change while the destroy waits for it: the write must not outlive the destroy.
      changed: (req, res) => {
        sessionOf(req).flash = 'signed out';
        res.redirect('/');
        methodsOf(req).destroy();
      },
    };
    for (const [name, route] of Object.entries(routes)) {
      const seen = await afterResponse({ route, awaits: 'destroy' });
      expect(seen, name).toEqual(onEveryStore({ reply: '302 /', heard: [], ...signedOut }));
    }
  });

  it("res.redirect('/'); req.session.destroy(cb): the callback hears no error, once, and the user is signed out", async () => {
    const seen = await afterResponse({
      route: (req, res, callback) => {
        res.redirect('/');
        methodsOf(req).destroy(callback);
      },
    });
    expect(seen).toEqual(onEveryStore({ reply: '302 /', heard: ['ok'], ...signedOut }));
  });

  it('destroy(cb) on a later turn (setTimeout) or from the response’s finish event signs the user out', async () => {
    const routes: Record<string, Scenario['route']> = {
      setTimeout: (req, res, callback) => {
        res.end();
        setTimeout(() => methodsOf(req).destroy(callback));
      },
      finish: (req, res, callback) => {
        res.on('finish', () => methodsOf(req).destroy(callback));
        res.end();
      },
    };
    for (const [name, route] of Object.entries(routes)) {
      const seen = await afterResponse({ route });
      expect(seen, name).toEqual(onEveryStore({ reply: '200 ', heard: ['ok'], ...signedOut }));
    }
  });

  it('destroy after the response when the store cannot delete: the callback hears it once, the user stays signed in, nothing crashes', async () => {
    const withCallback = await afterResponse({
      failing: { destroy: true },
      route: (req, res, callback) => {
        res.redirect('/');
        methodsOf(req).destroy(callback);
      },
    });
    expect(withCallback).toEqual(
      onEveryStore(
        { reply: '302 /', heard: ['replica down'], ...signedIn },
        // sess's SessStoreError, whose `cause` is the store's error.
        { reply: '302 /', heard: [expect.stringMatching(/^\[sess\] store "\w+" failed to destroy$/)], ...signedIn },
      ),
    );
    // Nobody hears of the failure: it must not end the process as an unhandled rejection.
    const withoutCallback = await afterResponse({
      failing: { destroy: true },
      awaits: 'destroy',
      route: (req, res) => {
        res.redirect('/');
        methodsOf(req).destroy();
      },
    });
    expect(withoutCallback).toEqual(onEveryStore({ reply: '302 /', heard: [], ...signedIn }));
  });

  it('regenerate(cb) after res.end(): the old record is deleted and the callback hears no error, so the user is signed out', async () => {
    const seen = await afterResponse({
      route: (req, res, callback) => {
        res.end();
        methodsOf(req).regenerate(callback);
      },
    });
    // The new session's cookie can't go out any more, and nothing writes it.
    expect(seen).toEqual(onEveryStore({ reply: '200 ', heard: ['ok'], ...signedOut }));
  });

  it('regenerate(cb) after res.end(), then a write and save(cb): the new session is stored, under an id no browser holds', async () => {
    const seen = await afterResponse({
      route: (req, res, callback) => {
        res.end();
        methodsOf(req).regenerate((error) => {
          if (error) return callback(error);
          sessionOf(req).user = 'bob';
          methodsOf(req).save(callback);
        });
      },
    });
    // Both write the record of a session whose cookie never left: it dies with its TTL.
    expect(seen).toEqual(onEveryStore({ reply: '200 ', heard: ['ok'], ...signedOut, records: [{ user: 'bob' }] }));
  });

  it('reload(cb) after res.end(): express-session reloads, sess refuses with an error; neither writes, the user stays signed in', async () => {
    const seen = await afterResponse({
      route: (req, res, callback) => {
        res.end();
        methodsOf(req).reload(callback);
      },
    });
    // The core takes no store work once its commit has begun but a sign-out. A reload only reads,
    // so the session and the store stay as they are; the app hears why, once.
    expect(seen).toEqual(
      onEveryStore(
        { reply: '200 ', heard: ['ok'], ...signedIn },
        { reply: '200 ', heard: [expect.stringMatching(/^\[sess\] reload is not allowed now: the commit has begun/)], ...signedIn },
      ),
    );
  });

  it('save() and save(cb) after the response (right after res.end(), in its finish event, on a later turn): express-session writes the late change; sess writes nothing, tells the callback why and warns once', async () => {
    const late = (req: Request, callback: Callback) => {
      sessionOf(req).visits = 2;
      methodsOf(req).save();
      methodsOf(req).save(callback);
    };
    const routes: Record<string, Scenario['route']> = {
      end: (req, res, callback) => {
        res.end();
        late(req, callback);
      },
      finish: (req, res, callback) => {
        res.on('finish', () => late(req, callback));
        res.end();
      },
      setImmediate: (req, res, callback) => {
        res.end();
        setImmediate(() => late(req, callback));
      },
    };
    const warned = await warningsDuring(async () => {
      for (const [name, route] of Object.entries(routes)) {
        // A write after the response is one the browser can't be told of, and it can bring back a
        // record that a sign-out elsewhere (another tab) deleted since this request read it, as
        // express-session's does: sess refuses it, and says so (nothing unhandled for `save()`).
        expect(await afterResponse({ route }), name).toEqual(
          onEveryStore(
            { reply: '200 ', heard: ['ok'], ...signedIn, records: [{ user: 'ada', visits: 2 }] },
            {
              reply: '200 ',
              heard: [expect.stringMatching(/^\[sess\] req\.session\.save\(\) came after the response was committed/)],
              ...signedIn,
            },
          ),
        );
      }
    });
    // The bare `save()` hears nothing else: the process warning is what tells the app.
    expect(warned.filter((code) => code === 'SESS_EXPRESS_SESSION_LATE_SAVE')).toEqual(['SESS_EXPRESS_SESSION_LATE_SAVE']);
  });

  it('a session the app let go of (req.session = null, unset: keep or destroy), destroyed or regenerated on it right after res.end(): the user is signed out', async () => {
    /** `req.session` as the app holds it after letting the request's go. */
    const heldAfterLettingGo = (req: Request) => {
      const held = methodsOf(req);
      (req as unknown as { session: unknown }).session = null;
      return held;
    };
    const routes: Record<string, Scenario['route']> = {
      destroy: (req, res, callback) => {
        const held = heldAfterLettingGo(req);
        res.end();
        held.destroy(callback);
      },
      regenerate: (req, res, callback) => {
        const held = heldAfterLettingGo(req);
        res.end();
        held.regenerate(callback);
      },
      destroyLater: (req, res, callback) => {
        const held = heldAfterLettingGo(req);
        res.end();
        setTimeout(() => held.destroy(callback));
      },
    };
    // `destroy` and `regenerate` come while the let-go's commit is in flight (with unset: 'keep',
    // between the let-go and the commit; with 'destroy', during the commit's own delete),
    // `destroyLater` once it is over.
    const out = { reply: '200 ', heard: ['ok'], ...signedOut };
    for (const [name, route] of Object.entries(routes)) {
      expect(await afterResponse({ route }), name).toEqual(onEveryStore(out));
    }
    // sess tells the browser its cookie is gone, as for any session the app destroyed.
    const cookieGone = { ...out, setCookie: expect.stringMatching(/^connect\.sid; Max-Age=0;/) };
    for (const [name, route] of Object.entries(routes)) {
      const seen = await afterResponse({ route, options: { unset: 'destroy' } });
      expect(seen, `unset: 'destroy', ${name}`).toEqual(onEveryStore(out, cookieGone));
    }
  });

  it('destroy(cb) right after a redirect whose commit cannot write: the error answers, the callback is called once, nothing crashes', async () => {
    const seen = await afterResponse({
      failing: { set: true },
      route: (req, res, callback) => {
        sessionOf(req).flash = 'signed out';
        res.redirect('/');
        methodsOf(req).destroy(callback);
      },
    });
    // express-session sends the redirect behind the failed write (its error reaches no one), then
    // deletes the record. sess answers the error, and the sign-out still deletes the record.
    expect(seen).toEqual(onEveryStore({ reply: '302 /', heard: ['ok'], ...signedOut }, { reply: '503 /', heard: ['ok'], ...signedOut }));
  });
});

/**
 * express-session's own test suite (test/session.js), behaviour by behaviour: each case runs the
 * same app on both modules over real HTTP, one browser sending the session cookie it was given,
 * and compares what the browser sees (status, body, the Set-Cookie lines) and which store calls
 * each request made. Its defaults are those of that suite: a secret and `cookie: { maxAge: 60000 }`.
 */
describe("express-session's test suite, side by side", () => {
  type Handler = (req: Request, res: Response, next: (error?: unknown) => void) => void;
  type CallbackStore = Record<string, unknown> & { sessions: Record<string, string> };
  interface Step {
    readonly path?: string;
    readonly method?: string;
    readonly headers?: Record<string, string>;
    /** The Cookie header: the session cookie held (default), none, or one made from the held `name=value`. */
    readonly send?: 'none' | ((held: string) => string);
    /** Done to the store before the request, as the suite's tests reach into it. */
    readonly before?: (store: CallbackStore) => void;
    /** Sent to the second app (`Case.second`) on the same store. */
    readonly second?: boolean;
  }
  interface Case {
    readonly options?: Record<string, unknown>;
    /** Middleware before the session's. */
    readonly before?: Handler;
    /** The app after the session's middleware; by default `res.end()`. */
    readonly handler?: Handler;
    /** Mounts the session and handler in a sub-app at this path. */
    readonly mount?: string;
    readonly trustProxy?: boolean;
    /**
     * The store: the module's MemoryStore (default), one whose callbacks run synchronously, or one
     * that gives `cookie.expires` back as a Date (as connect-mongo does).
     */
    readonly store?: 'memory' | 'sync' | 'dates';
    /** The options of a second app on the same store, as another server of the same site. */
    readonly second?: Record<string, unknown>;
    readonly steps: readonly Step[];
    /** What sess shows instead, from what express-session showed, where the README says they differ. */
    readonly differs?: (peer: Seen[]) => void;
  }
  type Seen = Awaited<ReturnType<typeof run>>[number];

  /** A Set-Cookie line as the browser reads it: its name, whether the id changed, its attributes (Expires as seconds from Date). */
  function cookieSeen(line: string, date: string | null, held: string | undefined) {
    const [pair = '', ...attributes] = line.split(/;\s*/);
    const name = pair.slice(0, pair.indexOf('='));
    const idOf = (value: string | undefined) =>
      value && decodeURIComponent(value.slice(value.indexOf('=') + 1)).replace(/^s:|\.[^.]*$/g, '');
    const shape = attributes
      // sess adds Max-Age beside Expires (README: what is different).
      .filter((attribute) => !/^max-age=/i.test(attribute))
      .map((attribute) => {
        const [key = '', value] = attribute.split('=');
        if (key.toLowerCase() !== 'expires') return attribute;
        const seconds = Math.round((Date.parse(value as string) - Date.parse(date ?? '')) / 1000);
        return seconds < 0 ? 'Expires~past' : `Expires~${seconds}s`;
      })
      .sort();
    return { name, sameId: held === undefined ? null : idOf(pair) === idOf(held), shape };
  }

  async function run(module: SessionModule, test: Case, express: ExpressFactory) {
    const calls: string[] = [];
    const store = (test.store === undefined || test.store === 'memory'
      ? new module.MemoryStore()
      : new (plainStore(module, test.store))()) as unknown as CallbackStore;
    for (const method of ['get', 'set', 'touch', 'destroy']) {
      const original = store[method] as ((...args: unknown[]) => unknown) | undefined;
      if (original === undefined) continue;
      store[method] = function (this: unknown, ...args: unknown[]) {
        calls.push(method);
        return original.apply(this, args);
      };
    }
    const serveWith = async (options: Record<string, unknown> | undefined) => {
      const app = express();
      if (test.trustProxy) app.set('trust proxy', true);
      const inner = test.mount === undefined ? app : express();
      if (test.before) inner.use(test.before);
      inner.use(module({ secret: 'keyboard cat', cookie: { maxAge: 60_000 }, store, ...options }));
      inner.use(test.handler ?? ((_req, res) => res.end()));
      if (test.mount !== undefined) app.use(test.mount, inner);
      app.use((error: Error, _req: Request, res: Response, _next: unknown) => {
        if (res.headersSent) return;
        const { cause } = error as { cause?: unknown };
        const message = error.message.replace(/^.*Cannot read prop.*$/, 'Cannot read prop');
        res.status(500).end(`error: ${message}${cause instanceof Error ? ` (cause: ${cause.message})` : ''}`);
      });
      const served = await listen(app);
      servers.push(served);
      return served;
    };
    const first = await serveWith(test.options);
    const second = test.second === undefined ? first : await serveWith(test.second);
    let held: string | undefined;
    const steps = [];
    for (const step of test.steps) {
      step.before?.(store);
      calls.length = 0;
      const headers = new Headers(step.headers);
      const cookie = step.send === 'none' ? undefined : held === undefined ? undefined : step.send ? step.send(held) : held;
      if (cookie !== undefined) headers.set('cookie', cookie);
      const served = step.second ? second : first;
      const response = await fetch(`${served.url}${step.path ?? '/'}`, { method: step.method ?? 'GET', headers, redirect: 'manual' });
      const body = await response.text();
      // The store calls of this request: the response is out once its commit is over on both.
      await served.idle();
      const lines = response.headers.getSetCookie();
      const session = lines.find((line) => line.startsWith(`${String(test.options?.name ?? test.options?.key ?? 'connect.sid')}=`));
      steps.push({
        status: response.status,
        body,
        cookie: session === undefined ? null : cookieSeen(session, response.headers.get('date'), held),
        others: lines.filter((line) => line !== session),
        calls: calls.join(','),
        records: Object.keys(store.sessions).length,
      });
      if (session !== undefined) held = session.split(';')[0];
    }
    return steps;
  }

  /**
   * A store of JSON records without touch: `sync` calls back before its methods return (the
   * suite's SyncStore), `dates` on a later turn with `cookie.expires` a Date (its SmartStore).
   */
  function plainStore(module: SessionModule, kind: 'sync' | 'dates') {
    const answer = (callback: (...args: unknown[]) => void, ...args: unknown[]) =>
      kind === 'sync' ? callback(...args) : setImmediate(callback, ...args);
    return class PlainStore extends module.Store {
      sessions: Record<string, string> = {};
      get(sid: string, callback: (error: unknown, session?: unknown) => void) {
        const json = this.sessions[sid];
        const record = json === undefined ? undefined : (JSON.parse(json) as { cookie?: { expires?: unknown } });
        if (kind === 'dates' && typeof record?.cookie?.expires === 'string') record.cookie.expires = new Date(record.cookie.expires);
        answer(callback, null, record);
      }
      set(sid: string, session: unknown, callback: () => void) {
        this.sessions[sid] = JSON.stringify(session);
        answer(callback);
      }
      destroy(sid: string, callback: () => void) {
        delete this.sessions[sid];
        answer(callback);
      }
    };
  }

  /** Both modules' steps, with Expires a second apart taken as the same (the clocks tick between). */
  async function seenOnBoth(test: Case, express: ExpressFactory) {
    const seen = await onBoth((module) => run(module, test, express));
    const peer = seen['express-session'] ?? [];
    for (const [index, step] of (seen['@sess/express-session'] ?? []).entries()) {
      const expected = peer[index]?.cookie?.shape ?? [];
      step.cookie?.shape.forEach((attribute, at) => {
        const other = expected[at];
        const seconds = (text: string | undefined) => Number(/^Expires~(-?\d+)s$/.exec(text ?? '')?.[1] ?? Number.NaN);
        if (Math.abs(seconds(attribute) - seconds(other)) <= 1) (step.cookie as { shape: string[] }).shape[at] = other as string;
      });
    }
    return seen;
  }

  /** Counts the request in the session; the new count. */
  const counted = (req: Request) => {
    const session = sessionOf(req);
    session.count = ((session.count as number | undefined) ?? 0) + 1;
    return session.count as number;
  };
  const bump: Handler = (req, res) => res.end(`count ${counted(req)}`);
  /** Counts, and lets the session go (`req.session = null`) on the second visit. */
  const unsetOnSecond: Handler = (req, res) => {
    counted(req);
    if (sessionOf(req).count === 2) (req as unknown as { session: null }).session = null;
    res.end();
  };
  const setUser: Handler = (req, res) => {
    sessionOf(req).user = 'bob';
    res.end();
  };
  const methods = (req: Request) => req.session as unknown as Record<string, (callback?: (error?: unknown) => void) => unknown>;
  const twice = [{}, {}];
  const readmeAuth: Handler = (req, res, next) => {
    const session = methods(req);
    if (req.url === '/login') {
      session.regenerate?.((error) => {
        if (error) return next(error);
        sessionOf(req).user = 'bob';
        methods(req).save?.((error) => (error ? next(error) : res.redirect('/')));
      });
    } else if (req.url === '/logout') {
      sessionOf(req).user = null;
      session.save?.((error) => {
        if (error) return next(error);
        methods(req).regenerate?.((error) => (error ? next(error) : res.redirect('/')));
      });
    } else res.end(`user ${String(sessionOf(req).user)} ${req.sessionID === req.session.id}`);
  };
  /** The cookie sess sends for a session the app destroyed (README: a destroyed session's cookie is deleted). */
  const deleted = { name: 'connect.sid', sameId: false, shape: ['Expires~past', 'HttpOnly', 'Path=/'] };
  /** What sess's store saw, where it differs: `calls` by step. */
  const callsAre =
    (...calls: (string | undefined)[]) =>
    (peer: Seen[]) =>
      calls.forEach((call, step) => {
        if (call !== undefined) (peer[step] as { calls: string }).calls = call;
      });
  const xfp = { 'x-forwarded-proto': 'https' };

  const CASES: Record<string, Case> = {
    'a new session is stored and its cookie sent; the next request loads it': { handler: bump, steps: twice },
    'a session already on the request is left alone': {
      before: (req, _res, next) => {
        (req as unknown as { session: object }).session = {};
        next();
      },
      steps: [{}],
    },
    'no secret: the error says it is required': { options: { secret: undefined }, steps: [{}] },
    "no secret option: cookie-parser's req.secret signs": {
      options: { secret: undefined },
      before: (req, _res, next) => {
        (req as unknown as { secret: string }).secret = 'keyboard cat';
        next();
      },
      handler: bump,
      steps: twice,
    },
    'a store read failing reaches the error handling': {
      differs: (peer) => {
        // A SessStoreError, the store's error its cause (README: what is different).
        (peer[1] as { body: string }).body = 'error: [sess] store "MemoryStore" failed to get (cause: boom!)';
      },
      handler: bump,
      steps: [
        {},
        {
          before: (store) => {
            store.get = (_sid: string, callback: (error: Error) => void) => callback(new Error('boom!'));
          },
        },
      ],
    },
    'a store read failing with ENOENT is a new session': {
      handler: bump,
      steps: [
        {},
        {
          before: (store) => {
            store.get = (_sid: string, callback: (error: Error) => void) => callback(Object.assign(new Error('boom!'), { code: 'ENOENT' }));
          },
        },
      ],
    },
    'res.end twice, and res.end(null)': {
      handler: (req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        res.end(req.url === '/null' ? null : 'Hello, world!');
        res.end();
      },
      steps: [{}, { path: '/null' }],
    },
    'a stored key named like a Session method (save) is left out': {
      handler: bump,
      steps: [
        {},
        {
          before: (store) => {
            for (const [id, json] of Object.entries(store.sessions))
              store.sessions[id] = JSON.stringify({ ...JSON.parse(json), save: 'nope' });
          },
        },
      ],
    },
    "only the data and cookie are the session's enumerable keys": {
      handler: (req, res) => {
        Object.assign(sessionOf(req), { test1: 1, test2: 'b' });
        const inLoop: string[] = [];
        for (const key in req.session) inLoop.push(key);
        res.end(`${Object.keys(req.session).sort().join(',')} ${inLoop.sort().join(',')}`);
      },
      steps: [{}],
    },
    'a store that lost the session: a new one, with a new id': {
      handler: bump,
      steps: [{}, { before: (store) => (store.clear as () => void)() }],
    },
    'a cookie without a signature: a new session, with a new id': {
      options: { key: 'sessid' },
      handler: bump,
      steps: [{}, { send: (held) => held.replace(/\.[^.]*$/, '') }],
    },
    'a cookie with a wrong signature: a new session, the store not asked': {
      options: { key: 'sessid' },
      handler: bump,
      steps: [{}, { send: (held) => held.replace(/...(?=\.)/, '') }],
    },
    'a stored session without cookie: the error reaches the error handling': {
      differs: (peer) => {
        // express-session fails on it; sess reads it with the configured cookie (README: what is different).
        Object.assign(peer[1] as object, { status: 200, body: 'count 1', calls: 'get,set' });
      },
      handler: bump,
      steps: [
        {},
        {
          before: (store) => {
            for (const id of Object.keys(store.sessions)) store.sessions[id] = JSON.stringify({ foo: 'bar' });
          },
        },
      ],
    },
    'proxy: true, secure: trusts X-Forwarded-Proto, a list too; no header, no cookie': {
      options: { proxy: true, cookie: { secure: true, maxAge: 5_000 } },
      steps: [{ headers: xfp }, { send: 'none', headers: { 'x-forwarded-proto': 'https,http' } }, { send: 'none' }],
    },
    'proxy: false, secure: X-Forwarded-Proto and trust proxy are ignored': {
      options: { proxy: false, cookie: { secure: true } },
      trustProxy: true,
      handler: (req, res) => res.end(String(req.secure)),
      steps: [{ headers: xfp }],
    },
    "proxy unset, secure: Express's req.secure decides": {
      options: { cookie: { secure: true } },
      trustProxy: true,
      handler: (req, res) => res.end(String(req.secure)),
      steps: [{}, { headers: xfp }],
    },
    'cookie.path /foo/bar: no session outside it, one inside': {
      options: { cookie: { path: '/foo/bar' } },
      handler: (req, res) => res.end(typeof req.session),
      steps: [{}, { path: '/foo/bar' }, { path: '/foo/bar/baz', send: 'none' }, { path: '/foo/barbaz', send: 'none' }],
    },
    'cookie.path /foo/bar in an app mounted at /foo': {
      options: { cookie: { path: '/foo/bar' } },
      mount: '/foo',
      handler: (req, res) => res.end(typeof req.session),
      steps: [{ path: '/foo/bar' }, { path: '/foo/foo/bar', send: 'none' }],
    },
    "secure: 'auto' with proxy true, false and unset": {
      options: { proxy: true, cookie: { secure: 'auto', maxAge: 5_000 } },
      steps: [{ headers: xfp }, { send: 'none' }],
    },
    "secure: 'auto', proxy: false: no Secure behind a proxy": {
      options: { proxy: false, cookie: { secure: 'auto' } },
      trustProxy: true,
      steps: [{ headers: xfp }],
    },
    "secure: 'auto', proxy unset: Express's req.secure decides": {
      options: { cookie: { secure: 'auto' } },
      trustProxy: true,
      steps: [{ headers: xfp }, { send: 'none' }],
    },
    'genid(req) makes the id, byte for byte the same cookie': {
      options: { genid: (req: Request) => `id${req.url.replace(/\W/g, '_').padEnd(30, 'x')}` },
      handler: (req, res) => res.end(req.sessionID),
      steps: [{ path: '/foo' }],
    },
    'name, and connect’s old key': {
      options: { name: 'session_id' },
      steps: [{}],
    },
    key: { options: { key: 'session_id' }, steps: [{}] },
    'rolling defaults to false: no cookie for an unchanged session': { handler: setUser, steps: twice },
    'rolling: the cookie is re-sent for an unchanged session': { options: { rolling: true }, handler: setUser, steps: twice },
    'rolling, saveUninitialized: false: no cookie or record for a new untouched session': {
      options: { rolling: true, saveUninitialized: false },
      steps: twice,
    },
    'rolling, saveUninitialized: true: a new untouched session is saved with its cookie': {
      options: { rolling: true, saveUninitialized: true },
      steps: twice,
    },
    'rolling, saveUninitialized: false: a written new session is saved with its cookie': {
      options: { rolling: true, saveUninitialized: false },
      handler: setUser,
      steps: twice,
    },
    'resave defaults to true: an unchanged session is saved again': { handler: setUser, steps: twice },
    'resave: false: an unchanged session is touched, a changed one saved': {
      options: { resave: false },
      handler: (req, res) => {
        if (req.method === 'PUT') sessionOf(req).token = req.url.slice(1);
        res.end(`token=${String(sessionOf(req).token ?? '')}`);
      },
      steps: [{ method: 'PUT', path: '/w6RHhwaA' }, {}, { method: 'PUT', path: '/zfQ3rzM3' }],
    },
    'resave: false: a nested property named cookie is a change': {
      options: { resave: false },
      handler: (req, res) => {
        const user = (sessionOf(req).user ??= { name: 'bob', cookie: 0 }) as { cookie: number };
        user.cookie += 1;
        res.end();
      },
      steps: twice,
    },
    'saveUninitialized defaults to true: a new untouched session is saved with its cookie': { steps: twice },
    'saveUninitialized: false: nothing saved, touched or sent for a new untouched session': {
      options: { saveUninitialized: false },
      steps: twice,
    },
    'saveUninitialized: false: a written session is saved': { options: { saveUninitialized: false }, handler: bump, steps: twice },
    'secret as a Buffer': { options: { secret: Buffer.from('a secret of thirty-two bytes....') }, handler: bump, steps: twice },
    'secret as an array: the first signs, all verify': {
      options: { secret: ['keyboard cat', 'nyan cat'] },
      handler: bump,
      steps: [{}, { send: (held) => held }],
    },
    'unset defaults to keep: req.session = null leaves the record': {
      handler: unsetOnSecond,
      steps: twice,
    },
    "unset: 'destroy': req.session = null deletes the record": {
      differs: (peer) => {
        (peer[1] as { cookie: object }).cookie = deleted;
      },
      options: { unset: 'destroy' },
      handler: unsetOnSecond,
      steps: twice,
    },
    "unset: 'destroy' of a new session: no cookie, no record": {
      differs: callsAre(''),
      options: { unset: 'destroy' },
      handler: (req, res) => {
        (req as unknown as { session: null }).session = null;
        res.end();
      },
      steps: [{}],
    },
    'res.write and res.end patched before and after the middleware': {
      before: (_req, res, next) => {
        const [write, end] = [res.write, res.end];
        res.write = function (this: Response, ...args: unknown[]) {
          return (write as (...args: unknown[]) => boolean).apply(this, args);
        } as Response['write'];
        res.end = function (this: Response, ...args: unknown[]) {
          return (end as (...args: unknown[]) => Response).apply(this, args);
        } as Response['end'];
        next();
      },
      handler: (req, res) => {
        const [write, end] = [res.write, res.end];
        res.write = ((...args: unknown[]) => (write as (...args: unknown[]) => boolean).apply(res, args)) as Response['write'];
        res.end = ((...args: unknown[]) => (end as (...args: unknown[]) => Response).apply(res, args)) as Response['end'];
        sessionOf(req).hit = true;
        res.write('hello, ');
        res.end('world');
      },
      steps: twice,
    },
    'the cookie is re-sent only when the session changed': {
      handler: (req, res) => {
        if (req.url !== '/read') counted(req);
        res.end(String(sessionOf(req).count));
      },
      steps: [{}, {}, { path: '/read' }, {}],
    },
    'destroy(cb): no cookie, req.session gone': {
      differs: callsAre('', ''),
      handler: (req, res) => methods(req).destroy?.((error) => res.status(error ? 500 : 200).end(String(req.session))),
      steps: twice,
    },
    'regenerate(cb): a new id and cookie': {
      differs: callsAre('set'),
      handler: (req, res) => {
        const id = req.session.id;
        methods(req).regenerate?.((error) => res.status(error ? 500 : 200).end(String(req.session.id === id)));
      },
      steps: twice,
    },
    'reload(cb) of a session the store lost: the error, and twenty reloads on top of each other do not overflow': {
      differs: callsAre(undefined, 'get,get', 'get,set'),
      options: { resave: false },
      handler: (req, res) => {
        if (req.url === '/') {
          sessionOf(req).active = true;
          res.end('created');
          return;
        }
        (req.sessionStore as unknown as { clear(callback: () => void): void }).clear(() => {
          if (req.url === '/once') {
            methods(req).reload?.((error) => res.status(error ? 500 : 200).end(error ? (error as Error).message : ''));
            return;
          }
          let left = 20;
          const reload = () => {
            left -= 1;
            if (left === 0) res.end('ok');
            else methods(req).reload?.(reload);
          };
          reload();
        });
      },
      steps: [{}, { path: '/once' }, { path: '/many' }],
    },
    'save(cb): stored when it calls back, and not saved again at the end': {
      differs: callsAre(undefined, 'get,set,get'),
      handler: (req, res) => {
        sessionOf(req).hit = true;
        methods(req).save?.((error) => {
          if (error) return res.end((error as Error).message);
          (req.sessionStore as unknown as { get(id: string, callback: (error: unknown, session: unknown) => void): void }).get(
            req.sessionID,
            (_error, stored) => res.end(stored ? 'stored' : 'empty'),
          );
        });
      },
      steps: twice,
    },
    'reload(cb) then save(cb): saved once': {
      differs: callsAre('set', 'get,get,set'),
      handler: (req, res) => {
        sessionOf(req).hit = true;
        methods(req).reload?.(() => methods(req).save?.((error) => res.end(error ? (error as Error).message : 'saved')));
      },
      steps: twice,
    },
    'saveUninitialized: false, save(cb): saved once': {
      differs: callsAre(undefined, 'get,set'),
      options: { saveUninitialized: false },
      handler: (req, res) => {
        sessionOf(req).hit = true;
        methods(req).save?.((error) => res.end(error ? (error as Error).message : 'saved'));
      },
      steps: twice,
    },
    'touch() with resave: false': {
      options: { resave: false },
      handler: (req, res) => {
        sessionOf(req).hit = true;
        methods(req).touch?.();
        res.end();
      },
      steps: twice,
    },
    'req.session.cookie.httpOnly and secure set by the handler go on the cookie': {
      options: { proxy: true },
      handler: (req, res) => {
        Object.assign(req.session.cookie, { httpOnly: false, secure: true });
        res.end();
      },
      steps: [{ headers: xfp }, { send: 'none' }],
    },
    'without maxAge a browser-session cookie, sent once': {
      options: { cookie: { path: '/admin' } },
      steps: [{ path: '/admin/foo' }, { path: '/admin' }],
    },
    'cookie options, and secure turned off by the handler': {
      options: { cookie: { httpOnly: false, maxAge: 5000, path: '/admin', priority: 'high', secure: true } },
      handler: (req, res) => {
        req.session.cookie.secure = false;
        res.end();
      },
      steps: [{ path: '/admin' }],
    },
    'Set-Cookie lines the app sets, with setHeader or in writeHead, stay': {
      handler: (req, res) => {
        const line = 'previous=cookieValue; Path=/; HttpOnly';
        if (req.url === '/head') res.writeHead(200, { 'Set-Cookie': line });
        else res.setHeader('Set-Cookie', line);
        res.end();
      },
      steps: [{}, { path: '/head', send: 'none' }, { path: '/head' }],
    },
    'originalMaxAge is the configured maxAge on every request': {
      options: { cookie: { maxAge: 2000 } },
      handler: (req, res) => res.end(String(Math.round((req.session.cookie.originalMaxAge ?? 0) / 100))),
      steps: twice,
    },
    'cookie.maxAge set by the handler sets Expires': {
      options: { cookie: { maxAge: 2000 } },
      handler: (req, res) => {
        const count = counted(req);
        if (count === 3) req.session.cookie.maxAge = 5000;
        if (count === 4) req.session.cookie.maxAge = 3_000_000_000;
        res.end(String(count));
      },
      steps: [{}, {}, {}, {}],
    },
    'cookie.expires = null: a browser-session cookie, not re-sent, changed or not': {
      handler: (req, res) => {
        req.session.cookie.expires = null as unknown as Date;
        if (req.url === '/hit') sessionOf(req).hit = ((sessionOf(req).hit as number | undefined) ?? 0) + 1;
        res.end();
      },
      steps: [{}, {}, { path: '/hit', send: 'none' }, { path: '/hit' }],
    },
    // sess refuses Partitioned without Secure when session() is called: browsers drop such a cookie.
    'partitioned: true': { options: { proxy: true, cookie: { partitioned: true, secure: true } }, steps: [{ headers: xfp }] },
    'partitioned: false': { options: { cookie: { partitioned: false } }, steps: [{}] },
    'a synchronous store: save, and destroy with unset': {
      differs: (peer) => {
        (peer[1] as { cookie: object }).cookie = deleted;
      },
      store: 'sync',
      options: { unset: 'destroy' },
      handler: (req, res) => {
        const count = counted(req);
        if (count > 1) {
          (req as unknown as { session: null }).session = null;
          res.write('destroyed\n');
        }
        res.end(`hits: ${count}`);
      },
      steps: twice,
    },
    'secret rotation across two servers on one store: the first secret signs, every one verifies': {
      options: { secret: ['keyboard cat', 'nyan cat'] },
      second: { secret: 'nyan cat' },
      handler: bump,
      steps: [{}, { second: true }],
    },
    'secret rotation across two servers on one store: a cookie signed with an old secret still reads': {
      options: { secret: 'nyan cat' },
      second: { secret: ['keyboard cat', 'nyan cat'] },
      handler: bump,
      steps: [{}, { second: true }],
      // sess re-signs it with the first secret (README: what is different).
      differs: (peer) => {
        (peer[1] as { cookie: object }).cookie = { name: 'connect.sid', sameId: true, shape: ['Expires~60s', 'HttpOnly', 'Path=/'] };
      },
    },
    'cookie as a function of the request': {
      options: { cookie: (req: Request) => ({ maxAge: req.url.startsWith('/long') ? 3_600_000 : 60_000, sameSite: 'lax' }) },
      handler: bump,
      steps: [{}, { path: '/long' }, { path: '/long', send: 'none' }],
    },
    'while the store says disconnect no session, after connect one': {
      handler: (req, res) => res.end(typeof req.session),
      steps: [
        { before: (store) => (store.emit as (event: string) => void)('disconnect') },
        { before: (store) => (store.emit as (event: string) => void)('connect') },
      ],
    },
    'req.sessionStore is the store': {
      handler: (req, res) =>
        res.end(`${req.sessionStore.constructor.name} ${typeof (req.sessionStore as { generate?: unknown }).generate}`),
      steps: [{}],
    },
    'req.sessionID replaced by something not a string: nothing saved or sent': {
      handler: (req, res) => {
        (req as unknown as { sessionID: unknown }).sessionID = () => {};
        sessionOf(req).test1 = 1;
        res.end();
      },
      steps: [{}],
    },
    'a store write failing with saveUninitialized: true': {
      differs: (peer) => {
        // The write is over before the headers leave: an error answer, without the cookie (README:
        // what is different). express-session answers 200 with the cookie, then passes the error on.
        Object.assign(peer[0] as object, {
          status: 500,
          body: 'error: [sess] store "MemoryStore" failed to set (cause: boom!)',
          cookie: null,
        });
      },
      options: { saveUninitialized: true },
      steps: [
        {
          before: (store) => {
            store.set = (_sid: string, _session: unknown, callback: (error: Error) => void) => callback(new Error('boom!'));
          },
        },
      ],
    },
    'a store touch failing with resave: false': {
      differs: (peer) => {
        Object.assign(peer[1] as object, { status: 500, body: 'error: [sess] store "MemoryStore" failed to touch (cause: boom!)' });
      },
      options: { resave: false },
      handler: setUser,
      steps: [
        {},
        {
          before: (store) => {
            store.touch = (_sid: string, _session: unknown, callback: (error: Error) => void) => callback(new Error('boom!'));
          },
        },
      ],
    },
    "a store delete failing with unset: 'destroy'": {
      differs: (peer) => {
        // The record stays, but the browser is told to end the session all the same.
        Object.assign(peer[1] as object, {
          status: 500,
          body: 'error: [sess] store "MemoryStore" failed to destroy (cause: boom!)',
          cookie: deleted,
        });
      },
      options: { unset: 'destroy' },
      handler: (req, res) => {
        if (req.url === '/out') (req as unknown as { session: null }).session = null;
        else sessionOf(req).user = 'bob';
        res.end();
      },
      steps: [
        {},
        {
          path: '/out',
          before: (store) => {
            store.destroy = (_sid: string, callback: (error: Error) => void) => callback(new Error('boom!'));
          },
        },
      ],
    },
    'a store giving cookie.expires as a Date: the lifetime reads the same': {
      store: 'dates',
      options: { cookie: { maxAge: 2000 }, resave: false },
      handler: (req, res) => {
        if (req.url === '/hit') sessionOf(req).hit = true;
        const { originalMaxAge, maxAge } = req.session.cookie;
        res.end(`${Math.round((originalMaxAge ?? 0) / 100)} ${Math.round((maxAge ?? 0) / 1000)}`);
      },
      steps: [{ path: '/hit' }, {}, { path: '/hit' }],
    },
    'an empty req.url': {
      before: (req, _res, next) => {
        req.url = '';
        next();
      },
      steps: [{}],
    },
    'rolling with a slow response: the cookie goes with the first write': {
      options: { rolling: true },
      handler: (req, res) => {
        sessionOf(req).user = 'bob';
        res.write('hello, ');
        setImmediate(() => res.end('world!'));
      },
      steps: twice,
    },
    'saved before an empty, a Content-Length or a written-in-parts response': {
      handler: (req, res) => {
        sessionOf(req).hit = req.url;
        if (req.url === '/empty') {
          res.setHeader('Content-Length', '0');
          res.end();
        } else if (req.url === '/parts') {
          res.setHeader('Content-Length', '12');
          res.write('hello, ');
          res.end('world');
        } else {
          res.setHeader('Content-Length', '13');
          res.end('session saved');
        }
      },
      steps: [{ path: '/empty' }, { path: '/parts' }, { path: '/length' }],
    },
    // express-session's README: sign in by regenerating, then save before the redirect; sign out by
    // saving user = null, then regenerating.
    "the README's login and logout, with resave and saveUninitialized false": {
      options: { resave: false, saveUninitialized: false },
      handler: readmeAuth,
      steps: [{}, { path: '/login', method: 'POST' }, {}, { path: '/logout' }, {}],
      // express-session deletes the record that never was, and writes the saved session again at
      // the end, its id not the one the request began with (README: after save(cb), no write).
      differs: callsAre(undefined, 'set'),
    },
    "the README's login and logout, with express-session's defaults": {
      options: { resave: true, saveUninitialized: true },
      handler: readmeAuth,
      steps: [{}, { path: '/login', method: 'POST' }, {}, { path: '/logout' }, {}],
      differs: callsAre(undefined, 'get,destroy,set'),
    },
    "sameSite: 'auto' follows the request, behind a trusted proxy": {
      options: { proxy: true, cookie: { sameSite: 'auto', secure: 'auto', maxAge: 60_000 } },
      steps: [{ headers: xfp }, { send: 'none' }],
    },
    'domain, sameSite: true (Strict) and httpOnly: false': {
      options: { cookie: { domain: 'localhost', sameSite: true, httpOnly: false } },
      steps: [{}],
    },
    'req.session.cookie as the app reads it, new and loaded': {
      options: { cookie: { maxAge: 60_000, sameSite: 'lax', domain: 'localhost' } },
      handler: (req, res) => {
        sessionOf(req).hit = true;
        const { expires, ...rest } = JSON.parse(JSON.stringify(req.session.cookie)) as Record<string, unknown>;
        const { cookie } = req.session;
        const fields = [cookie.originalMaxAge, Math.round((cookie.maxAge ?? 0) / 1000), cookie.expires instanceof Date, typeof expires];
        res.end(`${JSON.stringify(rest)} ${fields.join(' ')}`);
      },
      steps: twice,
    },
    'HEAD and OPTIONS requests have a session as GET does': {
      handler: bump,
      steps: [{ method: 'HEAD' }, { method: 'OPTIONS' }, {}],
    },
  };

  for (const [major, express] of EXPRESS) {
    describe(major, () => {
      for (const [name, test] of Object.entries(CASES)) {
        it(name, async () => {
          const seen = await seenOnBoth(test, express);
          const expected = structuredClone(seen['express-session'] as Seen[]);
          test.differs?.(expected);
          expect(seen['@sess/express-session']).toEqual(expected);
        });
      }
    });
  }
});
