import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeRecord } from '@sess/store-test';
import { SessUsageError } from '@sess/core';
import { type MemoryStoreOptions, memoryStore } from '../src/index.js';

const record = (data: Record<string, unknown> = { a: 1 }) => makeRecord(data, Date.UTC(2026, 0, 1));
/** A `SessConfigError` (`config_invalid`) whose message holds `text`. */
const configError = (text: string) =>
  expect.objectContaining({ name: 'SessConfigError', code: 'config_invalid', message: expect.stringContaining(text) });

/** A clock the test moves by hand, independent of timers. */
function manualClock() {
  let now = Date.UTC(2026, 0, 1);
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('defaults', () => {
  it('is named "memory", declares delta writes and starts empty', async () => {
    const store = memoryStore();
    expect(store.name).toBe('memory');
    expect(store.capabilities).toEqual({ deltaWrites: true, userIndex: true });
    expect(store.size).toBe(0);
    await store.close();
  });

  it('holds at most 100,000 records by default', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    for (let i = 0; i <= 100_000; i += 1) await store.set(`id-${i}`, record(), 60_000);
    expect(store.size).toBe(100_000);
    expect(await store.get('id-0')).toBeUndefined();
    expect(await store.get('id-100000')).toBeDefined();
  });

  it('sweeps every 60 s by default, on an unref()ed timer', async () => {
    const setInterval = vi.spyOn(globalThis, 'setInterval');
    const store = memoryStore();
    expect(setInterval).toHaveBeenCalledTimes(1);
    expect(setInterval.mock.calls[0]?.[1]).toBe(60_000);
    // An unref()ed timer does not keep the process alive when the app forgets close().
    expect((setInterval.mock.results[0]!.value as NodeJS.Timeout).hasRef()).toBe(false);
    await store.close();
  });

  it('reads time from Date.now by default', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    const store = memoryStore();
    await store.set('a', record(), 1_000);
    vi.setSystemTime(Date.UTC(2026, 0, 1) + 999);
    expect(await store.get('a')).toBeDefined();
    vi.setSystemTime(Date.UTC(2026, 0, 1) + 1_000);
    expect(await store.get('a')).toBeUndefined();
    await store.close();
  });
});

describe('options are checked at construction', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects maxEntries %s', (maxEntries) => {
    expect(() => memoryStore({ maxEntries })).toThrow(configError('maxEntries must be a positive integer'));
  });

  // Node runs a timer under 1 ms every 1 ms: 0.5 would sweep the whole store a thousand times a second.
  it.each([-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('rejects sweepIntervalMs %s', (sweepIntervalMs) => {
    expect(() => memoryStore({ sweepIntervalMs })).toThrow(configError('sweepIntervalMs must be 0 (off) or'));
  });

  it('rejects a clock that is not a function', () => {
    expect(() => memoryStore({ clock: 5 as unknown as () => number })).toThrow(configError('clock must be a function'));
  });

  // Each of these made every write "succeed" with a record that was already dead: sessions were
  // silently lost on every request.
  it.each([
    ['Date (a string)', Date],
    ['a Date object', () => new Date()],
    ['NaN', () => Number.NaN],
    ['a time before 1970', () => -1],
    ['epoch microseconds', () => Date.now() * 1_000],
  ])('rejects a clock that returns %s rather than epoch ms', (_, clock) => {
    expect(() => memoryStore({ clock: clock as () => number })).toThrow(configError('clock must return epoch ms'));
  });

  it('refuses a clock that throws when called, as a config error, not its own error', () => {
    // performance.now passed unbound throws an ERR_INVALID_THIS TypeError.
    expect(() => memoryStore({ clock: performance.now })).toThrow(configError('clock threw'));
    expect(() =>
      memoryStore({
        clock: () => {
          throw new Error('no time');
        },
      }),
    ).toThrow(configError('clock threw'));
  });

  it.each([
    ['checkPeriod', 'sweepIntervalMs'],
    ['max', 'maxEntries'],
    ['ttl', 'maxAgeMs'],
    ['dispose', 'onEvent'],
    ['noDisposeOnSet', 'onEvent'],
    ['stale', 'never returned'],
    ['serializer', 'JSON'],
  ])("refuses memorystore's option %s, saying what sess uses instead", (option, advice) => {
    const peer = { [option]: 1 } as unknown as MemoryStoreOptions;
    expect(() => memoryStore(peer)).toThrow(configError(`unknown option "${option}": `));
    expect(() => memoryStore(peer)).toThrow(configError(advice));
    // A hint, not the list of sess's options, which names no equivalent.
    expect(() => memoryStore(peer)).toThrow(expect.objectContaining({ message: expect.not.stringContaining('known options') }));
  });

  it('rejects an unknown option, naming the one meant', () => {
    const misspelt = { maxEntires: 10 } as unknown as MemoryStoreOptions;
    expect(() => memoryStore(misspelt)).toThrow(configError('unknown option "maxEntires": did you mean "maxEntries"?'));
  });

  it.each([
    ['null', null],
    ['a number', 5],
    ['an array', []],
  ])('rejects %s for options', (_, options) => {
    expect(() => memoryStore(options as unknown as MemoryStoreOptions)).toThrow(configError('needs an options object'));
  });
});

