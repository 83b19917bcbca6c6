/**
 * h3's documented session behaviour, on a real h3 app of each major over HTTP: what an app that
 * changed its import from 'h3' to '@sess/h3-session' relies on. The store is the suite's
 * inspectable memory store, so each case can see the writes it made.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cookiesNamed, escapesWatched, fakeClock, inspectableStore, listen } from '@sess/adapter-test';
import type { Client, InspectableStore } from '@sess/adapter-test';
import { H3, HTTPError, toNodeHandler } from 'h3';
import { SessStoreError, SessUsageError } from '@sess/core';
import type { H3Event, HTTPEvent } from 'h3';
import type { SessionConfig } from '../src/index.js';
import { flavours, PASSWORD, SIGNED_VALUE, serving, v1Flavour, v2Flavour } from './apps.js';
import type { Flavour } from './apps.js';
import * as v1 from '../src/v1.js';

const serve = serving();
const escaped = escapesWatched();

function setup(extra: Partial<SessionConfig> = {}): { store: InspectableStore; config: SessionConfig } {
  const store = inspectableStore(fakeClock());
  return { store, config: { password: PASSWORD, store, ...extra } };
}

/** The id inside the client's signed session cookie: the store's key. */
const storeId = (client: Client, name = 'h3') => client.jar.get(name)?.split('.')[0] as string;
const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

afterEach(() => void vi.useRealTimers());

