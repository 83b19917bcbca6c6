import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SessUsageError, type SessionData, type SessionMeta } from '@sess/core';
import { recordCodec } from '../src/record.js';

const NOW = Date.UTC(2026, 0, 1);
const META: SessionMeta = { createdAt: NOW, touchedAt: NOW + 5, expiresAt: NOW + 60_000 };

/** Encodes and decodes once; what comes back must be what JSON would give back. */
function roundTrip(data: SessionData, meta: SessionMeta = META, codec = recordCodec()) {
  const encoded = codec.encode(data, meta, NOW + 1_000);
  const both = codec.record(encoded);
  return { encoded, data: codec.data(encoded), meta: codec.meta(encoded), expiresAt: codec.expiresAt(encoded), both };
}

const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('the record string', () => {
  it('holds a shaped record as its values only, one byte per character, with the times exact', () => {
    const back = roundTrip({ views: 3, user: 'ada' });
    expect(back.data).toEqual({ views: 3, user: 'ada' });
    expect(back.meta).toEqual(META);
    expect(back.expiresAt).toBe(NOW + 1_000);
    // Key names live in the shape, not in the record.
    expect(back.encoded).not.toContain('views');
    expect(back.encoded.endsWith('[3,"ada"]')).toBe(true);
  });

  it('keeps "__proto__" as a plain own key and leaves Object.prototype alone', () => {
    const data = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as SessionData;
    const back = roundTrip(data);
    expect(Object.getPrototypeOf(back.data)).toBe(Object.prototype);
    expect(Object.keys(back.data)).toEqual(['__proto__', 'a']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('drops values JSON drops, including a toJSON that returns undefined, as an object would', () => {
    const data = { kept: 1, gone: undefined, fn: () => 1, hidden: { toJSON: () => undefined }, when: new Date(NOW) };
    expect(roundTrip(data as SessionData).data).toEqual({ kept: 1, when: new Date(NOW).toISOString() });
  });

  it('writes data with its own toJSON (a class instance) as JSON does, not by its keys', () => {
    class Cart {
      items = 2;
      toJSON() {
        return { total: 9 };
      }
    }
    expect(roundTrip(new Cart() as unknown as SessionData).data).toEqual({ total: 9 });
  });

  it('drops a bigint whose toJSON returns undefined, as an object would', () => {
    const bigintProto = BigInt.prototype as { toJSON?: () => unknown };
    bigintProto.toJSON = () => undefined;
    try {
      expect(roundTrip({ big: 1n, kept: 2 } as SessionData).data).toEqual({ kept: 2 });
    } finally {
      delete bigintProto.toJSON;
    }
  });

  it('fails data JSON cannot hold as SessUsageError data_not_json naming the key, shaped or plain, and a later encode still works', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    const codec = recordCodec();
    // A top-level bigint makes the record plain; a nested one and a cycle take the shaped path.
    const cases: [SessionData, string][] = [
      [{ ok: 1, n: 10n }, 'key "n" holds a BigInt'],
      [{ ok: 1, deep: { n: [10n] } }, 'key "deep" holds a BigInt'],
      [{ ok: 1, loop }, 'key "loop" holds a circular reference'],
    ];
    for (const [data, message] of cases) {
      let error: unknown;
      try {
        codec.encode(data, META, NOW + 1_000);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(SessUsageError);
      expect(error).toMatchObject({ code: 'data_not_json', message: `[sess] session data is not JSON: ${message}` });
    }
    // The shapes the failed encodes registered are held by no record: a later encode still works.
    expect(roundTrip({ ok: 2, deep: { n: [1] } }, META, codec).data).toEqual({ ok: 2, deep: { n: [1] } });
  });

  it('carries a meta with an expiry setting or a field core may add later', () => {
    const withExpiry: SessionMeta = { ...META, expiry: { kind: 'duration', ms: 5_000 } };
    expect(roundTrip({ a: 1 }, withExpiry).meta).toEqual(withExpiry);
    const extended = { ...META, future: 'field' } as SessionMeta;
    expect(roundTrip({ a: 1 }, extended).meta).toEqual(extended);
  });

  it('carries times that do not fit six bytes', () => {
    for (const createdAt of [-1, 2 ** 48, 1.5, Number.MAX_SAFE_INTEGER]) {
      const meta = { ...META, createdAt };
      expect(roundTrip({ a: 1 }, meta).meta).toEqual(meta);
    }
  });

  it('clamps the store expiry: an infinite TTL never expires, a negative one is already over', () => {
    const codec = recordCodec();
    expect(codec.expiresAt(codec.encode({}, META, Infinity))).toBe(2 ** 48 - 1);
    expect(codec.expiresAt(codec.encode({}, META, -5))).toBe(0);
  });

  it('keeps data that needs two bytes per character', () => {
    const data = { name: 'Zoë 😀 名前', n: 1 };
    expect(roundTrip(data).data).toEqual(data);
  });

  it('tells apart key lists whose joined names collide', () => {
    const codec = recordCodec();
    expect(roundTrip({ 'a\u0000b': 1 }, META, codec).data).toEqual({ 'a\u0000b': 1 });
    expect(roundTrip({ a: 1, b: 2 }, META, codec).data).toEqual({ a: 1, b: 2 });
    expect(roundTrip({ 'a\u0000b': 3 }, META, codec).data).toEqual({ 'a\u0000b': 3 });
  });

  it('stores records plain once 255 shapes exist, and every record still reads back', () => {
    const codec = recordCodec();
    const encoded = Array.from({ length: 300 }, (_, i) => codec.encode({ [`key${i}`]: i }, META, NOW));
    for (const [i, text] of encoded.entries()) expect(codec.data(text)).toEqual({ [`key${i}`]: i });
    expect(encoded[254]!.charCodeAt(0)).toBe(255);
    expect(encoded[255]!.charCodeAt(0)).toBe(0);
  });

  it('once 255 shapes exist, reuses those no stored record holds, never one a record still holds', () => {
    const codec = recordCodec();
    const kept = codec.encode({ kept: true }, META, NOW);
    // One session adding a key on every save: each record replaces (releases) the one before.
    let churned = codec.encode({ draft0: 0 }, META, NOW);
    for (let i = 1; i < 1_000; i += 1) {
      const next = codec.encode({ [`draft${i}`]: i }, META, NOW);
      codec.release(churned);
      churned = next;
      expect(churned.charCodeAt(0), `save ${i}`).not.toBe(0);
      expect(codec.data(churned)).toEqual({ [`draft${i}`]: i });
    }
    expect(codec.data(kept)).toEqual({ kept: true });
    expect(codec.encode({ kept: false }, META, NOW).charCodeAt(0)).toBe(kept.charCodeAt(0));
    const moved = codec.withMeta(kept, META, NOW) as string;
    codec.release(kept);
    codec.release(churned);
    expect(codec.encode({ another: 1 }, META, NOW).charCodeAt(0)).not.toBe(0);
    expect(codec.data(moved)).toEqual({ kept: true });
  });

  it('stores plain a record whose key names are too long to keep as a shape forever', () => {
    // Shapes outlive their records: an app storing user-chosen keys must not let one session pin
    // 255 copies of its key names.
    const codec = recordCodec();
    const data = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`${'k'.repeat(100)}${i}`, i]));
    const encoded = codec.encode(data, META, NOW);
    expect(encoded.charCodeAt(0)).toBe(0);
    expect(codec.data(encoded)).toEqual(data);
    expect(codec.encode({ short: 1 }, META, NOW).charCodeAt(0)).toBe(1);
  });

  it('tells a retired meta by the meta alone, never by what the data holds', () => {
    const codec = recordCodec();
    expect(codec.retired(codec.encode({ a: 1 }, META, NOW))).toBe(false);
    expect(codec.retired(codec.encode({ a: 1 }, { ...META, retired: true }, NOW))).toBe(true);
    // Plain records that mention "retired" in their data or another meta field are not retired.
    const lookalike = JSON.parse('{"retired":true,"__proto__":{"retired":true}}') as SessionData;
    expect(codec.retired(codec.encode(lookalike, META, NOW))).toBe(false);
    expect(codec.retired(codec.encode({ a: 1 }, { ...META, expiry: { kind: 'browser' } }, NOW))).toBe(false);
    const shaped = codec.encode({ a: 1 }, META, NOW);
    expect(codec.retired(codec.withMeta(shaped, { ...META, retired: true }, NOW) as string)).toBe(true);
  });

  it('withMeta replaces the times and keeps the data, shaped or plain', () => {
    const codec = recordCodec();
    const later: SessionMeta = { createdAt: NOW, touchedAt: NOW + 9_000, expiresAt: NOW + 99_000 };
    for (const data of [{ a: 1 }, { __proto__: 1, b: [2] }] as SessionData[]) {
      const moved = codec.withMeta(codec.encode(data, META, NOW), later, NOW + 7) as string;
      expect(codec.meta(moved)).toEqual(later);
      expect(codec.expiresAt(moved)).toBe(NOW + 7);
      expect(codec.data(moved)).toEqual(asJson(data));
    }
    const shaped = codec.encode({ a: 1 }, META, NOW);
    const withExpiry: SessionMeta = { ...later, expiry: { kind: 'browser' } };
    expect(codec.meta(codec.withMeta(shaped, withExpiry, NOW) as string)).toEqual(withExpiry);
  });

  it('withMeta gives nothing for a meta touched before the stored one, unless it is retired, shaped or plain', () => {
    const codec = recordCodec();
    const earlier: SessionMeta = { createdAt: NOW, touchedAt: META.touchedAt - 1, expiresAt: NOW + 99_000 };
    const same: SessionMeta = { ...earlier, touchedAt: META.touchedAt };
    for (const stored of [META, { ...META, expiry: { kind: 'browser' } }] satisfies SessionMeta[]) {
      const encoded = codec.encode({ a: 1 }, stored, NOW);
      for (const next of [earlier, { ...earlier, expiry: { kind: 'duration', ms: 5_000 } }] satisfies SessionMeta[]) {
        expect(codec.withMeta(encoded, next, NOW + 7)).toBeUndefined();
        const retired: SessionMeta = { ...next, retired: true };
        expect(codec.meta(codec.withMeta(encoded, retired, NOW + 7) as string)).toEqual(retired);
      }
      expect(codec.meta(codec.withMeta(encoded, same, NOW + 7) as string)).toEqual(same);
    }
  });

  it('round-trips any JSON object and any meta exactly as JSON does, read apart or together', () => {
    const time = fc.oneof(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer());
    const expiry = fc.constantFrom({ kind: 'browser' } as const, { kind: 'duration', ms: 5_000 } as const);
    const meta = fc.record(
      { createdAt: time, touchedAt: time, expiresAt: time, expiry, retired: fc.constant(true as const) },
      { requiredKeys: ['createdAt', 'touchedAt', 'expiresAt'] },
    );
    const codec = recordCodec();
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), meta, (data, metaValue) => {
        const back = roundTrip(data, metaValue, codec);
        expect(back.data).toEqual(asJson(data));
        expect(back.meta).toEqual(metaValue);
        expect(Object.getPrototypeOf(back.data)).toBe(Object.prototype);
        expect(back.both).toEqual({ data: back.data, meta: back.meta });
      }),
      { numRuns: 500 },
    );
  });

  it('reads flat values (numbers, strings, true, false, null) as JSON.parse does, escapes and nested values among them', () => {
    const tricky = fc.constantFrom('"', '\\', 'a"b', '\\"', '",', '"]', ',', ']', '', 'true', '1', '\u2028', '\ud800', '\n');
    const flat = fc.oneof(fc.double(), fc.integer(), fc.string({ unit: 'binary' }), tricky, fc.constantFrom(true, false, null));
    const codec = recordCodec();
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(flat, flat, fc.jsonValue())), (data) => {
        const back = roundTrip(data, META, codec);
        expect(back.data).toEqual(asJson(data));
        expect(back.both.data).toEqual(back.data);
      }),
      { numRuns: 2_000 },
    );
  });
});