describe('LRU eviction at maxEntries', () => {
  it('evicts the least recently written record first', async () => {
    const store = memoryStore({ maxEntries: 3, sweepIntervalMs: 0 });
    for (const id of ['a', 'b', 'c', 'd']) await store.set(id, record({ id }), 60_000);
    expect(store.size).toBe(3);
    expect(await store.get('a')).toBeUndefined();
    for (const id of ['b', 'c', 'd']) expect((await store.get(id))?.data).toEqual({ id });
  });

  it('a get refreshes recency, so the next eviction skips the record just read', async () => {
    const store = memoryStore({ maxEntries: 3, sweepIntervalMs: 0 });
    for (const id of ['a', 'b', 'c']) await store.set(id, record({ id }), 60_000);
    await store.get('a');
    await store.set('d', record({ id: 'd' }), 60_000);
    expect(await store.get('b')).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect(await store.get(id)).toBeDefined();
  });

  it('a touch and an overwrite refresh recency too, and an overwrite at capacity evicts nothing', async () => {
    const store = memoryStore({ maxEntries: 3, sweepIntervalMs: 0 });
    for (const id of ['a', 'b', 'c']) await store.set(id, record({ id }), 60_000);
    await store.touch('a', record().meta, 60_000);
    await store.set('b', record({ id: 'b2' }), 60_000);
    expect(store.size).toBe(3);
    await store.set('d', record({ id: 'd' }), 60_000);
    expect(await store.get('c')).toBeUndefined();
    for (const id of ['a', 'b', 'd']) expect(await store.get(id)).toBeDefined();
  });

  it('over any run of writes, reads, touches, deletes and clears it holds exactly the most recently used records', async () => {
    // The model: ids ordered from least to most recently used, the oldest dropped past the limit.
    // Long runs matter: eviction reads the oldest key through a cursor that must stay right across
    // many evictions, re-inserts and V8's compaction of the table.
    const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: ids }),
      fc.record({ kind: fc.constant('get' as const), id: ids }),
      fc.record({ kind: fc.constant('touch' as const), id: ids }),
      fc.record({ kind: fc.constant('destroy' as const), id: ids }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 400, size: 'max' }), async (maxEntries, ops) => {
        const store = memoryStore({ maxEntries, sweepIntervalMs: 0 });
        let model: string[] = [];
        const use = (id: string) => (model = [...model.filter((held) => held !== id), id]);
        for (const step of ops) {
          if (step.kind === 'set') {
            await store.set(step.id, record({ id: step.id }), 60_000);
            use(step.id);
            if (model.length > maxEntries) model.shift();
          } else if (step.kind === 'get') {
            expect((await store.get(step.id))?.data).toEqual(model.includes(step.id) ? { id: step.id } : undefined);
            if (model.includes(step.id)) use(step.id);
          } else if (step.kind === 'touch') {
            await store.touch(step.id, record().meta, 60_000);
            if (model.includes(step.id)) use(step.id);
          } else if (step.kind === 'destroy') {
            await store.destroy(step.id);
            model = model.filter((held) => held !== step.id);
          } else {
            await store.clear();
            model = [];
          }
          expect(store.size).toBe(model.length);
        }
        const held = [];
        for await (const id of store.ids()) held.push(id);
        expect(held).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });

  it('records read back whole while the shapes of records gone are reclaimed and reused, over any run of saves and removals', async () => {
    // Every save with `fresh` and every delta save brings a shape never seen before. With 240
    // records of their own shapes held (the least recently used, evicted as the run writes), the
    // table stays nearly full: it reclaims and reuses numbers every few saves, and a number reused
    // while a record still held it would misread that record.
    const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
    const keys = fc.subarray(['x', 'y', 'z', 'userId']);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: ids, keys, fresh: fc.boolean() }),
      fc.record({ kind: fc.constant('delta' as const), id: ids, deleted: keys }),
      fc.record({ kind: fc.constant('get' as const), id: ids }),
      fc.record({ kind: fc.constant('touch' as const), id: ids, plain: fc.boolean() }),
      fc.record({ kind: fc.constant('destroy' as const), id: ids }),
      fc.constant({ kind: 'clear' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 600, size: 'max' }), async (room, ops) => {
        const maxEntries = 240 + room;
        const store = memoryStore({ maxEntries, sweepIntervalMs: 0 });
        const model = new Map<string, Record<string, unknown>>();
        const use = (id: string, data: Record<string, unknown>) => {
          model.delete(id);
          model.set(id, data);
          if (model.size > maxEntries) model.delete(model.keys().next().value as string);
        };
        for (let i = 0; i < 240; i += 1) {
          store.set(`held-${i}`, record({ [`held${i}`]: i }), 60_000);
          use(`held-${i}`, { [`held${i}`]: i });
        }
        let counter = 0;
        for (const step of ops) {
          counter += 1;
          if (step.kind === 'set') {
            const data = Object.fromEntries([...step.keys, ...(step.fresh ? [`fresh${counter}`] : [])].map((key) => [key, counter]));
            store.set(step.id, record(data), 60_000);
            use(step.id, data);
          } else if (step.kind === 'delta') {
            const stored = model.get(step.id);
            const written = store.set(step.id, record({ [`delta${counter}`]: counter }), 60_000, {
              set: [`delta${counter}`],
              deleted: step.deleted,
              created: false,
            });
            expect(written).toBe(stored !== undefined);
            if (stored === undefined) continue;
            const data = { ...stored, [`delta${counter}`]: counter };
            for (const key of step.deleted) delete data[key];
            use(step.id, data);
          } else if (step.kind === 'get') {
            const stored = model.get(step.id);
            expect(store.get(step.id)?.data).toEqual(stored);
            if (stored !== undefined) use(step.id, stored);
          } else if (step.kind === 'touch') {
            const meta = step.plain ? { ...record().meta, expiry: { kind: 'browser' as const } } : record().meta;
            const stored = model.get(step.id);
            expect(store.touch(step.id, meta, 60_000)).toBe(stored !== undefined);
            if (stored !== undefined) use(step.id, stored);
          } else if (step.kind === 'destroy') {
            await store.destroy(step.id);
            model.delete(step.id);
          } else {
            await store.clear();
            model.clear();
          }
        }
        for (const [id, data] of [...model]) expect(store.get(id)?.data).toEqual(data);
      }),
      { numRuns: 100 },
    );
  });

  it('once it has evicted, a store that holds fewer records does not keep the records it let go', async () => {
    // A flood fills the store once; then it serves ordinary traffic below the limit. The eviction
    // cursor must not keep every record written since (V8 keeps a Map's old tables, with what they
    // held, alive for an iterator that is not advanced): the heap would grow until the process dies.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = memoryStore({ maxEntries: 1_000, sweepIntervalMs: 0 });
    for (let i = 0; i <= 1_000; i += 1) store.set(`flood-${i}`, record(), 60_000);
    for (let i = 0; i <= 1_000; i += 1) await store.destroy(`flood-${i}`);
    const blob = 'x'.repeat(1_000);
    gc();
    const before = process.memoryUsage().heapUsed;
    // About 100 sessions at a time: each is created, read, and ends 100 sessions later.
    for (let i = 0; i < 20_000; i += 1) {
      store.set(`s-${i}`, record({ blob, i }), 60_000);
      store.get(`s-${i}`);
      await store.destroy(`s-${i - 100}`);
    }
    gc();
    // 20,000 records of 1 KB each: 20 MB if they were kept.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(4_000_000);
    expect(store.size).toBe(100);
  });

  it('a full store whose sessions are saved again and again, with no new one to evict for, does not keep the records replaced', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = memoryStore({ maxEntries: 1_000, sweepIntervalMs: 0 });
    const blob = 'x'.repeat(1_000);
    for (let i = 0; i <= 1_000; i += 1) store.set(`s-${i}`, record({ blob, i }), 60_000);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i += 1) store.set(`s-${1 + (i % 1_000)}`, record({ blob, i }), 60_000);
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(4_000_000);
    expect(store.size).toBe(1_000);
  });

  it('a read of a missing or expired id changes no recency', async () => {
    const clock = manualClock();
    const store = memoryStore({ maxEntries: 2, sweepIntervalMs: 0, clock: clock.now });
    await store.set('a', record(), 60_000);
    await store.set('b', record(), 1_000);
    clock.advance(1_000);
    expect(await store.get('missing')).toBeUndefined();
    expect(await store.get('b')).toBeUndefined();
    // The expired read freed b's slot, so c fits without evicting a.
    expect(store.size).toBe(1);
    await store.set('c', record(), 60_000);
    expect(await store.get('a')).toBeDefined();
  });
});