describe.each(flavours)('$name', (flavour) => {
  const { api } = flavour;

  it('useSession starts a session: id from generateId, createdAt, empty data, its record written and a signed id in the cookie', async () => {
    let made = 0;
    const { store, config } = setup({ generateId: () => `id-${++made}` });
    const client = await serve(flavour, async ({ event }) => {
      const session = await api.useSession(event, config);
      const { createdAt } = await api.getSession(event, config);
      return { id: session.id, createdAt, data: session.data };
    });
    const before = Date.now();
    const first = await client.request('/');
    const body = json(first.body);
    expect(body).toEqual({ id: 'id-1', createdAt: expect.any(Number), data: {} });
    expect(body.createdAt).toBeGreaterThanOrEqual(before);
    expect(body.createdAt).toBeLessThanOrEqual(Date.now());
    const lines = cookiesNamed(first, 'h3');
    expect(lines).toHaveLength(1);
    expect(client.jar.get('h3')).toMatch(SIGNED_VALUE);
    // h3's defaults: Path=/, HttpOnly, Secure, SameSite=Lax, and no maxAge: a cookie that ends with the browser.
    expect(lines[0]).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(lines[0]).not.toMatch(/Expires|Max-Age/);
    expect((await store.peek(storeId(client)))?.data).toEqual({ id: 'id-1', createdAt: body.createdAt, data: {} });

    const again = await client.request('/');
    expect(json(again.body)).toEqual(body);
    expect(again.setCookies).toEqual([]);
    expect(store.calls.set).toBe(1);
  });

  it('a generateId that returns no string fails the request before anything is stored, rather than losing the session at every request', async () => {
    const { store, config } = setup({ generateId: (() => 42) as unknown as () => string });
    let thrown: unknown;
    const client = await serve(flavour, async ({ event }) => {
      try {
        return (await api.useSession(event, config)).id;
      } catch (error) {
        thrown = error;
        throw error;
      }
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(500);
    expect(String(thrown)).toMatch(/generateId must return a non-empty string, got 42/);
    expect([store.calls.set, client.jar.has('h3')]).toEqual([0, false]);
  });

  it('the default id is a random UUID, as in h3', async () => {
    const { config } = setup();
    const client = await serve(flavour, async ({ event }) => ({ id: (await api.useSession(event, config)).id }));
    const { id } = json((await client.request('/')).body);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    client.jar.clear();
    expect(json((await client.request('/')).body).id).not.toBe(id);
  });

  it('update merges an object, then what a function returns, writing the store before it resolves and sending the cookie', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      const session = await api.useSession<{ a?: number; b?: number }>(event, config);
      if (url.pathname !== '/update') return { data: session.data };
      const id = url.searchParams.get('sid') as string;
      await session.update({ a: 1 });
      const afterObject = (await store.peek(id))?.data;
      await session.update((data) => ({ b: (data.a ?? 0) + 1 }));
      const afterFunction = (await store.peek(id))?.data;
      return { afterObject, afterFunction, data: session.data };
    });
    await client.request('/');
    const signed = client.jar.get('h3');
    const updated = await client.request(`/update?sid=${storeId(client)}`);
    const body = json(updated.body);
    expect(body.afterObject).toMatchObject({ data: { a: 1 } });
    expect(body.afterFunction).toMatchObject({ data: { a: 1, b: 2 } });
    expect(body.data).toEqual({ a: 1, b: 2 });
    // h3 sets the cookie at update time; the session keeps its id, so the value is the same.
    expect(cookiesNamed(updated, 'h3')).toHaveLength(1);
    expect(client.jar.get('h3')).toBe(signed);
    expect(json((await client.request('/')).body).data).toEqual({ a: 1, b: 2 });
  });

  it('clear removes the session: its record is destroyed, the cookie deleted, and the next request starts a new one', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/clear') await session.clear();
      return { id: session.id ?? null, data: session.data };
    });
    const { id } = json((await client.request('/')).body);
    const storedId = storeId(client);
    const cleared = await client.request('/clear');
    expect(json(cleared.body)).toEqual({ id: null, data: {} });
    expect(cookiesNamed(cleared, 'h3')).toEqual([expect.stringMatching(/^h3=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970/)]);
    expect(await store.peek(storedId)).toBeUndefined();
    expect(client.jar.has('h3')).toBe(false);
    expect(json((await client.request('/')).body).id).not.toBe(id);
  });

  it.each(['session.clear', 'clearSession'] as const)(
    '%s not awaited, as h3 lets it be, still deletes the cookie on this response and destroys the record',
    async (how) => {
      const { store, config } = setup();
      let clearing: Promise<unknown> = Promise.resolve();
      // The destroy answers only once the response is in, as a store slower than the handler would.
      let answer = () => {};
      const answered = new Promise<void>((resolve) => void (answer = resolve));
      const destroy = store.destroy;
      store.destroy = (id) => answered.then(() => destroy(id));
      const client = await serve(flavour, async ({ event, url }) => {
        const session = await api.useSession(event, config);
        if (url.pathname === '/clear') clearing = how === 'clearSession' ? api.clearSession(event, config) : session.clear();
        return 'ok';
      });
      await client.request('/');
      const storedId = storeId(client);
      const cleared = await client.request('/clear');
      answer();
      expect(cookiesNamed(cleared, 'h3')).toEqual([expect.stringMatching(/^h3=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970/)]);
      expect(cleared.headers.get('vary')).toBe('Cookie');
      expect(client.jar.has('h3')).toBe(false);
      await clearing;
      expect(await store.peek(storedId)).toBeUndefined();
    },
  );

  it.each(['session.clear', 'clearSession'] as const)(
    '%s not awaited, with a destroy the store fails, deletes the cookie and ends no process; awaited, it still rejects',
    async (how) => {
      const { store, config } = setup();
      let failed: Promise<unknown> = Promise.resolve();
      store.destroy = () => Promise.reject(new Error('store down'));
      const client = await serve(flavour, async ({ event, url }) => {
        const session = await api.useSession(event, config);
        if (url.pathname === '/clear') failed = how === 'clearSession' ? api.clearSession(event, config) : session.clear();
        return 'ok';
      });
      await client.request('/');
      const cleared = await client.request('/clear');
      expect(cookiesNamed(cleared, 'h3')).toEqual([expect.stringMatching(/^h3=; Max-Age=0;/)]);
      // Node reports an unhandled rejection once the microtasks that could still handle it have run.
      await new Promise((resolve) => setImmediate(resolve));
      expect(escaped).toEqual([]);
      await expect(failed).rejects.toThrow('Session store unavailable');
    },
  );

  it('getSession, updateSession and clearSession work on their own', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      if (url.pathname === '/set') await api.updateSession(event, config, { n: Number(url.searchParams.get('n')) });
      if (url.pathname === '/clear') await api.clearSession(event, config);
      const { id, data } = await api.getSession(event, config);
      return { id, data };
    });
    const read = await client.request('/');
    // h3 v2's getSession keeps a new session in memory only; h3 v1's writes it at once.
    expect(cookiesNamed(read, 'h3')).toHaveLength(flavour.name === 'h3 v1' ? 1 : 0);
    expect(store.calls.set).toBe(flavour.name === 'h3 v1' ? 1 : 0);
    const set = await client.request('/set?n=3');
    expect(json(set.body).data).toEqual({ n: 3 });
    const { id } = json(set.body);
    expect(json((await client.request('/')).body)).toEqual({ id, data: { n: 3 } });
    const signed = client.jar.get('h3');
    const cleared = await client.request('/clear');
    // The getSession after clearSession starts a new session: h3 v1 writes it at once, so its
    // cookie replaces the deletion; h3 v2 keeps it in memory and the deletion stands.
    if (flavour.name === 'h3 v1') expect(client.jar.get('h3')).not.toBe(signed);
    else expect(cookiesNamed(cleared, 'h3')).toEqual([expect.stringMatching(/^h3=; Max-Age=0/)]);
    expect(json(cleared.body).id).not.toBe(id);
    expect(json(cleared.body).data).toEqual({});
  });

  it('named sessions are separate: their own cookie, id and data', async () => {
    const store = inspectableStore(fakeClock());
    const a: SessionConfig = { password: PASSWORD, store, name: 'a' };
    const b: SessionConfig = { password: PASSWORD, store, name: 'b' };
    const client = await serve(flavour, async ({ event, url }) => {
      const [first, second] = [await api.useSession(event, a), await api.useSession(event, b)];
      if (url.pathname === '/set') {
        await first.update({ who: 'a' });
        await second.update({ who: 'b' });
      }
      return { a: { id: first.id, data: first.data }, b: { id: second.id, data: second.data } };
    });
    const started = await client.request('/');
    expect(cookiesNamed(started, 'a')).toHaveLength(1);
    expect(cookiesNamed(started, 'b')).toHaveLength(1);
    await client.request('/set');
    const body = json((await client.request('/')).body) as Record<'a' | 'b', { id: string; data: unknown }>;
    expect(body.a.data).toEqual({ who: 'a' });
    expect(body.b.data).toEqual({ who: 'b' });
    expect(body.a.id).not.toBe(body.b.id);
  });

  it('parallel useSession calls in one request share one session and one write', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event }) => {
      const sessions = await Promise.all([1, 2, 3].map(() => api.useSession(event, config)));
      return { ids: sessions.map((session) => session.id) };
    });
    const first = await client.request('/');
    const { ids } = json(first.body) as { ids: string[] };
    expect(new Set(ids).size).toBe(1);
    expect(cookiesNamed(first, 'h3')).toHaveLength(1);
    expect(store.calls.set).toBe(1);
    const again = await client.request('/');
    expect(json(again.body).ids).toEqual(ids);
    expect(store.calls).toMatchObject({ get: 1, set: 1 });
  });

  it("a response that sets the cookie is never left to shared caches: the app's public Cache-Control is made private", async () => {
    const { config } = setup();
    const client = await serve(flavour, async ({ event }) => {
      if (flavour === v1Flavour) (event as unknown as v1.H3V1Event).node.res.setHeader('cache-control', 'public, max-age=60');
      else (event as H3Event).res.headers.set('cache-control', 'public, max-age=60');
      await api.useSession(event, config);
      return 'ok';
    });
    const reply = await client.request('/');
    expect([cookiesNamed(reply, 'h3').length, reply.headers.get('cache-control')]).toEqual([1, 'private, max-age=60']);
  });

  it("a Cache-Control the app sets while the session's write is in the store is kept, not replaced by private", async () => {
    const { store, config } = setup();
    // h3 writes mid-handler, so the app's other work runs while the commit waits on the store,
    // after the commit read the response's headers.
    let onStoreWrite = () => {};
    const set = store.set;
    store.set = (...args) => (onStoreWrite(), set(...args));
    const client = await serve(flavour, async ({ event }) => {
      onStoreWrite = () =>
        flavour === v1Flavour
          ? (event as unknown as v1.H3V1Event).node.res.setHeader('cache-control', 'no-store')
          : (event as H3Event).res.headers.set('cache-control', 'no-store');
      await api.useSession(event, config);
      return 'ok';
    });
    const reply = await client.request('/');
    expect([store.calls.set, cookiesNamed(reply, 'h3').length]).toEqual([1, 1]);
    expect(reply.headers.get('cache-control')).toBe('no-store');
  });

  it('sessionHeader: the value sealSession returns, sent in x-h3-session, names the session; cookie: false sends no cookie', async () => {
    const { config } = setup({ cookie: false });
    const client = await serve(flavour, async ({ event, url }) => {
      if (url.pathname === '/start') return { token: await api.sealSession(event, config), id: (await api.getSession(event, config)).id };
      const session = await api.useSession(event, config);
      if (url.pathname === '/set') await session.update({ n: 1 });
      return { id: session.id, data: session.data };
    });
    const started = await client.request('/start');
    expect(started.setCookies).toEqual([]);
    const { token, id } = json(started.body) as { token: string; id: string };
    expect(token).toMatch(SIGNED_VALUE);
    const headers = { 'x-h3-session': token };
    const set = await client.request('/set', { headers });
    expect(set.setCookies).toEqual([]);
    expect(json((await client.request('/', { headers })).body)).toEqual({ id, data: { n: 1 } });
  });

  it('sessionHeader names the header, and is read before the cookie; false reads the cookie only', async () => {
    const { config } = setup({ sessionHeader: 'X-Session' });
    const cookieOnly = { ...config, sessionHeader: false as const };
    const client = await serve(flavour, async ({ event, url }) => {
      const use = url.pathname === '/cookie-only' ? cookieOnly : config;
      return { id: (await api.useSession(event, use)).id, token: await api.sealSession(event, use) };
    });
    const viaCookie = json((await client.request('/')).body);
    const other = json((await client.newClient().request('/')).body);
    expect(other.id).not.toBe(viaCookie.id);
    const headers = { 'x-session': other.token as string };
    expect(json((await client.request('/', { headers })).body).id).toBe(other.id);
    expect(json((await client.request('/', { headers: { 'x-h3-session': other.token as string } })).body).id).toBe(viaCookie.id);
    expect(json((await client.request('/cookie-only', { headers })).body).id).toBe(viaCookie.id);
  });

  it('maxAge: the cookie ends maxAge seconds after createdAt, and the session with it, updates or not', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.UTC(2026, 5, 1, 12, 0, 0);
    vi.setSystemTime(start);
    const { store, config } = setup({ maxAge: 60 });
    const client = await serve(flavour, async ({ event, url }) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/set') await session.update({ n: 1 });
      return { id: session.id };
    });
    const first = await client.request('/');
    const ends = new Date(start + 60_000).toUTCString();
    expect(cookiesNamed(first, 'h3')[0]).toContain(`Max-Age=60; Path=/; Expires=${ends}`);
    const { id } = json(first.body);
    vi.setSystemTime(start + 45_000);
    const updated = await client.request('/set');
    expect(json(updated.body).id).toBe(id);
    // Counted from createdAt, as h3 does: an update does not extend it.
    expect(cookiesNamed(updated, 'h3')[0]).toContain(`Max-Age=15; Path=/; Expires=${ends}`);
    vi.setSystemTime(start + 61_000);
    const expired = await client.request('/');
    expect(json(expired.body).id).not.toBe(id);
    expect(store.calls.set).toBe(3);
  });

  it('cookie options reach the Set-Cookie line; cookie.maxAge gives it a lifetime in seconds', async () => {
    const { config } = setup({
      cookie: { path: '/', domain: 'example.test', sameSite: 'strict', secure: false, httpOnly: false, priority: 'high', maxAge: 120 },
    });
    const client = await serve(flavour, async ({ event }) => ({ id: (await api.useSession(event, config)).id }));
    const [line] = cookiesNamed(await client.request('/'), 'h3');
    expect(line).toMatch(/^h3=[^;]+; Max-Age=120; Domain=example\.test; Path=\/; Expires=[^;]+; SameSite=Strict; Priority=High$/);
  });

  it('sealSession returns the signed id; unsealSession reads it back, and refuses a value that names no session', async () => {
    const { config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      if (url.pathname === '/seal') {
        await api.updateSession(event, config, { n: 7 });
        return { token: await api.sealSession(event, config) };
      }
      const token = url.searchParams.get('token') as string;
      return api.unsealSession(event, config, token).then(
        (session) => ({ session }),
        (error: Error) => ({ error: error.message }),
      );
    });
    const sealed = await client.request('/seal');
    const { token } = json(sealed.body) as { token: string };
    expect(token).toBe(client.jar.get('h3'));
    const opened = json((await client.newClient().request(`/unseal?token=${encodeURIComponent(token)}`)).body);
    expect(opened.session).toEqual({ id: expect.any(String), createdAt: expect.any(Number), data: { n: 7 } });
    const forged = `${token.slice(0, -2)}xx`;
    expect(json((await client.request(`/unseal?token=${encodeURIComponent(forged)}`)).body).error).toMatch(/names no live session/);
  });

  it('a store failure answers 503 through h3, and the handler sees it as an error', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/set') await session.update({ n: 1 });
      return { id: session.id };
    });
    await client.request('/');
    // h3 logs an error that answers 5xx ("[h3] [unhandled]" on v1): captured here, where the
    // failures are provoked, and each must be the store failure.
    const logged: unknown[] = [];
    const spy = vi
      .spyOn(console, 'error')
      .mockImplementation((...args: unknown[]) => void logged.push(args.find((arg) => arg instanceof Error)));
    try {
      store.failing.add('set');
      expect((await client.request('/set')).status).toBe(503);
      store.failing.add('get');
      expect((await client.request('/')).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
    expect(
      logged.map((error) => (error as Error | undefined)?.message).filter((message) => message !== 'Session store unavailable'),
    ).toEqual([]);
    store.failing.clear();
    expect((await client.request('/')).status).toBe(200);
  });

  it('a new session whose first write fails stays new: a useSession retried once the store is back writes it and sends its cookie', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      if (url.pathname === '/retry') {
        store.failing.add('set');
        const failed = await api.useSession(event, config).then(
          () => 'none',
          (error: { status?: number; statusCode?: number }) => error.status ?? error.statusCode,
        );
        store.failing.clear();
        return { failed, id: (await api.useSession(event, config)).id };
      }
      return { id: (await api.useSession(event, config)).id };
    });
    const retried = await client.request('/retry');
    const body = json(retried.body);
    expect(body).toEqual({ failed: 503, id: expect.any(String) });
    expect(cookiesNamed(retried, 'h3')).toEqual([expect.stringMatching(/^h3=[^;]+\.[^;]+; /)]);
    expect(store.size).toBe(1);
    expect(json((await client.request('/')).body).id).toBe(body.id);
  });

  it('session.update with a function that throws, on a session just cleared, leaves it new: the next useSession writes it', async () => {
    const { store, config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      const session = await api.useSession(event, config);
      if (url.pathname !== '/restart') return { id: session.id };
      await session.clear();
      const thrown = await session
        .update(() => {
          throw new Error('the app failed');
        })
        .then(
          () => 'none',
          (error: Error) => error.message,
        );
      return { thrown, id: (await api.useSession(event, config)).id };
    });
    const { id: first } = json((await client.request('/')).body);
    const restarted = await client.request('/restart');
    const body = json(restarted.body);
    expect(body).toEqual({ thrown: 'the app failed', id: expect.any(String) });
    expect(body.id).not.toBe(first);
    expect(cookiesNamed(restarted, 'h3')).toEqual([expect.stringMatching(/^h3=[^;]+\.[^;]+; /)]);
    expect(json((await client.request('/')).body).id).toBe(body.id);
    expect(store.size).toBe(1);
  });

  it('data keys like __proto__ stay data: nothing reaches a prototype', async () => {
    const { config } = setup();
    const client = await serve(flavour, async ({ event, url }) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/set') await session.update(JSON.parse(url.searchParams.get('json') as string));
      return { keys: Object.keys(session.data), polluted: ({} as Record<string, unknown>).polluted ?? null };
    });
    await client.request('/');
    await client.request(`/set?json=${encodeURIComponent('{"__proto__":{"polluted":1},"n":1}')}`);
    expect(json((await client.request('/')).body)).toEqual({ keys: ['__proto__', 'n'], polluted: null });
  });
});

