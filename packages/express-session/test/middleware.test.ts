/**
 * express-session's documented behaviour (its README, option by option and method by method),
 * over real HTTP on Express 4 and 5, against the package's own MemoryStore.
 */
import { createHmac } from 'node:crypto';
import type { Request, Response } from 'express';
import cookieParser from 'cookie-parser';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { Client, EXPRESS, SECRET, closedAfterEach, countingStore, recordsOf, serve, session, sessionCookie } from './helpers.js';

declare module '@sess/express-session' {
  interface SessionData {
    views: number;
    user: string;
    cart: { items: string[] };
  }
}

const servers = closedAfterEach();

// Checked by the typecheck: the stores' methods take the app's declared SessionData.
it('types the store methods with the SessionData the app declares', () => {
  type Stored = Parameters<session.Store['set']>[1];
  expectTypeOf<Stored['views']>().toEqualTypeOf<number>();
  expectTypeOf<Parameters<Parameters<session.MemoryStore['get']>[1]>[1]>().toEqualTypeOf<session.SessionData | null | undefined>();
  expectTypeOf<session.SessionData['cart']>().toEqualTypeOf<{ items: string[] }>();
});

/** The id inside an express-session cookie value (`s%3A<id>.<mac>`). */
function idOf(setCookie: string | undefined): string | undefined {
  const value = decodeURIComponent(setCookie?.split(';')[0]?.split('=')[1] ?? '');
  return value.startsWith('s:') ? value.slice(2, value.lastIndexOf('.')) : undefined;
}

/** cookie-signature's mac, as express-session signs. */
const macOf = (id: string, secret: string) => createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');

const settled = { resave: false, saveUninitialized: false } as const;