describe('expired records go before live ones at maxEntries', () => {
  it('a full store holding expired records evicts none of its live records for a new one', async () => {
    const clock = manualClock();
    const store = memoryStore({ maxEntries: 4, sweepIntervalMs: 0, clock: clock.now });
    await store.set('live-a', record({ userId: 'u1' }), 60_000);
    await store.set('short-1', record({ userId: 'u2' }), 1_000);
    await store.set('short-2', record(), 1_000);
    await store.set('live-b', record(), 60_000);
    clock.advance(1_000);
    // live-a is the least recently used record, and live: before, it was evicted, and the user signed out.
    await store.set('new-1', record(), 60_000);
    await store.set('new-2', record(), 60_000);
    for (const id of ['live-a', 'live-b', 'new-1', 'new-2']) expect(await store.get(id), id).toBeDefined();
    expect(store.size).toBe(4);
    expect(await store.sessionsOf('u2')).toEqual([]);
  });

  it('a full store with nothing expired still evicts the least recently used record, even one about to expire', async () => {
    const clock = manualClock();
    const store = memoryStore({ maxEntries: 2, sweepIntervalMs: 0, clock: clock.now });
    await store.set('a', record(), 60_000);
    await store.set('b', record(), 1_000);
    clock.advance(999);
    await store.set('c', record(), 60_000);
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('b')).toBeDefined();
    expect(await store.get('c')).toBeDefined();
  });

  it('looks for expired records past the least recently used one at most once per maxEntries/16 writes to a full store', async () => {
    // 160 records: one search per 10 full writes. A search drops every expired record, so the size
    // shows when one ran: below the limit, with room for the record written.
    const clock = manualClock();
    const store = memoryStore({ maxEntries: 160, sweepIntervalMs: 0, clock: clock.now });
    for (let i = 0; i < 150; i += 1) await store.set(`old-${i}`, record(), 3_600_000);
    for (let i = 0; i < 10; i += 1) await store.set(`short-${i}`, record(), 1_000);
    clock.advance(1_000);
    // The first full write searches at once.
    await store.set('new-0', record(), 3_600_000);
    expect(store.size).toBe(151);
    for (let i = 1; i < 10; i += 1) await store.set(`new-${i}`, record(), 3_600_000);
    // Full again; two full writes add records that then expire behind live ones.
    await store.set('gone-1', record(), 1_000);
    await store.set('gone-2', record(), 1_000);
    clock.advance(1_000);
    const sizes = [];
    for (let i = 0; i < 9; i += 1) {
      await store.set(`later-${i}`, record(), 3_600_000);
      sizes.push(store.size);
    }
    // Full writes 3 to 9 since the last search evict the least recently used record, live as it is;
    // the 10th searches and frees both expired ones.
    expect(sizes).toEqual([160, 160, 160, 160, 160, 160, 160, 159, 160]);
    expect(await store.get('old-0')).toBeUndefined();
    expect(await store.get('old-8')).toBeUndefined();
    expect(await store.get('old-9')).toBeDefined();
  });

  it('over any run of writes with short and long TTLs, reads, touches, deletes and time passing, a small store evicts a live record only when it holds no expired one', async () => {
    // Up to 16 records, a full write may search every time: the store then matches this model
    // exactly. The searches make the eviction cursor start again, which must stay right.
    const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const ttl = fc.constantFrom(1_000, 60_000);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: ids, ttl }),
      fc.record({ kind: fc.constant('get' as const), id: ids }),
      fc.record({ kind: fc.constant('touch' as const), id: ids, ttl }),
      fc.record({ kind: fc.constant('destroy' as const), id: ids }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(500, 1_000, 30_000) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 400, size: 'max' }), async (maxEntries, ops) => {
        const clock = manualClock();
        const store = memoryStore({ maxEntries, sweepIntervalMs: 0, clock: clock.now });
        // Least to most recently used, with expiry times.
        let model: { id: string; expiresAt: number }[] = [];
        const expired = (held: { expiresAt: number }) => clock.now() >= held.expiresAt;
        const remove = (id: string) => (model = model.filter((held) => held.id !== id));
        const find = (id: string) => {
          const held = model.find((entry) => entry.id === id);
          if (held !== undefined && expired(held)) remove(id);
          return held !== undefined && !expired(held) ? held : undefined;
        };
        const use = (id: string, expiresAt: number) => {
          remove(id);
          model.push({ id, expiresAt });
        };
        for (const step of ops) {
          if (step.kind === 'set') {
            find(step.id);
            use(step.id, clock.now() + step.ttl);
            if (model.length > maxEntries) {
              if (!expired(model[0]!)) model = model.filter((held) => !expired(held));
              if (model.length > maxEntries) model.shift();
            }
            await store.set(step.id, record({ id: step.id }), step.ttl);
          } else if (step.kind === 'get') {
            const held = find(step.id);
            expect((await store.get(step.id))?.data).toEqual(held === undefined ? undefined : { id: step.id });
            if (held !== undefined) use(step.id, held.expiresAt);
          } else if (step.kind === 'touch') {
            const held = find(step.id);
            expect(await store.touch(step.id, record().meta, step.ttl)).toBe(held !== undefined);
            if (held !== undefined) use(step.id, clock.now() + step.ttl);
          } else if (step.kind === 'destroy') {
            await store.destroy(step.id);
            remove(step.id);
          } else if (step.kind === 'advance') {
            clock.advance(step.ms);
          } else {
            await store.clear();
            model = [];
          }
          expect(store.size).toBe(model.length);
        }
        const held = [];
        for await (const id of store.ids()) held.push(id);
        expect(held).toEqual(model.filter((entry) => !expired(entry)).map((entry) => entry.id));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the sweep', () => {
  it('removes expired records that nobody reads, and only those', async () => {
    vi.useFakeTimers();
    const clock = manualClock();
    const store = memoryStore({ sweepIntervalMs: 1_000, clock: clock.now });
    await store.set('short', record(), 500);
    await store.set('long', record(), 5_000);
    clock.advance(600);
    expect(store.size).toBe(2);
    vi.advanceTimersByTime(999);
    expect(store.size).toBe(2);
    vi.advanceTimersByTime(1);
    expect(store.size).toBe(1);
    expect(await store.get('long')).toBeDefined();
    await store.close();
  });

  it('a clock that throws skips a sweep instead of ending the process, and requests get its error', async () => {
    vi.useFakeTimers();
    const clock = manualClock();
    let broken = false;
    const store = memoryStore({
      sweepIntervalMs: 1_000,
      clock: () => {
        if (broken) throw new Error('clock unavailable');
        return clock.now();
      },
    });
    await store.set('short', record(), 500);
    clock.advance(600);
    broken = true;
    // A throw from a timer callback is an uncaught exception: it would end the process.
    expect(() => vi.advanceTimersByTime(1_000)).not.toThrow();
    expect(() => store.get('short')).toThrow('clock unavailable');
    broken = false;
    vi.advanceTimersByTime(1_000);
    expect(store.size).toBe(0);
    await store.close();
  });

  it('a clock that later returns NaN fails the request instead of deleting the records it reads or writing dead ones', async () => {
    const clock = manualClock();
    let broken = false;
    const store = memoryStore({ sweepIntervalMs: 0, clock: () => (broken ? Number.NaN : clock.now()) });
    await store.set('a', record({ n: 1 }), 60_000);
    broken = true;
    expect(() => store.get('a')).toThrow(TypeError);
    expect(() => store.set('b', record(), 60_000)).toThrow(TypeError);
    expect(() => store.touch('a', record().meta, 60_000)).toThrow(TypeError);
    broken = false;
    expect((await store.get('a'))?.data).toEqual({ n: 1 });
    expect(store.size).toBe(1);
  });

  it.each([
    ['jumps to epoch microseconds', Date.UTC(2026, 0, 1) * 1_000],
    ['steps back before 1970', -1],
  ])('a clock that later %s fails the call and skips the sweep instead of deleting the records', async (_, wrong) => {
    vi.useFakeTimers();
    const clock = manualClock();
    let broken = false;
    const store = memoryStore({ sweepIntervalMs: 1_000, clock: () => (broken ? wrong : clock.now()) });
    await store.set('a', record({ n: 1 }), 60_000);
    broken = true;
    expect(() => vi.advanceTimersByTime(1_000)).not.toThrow();
    expect(() => store.get('a')).toThrow(TypeError);
    expect(() => store.set('b', record(), 60_000)).toThrow(TypeError);
    broken = false;
    expect(store.size).toBe(1);
    expect((await store.get('a'))?.data).toEqual({ n: 1 });
    await store.close();
  });

  it('a store dropped without close() (the default store an adapter makes, which nobody can close) is collected with its records, and its timer stops', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    gc();
    const before = process.memoryUsage().heapUsed;
    (() => {
      const store = memoryStore({ sweepIntervalMs: 1_000 });
      for (let i = 0; i < 1_000; i += 1) store.set(`s-${i}`, record({ blob: 'x'.repeat(10_000), i }), 60_000);
    })();
    // 1,000 records of 10 KB each: 10 MB if they were kept. A WeakRef keeps its target alive
    // until the job that made it ends, and records made while V8 was marking are allocated
    // marked, so one collection may keep them: a few turns, each with a collection, until freed.
    let kept = Number.POSITIVE_INFINITY;
    for (let turn = 0; turn < 5 && kept >= 2_000_000; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      kept = process.memoryUsage().heapUsed - before;
    }
    expect(kept).toBeLessThan(2_000_000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a store that is held keeps sweeping after a garbage collection', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = manualClock();
    const store = memoryStore({ sweepIntervalMs: 1_000, clock: clock.now });
    await store.set('short', record(), 500);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    clock.advance(600);
    vi.advanceTimersByTime(1_000);
    expect(store.size).toBe(0);
    expect(vi.getTimerCount()).toBe(1);
    await store.close();
  });

  it('does not run when sweepIntervalMs is 0', () => {
    vi.useFakeTimers();
    memoryStore({ sweepIntervalMs: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close stops the sweep, and closing twice is fine', async () => {
    vi.useFakeTimers();
    const clock = manualClock();
    const store = memoryStore({ sweepIntervalMs: 1_000, clock: clock.now });
    expect(vi.getTimerCount()).toBe(1);
    await store.set('short', record(), 500);
    clock.advance(600);
    await store.close();
    await store.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(store.size).toBe(1);
    // Still usable after close: expired records are dropped on read, just not swept.
    expect(await store.get('short')).toBeUndefined();
    expect(store.size).toBe(0);
  });
});

describe('records are JSON', () => {
  it('rejects data JSON cannot hold and keeps the stored record', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    await store.set('a', record({ n: 1 }), 60_000);
    // The app's bug, not the store's failure: core answers it 500, not 503.
    expect(() => store.set('a', record({ n: 1n }), 60_000)).toThrow(SessUsageError);
    expect(() => store.set('a', record({ n: 1n }), 60_000)).toThrow('session data is not JSON: key "n" holds a BigInt');
    expect((await store.get('a'))?.data).toEqual({ n: 1 });
  });

  it('drops undefined values, as JSON does', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    await store.set('a', record({ gone: undefined, kept: null }), 60_000);
    const data = (await store.get('a'))?.data ?? {};
    expect(Object.keys(data)).toEqual(['kept']);
  });

  it('a plain record (per-session expiry, retired) reads back whole, as fresh copies, with one parse', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    const expiry = { kind: 'duration', ms: 5_000 } as const;
    const kept = makeRecord({ cart: [1, 2], user: { name: 'ada' } }, Date.UTC(2026, 0, 1), { expiry, retired: true });
    await store.set('a', kept, 60_000);
    const parse = vi.spyOn(JSON, 'parse');
    const first = (await store.get('a')) as unknown as { data: { cart: number[]; user: { name: string } }; meta: Record<string, unknown> };
    // A plain record holds meta and data in one JSON text: reading both parses it once.
    expect(parse).toHaveBeenCalledTimes(1);
    parse.mockRestore();
    expect(first).toEqual(kept);
    first.data.cart.push(3);
    first.data.user.name = 'eve';
    first.meta.expiry = { kind: 'browser' };
    delete first.meta.retired;
    expect(await store.get('a')).toEqual(kept);
  });
});

