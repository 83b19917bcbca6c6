/**
 * Design §2.5 and §6: when the session cookie is sent, and what it looks like. Server-side
 * sessions send a signed id; cookie sessions send the sealed record, and so re-send it on every
 * write (the value changes), where a signed id is sent once.
 */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import { DAY_MS } from '../env.js';
import type { CaseEnv } from '../env.js';

export function cookieCases(env: CaseEnv): void {
  it('an untouched visitor gets no Set-Cookie, no Vary and causes no store call', async () => {
    const context = await env.start();
    const reply = await context.client.request('/plain');
    expect(reply.status).toBe(200);
    expect(reply.setCookies).toEqual([]);
    expect(reply.headers.get('vary') ?? '').not.toMatch(/cookie/i);
    if (context.sessions === 'server') expect(context.store.calls).toEqual({ get: 0, set: 0, destroy: 0, touch: 0 });
    else expect(context.hookCalls).toEqual({ isRevoked: 0, onRevoke: 0 });
  });

  const firstWrite =
    env.sessions === 'server'
      ? 'the first write sets one signed cookie with the documented defaults and saves one record'
      : 'the first write sets one sealed cookie with the documented defaults, the record inside';
  it(firstWrite, async () => {
    const context = await env.start();
    const { client, clock, idInJar, valuePattern } = context;
    const reply = await client.request('/count');
    expect(reply.body).toBe('views 1');
    const expires = new Date(clock.now() + DAY_MS).toUTCString();
    expect(cookiesNamed(reply, 'sid')).toEqual([
      expect.stringMatching(new RegExp(`^sid=${valuePattern}; Max-Age=86400; Path=/; Expires=${expires}; HttpOnly; SameSite=Lax$`)),
    ]);
    const id = idInJar();
    expect(id).toBeDefined();
    expect(await context.sessionOf()).toEqual({
      data: { views: 1 },
      meta: { createdAt: clock.now(), touchedAt: clock.now(), expiresAt: clock.now() + DAY_MS },
    });
    if (context.sessions === 'server') expect(context.store.size).toBe(1);
    // The id travels inside the seal: the cookie is the whole record, id included.
    else expect(context.opened()?.id).toBe(id);
  });

  // A signed id is sent once; a sealed record is re-sent on every write, as the write itself.
  const returning =
    env.sessions === 'server'
      ? 'a returning visitor with a valid cookie gets no Set-Cookie'
      : 'a returning visitor gets the cookie re-sealed on a write and no Set-Cookie on a read';
  it(returning, async () => {
    const context = await env.start();
    const { client } = context;
    await client.request('/count');
    const again = await client.request('/count');
    expect(again.body).toBe('views 2');
    if (context.sessions === 'server') expect(again.setCookies).toEqual([]);
    else {
      expect(cookiesNamed(again, 'sid')).toEqual([expect.stringMatching(new RegExp(`^sid=${context.valuePattern}; Max-Age=86400;`))]);
      expect((await context.sessionOf())?.data).toEqual({ views: 2 });
    }
    const read = await client.request('/read');
    expect(read.body).toBe('2');
    expect(read.setCookies).toEqual([]);
  });

  it('a returning visitor on a route that never uses the session gets no Set-Cookie, no Vary and causes no write', async () => {
    const context = await env.start();
    const { client } = context;
    await client.request('/count');
    const writes =
      context.sessions === 'server'
        ? { set: context.store.calls.set, destroy: context.store.calls.destroy, touch: context.store.calls.touch }
        : undefined;
    const reply = await client.request('/plain');
    expect(reply.setCookies).toEqual([]);
    expect(reply.headers.get('vary') ?? '').not.toMatch(/cookie/i);
    if (context.sessions === 'server')
      expect({ set: context.store.calls.set, destroy: context.store.calls.destroy, touch: context.store.calls.touch }).toEqual(writes);
    // An adapter may load the session it was sent (an `isRevoked` lookup); it must revoke nothing.
    else expect(context.hookCalls.onRevoke).toBe(0);
  });

  it('with rolling, every request that uses the session re-sends the cookie with a moved expiry', async () => {
    const context = await env.start({ rolling: true });
    const { client, clock } = context;
    await client.request('/count');
    const createdAt = clock.now();
    clock.advance(60_000);
    const read = await client.request('/read');
    const expires = new Date(clock.now() + DAY_MS).toUTCString();
    expect(cookiesNamed(read, 'sid')).toEqual([expect.stringContaining(`Max-Age=86400; Path=/; Expires=${expires}`)]);
    if (context.sessions === 'server') expect(context.store.calls.touch).toBe(1);
    // The moved expiry is sealed with the record: the server judges it, not the browser's copy.
    expect(await context.sessionOf()).toEqual({
      data: { views: 1 },
      meta: { createdAt, touchedAt: clock.now(), expiresAt: clock.now() + DAY_MS },
    });
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
    const { client, newClient, sessions } = await env.start();
    expect((await client.request('/count')).headers.get('cache-control')).toBe('private');
    // A second write sends no cookie for a signed id; a sealed record is re-sent on every write.
    const again = await client.request('/count');
    expect(cookiesNamed(again, 'sid')).toHaveLength(sessions === 'server' ? 0 : 1);
    expect(again.headers.get('cache-control') === 'private').toBe(sessions === 'cookie');
    const read = await client.request('/read');
    expect(read.setCookies).toEqual([]);
    expect(read.headers.get('cache-control')).not.toBe('private');
    const other = newClient();
    const chosen = await other.request('/cache-control');
    expect(cookiesNamed(chosen, 'sid')).toHaveLength(1);
    expect(chosen.headers.get('cache-control')).toBe('no-store');
  });

  it("a response that sets the cookie is never left to shared caches: the app's public Cache-Control is made private, its max-age kept", async () => {
    const { newClient } = await env.start();
    const visitor = newClient();
    const first = await visitor.request('/public-cache');
    expect(cookiesNamed(first, 'sid')).toHaveLength(1);
    expect(first.headers.get('cache-control')).toBe('private, max-age=60');
  });

  it('a Set-Cookie for the session name written by the app is not overwritten', async () => {
    const { client } = await env.start();
    const reply = await client.request('/app-cookie');
    expect(cookiesNamed(reply, 'sid')).toEqual(['sid=from-app; Path=/']);
  });

  it('setExpiry(0) makes a browser-session cookie: no Max-Age, no Expires', async () => {
    const context = await env.start();
    const reply = await context.client.request('/expiry/0');
    const [line] = cookiesNamed(reply, 'sid');
    expect(line).toMatch(new RegExp(`^sid=${context.valuePattern}; Path=/; HttpOnly; SameSite=Lax$`));
    expect((await context.sessionOf())?.meta).toMatchObject({ expiry: { kind: 'browser' } });
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
