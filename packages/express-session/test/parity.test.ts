/**
 * Side by side with the real peer: the same app runs on express-session 1.19 and on this package,
 * over real HTTP, and what the browser and the store see must be the same.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import express from 'express';
import type { Express, RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, SECRET, closedAfterEach, errorHandler, listen, session, sessionCookie } from './helpers.js';
import { redisClient } from './services.js';
import type { RedisClient } from './services.js';

const servers = closedAfterEach();
const installed = createRequire(import.meta.url);

/** express-session's module, or this package: each is `session(options)` with its `MemoryStore`. */
interface SessionModule {
  (options: object): RequestHandler;
  readonly MemoryStore: new () => { sessions: Record<string, string> };
}

const MODULES = [
  ['express-session', installed('express-session') as SessionModule],
  ['@sess/express-session', session as unknown as SessionModule],
] as const;

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

describe('connect-redis 9 on Redis, side by side', () => {
  let redis: RedisClient;
  const prefix = `sess-express-session-parity:${randomUUID()}:`;
  beforeAll(async () => {
    const client = await redisClient();
    if (typeof client === 'string') throw new Error(client);
    redis = client;
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.quit();
  });

  it('rolling sessions that connect-redis kept alive by touch stay signed in, though the record JSON says an old expires', async () => {
    const { RedisStore } = installed('connect-redis') as { RedisStore: new (options: object) => object };
    const seen = await onBoth(async (module) => {
      const store = new RedisStore({ client: redis, prefix: `${prefix}${randomUUID()}:` }) as { prefix: string };
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
      const record = JSON.parse((await redis.get(key)) as string) as { cookie: { expires: string } };
      record.cookie.expires = new Date(Date.now() - 60_000).toISOString();
      await redis.set(key, JSON.stringify(record), { KEEPTTL: true });
      expect(await redis.ttl(key)).toBeGreaterThan(3_000);
      const me = await client.request('/me');
      return { user: me.body, cookie: sessionCookie(me.setCookies)?.includes('Expires=') };
    });
    expect(seen['express-session']).toEqual({ user: 'ada', cookie: true });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('without rolling, a record past its expires is a new session on sess (the cookie ended then: only a replay brings it)', async () => {
    const { RedisStore } = installed('connect-redis') as { RedisStore: new (options: object) => object };
    const seen = await onBoth(async (module) => {
      const store = new RedisStore({ client: redis, prefix: `${prefix}${randomUUID()}:` }) as { prefix: string };
      const client = await serve(module, { ...settled, store, cookie: { maxAge: 3_600_000 } }, (app) => {
        app.post('/login', (req, res) => {
          sessionOf(req).user = 'ada';
          res.send(req.sessionID);
        });
        app.get('/me', (req, res) => res.send(String(sessionOf(req).user)));
      });
      const id = (await client.post('/login')).body;
      const key = `${store.prefix}${id}`;
      const record = JSON.parse((await redis.get(key)) as string) as { cookie: { expires: string } };
      record.cookie.expires = new Date(Date.now() - 60_000).toISOString();
      await redis.set(key, JSON.stringify(record), { KEEPTTL: true });
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
});
