/**
 * Koa 3 servers: bare, koa-session (cookie mode, a Redis store), sess (memory, Redis, and memory
 * with `asyncContext` read through `getSession()`).
 */
import type { RequestListener } from 'node:http';
import Koa from 'koa';
import type { Context, Middleware } from 'koa';
import koaSession from 'koa-session';
import { memoryStore } from '@sess/store-memory';
import { cookieSessions } from '@sess/core';
import type { SessionStorage } from '@sess/core';
import {
  FLOOR_COOKIE,
  FLOOR_LABEL,
  FLOOR_REDIS_LABEL,
  GET_SESSION_LABEL,
  floorContext,
  floorHeaders,
  floorWork,
  PRIME_DATA,
  SECRET,
  body,
} from '../scenarios.js';
import type { Scenario } from '../scenarios.js';
import { importOptional } from './optional.js';
import { clientRoundTrips, connectRedis, koaSessionRedisStore, sessRedisStore } from './redis.js';
import type { RoundTrips } from './redis.js';

/** `ctx.session` of both libraries, as far as the handlers use it. */
interface BenchSession {
  [key: string]: unknown;
  regenerate(): Promise<void>;
}

/** What the bench uses of @sess/koa (typed here so the bench builds before it does). */
interface SessKoaModule {
  session(options: { secret: string; store?: SessionStorage; key?: string; asyncContext?: boolean }): Middleware;
  getSession(): BenchSession;
}

/** How the route reaches the session: from `ctx`, or (getSession scenario) without it. */
type SessionOf = (ctx: Context) => BenchSession;

const fromContext: SessionOf = (ctx) => (ctx as unknown as { session: BenchSession }).session;

/** The floor's session: one plain object, no session work. */
const floorSession: BenchSession = { regenerate: async () => {} };

/** The floor's middleware: calls on after one promise step, as a store-backed session middleware must. */
const spin = floorWork();
const floor = floorContext(floorSession);
const floorMiddleware: Middleware = async (ctx, next) => {
  spin();
  if (FLOOR_COOKIE !== undefined)
    for (const [name, value] of floorHeaders(ctx.req.url, ctx.req.headers.cookie !== undefined)) ctx.res.setHeader(name, value);
  await undefined;
  await floor.run(next);
};

/** The floor with the Redis client alone: the round trips sess+redis makes, in place of the promise step. */
function floorRedisMiddleware(roundTrips: RoundTrips): Middleware {
  return async (ctx, next) => {
    spin();
    await roundTrips(ctx.path);
    await floor.run(next);
  };
}

/**
 * The getSession scenario's accessor: an app's helper with `asyncContext: true`, which reaches
 * the current request's session through `getSession()` with no `ctx` passed in.
 */
async function viaGetSession(): Promise<SessionOf> {
  const { getSession } = await importOptional<SessKoaModule>('@sess/koa', ['getSession']);
  return function currentSession() {
    return getSession();
  };
}

async function middleware(app: Koa, scenario: Scenario): Promise<Middleware | undefined> {
  switch (scenario.id) {
    case 'koa/bare':
      return undefined;
    case `koa/${FLOOR_LABEL}`:
      return floorMiddleware;
    case `koa/${FLOOR_REDIS_LABEL}`:
      return floorRedisMiddleware(await clientRoundTrips(await connectRedis()));
    case 'koa/koa-session+cookie':
      // Signed cookies (koa-session's default) need app.keys.
      app.keys = [SECRET];
      return koaSession({ key: 'sid' }, app) as unknown as Middleware;
    case 'koa/koa-session+redis':
      app.keys = [SECRET];
      return koaSession({ key: 'sid', store: koaSessionRedisStore(await connectRedis()) }, app) as unknown as Middleware;
    case 'koa/sess+memory': {
      const { session } = await importOptional<SessKoaModule>('@sess/koa', ['session']);
      return session({ secret: SECRET, store: memoryStore() });
    }
    case 'koa/sess+cookie': {
      // Signed, readable JSON in the cookie: what koa-session's cookie mode keeps, like for like.
      const { session } = await importOptional<SessKoaModule>('@sess/koa', ['session']);
      return session({ secret: SECRET, store: cookieSessions({ secret: SECRET, mode: 'sign' }) });
    }
    case `koa/${GET_SESSION_LABEL}`: {
      const { session } = await importOptional<SessKoaModule>('@sess/koa', ['session']);
      return session({ secret: SECRET, store: memoryStore(), asyncContext: true });
    }
    case 'koa/sess+redis': {
      const { session } = await importOptional<SessKoaModule>('@sess/koa', ['session']);
      return session({ secret: SECRET, store: await sessRedisStore(await connectRedis()) });
    }
    default:
      throw new Error(`no Koa server for ${scenario.id}`);
  }
}

/** Koa has no router; a switch on the path costs the same in every Koa scenario. */
function router(sessionOf: SessionOf): Middleware {
  return async function route(ctx) {
    const s = sessionOf(ctx);
    switch (ctx.path) {
      case '/prime':
        Object.assign(s, PRIME_DATA);
        ctx.body = body(s.views);
        return;
      case '/read':
        ctx.body = body(s.views);
        return;
      case '/write':
        s.views = ((s.views as number | undefined) ?? 0) + 1;
        ctx.body = body(s.views);
        return;
      case '/new':
        s.views = 1;
        ctx.body = body(1);
        return;
      case '/regenerate':
        await s.regenerate();
        // koa-session's regenerate saves at once; its auto-commit then saves the user too.
        sessionOf(ctx).user = 'alice';
        ctx.body = body(sessionOf(ctx).views);
        return;
      default:
        ctx.status = 404;
    }
  };
}

function bareRoute(ctx: Context): void {
  if (['/prime', '/read', '/write', '/new', '/regenerate'].includes(ctx.path)) ctx.body = body(0);
  else ctx.status = 404;
}

export async function koaServer(scenario: Scenario, onError: (error: unknown) => void): Promise<RequestListener> {
  const app = new Koa();
  // Koa logs errors itself unless `silent`; the server child reports them once, as the others do.
  app.silent = true;
  app.on('error', onError);
  const session = await middleware(app, scenario);
  if (session === undefined) app.use(bareRoute);
  else {
    const sessionOf =
      scenario.impl === 'floor' ? floor.session : scenario.id === `koa/${GET_SESSION_LABEL}` ? await viaGetSession() : fromContext;
    app.use(session).use(router(sessionOf));
  }
  return app.callback();
}