describe.each(EXPRESS)('%s', (_, express) => {
  describe('defaults', () => {
    it('sends connect.sid, signed as s:<id>.<mac> and URL-encoded, with Path=/ and HttpOnly only', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, resave: false, saveUninitialized: true }, (app) =>
        app.get('/', (req, res) => res.send(req.sessionID)),
      );
      const reply = await client.request('/');
      const line = sessionCookie(reply.setCookies) as string;
      const id = reply.body;
      expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(line).toBe(`connect.sid=${encodeURIComponent(`s:${id}.${macOf(id, SECRET)}`)}; Path=/; HttpOnly`);
    });

    it('saves an untouched new session and sends its cookie (saveUninitialized defaults to true)', async () => {
      const store = session.MemoryStore ? new session.MemoryStore() : undefined;
      const { client } = await serve(servers, express, { secret: SECRET, store }, (app) => app.get('/', (_req, res) => res.send('hi')));
      const reply = await client.request('/');
      expect(sessionCookie(reply.setCookies)).toBeDefined();
      expect(Object.keys(store?.sessions ?? {})).toEqual([idOf(sessionCookie(reply.setCookies))]);
    });

    it('keeps the session across requests: req.sessionID, req.session.id and the data', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.json({
            views: req.session.views,
            id: req.sessionID,
            same: req.session.id === req.sessionID,
            store: req.sessionStore instanceof session.Store,
          });
        }),
      );
      const first = (await client.request('/')).body;
      const second = JSON.parse((await client.request('/')).body) as { views: number; id: string; same: boolean; store: boolean };
      expect(second).toEqual({ views: 2, id: JSON.parse(first).id, same: true, store: true });
    });

    it('stores the record in express-session shape: the cookie beside the data', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, cookie: { maxAge: 60_000 } }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.send(req.sessionID);
        }),
      );
      const id = (await client.request('/')).body;
      const record = recordsOf(store)[id] as { cookie: Record<string, unknown>; views: number };
      expect(Object.keys(record)).toEqual(['cookie', 'views']);
      expect(record.cookie).toEqual({ originalMaxAge: 60_000, expires: expect.any(String), httpOnly: true, path: '/' });
      expect(Date.parse(record.cookie.expires as string)).toBeGreaterThan(Date.now() + 55_000);
    });
  });

  describe('cookie options', () => {
    it('maxAge sets Expires, and req.session.cookie tells the time left and the original lifetime', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled, cookie: { maxAge: 60_000 } }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.json({ maxAge: req.session.cookie.maxAge, original: req.session.cookie.originalMaxAge, expires: req.session.cookie.expires });
        }),
      );
      const reply = await client.request('/');
      const body = JSON.parse(reply.body) as { maxAge: number; original: number; expires: string };
      expect(body.original).toBe(60_000);
      expect(body.maxAge).toBeGreaterThan(59_000);
      const expires = /Expires=([^;]+)/.exec(sessionCookie(reply.setCookies) as string)?.[1] as string;
      // The cookie's date is in whole seconds and the two are read a few ms apart: up to a second between them.
      expect(Math.abs(Date.parse(expires) - Date.parse(body.expires))).toBeLessThan(1_100);
    });

    it('path: requests outside it get no session, as express-session leaves them alone', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled, cookie: { path: '/admin' } }, (app) => {
        app.get('/admin/x', (req, res) => res.send(typeof req.session));
        app.get('/public', (req, res) => res.send(typeof req.session));
      });
      expect((await client.request('/admin/x')).body).toBe('object');
      expect((await client.request('/public')).body).toBe('undefined');
    });

    it('secure: true sends no cookie over plain HTTP, and a Secure one behind a trusted proxy', async () => {
      const { client } = await serve(
        servers,
        express,
        { secret: SECRET, resave: false, saveUninitialized: true, cookie: { secure: true } },
        (app) => app.get('/', (_req, res) => res.send('ok')),
        (app) => app.set('trust proxy', 1),
      );
      expect(sessionCookie((await client.request('/')).setCookies)).toBeUndefined();
      const secure = await client.request('/', { headers: { 'x-forwarded-proto': 'https' } });
      expect(sessionCookie(secure.setCookies)).toMatch(/; Secure/);
    });

    it("secure: 'auto' and sameSite: 'auto' follow the request: Lax on HTTP, Secure and None on HTTPS", async () => {
      const { client, url } = await serve(
        servers,
        express,
        { secret: SECRET, resave: false, saveUninitialized: true, cookie: { secure: 'auto', sameSite: 'auto' } },
        (app) => app.get('/', (_req, res) => res.send('ok')),
        (app) => app.set('trust proxy', true),
      );
      const plain = sessionCookie((await client.request('/')).setCookies) as string;
      expect(plain).toMatch(/; SameSite=Lax$/);
      expect(plain).not.toMatch(/Secure/);
      const other = new Client(url);
      const secure = sessionCookie((await other.request('/', { headers: { 'x-forwarded-proto': 'https' } })).setCookies) as string;
      expect(secure).toMatch(/; Secure; SameSite=None$/);
    });

    it('domain, httpOnly: false, sameSite: true (Strict) and priority go on the cookie', async () => {
      const { client } = await serve(
        servers,
        express,
        {
          secret: SECRET,
          resave: false,
          saveUninitialized: true,
          cookie: { domain: 'example.com', httpOnly: false, sameSite: true, priority: 'high' },
        },
        (app) => app.get('/', (_req, res) => res.send('ok')),
      );
      const line = sessionCookie((await client.request('/')).setCookies) as string;
      expect(line).toMatch(/; Domain=example\.com; Path=\/; SameSite=Strict; Priority=High$/);
      expect(line).not.toMatch(/HttpOnly/);
    });

    it('cookie as a function of the request picks the attributes per request', async () => {
      const { client, url } = await serve(
        servers,
        express,
        {
          secret: SECRET,
          resave: false,
          saveUninitialized: true,
          cookie: (req) => ({ path: `/${req.url.split('/')[1]}`, maxAge: req.url.startsWith('/long') ? 3_600_000 : 60_000 }),
        },
        (app) => app.get(['/long/x', '/short/x'], (req, res) => res.json(req.session.cookie.originalMaxAge)),
      );
      const long = await client.request('/long/x');
      expect(long.body).toBe('3600000');
      expect(sessionCookie(long.setCookies)).toMatch(/; Path=\/long; /);
      // A browser keeps the /long cookie away from /short.
      const other = new Client(url);
      const short = await other.request('/short/x');
      expect(short.body).toBe('60000');
      expect(sessionCookie(short.setCookies)).toMatch(/; Path=\/short; /);
    });
  });

  describe('options', () => {
    it('name and genid(req): the cookie is named, and the id is made from the request', async () => {
      const { client } = await serve(
        servers,
        express,
        { secret: SECRET, ...settled, name: 'app.sid', genid: (req) => `${req.path.slice(1)}-0123456789abcdefghijklmnop` },
        (app) =>
          app.get('/user', (req, res) => {
            req.session.views = 1;
            res.send(req.sessionID);
          }),
      );
      const reply = await client.request('/user');
      expect(reply.body).toBe('user-0123456789abcdefghijklmnop');
      expect(idOf(sessionCookie(reply.setCookies, 'app.sid'))).toBe(reply.body);
    });

    it('saveUninitialized: false stores nothing and sends no cookie until the session is written', async () => {
      const store = countingStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) => {
        app.get('/read', (req, res) => res.send(String(req.session.views)));
        app.get('/write', (req, res) => {
          req.session.views = 1;
          res.send('ok');
        });
      });
      expect(sessionCookie((await client.request('/read')).setCookies)).toBeUndefined();
      expect(store.calls).toEqual([]);
      expect(sessionCookie((await client.request('/write')).setCookies)).toBeDefined();
      expect(store.calls).toEqual(['set']);
    });

    it('resave: true saves an unchanged session on every request; false only touches it', async () => {
      for (const resave of [true, false]) {
        const store = countingStore();
        const { client } = await serve(servers, express, { secret: SECRET, store, resave, saveUninitialized: false }, (app) =>
          app.get('/', (req, res) => {
            if (req.query.write !== undefined) req.session.views = 1;
            res.send('ok');
          }),
        );
        await client.request('/?write');
        store.calls.length = 0;
        await client.request('/');
        expect(store.calls).toEqual(resave ? ['get', 'set'] : ['get', 'touch']);
      }
    });

    it('rolling re-sends the cookie with a renewed Expires on every response to a known session', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled, rolling: true, cookie: { maxAge: 60_000 } }, (app) =>
        app.get('/', (req, res) => {
          if (req.query.write !== undefined) req.session.views = 1;
          res.send('ok');
        }),
      );
      // An uninitialized session gets no cookie, rolling or not (saveUninitialized: false).
      expect(sessionCookie((await client.request('/')).setCookies)).toBeUndefined();
      await client.request('/?write');
      expect(sessionCookie((await client.request('/')).setCookies)).toMatch(/Expires=/);
    });

    it('without rolling, an unchanged session gets no cookie; a changed one with maxAge gets it again', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled, cookie: { maxAge: 60_000 } }, (app) =>
        app.get('/', (req, res) => {
          if (req.query.write !== undefined) req.session.views = (req.session.views ?? 0) + 1;
          res.send('ok');
        }),
      );
      await client.request('/?write');
      expect(sessionCookie((await client.request('/')).setCookies)).toBeUndefined();
      expect(sessionCookie((await client.request('/?write')).setCookies)).toMatch(/Expires=/);
    });

    it('proxy: true trusts X-Forwarded-Proto without trust proxy; proxy: false ignores it with trust proxy', async () => {
      for (const proxy of [true, false]) {
        const { client } = await serve(
          servers,
          express,
          { secret: SECRET, resave: false, saveUninitialized: true, proxy, cookie: { secure: true } },
          (app) => app.get('/', (_req, res) => res.send('ok')),
          (app) => app.set('trust proxy', !proxy),
        );
        const reply = await client.request('/', { headers: { 'x-forwarded-proto': 'https' } });
        expect(sessionCookie(reply.setCookies) !== undefined).toBe(proxy);
      }
    });

    it('secret rotation: the first secret signs, an older one still verifies', async () => {
      const older = 'an-older-secret-that-still-verifies-32b';
      const store = new session.MemoryStore();
      const routes = (app: import('express').Express) =>
        app.get('/', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.send(String(req.session.views));
        });
      const before = await serve(servers, express, { secret: older, store, ...settled }, routes);
      await before.client.request('/');
      const after = await serve(servers, express, { secret: [SECRET, older], store, ...settled }, routes);
      after.client.jar.set('connect.sid', before.client.jar.get('connect.sid') as string);
      expect((await after.client.request('/')).body).toBe('2');
    });

    it('without secret, cookie-parser’s req.secret signs (express-session’s fallback)', async () => {
      const { client } = await serve(
        servers,
        express,
        { ...settled },
        (app) =>
          app.get('/', (req, res) => {
            req.session.views = (req.session.views ?? 0) + 1;
            res.send(String(req.session.views));
          }),
        (app) => app.use(cookieParser(SECRET)),
      );
      const first = await client.request('/');
      expect(idOf(sessionCookie(first.setCookies))).toBeDefined();
      expect(decodeURIComponent(client.jar.get('connect.sid') as string)).toMatch(
        new RegExp(`^s:.+\\.${macOf(idOf(sessionCookie(first.setCookies)) as string, SECRET).replace(/[+/]/g, '\\$&')}$`),
      );
      expect((await client.request('/')).body).toBe('2');
    });

    it('without secret or cookie-parser, requests fail with express-session’s error', async () => {
      const { client } = await serve(servers, express, { ...settled }, (app) => app.get('/', (_req, res) => res.send('ok')));
      expect((await client.request('/')).body).toBe('error: secret option required for sessions');
    });

    it("unset: 'keep' drops the request's changes; 'destroy' deletes the session", async () => {
      for (const unset of ['keep', 'destroy'] as const) {
        const store = new session.MemoryStore();
        const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, unset }, (app) => {
          app.get('/in', (req, res) => {
            req.session.user = 'ada';
            res.send(req.sessionID);
          });
          app.get('/unset', (req, res) => {
            req.session.user = 'changed';
            delete (req as { session?: unknown }).session;
            res.send('ok');
          });
        });
        const id = (await client.request('/in')).body;
        await client.request('/unset');
        expect(recordsOf(store)[id]?.user).toBe(unset === 'keep' ? 'ada' : undefined);
      }
    });
  });

  describe('req.session', () => {
    it('saves nested changes, as express-session’s hash of the session sees them', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.cart ??= { items: [] };
          req.session.cart.items.push(String(req.session.cart.items.length));
          res.json(req.session.cart.items);
        }),
      );
      await client.request('/');
      await client.request('/');
      expect((await client.request('/')).body).toBe('["0","1","2"]');
    });

    it('regenerate(cb): a new id and an empty session; the old record is gone after the response', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.views = 1;
          res.send(req.sessionID);
        });
        app.get('/regenerate', (req, res, next) => {
          req.session.regenerate((error) => {
            if (error) return next(error);
            req.session.user = 'ada';
            res.json({ id: req.sessionID, views: req.session.views ?? null, same: req.session.id === req.sessionID });
          });
        });
      });
      const old = (await client.request('/in')).body;
      const reply = await client.request('/regenerate');
      const body = JSON.parse(reply.body) as { id: string; views: null; same: boolean };
      expect(body.id).not.toBe(old);
      expect(body).toMatchObject({ views: null, same: true });
      expect(idOf(sessionCookie(reply.setCookies))).toBe(body.id);
      expect(Object.keys(store.sessions)).toEqual([body.id]);
    });

    it('req.sessionStore.generate(req) after destroy(cb): a new session, its id from genid(req), saved before its cookie is sent', async () => {
      const store = new session.MemoryStore();
      let made = 0;
      const genid = () => `generated-${String(++made).padStart(2, '0')}-0123456789abcdefghij`;
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, genid }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send(req.sessionID);
        });
        app.get('/switch', (req, res, next) => {
          req.session.destroy((error) => {
            if (error) return next(error);
            req.sessionStore.generate(req);
            req.session.user = 'bob';
            res.json({ id: req.sessionID, same: req.session.id === req.sessionID, cookie: req.session.cookie instanceof session.Cookie });
          });
        });
        app.get('/me', (req, res) => res.send(req.session.user ?? 'nobody'));
      });
      const old = (await client.request('/in')).body;
      const reply = await client.request('/switch');
      const body = JSON.parse(reply.body) as { id: string };
      // The second id made: the request to /switch came with the first one's cookie.
      expect(body).toEqual({ id: 'generated-02-0123456789abcdefghij', same: true, cookie: true });
      expect(old).toBe('generated-01-0123456789abcdefghij');
      expect(idOf(sessionCookie(reply.setCookies))).toBe(body.id);
      expect(recordsOf(store)).toEqual({ [body.id]: expect.objectContaining({ user: 'bob' }) });
      expect((await client.request('/me')).body).toBe('bob');
    });

    it('store.regenerate(req, cb) whose genid(req) throws: the callback hears it, as an error answer, and nothing crashes', async () => {
      const store = new session.MemoryStore();
      let made = 0;
      const genid = () => {
        if (++made > 1) throw new Error('no ids today');
        return 'generated-01-0123456789abcdefghij';
      };
      const heard: unknown[] = [];
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, genid }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/switch', (req, res, next) => {
          req.session.destroy((error) => {
            if (error) return next(error);
            req.sessionStore.regenerate(req, (failure) => {
              heard.push(failure);
              if (failure) return next(failure);
              res.send('switched');
            });
          });
        });
      });
      await client.request('/in');
      const reply = await client.request('/switch');
      expect(reply.status).toBe(500);
      expect(heard).toEqual([expect.objectContaining({ message: 'no ids today' })]);
      // The old session was deleted: its cookie goes, and no new one is named.
      expect(sessionCookie(reply.setCookies)).toMatch(/^connect\.sid=;/);
      expect(Object.keys(store.sessions)).toEqual([]);
    });

    it('a generated session whose write fails is an error answer, never a 2xx, and gets no cookie', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/switch', (req, res, next) => {
          req.session.destroy((error) => {
            if (error) return next(error);
            req.sessionStore.generate(req);
            req.session.user = 'bob';
            res.send('ok');
          });
        });
      });
      await client.request('/in');
      store.set = (_sid, _session, callback) => callback?.(new Error('disk full'));
      const reply = await client.request('/switch');
      expect(reply.status).toBe(503);
      expect(sessionCookie(reply.setCookies)).toBeUndefined();
      expect(store.sessions).toEqual({});
    });

    it('destroy(cb): the session and req.session are gone', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/out', (req, res, next) => {
          req.session.destroy((error) => (error ? next(error) : res.send(typeof req.session)));
        });
      });
      await client.request('/in');
      expect((await client.request('/out')).body).toBe('undefined');
      expect(store.sessions).toEqual({});
    });

    it('save(cb): the store holds the session when the callback runs', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) =>
        app.get('/', (req, res, next) => {
          req.session.user = 'ada';
          req.session.save((error) => {
            if (error) return next(error);
            store.get(req.sessionID, (_error, stored) => res.json(stored ?? null));
          });
        }),
      );
      expect(JSON.parse((await client.request('/')).body)).toMatchObject({ user: 'ada', cookie: { path: '/' } });
    });

    it('reload(cb): unsaved changes go, what the store holds comes back', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/reload', (req, res, next) => {
          req.session.user = 'mallory';
          req.session.reload((error) => (error ? next(error) : res.send(req.session.user)));
        });
      });
      await client.request('/in');
      expect((await client.request('/reload')).body).toBe('ada');
    });

    it('reload(cb) of a session the store never held fails as express-session’s does', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => req.session.reload((error) => res.send(error instanceof Error ? error.message : 'no error'))),
      );
      expect((await client.request('/')).body).toBe('failed to load session');
    });

    /** An app whose `/in` signs `ada` in and whose `/reload` runs `reload` on the stored session. */
    async function reloading(reload: (req: Request, res: Response, store: session.MemoryStore) => void) {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/reload', (req, res) => reload(req, res, store));
      });
      await client.request('/in');
      return { store, reply: JSON.parse((await client.request('/reload')).body) as Record<string, unknown> };
    }

    it('reload(cb) of a record deleted meanwhile calls back with the error and leaves a new, empty session: the record is not brought back', async () => {
      const { store, reply } = await reloading((req, res, sessions) =>
        // A sign-out elsewhere, between this request's load and its reload.
        sessions.destroy(req.sessionID, () =>
          req.session.reload((error) => {
            req.session.views = 1;
            res.json({ error: (error as Error | undefined)?.message, user: req.session.user ?? null });
          }),
        ),
      );
      expect(reply).toEqual({ error: 'failed to load session', user: null });
      expect(Object.values(recordsOf(store)).some((record) => record.user === 'ada')).toBe(false);
    });

    it('reload(cb) whose store read fails calls back with it and keeps req.session, which saves nothing more that request', async () => {
      const { store, reply } = await reloading((req, res, sessions) => {
        const get = sessions.get;
        sessions.get = (_id, callback) => {
          sessions.get = get;
          callback(new Error('store down'));
        };
        req.session.user = 'mallory';
        req.session.reload((error) => {
          const kept = req.session.user;
          req.session.save((saveError) =>
            res.json({ error: (error as Error | undefined)?.message, kept, saved: saveError === undefined || saveError === null }),
          );
        });
      });
      expect(reply).toMatchObject({ kept: 'mallory', saved: false });
      expect(reply.error).toMatch(/store/);
      expect(Object.values(recordsOf(store)).map((record) => record.user)).toEqual(['ada']);
    });

    it('cookie.maxAge set on a session is its own lifetime from then on ("remember me")', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, cookie: { maxAge: 60_000 } }, (app) => {
        app.get('/remember', (req, res) => {
          req.session.user = 'ada';
          req.session.cookie.maxAge = 30 * 86_400_000;
          res.send(req.sessionID);
        });
        app.get('/', (req, res) => res.json(req.session.cookie.originalMaxAge));
      });
      const remembered = await client.request('/remember');
      expect(sessionCookie(remembered.setCookies)).toMatch(/Max-Age=2592000/);
      expect((await client.request('/')).body).toBe(String(30 * 86_400_000));
      expect((recordsOf(store)[remembered.body] as { cookie: { originalMaxAge: number } }).cookie.originalMaxAge).toBe(30 * 86_400_000);
    });

    it('cookie.expires = false turns a lasting cookie into one that ends with the browser', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, cookie: { maxAge: 60_000 } }, (app) =>
        app.get('/', (req, res) => {
          req.session.user = 'ada';
          req.session.cookie.expires = false;
          res.send(req.sessionID);
        }),
      );
      const reply = await client.request('/');
      expect(sessionCookie(reply.setCookies)).toMatch(/^connect\.sid=[^;]+; Path=\/; HttpOnly$/);
      expect((recordsOf(store)[reply.body] as { cookie: object }).cookie).toEqual({
        originalMaxAge: null,
        expires: null,
        httpOnly: true,
        path: '/',
      });
    });

    it('touch() and resetMaxAge() renew cookie.maxAge to originalMaxAge and chain', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled, cookie: { maxAge: 60_000 } }, (app) =>
        app.get('/', (req, res) => {
          req.session.cookie.maxAge = 1_000;
          const chained = req.session.touch() === req.session && req.session.resetMaxAge() === req.session;
          res.json({ chained, maxAge: req.session.cookie.maxAge });
        }),
      );
      const body = JSON.parse((await client.request('/')).body) as { chained: boolean; maxAge: number };
      expect(body.chained).toBe(true);
      expect(body.maxAge).toBeGreaterThan(990);
    });

    it('prints and serializes as express-session’s Session: its data and cookie, no methods or id', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.json({
            keys: Object.keys(req.session),
            json: JSON.parse(JSON.stringify(req.session)),
            isSession: req.session instanceof session.Session,
          });
        }),
      );
      const body = JSON.parse((await client.request('/')).body) as {
        keys: string[];
        json: { cookie: object; views: number };
        isSession: boolean;
      };
      expect(body).toEqual({
        keys: ['cookie', 'views'],
        json: { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, views: 1 },
        isSession: true,
      });
    });

    it('a stored __proto__ key stays out of the session and leaves prototypes alone', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.json({
            polluted: ({} as Record<string, unknown>).polluted ?? null,
            ownPolluted: (req.session as unknown as Record<string, unknown>).polluted ?? null,
          });
        }),
      );
      await client.request('/');
      const [id] = Object.keys(store.sessions);
      store.sessions[id as string] = (store.sessions[id as string] as string).replace('{', '{"__proto__":{"polluted":true},');
      expect(JSON.parse((await client.request('/')).body)).toEqual({ polluted: null, ownPolluted: null });
    });
  });

  describe('the response', () => {
    it('writes the cookie at writeHead time, with the session as the app left it then', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('streamed');
        }),
      );
      const reply = await client.request('/');
      expect(reply.body).toBe('streamed');
      expect(sessionCookie(reply.setCookies)).toBeDefined();
      expect((await client.request('/')).status).toBe(200);
    });

    it('a failed store write is an error answer, never a 2xx', async () => {
      const store = new session.MemoryStore();
      store.set = (_sid, _session, callback) => callback?.(new Error('disk full'));
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.send('ok');
        }),
      );
      const reply = await client.request('/');
      expect(reply.status).toBe(503);
      expect(sessionCookie(reply.setCookies)).toBeUndefined();
    });
    it('a sign-out whose store delete fails is an error answer, with or without a destroy() callback', async () => {
      const store = new session.MemoryStore();
      const { url } = await serve(servers, express, { secret: SECRET, store, ...settled, unset: 'destroy' }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/out', (req, res) => {
          req.session.destroy();
          res.redirect('/');
        });
        app.get('/unset', (req, res) => {
          delete (req as { session?: unknown }).session;
          res.redirect('/');
        });
        app.get('/out-cb', (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.redirect('/'))));
      });
      const destroy = store.destroy;
      for (const path of ['/out', '/unset', '/out-cb']) {
        store.destroy = destroy;
        const client = new Client(url);
        await client.request('/in');
        store.destroy = (_sid, callback) => setImmediate(() => callback?.(new Error('replica down')));
        // The record is still there: the browser must not be told the sign-out worked.
        expect([path, (await client.request(path)).status]).toEqual([path, 503]);
      }
      expect(Object.values(recordsOf(store)).map((record) => record.user)).toEqual(['ada', 'ada', 'ada']);
    });

    it('a regenerate() nobody passes a callback to, whose delete fails, is an error answer with nothing written', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/elevate', (req, res) => {
          (req.session.regenerate as unknown as () => void).call(req.session);
          res.send('ok');
        });
      });
      await client.request('/in');
      store.destroy = (_sid, callback) => setImmediate(() => callback?.(new Error('replica down')));
      const reply = await client.request('/elevate');
      expect(reply.status).toBe(503);
      expect(sessionCookie(reply.setCookies)).toBeUndefined();
      // The old session, which the failed delete left, and no new one behind the error.
      expect(Object.values(recordsOf(store)).map((record) => record.user)).toEqual(['ada']);
    });

    it('regenerate(cb) whose new id cannot be made: the callback hears why, and the old session is signed out', async () => {
      const store = new session.MemoryStore();
      const ids = { failing: false };
      const genid = () => {
        if (ids.failing) throw new Error('no ids left');
        return `an-id-of-the-right-length-${Math.random().toString(36).slice(2, 10)}`;
      };
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled, genid }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/elevate', (req, res) =>
          req.session.regenerate((error) => res.json({ heard: (error as Error | undefined)?.message, session: typeof req.session })),
        );
      });
      await client.request('/in');
      ids.failing = true;
      const reply = await client.request('/elevate');
      expect(reply.body).toBe('{"heard":"no ids left","session":"undefined"}');
      expect(store.sessions).toEqual({});
      expect(sessionCookie(reply.setCookies)).toMatch(/^connect\.sid=; Max-Age=0/);
    });
  });

  describe("sess's own rules, where express-session's are unsafe or silent", () => {
    it('Vary: Cookie on responses that use the session, Cache-Control: private on those that set it', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          if (req.query.write !== undefined) req.session.views = 1;
          res.send('ok');
        }),
      );
      const set = await client.request('/?write');
      expect(set.headers.get('vary')).toBe('Cookie');
      expect(set.headers.get('cache-control')).toBe('private');
      const read = await client.request('/');
      expect(read.headers.get('vary')).toBe('Cookie');
      expect(read.headers.get('cache-control')).toBeNull();
    });

    it("a response that sets the cookie is never left to shared caches: the app's public Cache-Control is made private", async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.set('Cache-Control', 'public, max-age=60, s-maxage=600').send('ok');
        }),
      );
      const reply = await client.request('/');
      expect([sessionCookie(reply.setCookies) !== undefined, reply.headers.get('cache-control')]).toEqual([true, 'private, max-age=60']);
    });

    it('destroy() deletes the cookie too', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) => {
        app.get('/in', (req, res) => {
          req.session.user = 'ada';
          res.send('ok');
        });
        app.get('/out', (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.send('bye'))));
      });
      await client.request('/in');
      expect(sessionCookie((await client.request('/out')).setCookies)).toMatch(
        /^connect\.sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970/,
      );
      expect(client.jar.has('connect.sid')).toBe(false);
    });

    it('a cookie signed with an older secret is re-sent signed with the first', async () => {
      const older = 'an-older-secret-that-still-verifies-32b';
      const store = new session.MemoryStore();
      const routes = (app: import('express').Express) =>
        app.get('/', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.send(req.sessionID);
        });
      const before = await serve(servers, express, { secret: older, store, ...settled }, routes);
      const id = (await before.client.request('/')).body;
      const after = await serve(servers, express, { secret: [SECRET, older], store, ...settled }, routes);
      after.client.jar.set('connect.sid', before.client.jar.get('connect.sid') as string);
      await after.client.request('/');
      expect(decodeURIComponent(after.client.jar.get('connect.sid') as string)).toBe(`s:${id}.${macOf(id, SECRET)}`);
    });

    it('save(cb) once the headers are out calls back with an error: the response is committed', async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          res.write('streaming ');
          req.session.user = 'late';
          req.session.save((error) => res.end(error instanceof Error ? error.name : 'saved'));
        }),
      );
      expect((await client.request('/')).body).toBe('streaming SessUsageError');
    });

    it("the app's own Set-Cookie for the session's name stands", async () => {
      const { client } = await serve(servers, express, { secret: SECRET, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.cookie('connect.sid', 'cleared', { path: '/' });
          res.send('ok');
        }),
      );
      expect((await client.request('/')).setCookies.filter((line) => line.startsWith('connect.sid='))).toEqual([
        'connect.sid=cleared; Path=/',
      ]);
    });
  });

  describe('the store', () => {
    it('while it says disconnect, requests pass without a session; after connect, with one', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) =>
        app.get('/', (req, res) => res.send(typeof req.session)),
      );
      store.emit('disconnect');
      expect((await client.request('/')).body).toBe('undefined');
      store.emit('connect');
      expect((await client.request('/')).body).toBe('object');
    });

    it('get failing with ENOENT means "not found": a new session, no error', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.send(`${req.session.views} ${req.sessionID}`);
        }),
      );
      const [, first] = (await client.request('/')).body.split(' ');
      store.get = (_sid, callback) => callback(Object.assign(new Error('no such file'), { code: 'ENOENT' }));
      const [views, second] = (await client.request('/')).body.split(' ');
      expect(views).toBe('1');
      expect(second).not.toBe(first);
    });

    it('get failing otherwise reaches Express’s error handling', async () => {
      const store = new session.MemoryStore();
      const { client } = await serve(servers, express, { secret: SECRET, store, ...settled }, (app) =>
        app.get('/', (req, res) => {
          req.session.views = 1;
          res.send('ok');
        }),
      );
      await client.request('/');
      store.get = (_sid, callback) => callback(new Error('connection refused'));
      const reply = await client.request('/');
      expect(reply.status).toBe(503);
      expect(reply.body).toMatch(/^error: /);
    });
  });
});
