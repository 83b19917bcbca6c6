/** The conformance contract's routes (see @sess/adapter-test contract.ts) in Koa's idiom. */
import type Koa from 'koa';
import type { Context } from 'koa';
import { PUBLIC_CACHE } from '@sess/adapter-test';
import type { AdapterOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    basket?: { items: string[] };
  }
}

const basketBody = (basket: { items: string[] } | undefined) => (basket === undefined ? 'no basket' : `basket ${basket.items.join(',')}`);

export function sessionOptions(options: AdapterOptions): SessionOptions {
  const { trustProxy: _, cookie, ...rest } = options;
  return { ...rest, ...cookie };
}

const bump = (ctx: Context) => (ctx.session.views = (ctx.session.views ?? 0) + 1);

const routes: Record<string, (ctx: Context, name: string) => unknown> = {
  'GET /plain': () => 'plain',
  'GET /count': (ctx) => `views ${bump(ctx)}`,
  'GET /read': (ctx) => String(ctx.session.views ?? 0),
  'POST /login': async (ctx) => {
    await ctx.session.regenerate();
    ctx.session.user = 'ada';
    return ctx.sessionId;
  },
  'GET /me': (ctx) => ctx.session.user ?? 'nobody',
  'POST /logout': (ctx) => {
    ctx.session = null;
    return 'bye';
  },
  'POST /clear': (ctx) => {
    ctx.session = {} as never;
    return 'cleared';
  },
  'POST /save': (ctx) => {
    ctx.session.save();
    return 'saved';
  },
  'POST /reload': async (ctx) => {
    ctx.session.views = 99;
    await ctx.session.reload();
    return String(ctx.session.views);
  },
  'GET /touch': (ctx) => {
    ctx.session.touch();
    return 'touched';
  },
  'GET /boom': (ctx) => {
    bump(ctx);
    ctx.status = 500;
    return 'boom';
  },
  'GET /throw': (ctx) => {
    bump(ctx);
    throw new Error('handler failed');
  },
  'GET /test-cookie/set': (ctx) => {
    ctx.session.setTestCookie();
    return 'set';
  },
  'GET /test-cookie/check': (ctx) => String(ctx.session.testCookieWorked()),
  'GET /test-cookie/delete': (ctx) => {
    ctx.session.deleteTestCookie();
    return 'deleted';
  },
  'GET /app-cookie': (ctx, name) => {
    bump(ctx);
    ctx.append('Set-Cookie', `${name}=from-app; Path=/`);
    return 'app';
  },
  'GET /public-cache': (ctx) => {
    bump(ctx);
    ctx.set('Cache-Control', PUBLIC_CACHE);
    return 'public';
  },
  'GET /cache-control': (ctx) => {
    bump(ctx);
    ctx.set('Cache-Control', 'no-store');
    return 'chosen';
  },
  'GET /basket': (ctx) => basketBody(ctx.session.basket),
  'GET /basket/add': (ctx) => {
    const { basket } = ctx.session;
    if (basket === undefined) ctx.session.basket = { items: ['1'] };
    else basket.items.push(String(basket.items.length + 1));
    return basketBody(ctx.session.basket);
  },
  'GET /basket/boom': (ctx) => {
    ctx.session.basket?.items.push('boom');
    ctx.status = 500;
    return 'boom';
  },
};

export function contractApp(KoaClass: typeof Koa, options: AdapterOptions): Koa {
  const app = new KoaClass();
  app.proxy = options.trustProxy ?? false;
  app.silent = true;
  app.use(session(sessionOptions(options)));
  app.use(async (ctx) => {
    const expiry = /^\/expiry\/(\d+)$/.exec(ctx.path);
    if (expiry !== null) {
      bump(ctx);
      ctx.session.setExpiry(Number(expiry[1]));
      ctx.body = 'ok';
      return;
    }
    const route = routes[`${ctx.method} ${ctx.path}`];
    if (route !== undefined) ctx.body = await route(ctx, options.name ?? 'sid');
  });
  return app;
}
