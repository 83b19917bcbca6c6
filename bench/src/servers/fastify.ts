/**
 * Fastify 5 servers: bare, @fastify/session (with @fastify/cookie and its default MemoryStore),
 * sess (memory, Redis, and memory with `asyncContext` read through `getSession()`).
 */
import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { memoryStore } from '@sess/store-memory';
import type { Store } from '@sess/core';
import { GET_SESSION_LABEL, PRIME_DATA, SECRET, body } from '../scenarios.js';
import type { Scenario } from '../scenarios.js';
import { importOptional } from './optional.js';
import { connectRedis, sessRedisStore } from './redis.js';

/**
 * `request.session` of both libraries, as far as the handlers use it. @fastify/session declares
 * `FastifyRequest.session` globally; the handlers go through this type instead.
 */
interface BenchSession {
  [key: string]: unknown;
  regenerate(): Promise<void>;
}

/** What the bench uses of @sess/fastify (typed here so the bench builds before it does). */
interface SessFastifyModule {
  /** The plugin: `app.register(session, options)`. */
  session: FastifyPluginAsync<{ secret: string; store?: Store; asyncContext?: boolean }>;
  getSession(): BenchSession;
}

/** How the handlers reach the session: from `request`, or (getSession scenario) without it. */
type SessionOf = (request: FastifyRequest) => BenchSession;

const fromRequest: SessionOf = (request) => (request as unknown as { session: BenchSession }).session;

interface Flavour {
  /** Registers the session plugin(s) on `app`. */
  register(app: FastifyInstance): Promise<void>;
  readonly sessionOf: SessionOf;
}

function fastifySessionFlavour(): Flavour {
  return {
    async register(app) {
      await app.register(fastifyCookie);
      // Its defaults otherwise, as its users get them: `rolling: true` saves the session and
      // re-sends the cookie on every response that has one. Its README asks for a non-secure
      // cookie over plain HTTP; 'auto' is that here, and what sess does by default.
      await app.register(fastifySession, { secret: SECRET, cookieName: 'sid', saveUninitialized: false, cookie: { secure: 'auto' } });
    },
    sessionOf: fromRequest,
  };
}

async function sessFlavour(store: () => Promise<Store>): Promise<Flavour> {
  const sess = await importOptional<SessFastifyModule>('@sess/fastify', ['session']);
  const options = { secret: SECRET, store: await store() };
  return {
    async register(app) {
      await app.register(sess.session, options);
    },
    sessionOf: fromRequest,
  };
}

/**
 * sess with `asyncContext: true`, the handlers reaching the session the way an app's helpers do:
 * `getSession()` with no `request` passed in.
 */
async function getSessionFlavour(): Promise<Flavour> {
  const sess = await importOptional<SessFastifyModule>('@sess/fastify', ['session', 'getSession']);
  const options = { secret: SECRET, store: memoryStore(), asyncContext: true };
  return {
    async register(app) {
      await app.register(sess.session, options);
    },
    sessionOf: () => sess.getSession(),
  };
}

async function flavour(scenario: Scenario): Promise<Flavour | undefined> {
  switch (scenario.id) {
    case 'fastify/bare':
      return undefined;
    case 'fastify/@fastify/session+memory':
      return fastifySessionFlavour();
    case 'fastify/sess+memory':
      return sessFlavour(async () => memoryStore());
    case `fastify/${GET_SESSION_LABEL}`:
      return getSessionFlavour();
    case 'fastify/sess+redis':
      return sessFlavour(async () => sessRedisStore(await connectRedis()));
    default:
      throw new Error(`no Fastify server for ${scenario.id}`);
  }
}

function sessionRoutes(app: FastifyInstance, sessionOf: SessionOf): void {
  app.get('/prime', async (request) => {
    Object.assign(sessionOf(request), PRIME_DATA);
    return body(sessionOf(request).views);
  });
  app.get('/read', async (request) => body(sessionOf(request).views));
  app.get('/write', async (request) => {
    const s = sessionOf(request);
    s.views = ((s.views as number | undefined) ?? 0) + 1;
    return body(s.views);
  });
  app.get('/new', async (request) => {
    sessionOf(request).views = 1;
    return body(1);
  });
  app.get('/regenerate', async (request) => {
    await sessionOf(request).regenerate();
    // @fastify/session replaces `request.session` on regenerate: read it again.
    sessionOf(request).user = 'alice';
    return body(sessionOf(request).views);
  });
}

export async function fastifyServer(scenario: Scenario, onError: (error: unknown) => void): Promise<RequestListener> {
  // The server child listens itself; serverFactory hands over the handler Fastify's own server would run.
  let handler: RequestListener | undefined;
  const app = Fastify({
    serverFactory(fastifyHandler) {
      handler = fastifyHandler;
      return createServer(fastifyHandler);
    },
  });
  app.setErrorHandler(async (error, _request, reply) => {
    onError(error);
    return reply.code(500).send('error');
  });
  const chosen = await flavour(scenario);
  if (chosen === undefined) {
    for (const path of ['/prime', '/read', '/write', '/new', '/regenerate']) app.get(path, async () => body(0));
  } else {
    await chosen.register(app);
    sessionRoutes(app, chosen.sessionOf);
  }
  await app.ready();
  if (handler === undefined) throw new Error('Fastify did not call serverFactory');
  return handler;
}
