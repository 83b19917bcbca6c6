/** The conformance contract's routes (see @sess/adapter-test contract.ts) in Fastify's idiom. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PUBLIC_CACHE } from '@sess/adapter-test';
import type { AdapterOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import type { FastifyFactory } from './app.js';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    basket?: { items: string[] };
  }
}

const basketBody = (basket: { items: string[] } | undefined) => (basket === undefined ? 'no basket' : `basket ${basket.items.join(',')}`);

export function sessionOptions(options: AdapterOptions): SessionOptions {
  const { trustProxy: _, name, ...rest } = options;
  return { ...rest, ...(name === undefined ? {} : { cookieName: name }) };
}

const bump = (request: FastifyRequest) => (request.session.views = (request.session.views ?? 0) + 1);

type Route = (request: FastifyRequest, reply: FastifyReply, name: string) => unknown;

const routes: Record<string, Route> = {
  'GET /plain': () => 'plain',
  'GET /count': (request) => `views ${bump(request)}`,
  'GET /read': (request) => String(request.session.views ?? 0),
  'POST /login': async (request) => {
    // The contract's regenerate moves the data; @fastify/session's regenerate() keeps none.
    await request.session.regenerate({ keepData: true });
    request.session.user = 'ada';
    return request.session.sessionId;
  },
  'GET /me': (request) => request.session.user ?? 'nobody',
  'POST /logout': async (request) => {
    await request.session.destroy();
    return 'bye';
  },
  'POST /clear': (request) => {
    for (const key of Object.keys(request.session)) delete (request.session as unknown as Record<string, unknown>)[key];
    return 'cleared';
  },
  'POST /save': async (request) => {
    await request.session.save();
    return 'saved';
  },
  'POST /reload': async (request) => {
    request.session.views = 99;
    await request.session.reload();
    return String(request.session.views);
  },
  'GET /touch': (request) => {
    request.session.touch();
    return 'touched';
  },
  'GET /boom': (request, reply) => {
    bump(request);
    reply.code(500);
    return 'boom';
  },
  'GET /throw': (request) => {
    bump(request);
    throw new Error('handler failed');
  },
  'GET /expiry/:seconds': (request) => {
    bump(request);
    request.session.setExpiry(Number((request.params as { seconds: string }).seconds));
    return 'ok';
  },
  'GET /test-cookie/set': (request) => {
    request.session.setTestCookie();
    return 'set';
  },
  'GET /test-cookie/check': (request) => String(request.session.testCookieWorked()),
  'GET /test-cookie/delete': (request) => {
    request.session.deleteTestCookie();
    return 'deleted';
  },
  'GET /app-cookie': (request, reply, name) => {
    bump(request);
    reply.header('set-cookie', `${name}=from-app; Path=/`);
    return 'app';
  },
  'GET /cache-control': (request, reply) => {
    bump(request);
    reply.header('cache-control', 'no-store');
    return 'chosen';
  },
  'GET /public-cache': (request, reply) => {
    bump(request);
    reply.header('cache-control', PUBLIC_CACHE);
    return 'public';
  },
  // @fastify/session's own data API: get and set.
  'GET /basket': (request) => basketBody(request.session.get('basket')),
  'GET /basket/add': (request) => {
    const basket = request.session.get('basket');
    if (basket === undefined) request.session.set('basket', { items: ['1'] });
    else basket.items.push(String(basket.items.length + 1));
    return basketBody(request.session.get('basket'));
  },
  'GET /basket/boom': (request, reply) => {
    request.session.get('basket')?.items.push('boom');
    reply.code(500);
    return 'boom';
  },
};

/**
 * The contract's app on `Fastify` (either major), its session plugin built from the suite's options.
 * The routes are added right after a `register` not awaited, so before the plugin loads: they
 * commit in the plugin's own onSend hook. With `inChild`, they are added in a plugin registered
 * after it, which sees them added: each commits in its own last onSend hook.
 */
export function contractApp(Fastify: FastifyFactory, options: AdapterOptions, inChild = false): FastifyInstance {
  const app = Fastify({ trustProxy: options.trustProxy ?? false, forceCloseConnections: true }) as unknown as FastifyInstance;
  app.register(session, sessionOptions(options));
  const addRoutes = (scope: FastifyInstance) => {
    for (const [key, route] of Object.entries(routes)) {
      const [method = 'GET', url = '/'] = key.split(' ');
      scope.route({
        method: method as 'GET' | 'POST',
        url,
        handler: async (request, reply) => route(request, reply, options.name ?? 'sid'),
      });
    }
  };
  if (inChild) app.register(async (child) => addRoutes(child));
  else addRoutes(app);
  return app;
}
