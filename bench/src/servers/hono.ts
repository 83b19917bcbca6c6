/**
 * Hono 4 servers on @hono/node-server: bare, sess (memory, Redis, and memory with `asyncContext`
 * read through `getSession()`). Hono has no first-party session library, so there is no peer.
 */
import type { RequestListener } from 'node:http';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { memoryStore } from '@sess/store-memory';
import type { Store } from '@sess/core';
import { GET_SESSION_LABEL, PRIME_DATA, SECRET, body } from '../scenarios.js';
import type { Scenario } from '../scenarios.js';
import { importOptional } from './optional.js';
import { connectRedis, sessRedisStore } from './redis.js';

/** The part of @sess/hono's session the handlers use. */
interface BenchSession {
  readonly data: Record<string, unknown>;
  load(): Promise<BenchSession>;
  regenerate(): Promise<void>;
}

type Env = { Variables: { session: BenchSession } };

/** What the bench uses of @sess/hono (typed here so the bench builds before it does). */
interface SessHonoModule {
  session(options: { secret: string; store?: Store; asyncContext?: boolean }): MiddlewareHandler;
  getSession(): BenchSession;
}

interface Flavour {
  readonly middleware: MiddlewareHandler;
  /** The request's session, loaded (its README: `load()` before the first read). */
  open(c: Context<Env>): Promise<BenchSession>;
}

async function sessFlavour(store: Store): Promise<Flavour> {
  const sess = await importOptional<SessHonoModule>('@sess/hono', ['session']);
  return { middleware: sess.session({ secret: SECRET, store }), open: (c) => c.get('session').load() };
}

/**
 * sess with `asyncContext: true`, the handlers reaching the session the way an app's helpers do:
 * `getSession()` with no `c` passed in.
 */
async function getSessionFlavour(store: Store): Promise<Flavour> {
  const sess = await importOptional<SessHonoModule>('@sess/hono', ['session', 'getSession']);
  return { middleware: sess.session({ secret: SECRET, store, asyncContext: true }), open: () => sess.getSession().load() };
}

async function flavour(scenario: Scenario): Promise<Flavour | undefined> {
  switch (scenario.id) {
    case 'hono/bare':
      return undefined;
    case 'hono/sess+memory':
      return sessFlavour(memoryStore());
    case `hono/${GET_SESSION_LABEL}`:
      return getSessionFlavour(memoryStore());
    case 'hono/sess+redis':
      return sessFlavour(await sessRedisStore(await connectRedis()));
    default:
      throw new Error(`no Hono server for ${scenario.id}`);
  }
}

export async function honoServer(scenario: Scenario, onError: (error: unknown) => void): Promise<RequestListener> {
  const app = new Hono<Env>();
  app.onError((error, c) => {
    onError(error);
    return c.text('error', 500);
  });
  const chosen = await flavour(scenario);
  if (chosen === undefined) {
    for (const path of ['/prime', '/read', '/write', '/new', '/regenerate']) app.get(path, (c) => c.text(body(0)));
  } else {
    app.use(chosen.middleware);
    app.get('/prime', async (c) => {
      const s = await chosen.open(c);
      Object.assign(s.data, PRIME_DATA);
      return c.text(body(s.data.views));
    });
    app.get('/read', async (c) => c.text(body((await chosen.open(c)).data.views)));
    app.get('/write', async (c) => {
      const s = await chosen.open(c);
      s.data.views = ((s.data.views as number | undefined) ?? 0) + 1;
      return c.text(body(s.data.views));
    });
    app.get('/new', async (c) => {
      (await chosen.open(c)).data.views = 1;
      return c.text(body(1));
    });
    app.get('/regenerate', async (c) => {
      const s = await chosen.open(c);
      await s.regenerate();
      s.data.user = 'alice';
      return c.text(body(s.data.views));
    });
  }
  // What @hono/node-server's serve() listens with.
  return getRequestListener(app.fetch) as RequestListener;
}
