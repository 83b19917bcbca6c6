/**
 * The suite's store: the memory store on the suite's clock, wrapped so a case can count calls
 * and make an operation fail. It is the store the adapter is given, so what a case sees here is
 * what the adapter did.
 */
import type { SessionMeta, SessionRecord, Store, StoreOperation } from '@sess/core';
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
  /** Operations that never settle until removed from the set (the store timeout must fire). */
  readonly hanging: Set<StoreOperation>;
  /**
   * Extra ms the store keeps each record beyond the TTL it was asked for (a store whose expiry
   * lags, as Redis's lazy expiry or a replica can): the core must still treat the record as gone.
   */
  lagMs: number;
  /** Makes `get(id)` answer `raw` as it is (corrupt or foreign data), counted as a call. */
  plant(id: string, raw: unknown): void;
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
  const hanging = new Set<StoreOperation>();
  const planted = new Map<string, unknown>();
  // Every answer a promise, whatever the memory store inside does: the adapters' tests run sess
  // on a store that answers asynchronously, as Redis and PostgreSQL do. The one exception: the
  // memory store throws at once for data JSON cannot hold, and that throw leaves the call as it
  // is; sess takes a store's throw as a failed call, as it takes a rejection.
  const guard = <T>(op: StoreOperation, run: () => T | Promise<T>): Promise<T> => {
    calls[op] += 1;
    if (hanging.has(op)) return new Promise<T>(() => undefined);
    return failing.has(op) ? Promise.reject(new Error(`injected ${op} failure`)) : Promise.resolve(run());
  };
  const store: InspectableStore = {
    name: 'inspectable memory',
    capabilities: inner.capabilities,
    calls,
    failing,
    hanging,
    lagMs: 0,
    plant(id: string, raw: unknown) {
      planted.set(id, raw);
    },
    get size() {
      return inner.size + planted.size;
    },
    get: (id: string) => guard('get', () => (planted.has(id) ? (planted.get(id) as SessionRecord) : inner.get(id))),
    set: (id: string, record: SessionRecord, ttlMs: number, changes?: Parameters<Store['set']>[3]) =>
      guard('set', () => {
        planted.delete(id);
        return inner.set(id, record, ttlMs + store.lagMs, changes);
      }),
    destroy: (id: string) =>
      guard('destroy', () => {
        planted.delete(id);
        return inner.destroy(id);
      }),
    touch: (id: string, meta: SessionMeta, ttlMs: number) => guard('touch', () => inner.touch(id, meta, ttlMs + store.lagMs)),
    peek: (id) => Promise.resolve(inner.get(id)),
    close: () => inner.close(),
  };
  return store;
}
