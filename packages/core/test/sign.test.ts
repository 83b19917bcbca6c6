import { createHmac } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessConfigError } from '../src/errors.js';
import type { SessErrorCode } from '../src/errors.js';
import { generateId } from '../src/ids.js';
import { readCookie } from '../src/cookie.js';
import { createSigner } from '../src/sign.js';

const SECRET = 'test-secret-that-is-at-least-32-bytes-long';
const OLD_SECRET = 'an-older-secret-also-at-least-32-bytes-long';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The MAC as the format defines it, computed independently of the signer. */
const macOf = (secret: string, name: string, id: string) => createHmac('sha256', secret).update(`${name}=${id}`).digest('base64url');

const idArb = fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: 22, maxLength: 128 });
const nameArb = fc.string({ unit: fc.constantFrom(...`${BASE64URL}!#$%&'*+.^\`|~`), minLength: 1, maxLength: 24 });

function expectConfigError(run: () => unknown, code: SessErrorCode): SessConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SessConfigError);
    expect(error).toHaveProperty('code', code);
    return error as SessConfigError;
  }
  return expect.fail('expected a SessConfigError');
}

describe('sign and verify', () => {
  const signer = createSigner(SECRET);
  const id = generateId();
  const value = signer.sign('sid', id);
  const mac = value.slice(id.length + 1);

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the title shows the format, placeholders and all
  it('signs as `${id}.${base64url(HMAC-SHA256(secret, `${name}=${id}`))}`', () => {
    expect(value).toBe(`${id}.${macOf(SECRET, 'sid', id)}`);
    expect(mac).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signer.sign('sid', id)).toBe(value);
  });

  it('verifies what it signed', () => {
    expect(signer.verify('sid', value)).toEqual({ id, rotated: false });
  });

  it('verifies ids from custom generators such as UUIDs', () => {
    const uuid = '123e4567-e89b-12d3-a456-426614174000';
    expect(signer.verify('sid', signer.sign('sid', uuid))).toEqual({ id: uuid, rotated: false });
  });

  it('accepts the secret alone or in an array', () => {
    expect(createSigner([SECRET]).verify('sid', value)).toEqual({ id, rotated: false });
  });

  it('rejects a value with any one character changed', () => {
    for (let index = 0; index < value.length; index++) {
      for (const replacement of [...new Set([...BASE64URL, '.', '=', '%', ' ', '\0', 'é'])]) {
        if (replacement === value[index]) continue;
        const tampered = `${value.slice(0, index)}${replacement}${value.slice(index + 1)}`;
        expect(signer.verify('sid', tampered), tampered).toBeUndefined();
      }
    }
  });

  it('rejects a value with any one bit flipped', () => {
    for (let index = 0; index < value.length; index++) {
      for (let bit = 0; bit < 16; bit++) {
        const flipped = String.fromCharCode(value.charCodeAt(index) ^ (1 << bit));
        const tampered = `${value.slice(0, index)}${flipped}${value.slice(index + 1)}`;
        expect(signer.verify('sid', tampered), tampered).toBeUndefined();
      }
    }
  });

  it('rejects another spelling of the same MAC bytes', () => {
    // 43 base64url characters carry 258 bits for a 256-bit MAC: the last one has 2 spare bits.
    const last = BASE64URL.indexOf(mac.at(-1) as string);
    const respelled = `${mac.slice(0, -1)}${BASE64URL[last ^ 1] as string}`;
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    expect(signer.verify('sid', `${id}.${respelled}`)).toBeUndefined();
  });

  it.each([
    ['trailing garbage', `${value}x`],
    ['a trailing dot', `${value}.`],
    ['a trailing space', `${value} `],
    ['a leading space', ` ${value}`],
    ['a truncated mac', value.slice(0, -1)],
    ['a mac cut in half', value.slice(0, id.length + 22)],
    ['an empty mac', `${id}.`],
    ['no mac', id],
    ['no id', `.${mac}`],
    ['only the mac', mac],
    ['two dots', `${id}..${mac}`],
    ['a dot inside the mac', `${id}.${mac.slice(0, 20)}.${mac.slice(21)}`],
    ['an extra segment', `x.${value}`],
    ['the empty string', ''],
    ['a lone dot', '.'],
    ['10 KB of text', 'a'.repeat(10_240)],
    ['10 KB of dots', '.'.repeat(10_240)],
  ])('rejects %s', (_, tampered) => {
    expect(signer.verify('sid', tampered)).toBeUndefined();
  });

  it('rejects a value signed for another cookie name', () => {
    expect(signer.verify('other', value)).toBeUndefined();
    expect(signer.verify('sid', signer.sign('sid.test', id))).toBeUndefined();
    expect(signer.verify('SID', value)).toBeUndefined();
  });

  // Each carries a valid MAC, so only the shape check stands between it and a store key.
  it.each([
    ['a path', `../../${'x'.repeat(22)}`],
    ['a glob', `${'x'.repeat(22)}*`],
    ['NUL', `${'x'.repeat(22)}\0`],
    ['a backslash', `..\\${'x'.repeat(22)}`],
    ['a colon', `sess:${'x'.repeat(22)}`],
    ['a short id', 'x'.repeat(21)],
    ['10 KB of id', 'x'.repeat(10_240)],
  ])('rejects an id with %s even under a valid MAC', (_, badId) => {
    expect(signer.verify('sid', `${badId}.${macOf(SECRET, 'sid', badId)}`)).toBeUndefined();
  });

  it('refuses to sign an id that verify would reject', () => {
    for (const badId of ['short', `${'x'.repeat(22)}.`, `../${'x'.repeat(22)}`, 'x'.repeat(129), undefined]) {
      const error = expectConfigError(() => signer.sign('sid', badId as string), 'config_invalid');
      expect(error.message).toContain('generateId');
    }
  });

  // 6,000 HMACs: about a second on a quiet machine, several on a loaded one.
  it('never throws, whatever the name and value', { timeout: 60_000 }, () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) }),
      fc.string({ unit: fc.constantFrom(...BASE64URL, '.'), minLength: 60, maxLength: 180 }),
    );
    fc.assert(
      fc.property(anyString, anyString, (name, garbage) => {
        expect(signer.verify(name, garbage)).toBeUndefined();
        expect(signer.verify('sid', `${value.slice(0, garbage.length % value.length)}${garbage}`)).toBeUndefined();
      }),
      { numRuns: 2_000 },
    );
    expect(signer.verify('sid', undefined as unknown as string)).toBeUndefined();
  });

  it('round-trips any well-formed id under any cookie name', () => {
    fc.assert(
      fc.property(nameArb, idArb, (name, anyId) => {
        expect(signer.verify(name, signer.sign(name, anyId))).toEqual({ id: anyId, rotated: false });
      }),
      { numRuns: 1_000 },
    );
  });

  it('rejects any change of one character to another', () => {
    fc.assert(
      fc.property(
        nameArb,
        idArb,
        fc.nat(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
        (name, anyId, position, replacement) => {
          const signed = signer.sign(name, anyId);
          const index = position % signed.length;
          fc.pre(signed[index] !== replacement);
          const tampered = `${signed.slice(0, index)}${replacement}${signed.slice(index + 1)}`;
          expect(signer.verify(name, tampered)).toBeUndefined();
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('secret rotation', () => {
  const id = generateId();
  const signedWithOld = createSigner(OLD_SECRET).sign('sid', id);

  it('verifies a value signed with an older secret, and says it needs re-signing', () => {
    expect(createSigner([SECRET, OLD_SECRET]).verify('sid', signedWithOld)).toEqual({ id, rotated: true });
  });

  it('signs with the first secret only', () => {
    const rotating = createSigner([SECRET, OLD_SECRET]);
    expect(rotating.sign('sid', id)).toBe(createSigner(SECRET).sign('sid', id));
    expect(rotating.verify('sid', rotating.sign('sid', id))).toEqual({ id, rotated: false });
  });

  it('rejects a value signed with a secret that was retired', () => {
    expect(createSigner(SECRET).verify('sid', signedWithOld)).toBeUndefined();
  });

  it('keeps the secrets it was given, whatever happens to the array later', () => {
    const secrets = [SECRET, OLD_SECRET];
    const rotating = createSigner(secrets);
    secrets.length = 0;
    secrets.push('x'.repeat(40));
    expect(rotating.verify('sid', signedWithOld)).toEqual({ id, rotated: true });
  });
});

describe('the cache of verified values', () => {
  const [first, second, third] = [generateId(), generateId(), generateId()];

  it('answers a repeat the same way, for its own cookie name only, and never for a tampered copy', () => {
    const signer = createSigner(SECRET);
    const value = signer.sign('sid', first);
    expect(signer.verify('sid', value)).toEqual({ id: first, rotated: false });
    expect(signer.verify('sid', value)).toEqual({ id: first, rotated: false });
    expect(signer.verify('other', value)).toBeUndefined();
    const flipped = value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A');
    expect(signer.verify('sid', flipped)).toBeUndefined();
  });

  it('keeps a rotated value marked for re-signing when it answers from the cache', () => {
    const signer = createSigner([SECRET, OLD_SECRET]);
    const old = `${first}.${macOf(OLD_SECRET, 'sid', first)}`;
    expect(signer.verify('sid', old)).toEqual({ id: first, rotated: true });
    expect(signer.verify('sid', old)).toEqual({ id: first, rotated: true });
  });

  it('stays bounded and correct: values pushed out verify again, forged ones never get in', () => {
    const signer = createSigner(SECRET, { cacheEntries: 2 });
    const values = [first, second, third].map((id) => signer.sign('sid', id));
    for (let round = 0; round < 3; round++) {
      for (const [index, value] of values.entries()) expect(signer.verify('sid', value)?.id).toBe([first, second, third][index]);
      expect(signer.verify('sid', `${first}.${'A'.repeat(43)}`)).toBeUndefined();
    }
  });

  it('holds its values on their own, not the whole Cookie header each was read from', () => {
    // A value read from a header is a slice that keeps the header alive; 8 KB of other cookies
    // is common, so 2,000 entries would hold 16 MB instead of about 200 KB.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const signer = createSigner(SECRET);
    const values = Array.from({ length: 2_000 }, () => signer.sign('sid', generateId()));
    const others = `analytics=${'x'.repeat(8_000)}`;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (const value of values) {
      const read = readCookie(`${others}; sid=${value}`, 'sid') as string;
      expect(signer.verify('sid', read)?.rotated).toBe(false);
    }
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(4_000_000);
    expect(signer.verify('sid', values[0] as string)?.rotated).toBe(false);
  });

  it("is the signer's own: a signer without the old secret rejects what another signer cached", () => {
    const old = `${first}.${macOf(OLD_SECRET, 'sid', first)}`;
    expect(createSigner([SECRET, OLD_SECRET]).verify('sid', old)?.id).toBe(first);
    expect(createSigner(SECRET).verify('sid', old)).toBeUndefined();
  });

  it('can be turned off, and refuses a nonsensical size', () => {
    const signer = createSigner(SECRET, { cacheEntries: 0 });
    const value = signer.sign('sid', first);
    expect(signer.verify('sid', value)?.id).toBe(first);
    expect(signer.verify('sid', value)?.id).toBe(first);
    for (const cacheEntries of [-1, 1.5, Number.NaN]) expectConfigError(() => createSigner(SECRET, { cacheEntries }), 'config_invalid');
  });

  it.each([
    ['a BigInt', 10n, /cacheEntries must be an integer >= 0, got 10n$/],
    ['a string of digits', '10', /cacheEntries must be an integer >= 0, got "10"$/],
    ['null', null, /got null$/],
  ])('refuses a cacheEntries of %s with SessConfigError', (_, cacheEntries, message) => {
    const error = expectConfigError(() => createSigner(SECRET, { cacheEntries: cacheEntries as unknown as number }), 'config_invalid');
    expect(error.message).toMatch(message);
  });
});

describe("createSigner's options", () => {
  it('are optional, and may be given as undefined', () => {
    expect(() => createSigner(SECRET)).not.toThrow();
    expect(() => createSigner(SECRET, undefined)).not.toThrow();
    expect(() => createSigner(SECRET, {})).not.toThrow();
  });

  it('refuse an unknown key, naming the closest known one (a misspelt cacheEntries would leave the cache at its default)', () => {
    const error = expectConfigError(() => createSigner(SECRET, { cacheEntrys: 0 } as never), 'config_invalid');
    expect(error.message).toMatch(/createSigner\(\): unknown option "cacheEntrys": did you mean "cacheEntries"\?/);
  });

  it('refuse an unknown key the options inherit, as they read an inherited cacheEntries', () => {
    expectConfigError(() => createSigner(SECRET, Object.create({ cache: 0 }) as never), 'config_invalid');
  });

  it.each([
    ['null', null],
    ['a number', 100],
    ['a string', 'cacheEntries=0'],
    ['an array', [0]],
  ])('refuse options that are %s with SessConfigError, not a TypeError or silence', (_, options) => {
    expectConfigError(() => createSigner(SECRET, options as never), 'config_invalid');
  });
});

describe('createSigner', () => {
  it('refuses a secret under 32 bytes, and says how to make one', () => {
    const error = expectConfigError(() => createSigner('x'.repeat(31)), 'secret_too_short');
    expect(error.message).toContain(`node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`);
    expect(error.message).toContain('31 bytes');
  });

  it('never puts the secret in the message', () => {
    const error = expectConfigError(() => createSigner('hunter2-hunter2'), 'secret_too_short');
    expect(error.message).not.toContain('hunter2');
  });

  it('measures secrets in UTF-8 bytes, not characters', () => {
    expect(() => createSigner('☃'.repeat(11))).not.toThrow(); // 33 bytes
    expectConfigError(() => createSigner('☃'.repeat(10)), 'secret_too_short'); // 30 bytes, 10 characters
    expect(() => createSigner('x'.repeat(32))).not.toThrow();
  });

  it('refuses a short secret anywhere in the list', () => {
    const error = expectConfigError(() => createSigner([SECRET, 'too-short']), 'secret_too_short');
    expect(error.message).toContain('secret #1');
  });

  it.each([
    ['an empty array', []],
    ['undefined', undefined],
    ['a Buffer', Buffer.alloc(64)],
    ['a number', 42],
    ['an array holding a non-string', [SECRET, 42]],
    ['an array holding a Buffer', [Buffer.alloc(64)]],
    // `[, secret]` from a config file: `map` would skip the hole, and every sign would throw a TypeError.
    ['an array with a hole where the signing secret goes', Object.assign(new Array(2), { 1: SECRET })],
    ['an array with a hole among the older secrets', Object.assign(new Array(3), { 0: SECRET, 2: OLD_SECRET })],
  ])('refuses %s', (_, secrets) => {
    expectConfigError(() => createSigner(secrets as unknown as string[]), 'config_invalid');
  });
});