describe('edge cases of ttl and ids', () => {
  it('a NaN TTL deletes instead of keeping the record forever', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    await store.set('a', record(), 60_000);
    await store.set('a', record(), Number.NaN);
    expect(await store.get('a')).toBeUndefined();
  });

  it('a TTL that is no number (a string, undefined, a bigint) ends the record, as NaN does, instead of throwing or never expiring', async () => {
    const clock = manualClock();
    const store = memoryStore({ sweepIntervalMs: 0, clock: clock.now });
    for (const ttlMs of ['60000', undefined, 60_000n, { valueOf: () => 60_000 }, [60_000]] as unknown as number[]) {
      await store.set('a', record(), 60_000);
      expect(store.set('a', record(), ttlMs), `set with ttlMs ${String(ttlMs)}`).toBe(true);
      expect(await store.get('a'), `an existing record after set with ttlMs ${String(ttlMs)}`).toBeUndefined();
      expect(store.set('b', record(), ttlMs)).toBe(true);
      expect(await store.get('b'), `a new id after set with ttlMs ${String(ttlMs)}`).toBeUndefined();
      await store.set('a', record(), 60_000);
      expect(store.touch('a', record().meta, ttlMs), `touch with ttlMs ${String(ttlMs)}`).toBe(true);
      expect(await store.get('a'), `after touch with ttlMs ${String(ttlMs)}`).toBeUndefined();
      expect(store.touch('missing', record().meta, ttlMs)).toBe(false);
    }
    expect(store.size).toBe(0);
  });

  it('a positive TTL under 1 ms still writes a record that reads back at once, as set and touch promise', async () => {
    const clock = manualClock();
    const store = memoryStore({ sweepIntervalMs: 0, clock: clock.now });
    expect(await store.set('a', record(), 0.5)).toBe(true);
    expect(await store.get('a')).toBeDefined();
    expect(await store.touch('a', record().meta, 0.5)).toBe(true);
    expect(await store.get('a')).toBeDefined();
    clock.advance(1);
    expect(await store.get('a')).toBeUndefined();
  });

  it('touch with a TTL of zero or less ends the record, as set does', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    await store.set('a', record(), 60_000);
    await store.touch('a', record().meta, 0);
    expect(await store.get('a')).toBeUndefined();
  });

  it('ids tolerates writes during iteration and never yields a destroyed id', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    for (const id of ['a', 'b', 'c']) await store.set(id, record(), 60_000);
    const seen: string[] = [];
    for await (const id of store.ids()) {
      seen.push(id);
      if (id === 'a') {
        await store.destroy('b');
        await store.get('a');
      }
    }
    expect(seen).toEqual(['a', 'c']);
  });

  it('clear empties the store', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    for (const id of ['a', 'b']) await store.set(id, record(), 60_000);
    await store.clear();
    expect(store.size).toBe(0);
  });
});

