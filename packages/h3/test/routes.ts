/**
 * The conformance contract's routes (see @sess/adapter-test contract.ts), written once against
 * the session API both entries share; each major's harness wires them into its app.
 */
import { PUBLIC_CACHE } from '@sess/adapter-test';
import type { AdapterOptions } from '@sess/adapter-test';
import type { H3Session, SessionOptions } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    basket?: { items: string[] };
  }
}
declare module '../src/v1.js' {
  interface SessionData {
    views?: number;
    user?: string;
    basket?: { items: string[] };
  }
}

/** What a route may do to the response besides returning its body. */
export interface Reply {
  status(code: number): void;
  append(name: string, value: string): void;
  set(name: string, value: string): void;
}

export type Route = (session: H3Session, reply: Reply, param: string | undefined) => unknown;

export function sessionOptions(options: AdapterOptions): SessionOptions {
  const { trustProxy, ...rest } = options;
  return { ...rest, proxy: trustProxy ?? false };
}

const basketBody = (basket: { items: string[] } | undefined) => (basket === undefined ? 'no basket' : `basket ${basket.items.join(',')}`);

const bump = (session: H3Session) => (session.data.views = (session.data.views ?? 0) + 1);

export function contractRoutes(name: string): Record<string, Route> {
  return {
    'GET /plain': () => 'plain',
    'GET /count': (s) => `views ${bump(s)}`,
    'GET /read': (s) => String(s.data.views ?? 0),
    'POST /login': async (s) => {
      await s.regenerate();
      await s.update({ user: 'ada' });
      return s.id;
    },
    'GET /me': (s) => s.data.user ?? 'nobody',
    'POST /logout': async (s) => {
      await s.destroy();
      return 'bye';
    },
    'POST /clear': async (s) => {
      await s.clear();
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
    'GET /boom': (s, reply) => {
      bump(s);
      reply.status(500);
      return 'boom';
    },
    'GET /throw': (s) => {
      bump(s);
      throw new Error('handler failed');
    },
    'GET /expiry/:seconds': (s, _, seconds) => {
      bump(s);
      s.setExpiry(Number(seconds));
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
    'GET /app-cookie': (s, reply) => {
      bump(s);
      reply.append('set-cookie', `${name}=from-app; Path=/`);
      return 'app';
    },
    'GET /cache-control': (s, reply) => {
      bump(s);
      reply.set('cache-control', 'no-store');
      return 'chosen';
    },
    'GET /public-cache': (s, reply) => {
      bump(s);
      reply.set('cache-control', PUBLIC_CACHE);
      return 'public';
    },
    'GET /basket': (s) => basketBody(s.data.basket),
    'GET /basket/add': (s) => {
      const { basket } = s.data;
      if (basket === undefined) s.data.basket = { items: ['1'] };
      else basket.items.push(String(basket.items.length + 1));
      return basketBody(s.data.basket);
    },
    'GET /basket/boom': (s, reply) => {
      s.data.basket?.items.push('boom');
      reply.status(500);
      return 'boom';
    },
  };
}
