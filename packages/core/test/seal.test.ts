/**
 * The sealed-cookie codec, with real crypto: round trips, tampering, name binding, wrong keys,
 * rotation, arbitrary input, and what the encrypted form reveals. That keys are derived once, not
 * per cookie, is seal-keys.test.ts.
 */
import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCookie } from '../src/cookie.js';
import { SessConfigError } from '../src/index.js';
import { createSealer } from '../src/seal.js';
import type { SealMode } from '../src/seal.js';
import { OLD_SECRET, SECRET } from './fixtures.js';

const OTHER_SECRET = 'a-third-secret-nobody-here-configured-at-all';
const payload = {
  id: 'AAAAAAAAAAAAAAAAAAAAAAAA',
  data: { user: 'ada', cart: [1, 2, 3], note: 'héllo ✓' },
  meta: { createdAt: 1, touchedAt: 2, expiresAt: 3 },
};
const modes: SealMode[] = ['encrypt', 'sign'];
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The value with bit `bit` of character `index` flipped. */
function flip(value: string, index: number, bit: number): string {
  return value.slice(0, index) + String.fromCharCode(value.charCodeAt(index) ^ (1 << bit)) + value.slice(index + 1);
}

describe.each(modes)('sealer, %s mode', (mode) => {
  const sealer = createSealer([SECRET], mode);

  it('opens what it sealed, for the same name, not rotated', () => {
    const value = sealer.seal('sid', payload);
    expect(value).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(sealer.open('sid', value)).toEqual({ payload, rotated: false });
  });

  it('rejects a value with any one bit of any character flipped', () => {
    const value = sealer.seal('sid', payload);
    let tried = 0;
    for (let index = 0; index < value.length; index++) {
      for (let bit = 0; bit < 7; bit++) {
        tried++;
        expect(sealer.open('sid', flip(value, index, bit)), `char ${index} bit ${bit}`).toBeUndefined();
      }
    }
    expect(tried).toBe(value.length * 7);
  });

  it('rejects every other spelling of the last character (base64 spare bits)', () => {
    const value = sealer.seal('sid', payload);
    for (const char of BASE64URL) {
      const other = value.slice(0, -1) + char;
      if (other !== value) expect(sealer.open('sid', other)).toBeUndefined();
    }
  });

  it('opens a value again to a payload of its own: changing one opened payload changes no other', () => {
    const value = sealer.seal('sid', payload);
    const first = sealer.open('sid', value)?.payload as typeof payload;
    first.data.cart.push(4);
    first.data.user = 'eve';
    expect(sealer.open('sid', value)).toEqual({ payload, rotated: false });
  });

  it('rejects a value under another cookie name after opening it under its own', () => {
    const value = sealer.seal('sid', payload);
    expect(sealer.open('sid', value)).toBeDefined();
    expect(sealer.open('other', value)).toBeUndefined();
    expect(sealer.open('sid', value)).toEqual({ payload, rotated: false });
  });

  it('rejects a value sealed for another cookie name', () => {
    expect(sealer.open('other', sealer.seal('sid', payload))).toBeUndefined();
    expect(sealer.open('sid', sealer.seal('sid2', payload))).toBeUndefined();
  });

  it('rejects a value sealed under a key it does not hold', () => {
    expect(sealer.open('sid', createSealer(OTHER_SECRET, mode).seal('sid', payload))).toBeUndefined();
  });

  it('rotates: an older key opens and reports it; once removed, the value is rejected', () => {
    const old = createSealer(OLD_SECRET, mode).seal('sid', payload);
    expect(createSealer([SECRET, OLD_SECRET], mode).open('sid', old)).toEqual({ payload, rotated: true });
    expect(createSealer([SECRET], mode).open('sid', old)).toBeUndefined();
    const current = createSealer([SECRET, OLD_SECRET], mode).seal('sid', payload);
    expect(createSealer(SECRET, mode).open('sid', current)).toEqual({ payload, rotated: false });
  });

  it('never throws on arbitrary strings, and opens none of them', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 20 }), (value, name) => {
        expect(sealer.open(name, value)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{0,200}(\.[A-Za-z0-9_-]{43})?$/), (value) => {
        expect(sealer.open('sid', value)).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
    for (const odd of [undefined, null, 42, {}, 'a'.repeat(5000), '.', `${'A'.repeat(40)}.${'A'.repeat(43)}`]) {
      expect(sealer.open('sid', odd as unknown as string)).toBeUndefined();
    }
  });

  it('rejects a value that checks out but does not hold JSON', () => {
    // Built by hand with the same derivation: only a key holder could make one.
    const key = Buffer.from(hkdfSync('sha256', SECRET, 'sess/cookie-sessions/v1', `sess cookie session ${mode}`, 32));
    let value: string;
    if (mode === 'sign') {
      const body = Buffer.from('{not json').toString('base64url');
      value = `${body}.${createHmac('sha256', key).update(`sid=${body}`).digest('base64url')}`;
    } else {
      const iv = Buffer.alloc(12, 7);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from('sid'));
      value = Buffer.concat([iv, cipher.update('{not json'), cipher.final(), cipher.getAuthTag()]).toString('base64url');
    }
    expect(sealer.open('sid', value)).toBeUndefined();
  });
});

