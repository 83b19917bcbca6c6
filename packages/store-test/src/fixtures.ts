import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionData, SessionMeta, SessionRecord, Store } from '@sess/core';
import type { CheckContext } from './check.js';

/** An hour: long enough that no check's record expires by accident. */
const DEFAULT_LIFETIME_MS = 3_600_000;

/**
 * A record whose meta starts at `now`. Stores treat meta as opaque data (they expire records by
 * `ttlMs`, not by `meta.expiresAt`), so any `now` works; `meta` overrides single fields.
 */
export function makeRecord(data: SessionData, now: number, meta: Partial<SessionMeta> = {}): SessionRecord {
  return {
    data,
    meta: { createdAt: now, touchedAt: now, expiresAt: now + DEFAULT_LIFETIME_MS, ...meta },
  };
}

/** A fresh id per record, so no check sees another's data even on a shared backend. */
export function freshId(label = 'id'): string {
  return `st-${label}-${randomUUID()}`;
}

/**
 * TTLs for checks that let time pass. With a clock they are realistic; in real time they are as
 * short as a busy CI machine allows: `short` expires quickly, `long` comfortably outlives the
 * polling that waits for `short`.
 */
export function ttls(t: CheckContext): { readonly short: number; readonly long: number } {
  return t.clock === undefined ? { short: 100, long: 1_500 } : { short: 60_000, long: 600_000 };
}

/**
 * TTLs that are no number, each with how a message names it. `ttlMs > 0` holds for all but
 * undefined, so a store that checks only that keeps the record (for ever where `now + "60000"`
 * makes a string) or throws (`now + 60000n`); a store ends it instead, as for a TTL of zero.
 */
export const NON_NUMBER_TTLS: readonly { readonly label: string; readonly ttlMs: number }[] = [
  { label: 'the string "60000"', ttlMs: '60000' as unknown as number },
  { label: 'undefined', ttlMs: undefined as unknown as number },
  { label: 'the bigint 60000n', ttlMs: 60_000n as unknown as number },
  { label: 'an object whose valueOf is 60000', ttlMs: { valueOf: () => 60_000 } as unknown as number },
];

/** Moves the store's time forward with the suite's clock; in real time it does nothing. */
export async function advance(t: CheckContext, ms: number): Promise<void> {
  if (t.clock !== undefined) await t.clock.advance(ms);
}

/** How long real-time checks wait for an expiry beyond the TTL itself before failing. */
const REAL_TIME_GRACE_MS = 2_000;
const POLL_INTERVAL_MS = 10;

/**
 * Resolves once `id` is gone, given that it was last written with `ttlMs` "now". With a clock it
 * advances just past the TTL (the exact boundary is left to the store) and checks once; in real
 * time it polls `get` until the record disappears and fails after the TTL plus a grace period.
 * The wait ends on what the store reports, never on a fixed sleep.
 */
export async function expireAndExpectGone(t: CheckContext, id: string, ttlMs: number): Promise<void> {
  if (t.clock !== undefined) {
    await t.clock.advance(ttlMs + 1);
    if ((await t.store.get(id)) !== undefined) {
      throw new Error(`record "${id}" is still returned after its TTL of ${ttlMs} ms passed on the clock`);
    }
    return;
  }
  const deadline = Date.now() + ttlMs + REAL_TIME_GRACE_MS;
  while ((await t.store.get(id)) !== undefined) {
    if (Date.now() > deadline) {
      throw new Error(`record "${id}" is still returned ${ttlMs + REAL_TIME_GRACE_MS} ms after a TTL of ${ttlMs} ms`);
    }
    // Only paces the polling; the loop ends on what `get` returns. node:timers/promises is not
    // replaced by `vi.useFakeTimers`, so a fake-timer test cannot freeze this loop.
    await sleep(POLL_INTERVAL_MS);
  }
}

/** Collects `store.ids()`; callers check `ids` exists first. */
export async function collectIds(store: Store): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of requireMethod(store, 'ids')()) ids.push(id);
  return ids;
}

type OptionalMethod = 'touch' | 'ids' | 'clear' | 'close';

/** An optional method bound to its store; throws if absent (checks skip before this can happen). */
export function requireMethod<K extends OptionalMethod>(store: Store, name: K): NonNullable<Store[K]> {
  const method = store[name];
  if (typeof method !== 'function') throw new Error(`store "${store.name}" has no ${name}()`);
  return method.bind(store) as NonNullable<Store[K]>;
}

/** A skip reason for checks that need an optional method. */
export function lacks(name: OptionalMethod): (store: Store) => string | undefined {
  return (store) => (typeof store[name] === 'function' ? undefined : `store has no ${name}(), which is optional`);
}

/** A skip reason for checks that need `capabilities.deltaWrites`. */
export function lacksDeltaWrites(store: Store): string | undefined {
  return store.capabilities.deltaWrites ? undefined : 'store does not declare capabilities.deltaWrites';
}

/** A skip reason for checks that must hold the store's time still (an exact boundary, say). */
export function needsClock(_store: Store, t?: CheckContext): string | undefined {
  return t?.clock === undefined ? 'needs the clock option: real time cannot be stopped at an exact instant' : undefined;
}

/** A skip reason for checks that need a second store in another namespace. */
export function needsSibling(_store: Store, t?: CheckContext): string | undefined {
  return t?.sibling === undefined ? 'no createSibling given: the store was not run beside a second one in another namespace' : undefined;
}

/** A skip reason for checks of `sessionsOf`/`revokeUser`; a store that declares them but lacks them fails the lifecycle check. */
export function lacksUserIndex(store: Store): string | undefined {
  if (store.capabilities.userIndex !== true) return 'store does not declare capabilities.userIndex';
  if (typeof store.sessionsOf !== 'function' || typeof store.revokeUser !== 'function') {
    return 'store declares capabilities.userIndex but lacks sessionsOf() or revokeUser() (see "shape and close")';
  }
  return undefined;
}
