/** Design §2.5 and §6: when the session cookie is sent, and what it looks like. */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import { DAY_MS } from '../env.js';
import type { CaseEnv } from '../env.js';

const SIGNED = '[A-Za-z0-9_-]{22,128}\\.[A-Za-z0-9_-]{43}';

export function cookieCases(env: CaseEnv): void {
  it('an untouched visitor gets no Set-Cookie, no Vary and causes no store call', async () => {
    const { client, store } = await env.start();
    const reply = await client.request('/plain');
    expect(reply.status).toBe(200);
    expect(reply.setCookies).toEqual([]);
    expect(reply.headers.get('vary') ?? '').not.toMatch(/cookie/i);
    expect(store.calls).toEqual({ get: 0, set: 0, destroy: 0, touch: 0 });
  });

  it('the first write sets one signed cookie with the documented defaults and saves one record', async () => {
    const { client, store, clock, idInJar } = await env.start();
    const reply = await client.request('/count');
    expect(reply.body).toBe('views 1');
    const expires = new Date(clock.now() + DAY_MS).toUTCString();
    expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringMatching(new RegExp(`^sid=${SIGNED}; Max-Age=86400; Path=/; Expires=${expires}; HttpOnly; SameSite=Lax$`))]);
    const id = idInJar();
    expect(id).toBeDefined();
    expect((await store.peek(id as string))?.data).toEqual({ views: 1 });
    expect(store.size).toBe(1);
  });

  it('a returning visitor with a valid cookie gets no Set-Cookie', async () => {
    const { client } = await env.start();
    await client.request('/count');
    const again = await client.request('/count');
    expect(again.body).toBe('views 2');
    expect(again.setCookies).toEqual([]);
    const read = await client.request('/read');
    expect(read.body).toBe('2');
    expect(read.setCookies).toEqual([]);
  });

  it('a returning visitor on a route that never uses the session gets no Set-Cookie, no Vary and causes no write', async () => {
    const { client, store } = await env.start();
    await client.request('/count');
    const writes = { set: store.calls.set, destroy: store.calls.destroy, touch: store.calls.touch };
    const reply = await client.request('/plain');
    expect(reply.setCookies).toEqual([]);
    expect(reply.headers.get('vary') ?? '').not.toMatch(/cookie/i);
    expect({ set: store.calls.set, destroy: store.calls.destroy, touch: store.calls.touch }).toEqual(writes);
  });

  it('with rolling, every request that uses the session re-sends the cookie with a moved expiry', async () => {
    const { client, clock, store } = await env.start({ rolling: true });
    await client.request('/count');
    clock.advance(60_000);
    const read = await client.request('/read');
    const expires = new Date(clock.now() + DAY_MS).toUTCString();
    expect(cookiesNamed(read, 'sid')).toEqual([expect.stringContaining(`Max-Age=86400; Path=/; Expires=${expires}`)]);
    expect(store.calls.touch).toBe(1);
    const plain = await client.request('/plain');
    expect(plain.setCookies).toEqual([]);
  });

  it('a response that uses the session varies on Cookie, with or without a cookie', async () => {
    const { client } = await env.start();
    expect((await client.request('/read')).headers.get('vary')).toMatch(/cookie/i);
    await client.request('/count');
    expect((await client.request('/read')).headers.get('vary')).toMatch(/cookie/i);
  });

  it('a response that sets the cookie is Cache-Control: private, unless the app chose one', async () => {
    const { client, newClient } = await env.start();
    expect((await client.request('/count')).headers.get('cache-control')).toBe('private');
    expect((await client.request('/count')).headers.get('cache-control')).not.toBe('private');
    const other = newClient();
    const chosen = await other.request('/cache-control');
    expect(cookiesNamed(chosen, 'sid')).toHaveLength(1);
    expect(chosen.headers.get('cache-control')).toBe('no-store');
  });

  it('a Set-Cookie for the session name written by the app is not overwritten', async () => {
    const { client } = await env.start();
    const reply = await client.request('/app-cookie');
    expect(cookiesNamed(reply, 'sid')).toEqual(['sid=from-app; Path=/']);
  });

  it('setExpiry(0) makes a browser-session cookie: no Max-Age, no Expires', async () => {
    const { client, store, idInJar } = await env.start();
    const reply = await client.request('/expiry/0');
    const [line] = cookiesNamed(reply, 'sid');
    expect(line).toMatch(new RegExp(`^sid=${SIGNED}; Path=/; HttpOnly; SameSite=Lax$`));
    expect(await store.peek(idInJar() as string)).toBeDefined();
  });

  it('setExpiry(seconds) gives the cookie that lifetime', async () => {
    const { client } = await env.start();
    const reply = await client.request('/expiry/60');
    expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringContaining('; Max-Age=60; Path=/;')]);
  });

  it('the cookie is Secure on a request marked secure through the trusted proxy option', async () => {
    const trusted = await env.start({ trustProxy: true });
    const viaProxy = await trusted.client.request('/count', { headers: { 'x-forwarded-proto': 'https' } });
    expect(cookiesNamed(viaProxy, 'sid')).toEqual([expect.stringMatching(/; HttpOnly; Secure; SameSite=Lax$/)]);
    const plain = await trusted.newClient().request('/count');
    expect(cookiesNamed(plain, 'sid')).toEqual([expect.not.stringContaining('Secure')]);
    const untrusted = await env.start({ trustProxy: false });
    const spoofed = await untrusted.client.request('/count', { headers: { 'x-forwarded-proto': 'https' } });
    expect(cookiesNamed(spoofed, 'sid')).toEqual([expect.not.stringContaining('Secure')]);
  });

  it('a configured name, path and domain are used on the cookie', async () => {
    const { client } = await env.start({ name: 'app.sid', cookie: { path: '/', domain: 'sess.example' } });
    const reply = await client.request('/count');
    expect(cookiesNamed(reply, 'app.sid')).toEqual([expect.stringMatching(/; Domain=sess\.example; Path=\/;/)]);
    expect(cookiesNamed(reply, 'sid')).toEqual([]);
  });
}
