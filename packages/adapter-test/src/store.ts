/**
 * The suite's store: the memory store on the suite's clock, wrapped so a case can count calls
 * and make an operation fail. It is the store the adapter is given, so what a case sees here is
 * what the adapter did.
 */
import type { SessionRecord, Store, StoreOperation } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import type { MemoryStore } from '@sess/store-memory';

export interface FakeClock {
  readonly now: () => number;
  advance(ms: number): void;
}

/** A clock that moves only when told; starts at a fixed instant so cookie dates are stable. */
export function fakeClock(start = Date.UTC(2026, 0, 15, 12, 0, 0)): FakeClock {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

export interface InspectableStore extends Store {
  /** Calls per operation since the store was made. */
  readonly calls: Record<StoreOperation, number>;
  /** Operations that reject until removed from the set. */
  readonly failing: Set<StoreOperation>;
  /** Records held right now (expired ones included until read). */
  readonly size: number;
  /** The record as stored, read without counting a call. */
  peek(id: string): Promise<SessionRecord | undefined>;
  close(): Promise<void>;
}

export function inspectableStore(clock: FakeClock): InspectableStore {
  const inner: MemoryStore = memoryStore({ clock: clock.now, sweepIntervalMs: 0 });
  const calls: Record<StoreOperation, number> = { get: 0, set: 0, destroy: 0, touch: 0 };
  const failing = new Set<StoreOperation>();
  const guard = <T>(op: StoreOperation, run: () => Promise<T>): Promise<T> => {
    calls[op] += 1;
    return failing.has(op) ? Promise.reject(new Error(`injected ${op} failure`)) : run();
  };
  return {
    name: 'inspectable memory',
    capabilities: inner.capabilities,
    calls,
    failing,
    get size() {
      return inner.size;
    },
    get: (id) => guard('get', () => inner.get(id)),
    set: (id, record, ttlMs, changes) => guard('set', () => inner.set(id, record, ttlMs, changes)),
    destroy: (id) => guard('destroy', () => inner.destroy(id)),
    touch: (id, meta, ttlMs) => guard('touch', () => inner.touch(id, meta, ttlMs)),
    peek: (id) => inner.get(id),
    close: () => inner.close(),
  };
}
