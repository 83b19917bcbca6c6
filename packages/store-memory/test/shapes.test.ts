import { describe, expect, it, vi } from 'vitest';
import { makeRecord } from '@sess/store-test';
import { memoryStore } from '../src/index.js';

// The store's record strings, as its codec returns them: a shaped one starts with a shape number,
// a plain one with 0. The codec itself is the real one.
const encoded: string[] = [];
vi.mock('../src/record.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/record.js')>();
  return {
    recordCodec: () => {
      const codec = original.recordCodec();
      const seen = (text: string) => (encoded.push(text), text);
      return { ...codec, encode: (...args: Parameters<typeof codec.encode>) => seen(codec.encode(...args)) };
    },
  };
});

const record = (data: Record<string, unknown>) => makeRecord(data, Date.UTC(2026, 0, 1));
const lastIsShaped = () => encoded.at(-1)!.charCodeAt(0) !== 0;

describe('the shape table', () => {
  it('one session that adds a key on every save, expired or destroyed sessions of other shapes, leave room for new shapes', async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = memoryStore({ sweepIntervalMs: 0, clock: () => now });
    // A record whose shape no other record has, touched: its shape must stay its own throughout.
    store.set('touched', record({ mine: 1 }), 120_000);
    store.touch('touched', record({}).meta, 120_000);
    for (let i = 0; i < 600; i += 1) store.set('churn', record({ [`draft${i}`]: i }), 60_000);
    for (let i = 0; i < 300; i += 1) store.set(`short-${i}`, record({ [`once${i}`]: i }), 1_000);
    for (let i = 0; i < 300; i += 1) {
      store.set(`gone-${i}`, record({ [`gone${i}`]: i }), 60_000);
      await store.destroy(`gone-${i}`);
    }
    now += 1_000;
    for (let i = 0; i < 300; i += 1) expect(store.get(`short-${i}`)).toBeUndefined();
    store.set('new', record({ userId: 'ada', cart: [] }), 60_000);
    expect(lastIsShaped()).toBe(true);
    expect(store.get('churn')?.data).toEqual({ draft599: 599 });
    expect(store.get('new')?.data).toEqual({ userId: 'ada', cart: [] });
    expect(store.get('touched')?.data).toEqual({ mine: 1 });
  });

  it('a full table of shapes that live records hold stores new shapes plain, and reads every record back', () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    for (let i = 0; i < 255; i += 1) store.set(`held-${i}`, record({ [`held${i}`]: i }), 60_000);
    store.set('new', record({ userId: 'ada' }), 60_000);
    expect(lastIsShaped()).toBe(false);
    for (let i = 0; i < 255; i += 1) expect(store.get(`held-${i}`)?.data).toEqual({ [`held${i}`]: i });
    expect(store.get('new')?.data).toEqual({ userId: 'ada' });
  });
});
