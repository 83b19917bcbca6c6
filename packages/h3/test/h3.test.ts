/** h3-specific behaviour beyond the shared conformance suite, on both majors. */
import { H3, HTTPError, redirect, toNodeHandler } from 'h3';
import type { H3Event } from 'h3';
import { createApp, eventHandler, sendRedirect, toNodeListener } from 'h3v1';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, cookiesNamed, fakeClock, inspectableStore, listen } from '@sess/adapter-test';
import type { Served } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import * as v1 from '../src/v1.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
    a?: number;
  }
}
declare module '../src/v1.js' {
  interface SessionData {
    n?: number;
  }
}

const SECRET = 'h3-adapter-test-secret-of-at-least-32-bytes!';
const servers: Served[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startV2(options: Partial<SessionOptions>, handler: (event: H3Event) => unknown) {
  const clock = fakeClock();
  const store = inspectableStore(clock);
  const app = new H3({ silent: true });
  app.use(session({ secret: SECRET, store, clock: clock.now, ...options }));
  app.all('/**', handler);
  const served = await listen(toNodeHandler(app));
  servers.push(served);
  return { client: new Client(served.url), store };
}

describe('h3 v2', () => {
  it('a redirect or a Response (even one with immutable headers) returned after a write carries the cookie', async () => {
    const { client } = await startV2({}, async (event) => {
      const s = await useSession(event);
      s.data.n = 1;
      if (event.url.pathname === '/go') return redirect('/elsewhere');
      if (event.url.pathname === '/immutable') return Response.redirect(new URL('/elsewhere', event.url), 303);
      if (event.url.pathname === '/json') return { ok: true };
      if (event.url.pathname === '/empty') return null;
      return new Response('raw', { headers: { 'x-raw': '1' } });
    });
    for (const path of ['/json', '/empty']) {
      client.jar.clear();
      expect(cookiesNamed(await client.request(path), 'sid')).toHaveLength(1);
    }
    client.jar.clear();
    const immutable = await client.request('/immutable');
    expect(immutable.status).toBe(303);
    expect(cookiesNamed(immutable, 'sid')).toHaveLength(1);
    client.jar.clear();
    const go = await client.request('/go');
    expect(go.status).toBe(302);
    expect(cookiesNamed(go, 'sid')).toHaveLength(1);
    client.jar.clear();
    const raw = await client.request('/raw');
    expect(raw.headers.get('x-raw')).toBe('1');
    expect(cookiesNamed(raw, 'sid')).toHaveLength(1);
  });

  it('a thrown HTTPError after a write commits as its status and keeps the session headers', async () => {
    const { client, store } = await startV2({}, async (event) => {
      const s = await useSession(event);
      s.data.n = 1;
      throw new HTTPError({ status: 401, message: 'sign in again' });
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(401);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(reply.headers.get('vary')).toMatch(/cookie/i);
    expect(store.size).toBe(1);
  });

  it('a failed store write answers exactly 503 through h3\u2019s error handling', async () => {
    const { client, store } = await startV2({}, async (event) => {
      (await useSession(event)).data.n = 1;
      return 'ok';
    });
    store.failing.add('set');
    const reply = await client.request('/');
    expect(reply.status).toBe(503);
    expect(reply.body).toMatch(/Session store unavailable/);
  });

  it('is lazy: with a valid cookie, a route that never asks for the session makes no store call', async () => {
    const { client, store } = await startV2({}, async (event) => {
      if (event.url.pathname === '/plain') return 'plain';
      (await useSession(event)).data.n = 1;
      return 'ok';
    });
    await client.request('/');
    const before = { ...store.calls };
    const reply = await client.request('/plain');
    expect(reply.setCookies).toEqual([]);
    expect(store.calls).toEqual(before);
  });

  it('update() merges an object or what a function returns; clear() empties', async () => {
    const { client } = await startV2({}, async (event) => {
      const s = await useSession(event);
      await s.update({ n: 1 });
      await s.update((data) => ({ a: (data.n ?? 0) + 1 }));
      const before = JSON.stringify(s.data);
      await s.clear();
      return `${before} ${JSON.stringify(s.data)}`;
    });
    expect((await client.request('/')).body).toBe('{"n":1,"a":2} {}');
  });

  it("maxAge is in seconds, as h3's; 'session' makes a browser-session cookie", async () => {
    const write = async (event: H3Event) => ((await useSession(event)).data.n = 1);
    const minute = await startV2({ maxAge: 60 }, write);
    expect(cookiesNamed(await minute.client.request('/'), 'sid')[0]).toMatch(/; Max-Age=60;/);
    const browser = await startV2({ maxAge: 'session' }, write);
    expect(cookiesNamed(await browser.client.request('/'), 'sid')[0]).not.toMatch(/Max-Age|Expires/);
  });

  it('useSession without the middleware is a clear error', async () => {
    const app = new H3({ silent: true });
    let message = '';
    app.get('/', async (event) => {
      await useSession(event).catch((error: Error) => (message = error.message));
      return 'ok';
    });
    const served = await listen(toNodeHandler(app));
    servers.push(served);
    await new Client(served.url).request('/');
    expect(message).toMatch(/register session\(\{ \.\.\. \}\) with app\.use\(\)/);
  });

  it('refuses a short secret and a bad maxAge at construction', () => {
    expect(() => session({ secret: 'short' })).toThrow(/32 bytes|at least/);
    expect(() => session({ secret: SECRET, maxAge: '1d' as never })).toThrow(/maxAge/);
    expect(() => v1.session({ secret: 'short' })).toThrow(/32 bytes|at least/);
  });
});

describe('h3 v1', () => {
  async function startV1(handler: Parameters<typeof eventHandler>[0]) {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app = createApp();
    app.use(v1.session({ secret: SECRET, store, clock: clock.now }));
    app.use(eventHandler(handler));
    const served = await listen(toNodeListener(app));
    servers.push(served);
    return { client: new Client(served.url), store };
  }

  it('sendRedirect after a write carries the cookie (the response is held until the commit)', async () => {
    const { client, store } = await startV1(async (event) => {
      (await v1.useSession(event)).data.n = 1;
      return sendRedirect(event, '/elsewhere');
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(302);
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
    expect(store.size).toBe(1);
  });

  it('a failed store write answers 503 in h3 v1\u2019s JSON error shape, without the handler\u2019s headers', async () => {
    const { client, store } = await startV1(async (event) => {
      (await v1.useSession(event)).data.n = 1;
      event.node.res.setHeader('x-handler', '1');
      return 'ok';
    });
    store.failing.add('set');
    const reply = await client.request('/');
    expect(reply.status).toBe(503);
    expect(reply.headers.get('x-handler')).toBeNull();
    expect(JSON.parse(reply.body)).toEqual({ statusCode: 503, statusMessage: 'Service Unavailable', message: 'Session store unavailable' });
  });
});
