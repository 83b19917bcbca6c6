/**
 * Names as stores keep them: any JS string must come back exactly through UTF-8 (what Redis and
 * PostgreSQL clients send), with no U+0000 left in it, and ordinary names must stay as they are.
 */
import { describe, expect, it } from 'vitest';
import { SessUsageError } from '../src/errors.js';
import { escapeName, hashedId, ownValue, revokeUserExcept, setOwnValue, unescapeName } from '../src/store-kit/index.js';

/** What a database driver does to a string: UTF-8 out, UTF-8 back (a lone surrogate becomes U+FFFD). */
const throughUtf8 = (name: string): string => Buffer.from(name, 'utf8').toString('utf8');

/** Every string up to `length` code units over `alphabet`. */
function* stringsOver(alphabet: readonly string[], length: number): Generator<string> {
  yield '';
  let level = [''];
  for (let n = 1; n <= length; n += 1) {
    const next: string[] = [];
    for (const prefix of level) for (const unit of alphabet) next.push(prefix + unit);
    yield* next;
    level = next;
  }
}

describe('escapeName and unescapeName', () => {
  it('round-trip every string over the units that matter, through UTF-8, hold no U+0000 and never map two names to one', () => {
    // Lone surrogates at both ends of both ranges, the escape, U+FFFD, U+0000, hex digits an
    // escape is made of, and ordinary characters.
    const alphabet = ['\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uFFFF', '\uFFFD', '\u0000', 'D', '8', 'F', '0', 'a'];
    const seen = new Map<string, string>();
    for (const name of stringsOver(alphabet, 4)) {
      const stored = escapeName(name);
      expect(throughUtf8(stored)).toBe(stored);
      expect(stored.includes('\u0000')).toBe(false);
      expect(unescapeName(throughUtf8(stored))).toBe(name);
      const clash = seen.get(stored);
      if (clash !== undefined)
        expect.fail(`${JSON.stringify(name)} and ${JSON.stringify(clash)} are both stored as ${JSON.stringify(stored)}`);
      seen.set(stored, name);
    }
    expect(seen.size).toBe((12 ** 5 - 1) / 11);
  });

  it('leaves well-formed names without U+0000 or U+FFFF as they are, surrogate pairs included', () => {
    for (const name of ['userId', 'é', '😀', 'a\uD83D\uDE00b', '\uFFFD', '', 'ключ 🔑', '__proto__', '"quoted"\\']) {
      expect(escapeName(name)).toBe(name);
      expect(unescapeName(name)).toBe(name);
    }
  });

  it('writes an escape as U+FFFF and the code unit in four hex digits', () => {
    expect(escapeName('\uD800')).toBe('\uFFFFD800');
    expect(escapeName('x\uDC00y')).toBe('x\uFFFFDC00y');
    expect(escapeName('\uFFFF')).toBe('\uFFFFFFFF');
    expect(escapeName('\u0000')).toBe('\uFFFF0000');
    expect(escapeName('\u0000D800')).toBe('\uFFFF0000D800');
  });

  it('reads U+FFFF that starts no escape as itself, so names stored before escaping keep their meaning', () => {
    for (const name of ['\uFFFF', 'a\uFFFFb', '\uFFFF0041', '\uFFFFd800', '\uFFFFD8']) expect(unescapeName(name)).toBe(name);
  });
});

describe('hashedId', () => {
  it('is SHA-256 of the id in base64url', () => {
    expect(hashedId('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(hashedId('abd')).not.toBe(hashedId('abc'));
  });
});

describe('ownValue and setOwnValue', () => {
  it('read and write "__proto__" and Object.prototype names as own data, never the prototype', () => {
    const data: Record<string, unknown> = {};
    expect(ownValue(data, '__proto__')).toBeUndefined();
    expect(ownValue(data, 'toString')).toBeUndefined();
    for (const key of ['__proto__', 'toString', 'constructor', 'plain']) setOwnValue(data, key, { key });
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    for (const key of ['__proto__', 'toString', 'constructor', 'plain']) {
      expect(Object.hasOwn(data, key)).toBe(true);
      expect(ownValue(data, key)).toEqual({ key });
    }
  });
});

describe('revokeUserExcept', () => {
  const KEPT = 'kept-session-id-0123456789abcdef';

  /** The refusal `revokeUserExcept(options)` throws, checked to be a SessUsageError that never shows the session id. */
  function refusal(options: unknown): SessUsageError {
    try {
      revokeUserExcept(options, 'testStore: revokeUser');
    } catch (error) {
      expect(error).toBeInstanceOf(SessUsageError);
      expect(error).toHaveProperty('code', 'usage_invalid');
      expect((error as Error).message).not.toContain(KEPT);
      return error as SessUsageError;
    }
    return expect.fail(`expected a SessUsageError for ${Object.keys(options as object).join(', ')}`);
  }

  it('reads { except: id } and no options', () => {
    expect(revokeUserExcept({ except: KEPT }, 'testStore: revokeUser')).toBe(KEPT);
    expect(revokeUserExcept({}, 'testStore: revokeUser')).toBeUndefined();
    expect(revokeUserExcept(undefined, 'testStore: revokeUser')).toBeUndefined();
  });

  it.each([
    ['a misspelt except', { exept: KEPT }],
    ['a misspelt except beside a good one', { except: KEPT, exept: KEPT }],
    ['a differently cased except', { Except: KEPT }],
    ['another name for it', { keep: KEPT }],
  ])('refuses %s, naming the key and suggesting except, never the value (it would revoke the session it meant to keep)', (_, options) => {
    const unknown = Object.keys(options).find((key) => key !== 'except') as string;
    expect(refusal(options).message).toBe(
      `[sess] testStore: revokeUser: unknown option "${unknown}": did you mean "except", as in { except: id }?`,
    );
  });

  it('refuses an unknown key the options inherit, as it reads an inherited except', () => {
    const options = Object.create({ exept: KEPT }) as object;
    expect(refusal(options).message).toContain('unknown option "exept"');
    expect(revokeUserExcept(Object.create({ except: KEPT }), 'testStore: revokeUser')).toBe(KEPT);
  });
});
