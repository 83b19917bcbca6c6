/**
 * The conformance contract's routes (see @sess/adapter-test contract.ts) as one Hono app, served
 * through whichever `getRequestListener` (node-server 1 or 2) the harness hands it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { PUBLIC_CACHE, listen } from '@sess/adapter-test';
import type { AdapterOptions, StartedApp } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { HonoSession, SessionEnv, SessionOptions } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    basket?: { items: string[] };
  }
}

const basketBody = (basket: { items: string[] } | undefined) => (basket === undefined ? 'no basket' : `basket ${basket.items.join(',')}`);

/** `getRequestListener` of @hono/node-server, either major. */
export type RequestListenerOf = (fetch: Hono['fetch']) => (req: IncomingMessage, res: ServerResponse) => unknown;

export function sessionOptions(options: AdapterOptions): SessionOptions {
  const { trustProxy, ...rest } = options;
  return { ...rest, proxy: trustProxy ?? false };
}

/**
 * Hono's default error handler without its `console.error`: the suite throws on purpose.
 * A sess failure arrives as an `HTTPException`, answered as Hono answers one.
 */
export const quietErrors = (error: Error, c: Context) =>
  error instanceof HTTPException ? error.getResponse() : c.text('Internal Server Error', 500);

type Route = (s: HonoSession, c: Context<SessionEnv>) => string | Promise<string>;

function contractRoutes(name: string): Record<string, Route> {
  const bump = (s: HonoSession) => (s.data.views = (s.data.views ?? 0) + 1);
  return {
    'GET /count': (s) => `views ${bump(s)}`,
    'GET /read': (s) => String(s.data.views ?? 0),
    'POST /login': async (s) => {
      await s.regenerate();
      s.data.user = 'ada';
      return s.id ?? '';
    },
    'GET /me': (s) => s.data.user ?? 'nobody',
    'POST /logout': async (s) => {
      await s.destroy();
      return 'bye';
    },
    'POST /clear': (s) => {
      s.clear();
      return 'cleared';
    },
    'POST /save': (s) => {
      s.save();
      return 'saved';
    },
    'POST /reload': async (s) => {
      s.data.views = 99;
      await s.reload();
      return String(s.data.views);
    },
    'GET /touch': (s) => {
      s.touch();
      return 'touched';
    },
    'GET /boom': (s, c) => {
      bump(s);
      c.status(500);
      return 'boom';
    },
    'GET /throw': (s) => {
      bump(s);
      throw new Error('handler failed');
    },
    'GET /expiry/:seconds': (s, c) => {
      bump(s);
      s.setExpiry(Number(c.req.param('seconds')));
      return 'ok';
    },
    'GET /test-cookie/set': (s) => {
      s.setTestCookie();
      return 'set';
    },
    'GET /test-cookie/check': (s) => String(s.testCookieWorked()),
    'GET /test-cookie/delete': (s) => {
      s.deleteTestCookie();
      return 'deleted';
    },
    'GET /app-cookie': (s, c) => {
      bump(s);
      c.header('set-cookie', `${name}=from-app; Path=/`, { append: true });
      return 'app';
    },
    'GET /cache-control': (s, c) => {
      bump(s);
      c.header('cache-control', 'no-store');
      return 'chosen';
    },
    'GET /public-cache': (s, c) => {
      bump(s);
      c.header('cache-control', PUBLIC_CACHE);
      return 'public';
    },
    'GET /basket': (s) => basketBody(s.data.basket),
    'GET /basket/add': (s) => {
      const { basket } = s.data;
      if (basket === undefined) s.data.basket = { items: ['1'] };
      else basket.items.push(String(basket.items.length + 1));
      return basketBody(s.data.basket);
    },
    'GET /basket/boom': (s, c) => {
      s.data.basket?.items.push('boom');
      c.status(500);
      return 'boom';
    },
  };
}

/** The contract's app: `GET /plain` never touches the session, every other route loads it first. */
export function contractApp(options: AdapterOptions): Hono<SessionEnv> {
  const app = new Hono<SessionEnv>();
  app.onError(quietErrors);
  app.use(session(sessionOptions(options)));
  app.get('/plain', (c) => c.text('plain'));
  for (const [key, route] of Object.entries(contractRoutes(options.name ?? 'sid'))) {
    const [method = 'GET', path = '/'] = key.split(' ');
    app.on(method, path, async (c) => c.text(await route(await c.get('session').load(), c)));
  }
  return app;
}

export const serve = (requestListener: RequestListenerOf, app: Hono<SessionEnv>): Promise<StartedApp> => listen(requestListener(app.fetch));
