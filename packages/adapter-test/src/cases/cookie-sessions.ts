/**
 * What only cookie sessions promise (core's cookie-sessions.ts): a sealed value is
 * opened or refused whole, before any revocation lookup; the secrets rotate (the first seals,
 * all open, an old-sealed cookie is re-sealed under the first); the expiry is sealed with the
 * record, so a browser that keeps sending a cookie past it gets a fresh session; a session
 * too large for a cookie fails the request instead of being dropped by the browser.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createSigner } from '@sess/core';
import type { SealMode } from '@sess/core';
import { cookiesNamed } from '../client.js';
import { COOKIE_SECRET, DAY_MS, lookupsOf, OLD_COOKIE_SECRET, SECRET } from '../env.js';
import type { CookieContext, CookieEnv } from '../env.js';
import { flood, rawCookiesNamed, rawRequest } from '../raw.js';
import { suiteSealer } from '../seal.js';
import { flipBit } from './forgery.js';

const STRANGER_SECRET = 'a-cookie-secret-this-server-never-had-32b';
const MODES: readonly SealMode[] = ['encrypt', 'sign'];

/** Values (all header-safe) that must be refused, made from a valid one for `context`'s app. */
function sealedForgeries(context: CookieContext, value: string): Array<readonly [string, string]> {
  const payload = context.opened();
  const other: SealMode = context.mode === 'sign' ? 'encrypt' : 'sign';
  const dot = value.lastIndexOf('.');
  const forgeries: Array<readonly [string, string]> = [
    ['one bit flipped in the first char', flipBit(value, 0)],
    ['one bit flipped mid-value', flipBit(value, Math.floor(value.length / 2), 3)],
    ['one bit flipped in the last char', flipBit(value, value.length - 1, 5)],
    ['a valid value with trailing garbage', `${value}x`],
    ['a valid value with a trailing dot', `${value}.`],
    ['a valid value with a leading dot', `.${value}`],
    ['the last char dropped', value.slice(0, -1)],
    ['half the value', value.slice(0, Math.floor(value.length / 2))],
    ['the record sealed with a secret the server never had', suiteSealer(STRANGER_SECRET, context.mode).seal(payload)],
    ['the record sealed for another cookie name', context.sealer.seal(payload, 'other')],
    ['the record sealed for the test cookie name', context.sealer.seal(payload, 'sid.test')],
    [`the record sealed in ${other} mode with the app's secret`, suiteSealer(COOKIE_SECRET, other).seal(payload)],
    ['a signed id, as server-side sessions send it', createSigner(SECRET).sign('sid', String(payload?.id))],
    ['an unsealed 3 KB value', 'a'.repeat(3_072)],
    ['a value longer than any cookie (5 KB)', `${value}${'A'.repeat(5_120)}`],
  ];
  if (context.mode === 'sign') {
    // The payload is readable in sign mode; changing it under the original MAC must not work.
    const body = Buffer.from(JSON.stringify({ ...payload, data: { views: 1_000, user: 'root' } })).toString('base64url');
    forgeries.push(['a readable payload changed under its original MAC', `${body}.${value.slice(dot + 1)}`]);
  }
  return forgeries;
}

