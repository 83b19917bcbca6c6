/** The demo on Express 5: sess is middleware, and the session is `req.session`. */
import express, { type ErrorRequestHandler, type Response } from 'express';
import { session } from '@sess/express';
import type { DemoData, Framework, Reply } from '../demo.js';
import { readForm } from '../form.js';

declare module '@sess/express' {
  interface SessionData extends DemoData {}
}

function send(res: Response, reply: Reply): void {
  if ('location' in reply) res.redirect(303, reply.location);
  else res.status(reply.status).type('html').send(reply.html);
}

export const expressFramework: Framework = {
  name: 'Express',
  app({ secret, store, demo }) {
    const app = express();
    app.use(session({ secret, store }));
    app.use((req, res, next) => {
      // Once the response is out, sess has set its headers: note them for the next page.
      res.once('finish', () => demo.responded(req.sessionID, req.method, req.path, res.statusCode, (name) => res.getHeader(name)));
      next();
    });
    for (const route of demo.routes) {
      app[route.method === 'GET' ? 'get' : 'post'](route.path, async (req, res) => {
        const form = () => readForm(req, (name) => req.get(name));
        send(res, await route.handle({ session: req.session, data: req.session, form }));
      });
    }
    app.use((_req, res) => send(res, demo.notFound()));
    // A store failure arrives here as a SessStoreError (statusHint 503), before anything was sent.
    const failed: ErrorRequestHandler = (error, _req, res, _next) => send(res, demo.failure(error));
    app.use(failed);
    return app;
  },
};
