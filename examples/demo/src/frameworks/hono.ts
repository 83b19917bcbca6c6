/** The demo on Hono 4 (on Node through @hono/node-server): sess is middleware, and `await c.get('session').load()` gives the session. */
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { session, type SessionEnv } from '@sess/hono';
import type { DemoData, Framework, Reply } from '../demo.js';
import { readForm } from '../form.js';

declare module '@sess/hono' {
  interface SessionData extends DemoData {}
}

function toResponse(reply: Reply): Response {
  return 'location' in reply
    ? new Response(null, { status: reply.status, headers: { location: reply.location } })
    : new Response(reply.html, { status: reply.status, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

export const honoFramework: Framework = {
  name: 'Hono',
  app({ secret, store, demo }) {
    const app = new Hono<SessionEnv>();
    // Outermost, so it sees the response once sess has committed and put its headers on it.
    app.use(async (c, next) => {
      await next();
      const { headers } = c.res;
      demo.responded(c.get('session')?.id, c.req.method, c.req.path, c.res.status, (name) =>
        name === 'set-cookie' ? headers.getSetCookie() : headers.get(name),
      );
    });
    app.use(session({ secret, store }));
    for (const route of demo.routes) {
      app.on(route.method, route.path, async (c) => {
        const current = await c.get('session').load();
        const form = () => readForm(c.req.raw.body, (name) => c.req.header(name));
        return toResponse(await route.handle({ session: current, data: current.data, form }));
      });
    }
    app.notFound(() => toResponse(demo.notFound()));
    // A store failure arrives as an HTTPException with status 503 (the SessStoreError is its cause).
    app.onError((error) => toResponse(demo.failure(error)));
    return getRequestListener(app.fetch);
  },
};
