/**
 * Design §6: a cookie value is `${id}.${HMAC-SHA256(secret, name=id)}`. Anything else is turned
 * away before the store is asked (no `get`), the visitor gets a fresh session, and nothing is
 * written under the forged id. Secrets rotate: `[new, old]` accepts old-signed cookies and
 * re-signs them; once `old` is gone they are dead.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createSigner } from '@sess/core';
import { cookiesNamed } from '../client.js';
import { DAY_MS, SECRET } from '../env.js';
import type { CaseEnv, ServerEnv } from '../env.js';
import { flood, rawCookiesNamed, rawRequest } from '../raw.js';

export const OLD_SECRET = 'an-older-secret-still-in-rotation-32b!';
const STRANGER_SECRET = 'a-secret-this-server-never-had-32-bytes';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The MAC as the core computes it, for any id at all: lets a case forge a valid MAC over a bad id. */
export function macOf(secret: string, name: string, id: string): string {
  return createHmac('sha256', secret).update(`${name}=${id}`).digest('base64url');
}

/** `text` with one bit of the 6-bit value at `index` flipped (still base64url). */
export function flipBit(text: string, index: number, bit = 0): string {
  const value = B64URL.indexOf(text[index] as string) ^ (1 << bit);
  return `${text.slice(0, index)}${B64URL[value]}${text.slice(index + 1)}`;
}

/** Cookie values (already percent-encoded for the header) that must all be refused. */
function forgeries(value: string): Array<readonly [string, string]> {
  const dot = value.indexOf('.');
  const id = value.slice(0, dot);
  const mac = value.slice(dot + 1);
  const validMacFor = (bad: string) => macOf(SECRET, 'sid', bad);
  const weird = (bad: string) => `${encodeURIComponent(bad)}.${validMacFor(bad)}`;
  return [
    ['one bit flipped in the first id char', `${flipBit(id, 0)}.${mac}`],
    ['one bit flipped mid-id', `${flipBit(id, 10, 3)}.${mac}`],
    ['one bit flipped in the last id char', `${flipBit(id, id.length - 1, 5)}.${mac}`],
    ['one bit flipped in the first MAC char', `${id}.${flipBit(mac, 0)}`],
    ['one bit flipped mid-MAC', `${id}.${flipBit(mac, 20, 2)}`],
    ['a spare bit flipped in the last MAC char', `${id}.${flipBit(mac, mac.length - 1, 0)}`],
    ['a valid value with trailing garbage', `${value}x`],
    ['a valid value with a trailing dot', `${value}.`],
    ['a valid value signed twice', `${value}.${mac}`],
    ['a truncated MAC', `${id}.${mac.slice(0, -1)}`],
    ['half a MAC', `${id}.${mac.slice(0, 21)}`],
    ['an empty MAC', `${id}.`],
    ['no MAC at all (an unsigned id)', id],
    ['an extra dot', `${id}..${mac}`],
    ['a leading dot', `.${value}`],
    ['the MAC alone', mac],
    ['id and MAC swapped', `${mac}.${id}`],
    ['signed for another cookie name', `${id}.${macOf(SECRET, 'other', id)}`],
    ['signed for the test cookie name', `${id}.${macOf(SECRET, 'sid.test', id)}`],
    ['signed with a secret the server never had', `${id}.${macOf(STRANGER_SECRET, 'sid', id)}`],
    ['a validly MACed id with ../', weird(`../../etc/passwd${'a'.repeat(16)}`)],
    ['a validly MACed id with *', weird(`${'a'.repeat(21)}*`)],
    ['a validly MACed id with NUL', weird(`${'a'.repeat(21)}\0`)],
    ['a validly MACed id with a backslash', weird(`${'a'.repeat(21)}\\`)],
    ['a validly MACed id with a space', weird(`${'a'.repeat(11)} ${'a'.repeat(11)}`)],
    ['a validly MACed id that is too short', weird('a'.repeat(21))],
    ['a validly MACed 10 KB id', weird('a'.repeat(10_240))],
    ['a validly MACed empty id', `.${validMacFor('')}`],
    ['an unsigned 10 KB value', 'a'.repeat(10_240)],
  ];
}

export function forgeryCases(env: CaseEnv): void {
  // These forge the MAC of a signed id, which cookie sessions do not send: their sealed-value
  // forgeries, forged-value flood and key rotation are in cookie-sessions.ts.
  if (env.sessions === 'server') signedIdCases(env);
}