describe('h3 v2 only', () => {
  const { api } = v2Flavour;

  it('idleTimeout: a session in use slides forward (the cookie re-sent past half the window), an idle one ends', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.UTC(2026, 5, 1, 12, 0, 0);
    vi.setSystemTime(start);
    const { store, config } = setup({ idleTimeout: 60 });
    const client = await serve(v2Flavour, async ({ event }) => ({ id: (await api.useSession(event, config)).id }));
    const first = await client.request('/');
    expect(cookiesNamed(first, 'h3')[0]).toContain('Max-Age=60');
    const { id } = json(first.body);
    vi.setSystemTime(start + 20_000);
    expect((await client.request('/')).setCookies).toEqual([]);
    vi.setSystemTime(start + 40_000);
    const slid = await client.request('/');
    expect(json(slid.body).id).toBe(id);
    expect(cookiesNamed(slid, 'h3')[0]).toContain(`Expires=${new Date(start + 100_000).toUTCString()}`);
    expect(store.calls.touch).toBe(1);
    vi.setSystemTime(start + 99_000);
    expect(json((await client.request('/')).body).id).toBe(id);
    vi.setSystemTime(start + 99_000 + 61_000);
    expect(json((await client.request('/')).body).id).not.toBe(id);
  });

  it('a handler that throws after an update still sends the cookie on its error response, as h3 does', async () => {
    const { store, config } = setup();
    const client = await serve(v2Flavour, async ({ event }) => {
      const session = await api.useSession(event, config);
      await session.update({ n: 1 });
      throw new HTTPError({ status: 409, message: 'conflict' });
    });
    const reply = await client.request('/');
    expect(reply.status).toBe(409);
    expect(cookiesNamed(reply, 'h3')).toHaveLength(1);
    expect((await store.peek(storeId(client)))?.data).toMatchObject({ data: { n: 1 } });
  });

  it('an error response that carries the session cookie varies by Cookie and is private, unless the app set its own Cache-Control', async () => {
    const { config } = setup();
    const client = await serve(v2Flavour, async ({ event, url }) => {
      const { res } = event as H3Event;
      // What h3's CORS handling puts on error responses.
      res.errHeaders.set('vary', 'Origin');
      if (url.pathname === '/own-error') res.errHeaders.set('cache-control', 'no-store');
      if (url.pathname === '/own-success') res.headers.set('cache-control', 'no-store');
      await api.useSession(event, config);
      if (url.searchParams.has('ok')) return 'ok';
      throw new HTTPError({ status: 404, message: 'not here' });
    });
    const answer = async (path: string) => {
      const reply = await client.newClient().request(path);
      expect(cookiesNamed(reply, 'h3'), path).toHaveLength(1);
      return [reply.status, reply.headers.get('vary'), reply.headers.get('cache-control')];
    };
    expect(await answer('/')).toEqual([404, 'Origin, Cookie', 'private']);
    expect(await answer('/own-error')).toEqual([404, 'Origin, Cookie', 'no-store']);
    // Cache-Control set for the success response is not the error response's: h3 drops those headers.
    expect(await answer('/own-success')).toEqual([404, 'Origin, Cookie', 'private']);
    expect(await answer('/own-success?ok')).toEqual([200, 'Cookie', 'no-store']);
  });

  /** h3 v2 with the app's `onError`, which collects the errors it is given; not `silent`, so h3 logs as it does by default. */
  const withOnError = (errors: unknown[]): Flavour => ({
    ...v2Flavour,
    serve: (handler) =>
      listen(
        toNodeHandler(
          new H3({ onError: (error) => void errors.push(error) }).all(
            '/**',
            (event) => handler({ event, url: new URL(event.url.href) }) as never,
          ),
        ),
      ),
  });

  it.each([
    ['updateSession', '/update', 'set'],
    ['getSession', '/get', 'get'],
    ['clearSession', '/clear', 'destroy'],
  ] as const)(
    'a store failure in %s reaches onError as an unhandled HTTPError 503 whose cause is the SessStoreError, and h3 logs it',
    async (_, path, op) => {
      const { store, config } = setup();
      const errors: unknown[] = [];
      const client = await serve(withOnError(errors), async ({ event, url }) => {
        if (url.pathname === '/update') await api.updateSession(event, config, { n: 1 });
        if (url.pathname === '/get') await api.getSession(event, config);
        if (url.pathname === '/clear') await api.clearSession(event, config);
        return { id: (await api.useSession(event, config)).id };
      });
      await client.request('/');
      store.failing.add(op);
      const logged: unknown[] = [];
      const spy = vi.spyOn(console, 'error').mockImplementation((error: unknown) => void logged.push(error));
      try {
        expect((await client.request(path)).status).toBe(503);
      } finally {
        spy.mockRestore();
      }
      expect(errors).toHaveLength(1);
      expect([(errors[0] as HTTPError).status, (errors[0] as HTTPError).unhandled]).toEqual([503, true]);
      // An outage reaches the server's log (h3 logs an unhandled error before and after an onError that returns nothing).
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.every((error) => error === errors[0])).toBe(true);
      const { cause } = errors[0] as HTTPError;
      expect(cause).toBeInstanceOf(SessStoreError);
      expect(cause).toMatchObject({ code: 'store_failed', statusHint: 503, op });
    },
  );

  it("session data JSON cannot hold is the app's bug, treated as a thrown Error is: logged by h3, a 500, onError's HTTPError has the SessUsageError as its cause", async () => {
    const { config } = setup();
    const errors: unknown[] = [];
    const client = await serve(withOnError(errors), async ({ event, url }) => {
      if (url.pathname === '/bug') throw new Error('the app failed');
      await api.updateSession(event, config, { big: 1n });
      return 'saved';
    });
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((error: unknown) => void logged.push(error));
    const answers: Array<[number, unknown[]]> = [];
    try {
      for (const path of ['/bug', '/bigint']) {
        const { status } = await client.request(path);
        answers.push([status, logged.splice(0).map((error) => (error as HTTPError).cause)]);
      }
    } finally {
      spy.mockRestore();
    }
    // h3 logs an unhandled error before and after an onError that returns nothing: the same for both.
    const [bug, notJson] = answers;
    expect(bug?.[0]).toBe(500);
    expect(bug?.[1].length).toBeGreaterThan(0);
    expect(notJson).toEqual([500, bug?.[1].map(() => expect.any(SessUsageError))]);
    expect(errors.map((error) => (error as HTTPError).unhandled)).toEqual([true, true]);
    const { cause } = errors[1] as HTTPError;
    expect(cause).toBeInstanceOf(SessUsageError);
    expect(cause).toMatchObject({ code: 'data_not_json' });
  });

  it('an HTTPEvent without a response reads and writes the session, setting no cookie', async () => {
    const { store, config } = setup();
    const client = await serve(v2Flavour, async ({ event }) => {
      const bare: HTTPEvent = { req: (event as HTTPEvent).req };
      const session = await api.useSession(bare, config);
      await session.update({ n: 1 });
      return { id: session.id };
    });
    const reply = await client.request('/');
    expect(reply.setCookies).toEqual([]);
    expect(store.calls.set).toBe(2);
  });
});

