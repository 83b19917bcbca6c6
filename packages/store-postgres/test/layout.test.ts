/**
 * Ids and values as the table keeps them, without a server (names go through `escapeName` of
 * `@sess/core/store`, tested there): ordinary values stay as they are, and what jsonb refuses
 * comes back exactly. `postgres-store.test.ts` checks the same against the real server.
 */
import { describe, expect, it } from 'vitest';
import { SessUsageError } from '@sess/core';
import { decodeData, encodeData, encodeValue, storedId } from '../src/layout.js';

describe('ids', () => {
  it('keys ids by SHA-256 in base64url with hashIds, and escapes them otherwise', () => {
    expect(storedId('abc', true)).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(storedId('abc', false)).toBe('abc');
    expect(storedId('a\u0000', false)).toBe('a\uFFFF0000');
  });
});

describe('values', () => {
  it('keeps JSON the database accepts as it is, and wraps only what it refuses or could pass for a wrapped value', () => {
    expect(encodeValue({ a: [1, 'x', null], b: 'é😀' }, 'k')).toBe('{"a":[1,"x",null],"b":"é😀"}');
    expect(encodeValue('\uFFFD', 'k')).toBe('"\uFFFD"');
    expect(encodeValue(undefined, 'k')).toBeUndefined();
    for (const value of ['\u0000', '\uD800', { nested: ['\uDC00'] }, { '\u0000': 1 }, '\uFFFFstarts with the marker']) {
      const json = encodeValue(value, 'k') as string;
      expect(JSON.parse(json)).toMatch(/^\uFFFF/);
      expect(decodeData(`{"k":${json}}`)?.['k']).toEqual(value);
    }
    // The marker anywhere but at the start of a top-level string value is plain data.
    expect(encodeValue('a\uFFFF', 'k')).toBe('"a\uFFFF"');
    expect(encodeValue(['\uFFFF'], 'k')).toBe('["\uFFFF"]');
  });

  it('fails a value JSON cannot hold as SessUsageError data_not_json naming its key', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    expect(() => encodeData({ ok: 1, n: 10n }, ['ok', 'n'])).toThrow(SessUsageError);
    expect(() => encodeData({ ok: 1, n: 10n }, ['ok', 'n'])).toThrow('[sess] session data is not JSON: key "n" holds a BigInt');
    expect(() => encodeData({ loop }, ['loop'])).toThrow('[sess] session data is not JSON: key "loop" holds a circular reference');
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
