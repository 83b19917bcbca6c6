/**
 * Express 5 servers: bare, express-session (MemoryStore, connect-redis, connect-pg-simple), sess
 * (memory, Redis, PostgreSQL, and memory with `asyncContext` read through `getSession()`).
 */
import type { RequestListener } from 'node:http';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import expressSession from 'express-session';
import { RedisStore } from 'connect-redis';
import { getSession, session as sessSession } from '@sess/express';
import { memoryStore } from '@sess/store-memory';
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
import { connectPostgres, connectPgSimpleStore, sessPostgresStore } from './postgres.js';
import { clientRoundTrips, connectRedis, sessRedisStore } from './redis.js';
import type { RoundTrips } from './redis.js';

/**
 * The part of `req.session` both libraries share. @sess/express and @types/express-session each
 * declare `Request.session` globally; the handlers go through this type instead of either.
 */
interface BenchSession {
  [key: string]: unknown;
  regenerate(callback: (error?: unknown) => void): void;
}

/** How the handlers reach the session: from `req`, or (getSession scenario) without it. */
type SessionOf = (req: Request) => BenchSession;

const fromRequest: SessionOf = (req) => (req as unknown as { session: BenchSession }).session;

/** The floor's session: one plain object, no session work. */
const floorSession: BenchSession = { regenerate: (callback) => callback() };

/** The floor's middleware: calls on after one promise step, as a store-backed session middleware must. */
const spin = floorWork();
const floor = floorContext(floorSession);
const floorMiddleware: RequestHandler = (req, res, next) => {
  spin();
  if (FLOOR_COOKIE !== undefined)
    for (const [name, value] of floorHeaders(req.url, req.headers.cookie !== undefined)) res.setHeader(name, value);
  void Promise.resolve().then(() => floor.run(next));
};

/** The floor with the Redis client alone: the round trips sess+redis makes, in place of the promise step. */
function floorRedisMiddleware(roundTrips: RoundTrips): RequestHandler {
  return (req, _res, next) => {
    spin();
    roundTrips(req.path).then(() => floor.run(next), next);
  };
}

/** An app's helper with `asyncContext: true`: the current request's session, no `req` passed in. */
function currentSession(): BenchSession {
  return getSession() as unknown as BenchSession;
}

async function middleware(scenario: Scenario): Promise<RequestHandler | undefined> {
  switch (scenario.id) {
    case 'express/bare':
      return undefined;
    case `express/${FLOOR_LABEL}`:
      return floorMiddleware;
    case `express/${FLOOR_REDIS_LABEL}`:
      return floorRedisMiddleware(await clientRoundTrips(await connectRedis()));
    case 'express/express-session+memory':
      // resave/saveUninitialized false: what the express-session README recommends.
      return expressSession({ secret: SECRET, name: 'sid', resave: false, saveUninitialized: false });
    case 'express/express-session+connect-redis': {
      const store = new RedisStore({ client: await connectRedis(), prefix: 'bench-es:' });
      return expressSession({ secret: SECRET, name: 'sid', resave: false, saveUninitialized: false, store });
    }
    case 'express/express-session+connect-pg-simple': {
      const store = await connectPgSimpleStore(expressSession, connectPostgres());
      return expressSession({ secret: SECRET, name: 'sid', resave: false, saveUninitialized: false, store });
    }
    case 'express/sess+memory':
      return sessSession({ secret: SECRET, store: memoryStore() });
    case `express/${GET_SESSION_LABEL}`:
      return sessSession({ secret: SECRET, store: memoryStore(), asyncContext: true });
    case 'express/sess+redis':
      return sessSession({ secret: SECRET, store: await sessRedisStore(await connectRedis()) });
    case 'express/sess+postgres':
      return sessSession({ secret: SECRET, store: await sessPostgresStore(connectPostgres()) });
    default:
      throw new Error(`no Express server for ${scenario.id}`);
  }
}

function sessionRoutes(app: express.Express, sessionOf: SessionOf): void {
  app.get('/prime', (req, res) => {
    Object.assign(sessionOf(req), PRIME_DATA);
    res.send(body(sessionOf(req).views));
  });
  app.get('/read', (req, res) => {
    res.send(body(sessionOf(req).views));
  });
  app.get('/write', (req, res) => {
    const s = sessionOf(req);
    s.views = ((s.views as number | undefined) ?? 0) + 1;
    res.send(body(s.views));
  });
  app.get('/new', (req, res) => {
    sessionOf(req).views = 1;
    res.send(body(1));
  });
  // The callback form works with both libraries (sess also returns a promise).
  app.get('/regenerate', (req, res, next) => {
    sessionOf(req).regenerate((error) => {
      if (error !== undefined && error !== null) return next(error);
      sessionOf(req).user = 'alice';
      res.send(body(sessionOf(req).views));
    });
  });
}

export async function expressServer(scenario: Scenario, onError: (error: unknown) => void): Promise<RequestListener> {
  const app = express();
  const session = await middleware(scenario);
  if (session === undefined) {
    for (const path of ['/prime', '/read', '/write', '/new', '/regenerate']) app.get(path, (_req, res) => res.send(body(0)));
  } else {
    app.use(session);
    const sessionOf =
      scenario.impl === 'floor' ? floor.session : scenario.id === `express/${GET_SESSION_LABEL}` ? currentSession : fromRequest;
    sessionRoutes(app, sessionOf);
  }
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    onError(error);
    res.status(500).send('error');
  });
  return app;
}
