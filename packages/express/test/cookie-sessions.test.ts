/**
 * Cookie sessions over real HTTP through Express 5: `cookieSessions(...)` goes where a store
 * goes, the adapter passes it through untouched, and the whole session travels in the cookie.
 */
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { cookieSessions } from '@sess/core';
import type { CookieSessionsOptions } from '@sess/core';
import { session } from '../src/index.js';
import { Client, closedAfterEach, COOKIE_SECRET, cookiesNamed, listen, SECRET } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
    user?: string;
    blob?: string;
  }
}

const servers = closedAfterEach();

async function start(cookie: Partial<CookieSessionsOptions> = {}) {
  const errors: unknown[] = [];
  const app = express();
  app.use(session({ secret: SECRET, store: cookieSessions({ secret: COOKIE_SECRET, ...cookie }) }));
  app.post('/login', (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.user = 'ada';
      res.send('hello');
    });
  });
  app.get('/count', (req, res) => {
    req.session.views = (req.session.views ?? 0) + 1;
    res.send(`${req.session.user ?? 'nobody'} ${req.session.views}`);
  });
  app.get('/me', (req, res) => res.send(req.session.user ?? 'nobody'));
  app.post('/logout', async (req, res, next) => {
    try {
      await req.session.destroy();
      res.send('bye');
    } catch (error) {
      next(error);
    }
  });
  app.get('/hoard', (req, res) => {
    req.session.blob = 'x'.repeat(5000);
    res.send('hoarded');
  });
  app.use((error: { statusHint?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(error);
    res.status(error.statusHint ?? 500).send(`session error: ${error.code ?? 'unknown'}`);
  });
  const served = await listen(app);
  servers.push(served);
  return { client: new Client(served.url), url: served.url, errors };
}

describe('Express 5 with cookie sessions', () => {
  it('signs in, counts over several requests with a new cookie each time, and signs out', async () => {
    const { client } = await start();
    const anonymous = await client.request('/me');
    expect(anonymous.body).toBe('nobody');
    expect(cookiesNamed(anonymous, 'sid')).toEqual([]);

    const login = await client.post('/login');
    expect(login.status).toBe(200);
    const [line] = cookiesNamed(login, 'sid');
    expect(line).toMatch(/^sid=[A-Za-z0-9_-]+; Max-Age=86400; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/);

    const values = new Set<string>();
    for (let views = 1; views <= 3; views++) {
      const reply = await client.request('/count');
      expect(reply.body).toBe(`ada ${views}`);
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      values.add(client.jar.get('sid') as string);
    }
    expect(values.size).toBe(3);

    // A read that changes nothing sends no cookie.
    const read = await client.request('/me');
    expect(read.body).toBe('ada');
    expect(cookiesNamed(read, 'sid')).toEqual([]);

    const logout = await client.post('/logout');
    expect(logout.body).toBe('bye');
    expect(cookiesNamed(logout, 'sid')[0]).toMatch(/Max-Age=0/);
    expect(client.jar.has('sid')).toBe(false);
    expect((await client.request('/me')).body).toBe('nobody');
  });

  it('a tampered cookie gives a fresh session', async () => {
    const { client } = await start();
    await client.post('/login');
    const value = client.jar.get('sid') as string;
    client.jar.set('sid', `${value.slice(0, 20)}${value[20] === 'A' ? 'B' : 'A'}${value.slice(21)}`);
    const reply = await client.request('/count');
    expect(reply.body).toBe('nobody 1');
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
  });

  it('with onRevoke and isRevoked, a cookie copied before sign-out is refused after it', async () => {
    const revoked = new Set<string>();
    const { client, url } = await start({ isRevoked: (id) => revoked.has(id), onRevoke: (id) => void revoked.add(id) });
    await client.post('/login');
    const thief = new Client(url);
    thief.jar.set('sid', client.jar.get('sid') as string);
    expect((await thief.request('/me')).body).toBe('ada');
    await client.post('/logout');
    expect(revoked.size).toBe(1);
    expect((await thief.request('/me')).body).toBe('nobody');
  });

  it('an oversized session answers 5xx through the error handler and sets no cookie', async () => {
    const { client, errors } = await start();
    await client.post('/login');
    const before = client.jar.get('sid');
    const reply = await client.request('/hoard');
    expect(reply.status).toBe(500);
    expect(reply.body).toBe('session error: session_too_large');
    expect(cookiesNamed(reply, 'sid')).toEqual([]);
    expect(String((errors[0] as Error).message)).toMatch(
      /cookie session is \d+ bytes \(limit 4096\): largest keys "blob" 5002 B, "user" 5 B/,
    );
    expect(client.jar.get('sid')).toBe(before);
    expect((await client.request('/me')).body).toBe('ada');
  });
});