describe('h3 v1 only', () => {
  it('a session read once the response headers are sent (a stream) works, as in h3 v1; a new one is refused, not stored', async () => {
    const { store, config } = setup();
    const client = await serve(v1Flavour, async ({ event, url }) => {
      if (url.pathname === '/start')
        return { id: (await v1.useSession(event as never, config).then((session) => session.update({ n: 1 }))).id };
      const { res } = (event as unknown as v1.H3V1Event).node;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('streaming;');
      const outcome = await v1.getSession(event as never, config).then(
        (session) => JSON.stringify(session.data),
        (error: Error) => error.message,
      );
      res.end(outcome);
    });
    await client.request('/start');
    const writes = store.calls.set;
    expect((await client.request('/stream')).body).toBe('streaming;{"n":1}');
    // Without a session, h3 v1 can't send the new one's cookie either, and throws.
    expect((await client.newClient().request('/stream')).body).toMatch(/^streaming;Cannot initialize a new session/);
    expect(store.calls.set).toBe(writes);
    expect(store.size).toBe(1);
  });

  it('updateSession on a new session once the headers are sent is refused before anything is stored, in every order that reaches it', async () => {
    const { store, config } = setup();
    const client = await serve(v1Flavour, async ({ event, url }) => {
      const e = event as unknown as v1.H3V1Event;
      if (url.pathname === '/start') return { id: (await v1.updateSession(e, config, { n: 1 })).id };
      e.node.res.writeHead(200, { 'content-type': 'text/plain' });
      e.node.res.write('streaming;');
      const outcomes: string[] = [];
      const attempt = (work: () => Promise<unknown>) =>
        work().then(
          () => outcomes.push('ok'),
          (error: Error) => outcomes.push(error.message),
        );
      // A refused getSession leaves its new session in the context: the update must see it is new.
      if (url.pathname === '/get-then-update') await attempt(() => v1.getSession(e, config));
      // A session cleared on the stream: what the manager updates next is a new session.
      if (url.pathname === '/clear-then-update') {
        const session = await v1.useSession(e, config);
        await attempt(() => session.clear());
        await attempt(() => session.update({ n: 2 }));
      } else await attempt(() => v1.updateSession(e, config, { n: 2 }));
      e.node.res.end(outcomes.join(';'));
    });
    const refused = /Cannot initialize a new session/;
    for (const [path, attempts] of [
      ['/update', 1],
      ['/get-then-update', 2],
    ] as const) {
      const reply = await client.newClient().request(path);
      expect(reply.body.split(';').slice(1), path).toEqual(Array(attempts).fill(expect.stringMatching(refused)));
    }
    expect([store.calls.set, store.size]).toEqual([0, 0]);

    await client.request('/start');
    const signed = client.jar.get('h3');
    const cleared = await client.request('/clear-then-update');
    // The clear destroys the record (its cookie deletion can't be sent); the update would start
    // a session whose cookie can't be sent either.
    expect(cleared.body).toMatch(/^streaming;ok;Cannot initialize a new session/);
    expect([store.calls.set, store.size]).toEqual([1, 0]);
    expect(client.jar.get('h3')).toBe(signed);
  });

  it("an existing session's update once the headers are sent reaches the store (h3 v1 throws and loses it); the browser's cookie still names it", async () => {
    const { store, config } = setup({ cookie: { maxAge: 3600 } });
    const client = await serve(v1Flavour, async ({ event, url }) => {
      const e = event as unknown as v1.H3V1Event;
      if (url.pathname === '/start') return { id: (await v1.updateSession(e, config, { n: 1 })).id };
      if (url.pathname === '/read') return (await v1.getSession(e, config)).data;
      e.node.res.writeHead(200, { 'content-type': 'text/plain' });
      e.node.res.write('streaming;');
      const session = await v1.updateSession(e, config, { n: 2 });
      e.node.res.end(JSON.stringify(session.data));
    });
    await client.request('/start');
    const signed = client.jar.get('h3');
    const streamed = await client.request('/stream');
    expect([streamed.body, streamed.setCookies]).toEqual(['streaming;{"n":2}', []]);
    expect(store.size).toBe(1);
    expect(json((await client.request('/read')).body)).toEqual({ n: 2 });
    expect(client.jar.get('h3')).toBe(signed);
  });

  it('cookie: false: a new session on a stream is started and sealed, as in h3 v1; its token, streamed, names it', async () => {
    const { config } = setup({ cookie: false });
    const client = await serve(v1Flavour, async ({ event, url }) => {
      const e = event as unknown as v1.H3V1Event;
      if (url.pathname === '/read') return (await v1.getSession(e, config)).data;
      e.node.res.writeHead(200, { 'content-type': 'text/plain' });
      e.node.res.write('token:');
      const token = await v1.sealSession(e, config).then(
        async (sealed) => (await v1.updateSession(e, config, { n: 1 }), sealed),
        (error: Error) => error.message,
      );
      e.node.res.end(token);
    });
    const streamed = await client.request('/stream');
    expect(streamed.setCookies).toEqual([]);
    const token = streamed.body.slice('token:'.length);
    expect(token).toMatch(SIGNED_VALUE);
    expect(json((await client.request('/read', { headers: { 'x-h3-session': token } })).body)).toEqual({ n: 1 });
  });

  it("a compat event (a web request with a context) reads a session but can't start or change one, as in h3 v1", async () => {
    const { store, config } = setup();
    const client = await serve(v1Flavour, async ({ event }) => ({ id: (await v1Flavour.api.useSession(event, config)).id }));
    const { id } = json((await client.request('/')).body);
    const compat = (cookie?: string) => ({ headers: new Headers(cookie === undefined ? {} : { cookie }), context: {} });
    const session = await v1.useSession(compat(`h3=${client.jar.get('h3')}`), config);
    expect(session.id).toBe(id);
    await expect(session.update({ n: 1 })).rejects.toThrow('[h3] Cannot update read-only session.');
    await expect(session.clear()).rejects.toThrow('[h3] Cannot clear read-only session.');
    await expect(v1.getSession(compat(), config)).rejects.toThrow(/Cannot initialize a new session/);
    // h3 v1's own updateSession and clearSession fail on these events too (they have no response).
    const asEvent = (event: ReturnType<typeof compat>) => event as unknown as v1.H3V1Event;
    await expect(v1.updateSession(asEvent(compat()), config, { n: 1 })).rejects.toThrow('[h3] Cannot update read-only session.');
    await expect(v1.updateSession(asEvent(compat(`h3=${client.jar.get('h3')}`)), config, { n: 1 })).rejects.toThrow(
      '[h3] Cannot update read-only session.',
    );
    await expect(v1.clearSession(asEvent(compat(`h3=${client.jar.get('h3')}`)), config)).rejects.toThrow(
      '[h3] Cannot clear read-only session.',
    );
    expect(store.size).toBe(1);
    expect((await store.peek(storeId(client)))?.data).toEqual({ id, createdAt: expect.any(Number), data: {} });
    const viaRequest = await v1.getSession(
      { request: { headers: new Headers({ 'x-h3-session': client.jar.get('h3') as string }) }, context: {} },
      config,
    );
    expect(viaRequest.id).toBe(id);
  });
});