function signedIdCases(env: ServerEnv): void {
  it('our forged MAC matches the core signer, so the forgeries below test the verifier, not a typo', async () => {
    const { signer } = await env.start();
    const id = 'A'.repeat(32);
    expect(signer.sign('sid', id)).toBe(`${id}.${macOf(SECRET, 'sid', id)}`);
  });

  it('tampered and forged values are refused before any store call, and nothing is written', async () => {
    const { client, url, store, idInJar } = await env.start();
    await client.request('/count');
    const value = client.jar.get('sid') as string;
    const realId = idInJar() as string;
    const calls = { ...store.calls };
    for (const [label, forged] of forgeries(value)) {
      const read = await rawRequest(url, '/read', `sid=${forged}`);
      expect(read.status, label).toBe(200);
      expect(read.body, label).toBe('0');
      for (const line of rawCookiesNamed(read, 'sid')) expect(line, label).toMatch(/^sid=; Max-Age=0/);
      expect(store.calls, label).toEqual(calls);
    }
    expect(store.size).toBe(1);
    expect((await store.peek(realId))?.data).toEqual({ views: 1 });
  });

  it('a write with a forged value starts a new session under a fresh id, never the forged one', async () => {
    const { client, url, store, signer } = await env.start();
    await client.request('/count');
    const value = client.jar.get('sid') as string;
    const list = forgeries(value);
    for (const [label, forged] of list) {
      const getsBefore = store.calls.get;
      const write = await rawRequest(url, '/count', `sid=${forged}`);
      expect(write.status, label).toBe(200);
      expect(write.body, label).toBe('views 1');
      expect(store.calls.get, label).toBe(getsBefore);
      const [line] = rawCookiesNamed(write, 'sid');
      const newValue = /^sid=([^;]*)/.exec(line ?? '')?.[1] ?? '';
      const newId = signer.verify('sid', newValue)?.id;
      expect(newId, label).toBeDefined();
      expect(forged.startsWith(newId as string), label).toBe(false);
    }
    // One record per write, plus the real one: none under a forged id.
    expect(store.size).toBe(list.length + 1);
  });

  it('random unsigned and wrongly signed ids never reach the store and leave its size unchanged', async () => {
    const { client, url, store, heavy } = await env.start();
    await client.request('/count');
    const calls = { ...store.calls };
    const count = heavy ? 10_000 : 1_000;
    const values = Array.from({ length: count }, (_, index) => {
      const id = randomBytes(24).toString('base64url');
      switch (index % 4) {
        case 0:
          return id;
        case 1:
          return `${id}.${randomBytes(32).toString('base64url')}`;
        case 2:
          return `${id}.${macOf(STRANGER_SECRET, 'sid', id)}`;
        default:
          return `${id}.${macOf(SECRET, 'other', id)}`;
      }
    });
    const started = performance.now();
    const statuses = await flood(url, '/read', count, (index) => `sid=${values[index] as string}`);
    const elapsed = performance.now() - started;
    expect([...statuses]).toEqual([[200, count]]);
    expect(store.calls).toEqual(calls);
    expect(store.size).toBe(1);
    if (process.env['SESS_FLOOD_TIMING'] !== undefined) console.log(`flood: ${count} requests in ${elapsed.toFixed(0)} ms`);
  }, 60_000);

  it('secret rotation: [new, old] accepts an old-signed cookie and re-signs it with the new secret', async () => {
    const { client, store, signer, idInJar } = await env.start({ secret: [SECRET, OLD_SECRET] });
    await client.request('/count');
    const id = idInJar() as string;
    const oldSigned = createSigner(OLD_SECRET).sign('sid', id);
    client.jar.set('sid', oldSigned);
    const read = await client.request('/read');
    expect(read.status).toBe(200);
    expect(read.body).toBe('1');
    const lines = cookiesNamed(read, 'sid');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^sid=${signer.sign('sid', id).replace(/[.-]/g, '\\$&')};`));
    expect(client.jar.get('sid')).toBe(signer.sign('sid', id));
    // Re-signing sends a cookie; the data did not change, so nothing is written.
    expect(store.calls.set).toBe(1);
    // The new-signed cookie is not re-sent again.
    expect(cookiesNamed(await client.request('/read'), 'sid')).toEqual([]);
  });

  it('secret rotation: once the old secret is removed, old-signed cookies are refused before the store', async () => {
    const { client, store, clock } = await env.start({ secret: SECRET });
    const id = 'R'.repeat(32);
    const now = clock.now();
    await store.set(id, { data: { views: 7 }, meta: { createdAt: now, touchedAt: now, expiresAt: now + DAY_MS } }, DAY_MS);
    const calls = { ...store.calls };
    client.jar.set('sid', createSigner(OLD_SECRET).sign('sid', id));
    const read = await client.request('/read');
    expect(read.body).toBe('0');
    expect(store.calls).toEqual(calls);
    client.jar.set('sid', createSigner(SECRET).sign('sid', id));
    expect((await client.request('/read')).body).toBe('7');
  });
}
