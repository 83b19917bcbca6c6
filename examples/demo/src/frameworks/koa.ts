/** The demo on Koa 3: sess is middleware, and the session is `ctx.session`. */
import Koa, { type Context } from 'koa';
import { session } from '@sess/koa';
import type { DemoData, Framework, Reply } from '../demo.js';
import { readForm } from '../form.js';

declare module '@sess/koa' {
  interface SessionData extends DemoData {}
}

function send(ctx: Context, reply: Reply): void {
  if ('location' in reply) {
    ctx.redirect(reply.location);
  } else {
    ctx.type = 'html';
    ctx.body = reply.html;
  }
  // After redirect() and body, which set 302 and 200 of their own.
  ctx.status = reply.status;
}

export const koaFramework: Framework = {
  name: 'Koa',
  app({ secret, store, demo }) {
    const app = new Koa();
    // Outermost, so it sees the response after sess has committed: a failed store write arrives
    // here as an error with status 503, and otherwise sess's headers are all set.
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        // Koa's HTTP errors carry headers to keep (sess puts the session's Set-Cookie there).
        ctx.set((error as { headers?: Record<string, string | string[]> }).headers ?? {});
        send(ctx, demo.failure(error));
      }
      demo.responded(ctx.sessionId, ctx.method, ctx.path, ctx.status, (name) => ctx.response.get(name) || undefined);
    });
    app.use(session({ secret, store }));
    // Koa has no router of its own: the demo's route table is looked up directly.
    app.use(async (ctx) => {
      const route = demo.routeFor(ctx.method, ctx.path);
      const form = () => readForm(ctx.req, (name) => ctx.get(name) || undefined);
      send(ctx, route === undefined ? demo.notFound() : await route.handle({ session: ctx.session, data: ctx.session, form }));
    });
    return app.callback();
  },
};
