/** The demo on h3 2: sess is middleware, and `await useSession(event)` gives the session (its data is `session.data`). */
import { H3, type H3Event, toNodeHandler } from 'h3';
import { session, useSession } from '@sess/h3';
import type { DemoData, Framework, Reply } from '../demo.js';
import { readForm } from '../form.js';

declare module '@sess/h3' {
  interface SessionData extends DemoData {}
}

function toResponse(reply: Reply): Response {
  return 'location' in reply
    ? new Response(null, { status: reply.status, headers: { location: reply.location } })
    : new Response(reply.html, { status: reply.status, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

export const h3Framework: Framework = {
  name: 'h3',
  app({ secret, store, demo }) {
    const app = new H3({
      // demo.failure logs what needs logging.
      silent: true,
      // A store failure arrives as an HTTPError with status 503 (the SessStoreError is its cause).
      onError: (error) => toResponse(demo.failure(error)),
      // The final response, with sess's headers on it: noted for the next page.
      onResponse: (response, event) =>
        demo.responded(event.context.session?.id, event.req.method, event.url.pathname, response.status, (name) =>
          name === 'set-cookie' ? response.headers.getSetCookie() : response.headers.get(name),
        ),
    });
    app.use(session({ secret, store }));
    for (const route of demo.routes) {
      const handler = async (event: H3Event) => {
        const current = await useSession(event);
        const form = () => readForm(event.req.body, (name) => event.req.headers.get(name));
        return toResponse(await route.handle({ session: current, data: current.data, form }));
      };
      app.on(route.method, route.path, handler);
      // Express and Koa answer HEAD with the GET route; h3 only where a route says so.
      if (route.method === 'GET') app.on('HEAD', route.path, handler);
    }
    app.all('/**', () => toResponse(demo.notFound()));
    return toNodeHandler(app);
  },
};
