/**
 * Names and values as the table keeps them, without a server: any JS string must come back
 * exactly, through UTF-8 (what node-postgres sends), with no U+0000 left in a name, and ordinary
 * names and values must stay as they are. `postgres-store.test.ts` checks the same against the
 * real server.
 */
import { describe, expect, it } from 'vitest';
import { decodeData, encodeData, encodeValue, escapeName, storedId, unescapeName } from '../src/layout.js';

/** What the driver does to a string: UTF-8 out, UTF-8 back (a lone surrogate becomes U+FFFD). */
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

  it('keys ids by SHA-256 in base64url with hashIds, and escapes them otherwise', () => {
    expect(storedId('abc', true)).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(storedId('abc', false)).toBe('abc');
    expect(storedId('a\u0000', false)).toBe('a\uFFFF0000');
  });
});

describe('values', () => {
  it('keeps JSON the database accepts as it is, and wraps only what it refuses or could pass for a wrapped value', () => {
    expect(encodeValue({ a: [1, 'x', null], b: 'é😀' })).toBe('{"a":[1,"x",null],"b":"é😀"}');
    expect(encodeValue('\uFFFD')).toBe('"\uFFFD"');
    expect(encodeValue(undefined)).toBeUndefined();
    for (const value of ['\u0000', '\uD800', { nested: ['\uDC00'] }, { '\u0000': 1 }, '\uFFFFstarts with the marker']) {
      const json = encodeValue(value) as string;
      expect(JSON.parse(json)).toMatch(/^\uFFFF/);
      expect(decodeData(`{"k":${json}}`)?.['k']).toEqual(value);
    }
    // The marker anywhere but at the start of a top-level string value is plain data.
    expect(encodeValue('a\uFFFF')).toBe('"a\uFFFF"');
    expect(encodeValue(['\uFFFF'])).toBe('["\uFFFF"]');
  });

  it('encodes the listed keys only, reports keys JSON drops, and decodes to own properties', () => {
    const data = JSON.parse('{"__proto__":{"p":1},"a":1,"gone":null}') as Record<string, unknown>;
    data['undef'] = undefined;
    const { json, dropped } = encodeData(data, ['__proto__', 'a', 'undef', 'missing']);
    expect(json).toBe('{"__proto__":{"p":1},"a":1}');
    expect(dropped).toEqual(['undef', 'missing']);
    const decoded = decodeData(`{"\uFFFF0000":${JSON.stringify('\uFFFF"nul\\u0000"')},"__proto__":{"p":1}}`);
    expect(Object.hasOwn(decoded ?? {}, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded?.['\u0000']).toBe('nul\u0000');
  });

  it('reads anything but a JSON object, or a wrapped value that is not JSON, as no data', () => {
    expect(decodeData('{"a":1}')).toEqual({ a: 1 });
    for (const stored of ['null', '[]', '"text"', '3', 'not json', '{"a":"\uFFFFnot json"}'])
      expect(decodeData(stored), stored).toBeUndefined();
  });
});
