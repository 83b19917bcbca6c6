import express5 from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express4 from 'express4';
import { PUBLIC_CACHE, listen, runAdapterConformance, runCookieSessionConformance } from '@sess/adapter-test';
import type { AdapterOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    basket?: { items: string[] };
  }
}

const basketBody = (basket: { items: string[] } | undefined) => (basket === undefined ? 'no basket' : `basket ${basket.items.join(',')}`);

/** Express 4 does not catch a rejected handler; both majors get the error through `next`. */
const handle =
  (fn: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req, res, next) => {
    fn(req, res).catch(next);
  };

function app(express: typeof express5, options: AdapterOptions) {
  const app = express();
  const { trustProxy, cookie, ...rest } = options;
  app.use(session({ ...rest, proxy: trustProxy ?? false, ...(cookie === undefined ? {} : { cookie }) }));
  const bump = (req: Request) => (req.session.views = (req.session.views ?? 0) + 1);
  app.get('/plain', (_req, res) => res.send('plain'));
  app.get('/count', (req, res) => res.send(`views ${bump(req)}`));
  app.get('/read', (req, res) => res.send(String(req.session.views ?? 0)));
  app.post(
    '/login',
    handle(async (req, res) => {
      await req.session.regenerate({ keepData: true });
      req.session.user = 'ada';
      res.send(req.sessionID);
    }),
  );
  app.get('/me', (req, res) => res.send(req.session.user ?? 'nobody'));
  app.post(
    '/logout',
    handle(async (req, res) => {
      await req.session.destroy();
      res.send('bye');
    }),
  );
  app.post('/clear', (req, res) => {
    for (const key of Object.keys(req.session)) delete (req.session as unknown as Record<string, unknown>)[key];
    res.send('cleared');
  });
  app.post(
    '/save',
    handle(async (req, res) => {
      await req.session.save();
      res.send('saved');
    }),
  );
  app.post(
    '/reload',
    handle(async (req, res) => {
      req.session.views = 99;
      await req.session.reload();
      res.send(String(req.session.views));
    }),
  );
  app.get('/touch', (req, res) => {
    req.session.touch();
    res.send('touched');
  });
  app.get('/boom', (req, res) => {
    bump(req);
    res.status(500).send('boom');
  });
  app.get('/throw', (req) => {
    bump(req);
    throw new Error('handler failed');
  });
  app.get('/expiry/:seconds', (req, res) => {
    bump(req);
    req.session.setExpiry(Number(req.params.seconds));
    res.send('ok');
  });
  app.get('/test-cookie/set', (req, res) => {
    req.session.setTestCookie();
    res.send('set');
  });
  app.get('/test-cookie/check', (req, res) => res.send(String(req.session.testCookieWorked())));
  app.get('/test-cookie/delete', (req, res) => {
    req.session.deleteTestCookie();
    res.send('deleted');
  });
  app.get('/app-cookie', (req, res) => {
    bump(req);
    res.append('Set-Cookie', `${options.name ?? 'sid'}=from-app; Path=/`);
    res.send('app');
  });
  app.get('/cache-control', (req, res) => {
    bump(req);
    res.set('Cache-Control', 'no-store').send('chosen');
  });
  app.get('/public-cache', (req, res) => {
    bump(req);
    res.set('Cache-Control', PUBLIC_CACHE).send('public');
  });
  app.get('/basket', (req, res) => res.send(basketBody(req.session.basket)));
  app.get('/basket/add', (req, res) => {
    const { basket } = req.session;
    if (basket === undefined) req.session.basket = { items: ['1'] };
    else basket.items.push(String(basket.items.length + 1));
    res.send(basketBody(req.session.basket));
  });
  app.get('/basket/boom', (req, res) => {
    req.session.basket?.items.push('boom');
    res.status(500).send('boom');
  });
  app.use((error: { statusHint?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error.statusHint ?? 500).send('session error');
  });
  return app;
}

for (const [name, express] of [
  ['Express 4', express4 as unknown as typeof express5],
  ['Express 5', express5],
] as const) {
  // The 10,000-forged-cookie flood runs in full on one major (Express 5), 1,000 on the other.
  runAdapterConformance({ name, heavy: name === 'Express 5', start: (options) => listen(app(express, options)) });
  // The same app with the session sealed in the cookie (`store: cookieSessions(...)`).
  runCookieSessionConformance({ name, start: (options) => listen(app(express, options)) });
}