describe('sealer modes', () => {
  it('encrypt hides the data: neither the raw nor the base64url-decoded value holds it', () => {
    const value = createSealer(SECRET, 'encrypt').seal('sid', payload);
    const decoded = Buffer.from(value, 'base64url').toString('latin1');
    for (const clear of ['ada', 'cart', 'user', 'createdAt']) {
      expect(value).not.toContain(clear);
      expect(decoded).not.toContain(clear);
    }
  });

  it('encrypt uses a fresh IV: the same payload seals to a different value each time', () => {
    const sealer = createSealer(SECRET, 'encrypt');
    const values = new Set(Array.from({ length: 50 }, () => sealer.seal('sid', payload)));
    expect(values.size).toBe(50);
  });

  it('sign leaves the data readable but not changeable', () => {
    const sealer = createSealer(SECRET, 'sign');
    const value = sealer.seal('sid', payload);
    const [body] = value.split('.');
    expect(JSON.parse(Buffer.from(body as string, 'base64url').toString('utf8'))).toEqual(payload);
    const forged = Buffer.from(JSON.stringify({ ...payload, data: { user: 'root' } })).toString('base64url');
    expect(sealer.open('sid', `${forged}.${value.split('.')[1]}`)).toBeUndefined();
  });

  it('the opened cache holds each value on its own, not the whole Cookie header it was read from', () => {
    // A value read from a header is a slice that keeps the header alive: with 8 KB of other
    // cookies, its 1,000 entries would hold 8 MB more than the values themselves.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (const mode of modes) {
      const sealer = createSealer(SECRET, mode);
      const values = Array.from({ length: 1_000 }, (_, index) => sealer.seal('sid', [index]));
      const others = `analytics=${'x'.repeat(8_000)}`;
      gc();
      const before = process.memoryUsage().heapUsed;
      for (const [index, value] of values.entries()) {
        expect(sealer.open('sid', readCookie(`${others}; sid=${value}`, 'sid') as string)?.payload).toEqual([index]);
      }
      gc();
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(2_000_000);
    }
  });

  it('keys of one mode do not open the other', () => {
    expect(createSealer(SECRET, 'sign').open('sid', createSealer(SECRET, 'encrypt').seal('sid', payload))).toBeUndefined();
    expect(createSealer(SECRET, 'encrypt').open('sid', createSealer(SECRET, 'sign').seal('sid', payload))).toBeUndefined();
  });

  it('refuses short, missing or non-string secrets and unknown modes at construction', () => {
    expect(() => createSealer('short')).toThrow(expect.objectContaining({ code: 'secret_too_short' }));
    expect(() => createSealer([SECRET, 'short'])).toThrow(/secret #1 is 5 bytes/);
    expect(() => createSealer([])).toThrow(SessConfigError);
    expect(() => createSealer([42 as unknown as string])).toThrow(/must be a string/);
    // A hole (`[, secret]`) would be skipped by `map`, and every seal or open would throw a TypeError.
    expect(() => createSealer(Object.assign(new Array<string>(2), { 1: SECRET }))).toThrow(/secret #0 must be a string, got undefined/);
    expect(() => createSealer(Object.assign(new Array<string>(3), { 0: SECRET, 2: OLD_SECRET }))).toThrow(
      /secret #1 must be a string, got undefined/,
    );
    expect(() => createSealer(SECRET, 'rot13' as SealMode)).toThrow(/mode must be/);
    try {
      createSealer('a-secret-that-is-too-short');
    } catch (error) {
      expect(String(error)).not.toContain('a-secret-that-is-too-short');
    }
  });
});
