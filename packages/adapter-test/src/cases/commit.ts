/** Design §2.5 and §6: what a server error or a failing store does to the commit. */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import type { CaseEnv } from '../env.js';

export function commitCases(env: CaseEnv): void {
  it('a 500 response saves nothing and sets no session cookie', async () => {
    const { client, store } = await env.start();
    const reply = await client.request('/boom');
    expect(reply.status).toBe(500);
    expect(cookiesNamed(reply, 'sid')).toEqual([]);
    expect(store.calls.set).toBe(0);
    expect(store.size).toBe(0);
  });

  it('a 500 response leaves a returning visitor\u2019s record as it was', async () => {
    const { client, store, idInJar } = await env.start();
    await client.request('/count');
    expect((await client.request('/boom')).status).toBe(500);
    expect((await store.peek(idInJar() as string))?.data).toEqual({ views: 1 });
    expect(store.calls.set).toBe(1);
  });

  it('a handler that throws saves nothing', async () => {
    const { client, store, idInJar } = await env.start();
    const fresh = await client.request('/throw');
    expect(fresh.status).toBe(500);
    expect(cookiesNamed(fresh, 'sid')).toEqual([]);
    expect(store.size).toBe(0);
    await client.request('/count');
    expect((await client.request('/throw')).status).toBe(500);
    expect((await store.peek(idInJar() as string))?.data).toEqual({ views: 1 });
  });

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
