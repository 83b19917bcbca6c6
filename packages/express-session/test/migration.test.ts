/**
 * The switch and the way back, with the real peer: users sign in on an app running
 * express-session 1.19 with connect-redis 9 (node-redis) against the real Redis; the same app
 * then runs on @sess/express-session, with the same secret and the same connect-redis store,
 * connect-redis loaded unchanged with `express-session` resolved to this package; everyone is
 * still signed in with their data. Then back to express-session (rollback): what sess wrote
 * reads back. The same with connect-pg-simple on PostgreSQL, and with each one's MemoryStore
 * shared in the process.
 */
import { randomUUID } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, EXPRESS, SHORT_SECRET, closedAfterEach, listen, session } from './helpers.js';
import type { ExpressFactory } from './helpers.js';
import { peers, postgresPool, redisClient } from './services.js';
import type { Peers, RedisClient } from './services.js';

/** express-session's module, as this file uses it (its own types would clash with this package's). */
interface SessionModule {
  (options: object): RequestHandler;
  readonly MemoryStore: new () => object;
  readonly Store: new () => object;
}

interface Session {
  user?: string;
  cart?: string[];
  visits?: number;
  regenerate(done: (error?: unknown) => void): void;
  save(done: (error?: unknown) => void): void;
}

const servers = closedAfterEach();
const USERS = ['ada', 'grace', 'edsger'];
// Deployments run with express-session's habits: a short secret, resave and saveUninitialized false.
const OPTIONS = { secret: SHORT_SECRET, resave: false, saveUninitialized: false, cookie: { maxAge: 86_400_000 } };

/** The app, whichever session module runs it: sign-in (regenerate, then save) and a page that reads and counts. */
async function app(express: ExpressFactory, middleware: RequestHandler): Promise<string> {
  const application: Express = express();
  application.use(middleware);
  application.post('/login/:user', (req, res, next) => {
    const current = req.session as unknown as Session;
    current.regenerate((error) => {
      if (error) return next(error);
      const fresh = req.session as unknown as Session;
      fresh.user = req.params.user as string;
      fresh.cart = [`${req.params.user}'s book`];
      fresh.visits = 0;
      fresh.save((saved) => (saved ? next(saved) : res.send('signed in')));
    });
  });
  application.get('/me', (req, res) => {
    const current = req.session as unknown as Session;
    if (current.user === undefined) return res.status(401).send('signed out');
    current.visits = (current.visits ?? 0) + 1;
    current.cart?.push(`item ${current.visits}`);
    res.json({ user: current.user, cart: current.cart, visits: current.visits });
  });
  const served = await listen(application);
  servers.push(served);
  return served.url;
}

interface Me {
  user: string;
  cart: string[];
  visits: number;
}

async function me(client: Client, url: string): Promise<Me | number> {
  const reply = await new Client(url).request('/me', { headers: { cookie: `connect.sid=${client.jar.get('connect.sid')}` } });
  // Keep what the server sets (a re-sent cookie), as the browser would.
  for (const line of reply.setCookies) client.jar.set('connect.sid', line.split(';')[0]?.split('=')[1] as string);
  return reply.status === 200 ? (JSON.parse(reply.body) as Me) : reply.status;
}

/** Signs each user in on `url`, returning their browsers. */
async function signIn(url: string, users: readonly string[]): Promise<Map<string, Client>> {
  const browsers = new Map<string, Client>();
  for (const user of users) {
    const client = new Client(url);
    expect((await client.post(`/login/${user}`)).body).toBe('signed in');
    browsers.set(user, client);
  }
  return browsers;
}

/** Runs the switch and the rollback with `stores` making a fresh store instance on each side. */
function switchAndBack(
  express: ExpressFactory,
  stores: () => { peer: object; sess: object; records(): Promise<Record<string, unknown>[]> },
) {
  it('users signed in on express-session stay signed in with their data on sess, and back', async () => {
    const { peer: peerStore, sess: sessStore, records } = stores();
    const real = context.peers.installed('express-session') as SessionModule;
    // 1. express-session: three users sign in, and each looks once.
    const before = await app(express, real({ ...OPTIONS, store: peerStore }));
    const browsers = await signIn(before, USERS);
    for (const [user, client] of browsers)
      expect(await me(client, before)).toEqual({ user, cart: [`${user}'s book`, 'item 1'], visits: 1 });

    // 2. The same deployment on @sess/express-session: same secret, same store, same cookies.
    const ours = context.peers.aliased('express-session') as typeof session;
    expect(ours).not.toBe(real);
    const after = await app(express, ours({ ...OPTIONS, store: sessStore as session.Store }) as RequestHandler);
    for (const [user, client] of browsers) {
      expect(await me(client, after)).toEqual({ user, cart: [`${user}'s book`, 'item 1', 'item 2'], visits: 2 });
    }
    // A user who signs in on sess gets a cookie and a record of express-session's shape.
    const [newcomer] = [...(await signIn(after, ['barbara']))];
    expect(await me(newcomer?.[1] as Client, after)).toEqual({ user: 'barbara', cart: ["barbara's book", 'item 1'], visits: 1 });
    for (const record of await records()) {
      expect(record).toEqual({
        cookie: { originalMaxAge: expect.any(Number), expires: expect.any(String), httpOnly: true, path: '/' },
        user: expect.any(String),
        cart: expect.any(Array),
        visits: expect.any(Number),
      });
      // express-session's Cookie reads the clock twice when it sets maxAge, so the records it
      // wrote may say a millisecond or so less; sess's own say exactly what was configured.
      const { originalMaxAge } = (record as { cookie: { originalMaxAge: number } }).cookie;
      expect(86_400_000 - originalMaxAge).toBeGreaterThanOrEqual(0);
      expect(86_400_000 - originalMaxAge).toBeLessThan(1_000);
    }

    // 3. Rollback: express-session again, reading what sess wrote (and the cookie sess set).
    const back = await app(express, real({ ...OPTIONS, store: peerStore }));
    for (const [user, client] of browsers) {
      expect(await me(client, back)).toEqual({ user, cart: [`${user}'s book`, 'item 1', 'item 2', 'item 3'], visits: 3 });
    }
    expect(await me(newcomer?.[1] as Client, back)).toEqual({ user: 'barbara', cart: ["barbara's book", 'item 1', 'item 2'], visits: 2 });
  });
}