export function cookieSessionCases(env: CookieEnv): void {
  for (const mode of MODES) {
    it(`${mode}: tampered and forged sealed values are refused before any lookup; a write under one gets a fresh id`, async () => {
      const context = await env.start({ mode });
      const { client, url } = context;
      await client.request('/count');
      const value = client.jar.get('sid') as string;
      const realId = context.idInJar() as string;
      expect(realId).toBeDefined();
      const lookups = lookupsOf(context);
      for (const [label, forged] of sealedForgeries(context, value)) {
        const read = await rawRequest(url, '/read', `sid=${forged}`);
        expect(read.status, label).toBe(200);
        expect(read.body, label).toBe('0');
        for (const line of rawCookiesNamed(read, 'sid')) expect(line, label).toMatch(/^sid=; Max-Age=0/);
        expect(lookupsOf(context), label).toBe(lookups);
        const write = await rawRequest(url, '/count', `sid=${forged}`);
        expect(write.status, label).toBe(200);
        expect(write.body, label).toBe('views 1');
        const [line] = rawCookiesNamed(write, 'sid');
        const opened = context.sealer.open(/^sid=([^;]*)/.exec(line ?? '')?.[1] ?? '');
        expect(opened?.data, label).toEqual({ views: 1 });
        expect(opened?.id, label).not.toBe(realId);
      }
      // The real cookie still opens to its own session.
      expect((await client.request('/read')).body).toBe('1');
    });
  }

  it('random and foreign-sealed values never cost a revocation lookup', async () => {
    const { client, url, hookCalls } = await env.start();
    await client.request('/count');
    const calls = { ...hookCalls };
    // The server suite floods 10,000 forged ids on one major per framework; here the point is
    // that a value is refused by its seal before any lookup, which 1,000 show on every major.
    const count = 1_000;
    const stranger = suiteSealer(STRANGER_SECRET, 'encrypt');
    const ours = suiteSealer(COOKIE_SECRET, 'encrypt');
    const values = Array.from({ length: count }, (_, index) => {
      switch (index % 4) {
        case 0:
          return randomBytes(150).toString('base64url');
        case 1:
          return `${randomBytes(120).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
        case 2:
          return stranger.seal({ id: randomBytes(24).toString('base64url'), data: { user: 'root' }, meta: {} });
        default:
          return ours.seal({ id: randomBytes(24).toString('base64url'), data: {}, meta: {} }, 'other');
      }
    });
    const statuses = await flood(url, '/read', count, (index) => `sid=${values[index] as string}`);
    expect([...statuses]).toEqual([[200, count]]);
    expect(hookCalls).toEqual(calls);
    expect((await client.request('/read')).body).toBe('1');
  }, 30_000);

  for (const mode of MODES) {
    it(`${mode}: key rotation: a cookie sealed under an older secret opens and is re-sealed under the first`, async () => {
      const context = await env.start({ mode, cookieSecret: [COOKIE_SECRET, OLD_COOKIE_SECRET] });
      const { client, clock } = context;
      await client.request('/count');
      const session = context.opened();
      const old = suiteSealer(OLD_COOKIE_SECRET, mode);
      client.jar.set('sid', old.seal(session));
      expect(context.opened()).toBeUndefined();
      clock.advance(1_000);
      const read = await client.request('/read');
      expect(read.status).toBe(200);
      expect(read.body).toBe('1');
      expect(cookiesNamed(read, 'sid')).toEqual([expect.stringMatching(new RegExp(`^sid=${context.valuePattern}; Max-Age=`))]);
      // Opened with the first secret alone: same id, same record, nothing else changed.
      expect(context.opened()).toEqual(session);
      expect(cookiesNamed(await client.request('/read'), 'sid')).toEqual([]);

      // Once the old secret is dropped, old-sealed cookies are dead.
      const current = await env.start({ mode, cookieSecret: COOKIE_SECRET });
      current.client.jar.set('sid', old.seal(session));
      expect((await current.client.request('/read')).body).toBe('0');
      current.client.jar.set('sid', current.sealer.seal(session));
      expect((await current.client.request('/read')).body).toBe('1');
    });
  }

  // Our client keeps every cookie until told Max-Age=0, as a browser whose clock is wrong, or a
  // thief's copy, would. Without revocation hooks nothing on the server knows the session: only
  // the expiry sealed inside can end it.
  it('an expired sealed payload loads fresh even if the browser still sends it', async () => {
    const { client, clock, url } = await env.start({ revocation: false });
    await client.request('/count');
    const value = client.jar.get('sid') as string;
    clock.advance(DAY_MS - 1);
    expect((await rawRequest(url, '/read', `sid=${value}`)).body).toBe('1');
    clock.advance(1);
    const late = await client.request('/read');
    expect(late.status).toBe(200);
    expect(late.body).toBe('0');
    expect(cookiesNamed(late, 'sid')).toEqual([expect.stringMatching(/^sid=; Max-Age=0/)]);
    const replay = await rawRequest(url, '/count', `sid=${value}`);
    expect(replay.body).toBe('views 1');

    const idle = await env.start({ idleTimeoutMs: 60_000, revocation: false });
    await idle.client.request('/count');
    const idleValue = idle.client.jar.get('sid') as string;
    idle.clock.advance(60_001);
    expect((await rawRequest(idle.url, '/read', `sid=${idleValue}`)).body).toBe('0');
  });

  it('without revocation hooks a copied cookie outlives sign-out until its sealed expiry (documented)', async () => {
    const { client, newClient, clock } = await env.start({ revocation: false });
    await client.post('/login');
    const copy = client.jar.get('sid') as string;
    const logout = await client.post('/logout');
    expect(logout.body).toBe('bye');
    expect(client.jar.has('sid')).toBe(false);
    const thief = newClient();
    thief.jar.set('sid', copy);
    expect((await thief.request('/me')).body).toBe('ada');
    clock.advance(DAY_MS);
    expect((await thief.request('/me')).body).toBe('nobody');
  });

  // The cookie's counterpart of a failed store write: the commit does not fit in 4096 bytes.
  it('a session too large for a cookie answers 5xx, sends no cookie, and the browser keeps the one it had', async () => {
    // Measure the line the first write sends under `sid`, then pad the cookie name so that line
    // just fits: a write that seals a few dozen bytes more (an expiry setting) then cannot.
    const probe = await env.start();
    const [first = ''] = cookiesNamed(await probe.client.request('/count'), 'sid');
    const name = `n${'x'.repeat(4_096 - 16 - first.length + 'sid'.length - 1)}`;
    const { client, newClient } = await env.start({ name });
    const fits = await client.request('/count');
    expect(fits.body).toBe('views 1');
    const [line = ''] = cookiesNamed(fits, name);
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(4_096);
    expect(Buffer.byteLength(line)).toBeGreaterThan(4_096 - 32);
    const value = client.jar.get(name);

    const tooLarge = await client.request('/expiry/31536000');
    expect(tooLarge.status).toBeGreaterThanOrEqual(500);
    expect(tooLarge.status).toBeLessThan(600);
    expect(tooLarge.body).not.toBe('ok');
    expect(cookiesNamed(tooLarge, name)).toEqual([]);
    expect(client.jar.get(name)).toBe(value);
    expect((await client.request('/read')).body).toBe('1');

    const newcomer = newClient();
    const firstTooLarge = await newcomer.request('/expiry/31536000');
    expect(firstTooLarge.status).toBeGreaterThanOrEqual(500);
    expect(cookiesNamed(firstTooLarge, name)).toEqual([]);
    expect(newcomer.jar.size).toBe(0);
  });
}