describe('refused writes', () => {
  it('a refused save or touch changes nothing: not the record, its recency, nor the user index', async () => {
    const store = memoryStore({ maxEntries: 2, sweepIntervalMs: 0 });
    const retired = makeRecord({ userId: 'u1' }, Date.UTC(2026, 0, 1), { retired: true });
    await store.set('retired', retired, 60_000);
    await store.set('other', record(), 60_000);
    expect(await store.set('retired', record({ userId: 'u2' }), 60_000)).toBe(false);
    expect(await store.set('retired', record({ userId: 'u2' }), 60_000, { set: ['userId'], deleted: [], created: false })).toBe(false);
    expect(await store.touch('retired', record().meta, 60_000)).toBe(false);
    // A lifetime of zero or less does not get round the retired rule: the record stays.
    expect(await store.touch('retired', record().meta, 0)).toBe(false);
    expect(await store.sessionsOf('u2')).toEqual([]);
    expect((await store.sessionsOf('u1')).map((session) => session.id)).toEqual(['retired']);
    // Still the least recently used: the next new record evicts it, not "other".
    await store.set('third', record(), 60_000);
    expect(await store.get('retired')).toBeUndefined();
    expect(await store.get('other')).toBeDefined();
  });
});

describe('sessions of a user', () => {
  const signedIn = (userId: unknown) => record({ userId });

  it('an evicted session leaves the user index with it', async () => {
    const store = memoryStore({ maxEntries: 2, sweepIntervalMs: 0 });
    await store.set('a', signedIn('u1'), 60_000);
    await store.set('b', signedIn('u1'), 60_000);
    await store.set('c', record(), 60_000);
    expect((await store.sessionsOf('u1')).map((session) => session.id)).toEqual(['b']);
  });

  it('indexes only non-empty string user ids, under userIdKey', async () => {
    const store = memoryStore({ sweepIntervalMs: 0, userIdKey: 'account' });
    await store.set('a', signedIn('u1'), 60_000);
    await store.set('b', record({ account: 'u1' }), 60_000);
    await store.set('c', record({ account: 42 }), 60_000);
    await store.set('d', record({ account: '' }), 60_000);
    expect((await store.sessionsOf('u1')).map((session) => session.id)).toEqual(['b']);
  });

  it('userIdKey: false turns the index off', async () => {
    const store = memoryStore({ sweepIntervalMs: 0, userIdKey: false });
    expect(store.capabilities.userIndex).toBe(false);
    await store.set('a', signedIn('u1'), 60_000);
    expect(await store.sessionsOf('u1')).toEqual([]);
    expect(await store.revokeUser('u1')).toBe(0);
    expect(() => memoryStore({ userIdKey: '' })).toThrow(configError('userIdKey must be a non-empty string or false'));
  });

  it('revokeUser destroys the sessions it lists in the same step, not one that meanwhile names another user', async () => {
    const store = memoryStore({ sweepIntervalMs: 0 });
    await store.set('a', signedIn('u1'), 60_000);
    const revoking = store.revokeUser('u1');
    // A request that signs session "a" in as u2 runs before the revocation's promise settles.
    await store.set('a', signedIn('u2'), 60_000);
    expect(await revoking).toBe(1);
    expect((await store.get('a'))?.data).toEqual({ userId: 'u2' });
    expect((await store.sessionsOf('u2')).map((session) => session.id)).toEqual(['a']);
  });

  it('the sweep and clear empty the index too', async () => {
    vi.useFakeTimers();
    const clock = manualClock();
    const store = memoryStore({ sweepIntervalMs: 1_000, clock: clock.now });
    await store.set('short', signedIn('u1'), 500);
    await store.set('long', signedIn('u2'), 60_000);
    clock.advance(600);
    vi.advanceTimersByTime(1_000);
    expect(await store.sessionsOf('u1')).toEqual([]);
    await store.clear();
    expect(await store.sessionsOf('u2')).toEqual([]);
    await store.close();
  });
});
