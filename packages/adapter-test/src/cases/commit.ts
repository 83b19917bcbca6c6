/**
 * Design §2.5 and §6: what a server error or a failing store does to the commit. Cookie
 * sessions have no store to fail; their revocation hooks can, and stand in for it here. A
 * commit too large for a cookie is their failed write (cases/cookie-sessions.ts).
 */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import type { CaseEnv, CookieEnv, ServerEnv } from '../env.js';

export function commitCases(env: CaseEnv): void {
  it('a 500 response saves nothing and sets no session cookie', async () => {
    const context = await env.start();
    const reply = await context.client.request('/boom');
    expect(reply.status).toBe(500);
    expect(cookiesNamed(reply, 'sid')).toEqual([]);
    if (context.sessions === 'server') {
      expect(context.store.calls.set).toBe(0);
      expect(context.store.size).toBe(0);
    }
    expect((await context.client.request('/read')).body).toBe('0');
  });

  it('a 500 response leaves a returning visitor\u2019s record as it was', async () => {
    const context = await env.start();
    const { client } = context;
    await client.request('/count');
    const boom = await client.request('/boom');
    expect(boom.status).toBe(500);
    expect(cookiesNamed(boom, 'sid')).toEqual([]);
    expect((await context.sessionOf())?.data).toEqual({ views: 1 });
    if (context.sessions === 'server') expect(context.store.calls.set).toBe(1);
    expect((await client.request('/read')).body).toBe('1');
  });

  it('a handler that throws saves nothing', async () => {
    const context = await env.start();
    const { client } = context;
    const fresh = await client.request('/throw');
    expect(fresh.status).toBe(500);
    expect(cookiesNamed(fresh, 'sid')).toEqual([]);
    if (context.sessions === 'server') expect(context.store.size).toBe(0);
    await client.request('/count');
    const thrown = await client.request('/throw');
    expect(thrown.status).toBe(500);
    expect(cookiesNamed(thrown, 'sid')).toEqual([]);
    expect((await context.sessionOf())?.data).toEqual({ views: 1 });
  });

  if (env.sessions === 'server') storeFailureCases(env);
  else revocationFailureCases(env);
}

/** Injected store failures: only a server-side store has calls that can fail. */
function storeFailureCases(env: ServerEnv): void {
  it('a failed store write answers 5xx, never 2xx, and leaves the record untouched', async () => {
    const { client, store, idInJar } = await env.start();
    await client.request('/count');
    store.failing.add('set');
    const reply = await client.request('/count');
    expect(reply.status).toBeGreaterThanOrEqual(500);
    expect(reply.status).toBeLessThan(600);
    expect(reply.body).not.toMatch(/views/);
    expect((await store.peek(idInJar() as string))?.data).toEqual({ views: 1 });
    store.failing.delete('set');
    expect((await client.request('/count')).body).toBe('views 2');
  });

  it('a failed first write answers 5xx and sends no session cookie', async () => {
    const { client, store } = await env.start();
    store.failing.add('set');
    const reply = await client.request('/count');
    expect(reply.status).toBeGreaterThanOrEqual(500);
    expect(cookiesNamed(reply, 'sid')).toEqual([]);
    expect(store.size).toBe(0);
  });

  // The core still deletes the cookie (sign-out must end the session in the browser); the 5xx
  // tells the app the record outlived it.
  it('a failed destroy answers 5xx and the record stays', async () => {
    const { client, store, idInJar } = await env.start();
    await client.post('/login');
    const id = idInJar() as string;
    store.failing.add('destroy');
    const reply = await client.post('/logout');
    expect(reply.status).toBeGreaterThanOrEqual(500);
    expect(reply.body).not.toBe('bye');
    expect(await store.peek(id)).toBeDefined();
  });

  it('a failed store read answers 5xx instead of serving a fresh session', async () => {
    const { client, store } = await env.start();
    await client.request('/count');
    store.failing.add('get');
    const reply = await client.request('/read');
    expect(reply.status).toBeGreaterThanOrEqual(500);
    expect(reply.body).not.toBe('0');
  });
}

/** The failures a cookie-session app has: its revocation hooks, which stand in for store calls. */
function revocationFailureCases(env: CookieEnv): void {
  // The cookie is still deleted on the wire (faults.ts); the 5xx tells the app the id was not
  // recorded as revoked, so a copied cookie outlives the sign-out.
  it('a failed revocation on sign-out answers 5xx and records nothing', async () => {
    const { client, failing, revoked, hookCalls } = await env.start();
    await client.post('/login');
    failing.add('onRevoke');
    const reply = await client.post('/logout');
    expect(reply.status).toBeGreaterThanOrEqual(500);
    expect(reply.status).toBeLessThan(600);
    expect(reply.body).not.toBe('bye');
    expect(hookCalls.onRevoke).toBe(1);
    expect(revoked.size).toBe(0);
  });

  it('a failed revocation lookup answers 5xx instead of serving a fresh session', async () => {
    const { client, failing } = await env.start();
    await client.request('/count');
    failing.add('isRevoked');
    for (const path of ['/read', '/count']) {
      const reply = await client.request(path);
      expect(reply.status, path).toBeGreaterThanOrEqual(500);
      expect(reply.body, path).not.toMatch(/^(0|views \d+)$/);
      expect(cookiesNamed(reply, 'sid'), path).toEqual([]);
    }
    failing.delete('isRevoked');
    expect((await client.request('/count')).body).toBe('views 2');
  });
}