const context = {} as { peers: Peers; redis: RedisClient | string; pool: pg.Pool | string };

beforeAll(async () => {
  context.peers = peers();
  [context.redis, context.pool] = await Promise.all([redisClient(), postgresPool()]);
});

afterAll(async () => {
  context.peers?.remove();
  if (typeof context.redis !== 'string') await context.redis?.quit();
  if (typeof context.pool !== 'string') await context.pool?.end();
});

describe.each(EXPRESS)('%s', (_, express) => {
  describe('connect-redis 9 on Redis', () => {
    const prefix = `sess-express-session-test:${randomUUID()}:`;
    afterAll(async () => {
      if (typeof context.redis === 'string') return;
      const keys = await context.redis.keys(`${prefix}*`);
      if (keys.length > 0) await context.redis.del(keys);
    });

    switchAndBack(express, () => {
      if (typeof context.redis === 'string') throw new Error(context.redis);
      const redis = context.redis;
      const RealStore = (context.peers.installed('connect-redis') as { RedisStore: new (options: object) => object }).RedisStore;
      const OurStore = (context.peers.aliased('connect-redis') as { RedisStore: new (options: object) => object }).RedisStore;
      const sess = new OurStore({ client: redis, prefix });
      // connect-redis, loaded unchanged, extends this package's Store.
      expect(sess).toBeInstanceOf((context.peers.aliased('express-session') as typeof session).Store);
      expect(sess).not.toBeInstanceOf((context.peers.installed('express-session') as SessionModule).Store);
      return {
        peer: new RealStore({ client: redis, prefix }),
        sess,
        records: async () => {
          const keys = await redis.keys(`${prefix}*`);
          return Promise.all(keys.map(async (key) => JSON.parse((await redis.get(key)) as string) as Record<string, unknown>));
        },
      };
    });
  });

  describe('connect-pg-simple 10 on PostgreSQL', () => {
    const table = `sess_express_session_${randomUUID().replaceAll('-', '')}`;
    beforeAll(async () => {
      if (typeof context.pool === 'string') return;
      // connect-pg-simple names every table's primary key "session_pkey", which must be unique in
      // the schema: a table that an interrupted run left behind would make this one's creation fail.
      const { rows } = await context.pool.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'sess\\_express\\_session\\_%'",
      );
      for (const { tablename } of rows as Array<{ tablename: string }>) await context.pool.query(`DROP TABLE IF EXISTS "${tablename}"`);
    });
    afterAll(async () => {
      if (typeof context.pool !== 'string') await context.pool.query(`DROP TABLE IF EXISTS "${table}"`);
    });

    switchAndBack(express, () => {
      if (typeof context.pool === 'string') throw new Error(context.pool);
      const pool = context.pool;
      const options = { pool, tableName: table, createTableIfMissing: true, pruneSessionInterval: false };
      type PgStoreFactory = (module: unknown) => new (options: object) => object;
      const RealStore = (context.peers.installed('connect-pg-simple') as PgStoreFactory)(context.peers.installed('express-session'));
      const OurStore = (context.peers.aliased('connect-pg-simple') as PgStoreFactory)(context.peers.aliased('express-session'));
      return {
        peer: new RealStore(options),
        sess: new OurStore(options),
        records: async () =>
          (await pool.query(`SELECT sess FROM "${table}"`)).rows.map((row: { sess: Record<string, unknown> }) => row.sess),
      };
    });
  });

  describe("each one's MemoryStore, shared in the process", () => {
    switchAndBack(express, () => {
      const store = new (context.peers.installed('express-session') as SessionModule).MemoryStore() as { sessions: Record<string, string> };
      return { peer: store, sess: store, records: async () => Object.values(store.sessions).map((json) => JSON.parse(json)) };
    });
    switchAndBack(express, () => {
      const store = new session.MemoryStore();
      return { peer: store, sess: store, records: async () => Object.values(store.sessions).map((json) => JSON.parse(json)) };
    });
  });
});
