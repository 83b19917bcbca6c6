/**
 * What an express-session app does with `req.session` and `req.session.cookie` that must keep
 * working, or fail aloud, on @sess/express: over real HTTP, on Express 4 and 5.
 */
import express5 from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';
import type { RequestSession } from '../src/index.js';
import { Client, closedAfterEach, escapesWatched, listen, SECRET } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
  }
}

const servers = closedAfterEach();
const escaped = escapesWatched();
const warned: string[] = [];
process.on('warning', (warning: Error & { code?: string }) => warned.push(warning.code ?? warning.name));

const DAY_S = 86_400;

/** Code as express-session apps often run it: non-strict CommonJS, where a refused assignment is silent. */
const sloppy = (body: string) => new Function('req', 'value', body) as (req: Request, value?: unknown) => void;

describe.each([
  ['Express 4', express4],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  async function start(routes: (app: Express) => void) {
    const store = memoryStore();
    const app = express();
    app.use(session({ secret: SECRET, store }));
    app.post('/login', (req, res) => {
      req.session.user = 'ada';
      res.send('signed in');
    });
    app.get('/me', (req, res) => res.json({ user: req.session.user ?? null, maxAge: req.session.cookie.maxAge }));
    routes(app);
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).send(`${error.name}: ${error.message}`);
    });
    const served = await listen(app);
    servers.push(served);
    return { client: new Client(served.url), served, store };
  }

  it("cookie.maxAge = false is express-session's browser-session cookie, and keeps the session (it ended it, data and all)", async () => {
    const { client } = await start((app) => {
      app.post('/forget-me', (req, res) => {
        req.session.cookie.maxAge = false as never;
        res.send('ok');
      });
      app.post('/forget-me-sloppy', (req, res) => {
        sloppy('req.session.cookie.maxAge = false')(req);
        res.send('ok');
      });
    });
    for (const route of ['/forget-me', '/forget-me-sloppy']) {
      await client.post('/login');
      const reply = await client.post(route);
      expect(reply.status).toBe(200);
      expect(reply.setCookies).toHaveLength(1);
      expect(reply.setCookies[0]).not.toMatch(/Max-Age|Expires/i);
      expect(JSON.parse((await client.request('/me')).body)).toEqual({ user: 'ada', maxAge: null });
    }
  });

  it('cookie.maxAge set to something other than ms, null or false fails aloud (express-session throws a TypeError), and the session stays', async () => {
    const { client } = await start((app) => {
      app.post('/max-age/:value', (req, res) => {
        const value = { true: true, text: 'a week', object: {} }[req.params.value as 'true'];
        sloppy('req.session.cookie.maxAge = value')(req, value);
        res.send('ok');
      });
    });
    await client.post('/login');
    for (const value of ['true', 'text', 'object']) {
      const reply = await client.post(`/max-age/${value}`);
      expect(reply.status).toBe(500);
      expect(reply.body).toMatch(/^SessUsageError: \[sess\] req\.session\.cookie\.maxAge must be a number of ms/);
      expect(reply.setCookies).toEqual([]);
    }
    expect(JSON.parse((await client.request('/me')).body)).toEqual({ user: 'ada', maxAge: DAY_S * 1000 });
  });

  it('cookie.originalMaxAge = ms sets the lifetime, as express-session, whose touch at the end of the request gives the cookie that life (it was dropped, in any mode)', async () => {
    const { client } = await start((app) => {
      app.post('/remember', (req, res) => {
        (req.session.cookie as { originalMaxAge: number }).originalMaxAge = 30 * DAY_S * 1000;
        res.send('ok');
      });
      app.post('/remember-sloppy', (req, res) => {
        sloppy('req.session.cookie.originalMaxAge = value')(req, 7 * DAY_S * 1000);
        res.send('ok');
      });
    });
    await client.post('/login');
    for (const [route, days] of [
      ['/remember', 30],
      ['/remember-sloppy', 7],
    ] as const) {
      const reply = await client.post(route);
      expect(reply.setCookies[0]).toMatch(new RegExp(`; Max-Age=${days * DAY_S};`));
      expect(JSON.parse((await client.request('/me')).body)).toEqual({ user: 'ada', maxAge: days * DAY_S * 1000 });
    }
  });

  it("resetMaxAge() is express-session's touch(): the cookie is sent again with the session's lifetime, and it returns req.session", async () => {
    const { client } = await start((app) => {
      app.post('/reset', (req, res) => {
        const session = req.session as RequestSession & { resetMaxAge(): RequestSession };
        res.json(session.resetMaxAge() === req.session);
      });
    });
    await client.post('/login');
    const reply = await client.post('/reset');
    expect(reply.body).toBe('true');
    expect(reply.setCookies[0]).toMatch(new RegExp(`; Max-Age=${DAY_S};`));
    expect(JSON.parse((await client.request('/me')).body)).toEqual({ user: 'ada', maxAge: DAY_S * 1000 });
  });

  it('regenerate() and reload() after the response went out reject with why, warn once as a late save() does, and leave req.session as it was (regenerate replaced it with a new object)', async () => {
    const outcomes: Promise<unknown>[] = [];
    const heard = (operation: () => Promise<unknown>) =>
      new Promise((resolve) => resolve(operation())).then(
        () => 'resolved',
        (error: Error) => `${error.name}: ${error.message}`,
      );
    const { client, served } = await start((app) => {
      app.post('/late/:operation', (req, res) => {
        const operation = req.params.operation as 'regenerate' | 'reload';
        const before = req.session;
        const after = () => {
          // The bare call, as it is written after a response: only the process's warning hears it.
          void before[operation]();
          outcomes.push(heard(() => before[operation]()));
          outcomes.push(
            heard(() => new Promise<void>((resolve, reject) => before[operation]((error) => (error ? reject(error) : resolve())))),
          );
          outcomes.push(Promise.resolve({ same: req.session === before, user: req.session.user, id: req.sessionID }));
        };
        res.on('finish', operation === 'regenerate' ? after : () => setImmediate(after));
        res.send('ok');
      });
    });
    await client.post('/login');
    const id = client.jar.get('sid')?.split('.')[0];
    for (const operation of ['regenerate', 'reload']) {
      const reply = await client.post(`/late/${operation}`);
      expect(reply.setCookies).toEqual([]);
      await served.idle();
      const [promise, callback, after] = await Promise.all(outcomes.splice(0));
      expect(promise).toMatch(new RegExp(`^SessUsageError: .*req\\.session\\.${operation}\\(\\) can't run once the response has gone`));
      expect(callback).toBe(promise);
      expect(after).toEqual({ same: true, user: 'ada', id });
      expect(warned.filter((code) => code === `SESS_LATE_${operation.toUpperCase()}`)).toHaveLength(1);
      expect(JSON.parse((await client.request('/me')).body)).toEqual({ user: 'ada', maxAge: DAY_S * 1000 });
      expect(client.jar.get('sid')?.split('.')[0]).toBe(id);
    }
    expect(escaped).toEqual([]);
  });
});
