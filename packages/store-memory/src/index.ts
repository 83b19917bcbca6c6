/**
 * `@sess/store-memory`: the embedded default store. Bounded (LRU past `maxEntries`), expires
 * records by TTL, and copies records on the way in and out. One process only: records are not
 * shared between processes or kept across restarts; use `@sess/store-redis` for that.
 *
 * ```ts
 * import { memoryStore } from '@sess/store-memory';
 * app.use(session({ secret, store: memoryStore({ maxEntries: 10_000 }) }));
 * ```
 */
import { recordCodec } from './record.js';
import type { RevokeUserOptions, SessionChanges, SessionData, SessionMeta, SessionRecord, Store, UserSession } from '@sess/core';
import { SessConfigError, checkOptionKeys } from '@sess/core';
import { hasLife, indexedUserId, isEpochMs, ownValue, revokeUserExcept, setOwnValue } from '@sess/core/store';

export interface MemoryStoreOptions {
  /**
   * Most records held; a write past it drops an expired record if it finds one, else evicts the
   * least recently used record. Default 100,000,
   * about 17 MB of heap for small 5-key sessions (measured on Node 20): express-session's
   * MemoryStore has no bound, so a flood of new sessions grows it until the process dies.
   */
  readonly maxEntries?: number;
  /**
   * How often expired records are deleted, in ms; 0 turns the sweep off. Default 60,000: expired
   * records are never returned either way, the sweep only frees their memory.
   */
  readonly sweepIntervalMs?: number;
  /** The current time in epoch ms. Default `Date.now`; tests pass a fake clock. */
  readonly clock?: () => number;
  /**
   * The data key whose string value is the user id for `sessionsOf`/`revokeUser`. Default
   * `'userId'`; `false` turns the index off.
   */
  readonly userIdKey?: string | false;
}

/**
 * A `Store` whose optional methods are all present, plus `size`. The methods a request calls
 * answer synchronously (a request on this store takes no promise step in sess); `destroy` and
 * the admin methods return promises.
 */
export interface MemoryStore extends Store {
  get(id: string): SessionRecord | undefined;
  set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): boolean;
  touch(id: string, meta: SessionMeta, ttlMs: number): boolean;
  destroy(id: string): Promise<void>;
  ids(): AsyncIterable<string>;
  clear(): Promise<void>;
  close(): Promise<void>;
  sessionsOf(userId: string): Promise<UserSession[]>;
  revokeUser(userId: string, options?: RevokeUserOptions): Promise<number>;
  /** Records held, including expired ones neither the sweep nor a read has removed yet. */
  readonly size: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** setInterval clamps longer delays to 1 ms (TimeoutOverflowWarning), which would sweep nonstop. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
/**
 * A full store searches all its records for expired ones at most once per maxEntries/16 writes
 * past the limit: about 16 expiry checks a write, spread, rather than maxEntries on each.
 */
const FULL_SEARCH_SPREAD = 16;

/** Writes a delta on top of the stored data (a decoded copy the caller owns). */
function applyChanges(stored: Record<string, unknown>, data: SessionData, changes: SessionChanges): SessionData {
  for (const key of changes.set) {
    // A listed key missing from `data` reads as undefined, which JSON.stringify drops, so it
    // ends up deleted.
    setOwnValue(stored, key, ownValue(data, key));
  }
  // `delete` only removes own properties, so deleting "__proto__" cannot reach the prototype.
  for (const key of changes.deleted) delete stored[key];
  return stored;
}

/** The user id `data` names under `key`: a non-empty string, or undefined. */
function userIdIn(data: SessionData, key: string | false): string | undefined {
  if (key === false) return undefined;
  return indexedUserId(ownValue(data, key));
}

const KNOWN_OPTIONS: readonly (keyof MemoryStoreOptions)[] = ['maxEntries', 'sweepIntervalMs', 'clock', 'userIdKey'];

/** Options of `memorystore`, the peer an app moving to sess is likely to bring, and what sess has instead. */
const HINTS: Readonly<Record<string, string>> = {
  checkPeriod: 'use sweepIntervalMs (ms between sweeps of expired records; 0 turns it off)',
  max: 'use maxEntries (most records held; past it, an expired record goes first, else the least recently used)',
  ttl: 'the lifetime comes from the session options (maxAgeMs, idleTimeoutMs); the store keeps the TTL core passes',
  dispose: 'the store calls nothing when a record goes; the session option onEvent reports destroyed and expired sessions',
  noDisposeOnSet: 'the store calls nothing when a record goes; the session option onEvent reports destroyed and expired sessions',
  stale: 'an expired record is never returned',
  serializer: 'records are kept as JSON; there is no serializer',
};

function checkOptions(maxEntries: number, sweepIntervalMs: number, clock: unknown, userIdKey: unknown): void {
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new SessConfigError(`memoryStore: maxEntries must be a positive integer, got ${String(maxEntries)}`);
  }
  // Under 1 ms, Node runs the timer every 1 ms: a sweep of the whole store a thousand times a second.
  if (!Number.isFinite(sweepIntervalMs) || (sweepIntervalMs !== 0 && sweepIntervalMs < 1) || sweepIntervalMs > MAX_TIMER_DELAY_MS) {
    throw new SessConfigError(`memoryStore: sweepIntervalMs must be 0 (off) or 1..${MAX_TIMER_DELAY_MS}, got ${String(sweepIntervalMs)}`);
  }
  if (userIdKey !== false && (typeof userIdKey !== 'string' || userIdKey === '')) {
    throw new SessConfigError('memoryStore: userIdKey must be a non-empty string or false');
  }
  if (typeof clock !== 'function') throw new SessConfigError('memoryStore: clock must be a function returning epoch ms');
  // Read once now: a clock that returns something else (`Date` rather than `Date.now`, a Date
  // object, microseconds) would make every record dead, or never dead, from its first write.
  let now: unknown;
  try {
    now = clock();
  } catch (error) {
    // `performance.now` passed unbound throws, say: a bad option, reported as one.
    const detail = error instanceof Error ? `: ${error.message}` : '';
    throw new SessConfigError(`memoryStore: clock threw when called, so it cannot tell epoch ms${detail}`);
  }
  // Records keep times below 2^48 ms too (see record.ts).
  if (!isEpochMs(now)) {
    throw new SessConfigError(`memoryStore: clock must return epoch ms (0 up to 2^48), got ${String(now)}`);
  }
}

/** What the sweep timer reaches a store through; `timer` is kept for `close`. */
interface Sweeping {
  readonly sweep: () => void;
  timer: ReturnType<typeof setInterval> | undefined;
}

/**
 * Sweeps every `intervalMs` for as long as the store holds `sweeping`, which the timer holds only
 * weakly. Made here, not in `memoryStore`: a callback made there would hold the store's whole
 * scope, so a store dropped without `close()` (the default store an adapter makes when given
 * none, which nobody can close) would keep its records and its timer for the life of the process.
 */
function startSweeping(sweeping: Sweeping, intervalMs: number): void {
  const held = new WeakRef(sweeping);
  const timer = setInterval(() => {
    const target = held.deref();
    if (target === undefined) clearInterval(timer);
    else target.sweep();
  }, intervalMs);
  // A store nobody closed must not keep the process alive after the server stops.
  timer.unref();
  sweeping.timer = timer;
}

/**
 * Makes an in-process session store, bounded by `maxEntries`.
 *
 * @throws SessConfigError for unknown or bad options, at construction.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  checkOptionKeys(options, KNOWN_OPTIONS, 'memoryStore()', HINTS);
  const { maxEntries = DEFAULT_MAX_ENTRIES, sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS, clock = Date.now, userIdKey = 'userId' } = options;
  checkOptions(maxEntries, sweepIntervalMs, clock, userIdKey);

  // A Map iterates in insertion order, so re-inserting on every access keeps the least recently
  // used record first: eviction takes the first key, and every access costs O(1). Each value is
  // one string (see record.ts): strings are immutable, so encoding is the copy in and decoding
  // the copy out, and nothing the caller holds can alias what is stored.
  const entries = new Map<string, string>();
  const codec = recordCodec();
  // Session ids per user, and each indexed session's user, so a removal needs no decoding.
  // Every removal from `entries` goes through `drop`, which keeps both exact.
  const byUser = new Map<string, Set<string>>();
  const userOf = new Map<string, string>();
  // Eviction reads the oldest key through one cursor, made at the first eviction and kept. A fresh
  // `entries.keys()` starts at the table's first slot and steps over every entry deleted since V8
  // last compacted the table: at capacity that is tens of thousands of holes, and each eviction
  // cost 14-200 us at 100,000 records (measured, Node 20). Every key before the cursor has been
  // evicted or deleted, or re-inserted at the end, so its next key is the least recently used.
  // Not made with the store: an iterator that is not advanced keeps alive every table the Map
  // outgrows (+37 B per record at 100,000, measured).
  let oldest: ReturnType<typeof entries.keys> | undefined;
  // Nor is it kept unadvanced: V8 keeps every table the Map outgrows or compacts, with the records
  // it held, alive for an iterator until it next moves, so a store that stops evicting (below its
  // limit after a flood) would keep every record written since. Past as many inserts as there are
  // records it is dropped, and the next eviction makes a fresh one: one walk over the table's holes
  // per that many writes.
  let insertsSinceEviction = 0;
  // Writes past the limit since a full store last searched for expired records; the first may search.
  const searchEvery = Math.ceil(maxEntries / FULL_SEARCH_SPREAD);
  let fullWrites = searchEvery;

  /**
   * The clock's time. One that stops returning epoch ms fails the call: compared or added as is,
   * NaN or microseconds would make a read delete the record it finds and a write store a record
   * already dead, and the sweep delete them all.
   */
  function now(): number {
    const time = clock();
    if (!isEpochMs(time)) throw new TypeError(`[sess] memoryStore: clock returned ${String(time)}, not epoch ms`);
    return time;
  }

  function unindex(id: string): void {
    const userId = userOf.get(id);
    if (userId === undefined) return;
    userOf.delete(id);
    const ids = byUser.get(userId) as Set<string>;
    ids.delete(id);
    if (ids.size === 0) byUser.delete(userId);
  }

  function drop(id: string): void {
    const encoded = entries.get(id);
    if (encoded === undefined) return;
    unindex(id);
    entries.delete(id);
    codec.release(encoded);
  }

  /** The encoded record if it is live; an expired one is deleted here, so it is never returned before a sweep. */
  function live(id: string): string | undefined {
    const encoded = entries.get(id);
    if (encoded === undefined || now() < codec.expiresAt(encoded)) return encoded;
    drop(id);
    return undefined;
  }

  /**
   * Stores `encoded` as the most recently used record, in place of `replaced` (what `live(id)`
   * returned); `userId` is what its data names, if any.
   */
  function write(id: string, encoded: string, userId: string | undefined, replaced: string | undefined, time: number): void {
    if (replaced !== undefined) codec.release(replaced);
    if (userOf.get(id) !== userId) {
      unindex(id);
      if (userId !== undefined) {
        userOf.set(id, userId);
        byUser.set(userId, (byUser.get(userId) ?? new Set()).add(id));
      }
    }
    refresh(id, encoded);
    if (entries.size > maxEntries) makeRoom(time);
  }

  /**
   * Frees the one slot a write took past the limit (records arrive one at a time). An expired
   * record goes before a live one: ending a live session signs its user out, while an expired
   * one ended already.
   */
  function makeRoom(time: number): void {
    insertsSinceEviction = 0;
    // The store is not empty, so the cursor has a next key.
    const lru = (oldest ??= entries.keys()).next().value as string;
    // With one TTL that every use renews, the least recently used record is the first to expire: the check
    // ends here. Otherwise an expired record may sit anywhere in the order (a shorter TTL, a record
    // read but not touched), and finding it takes a walk over every record, so it is rationed.
    fullWrites += 1;
    if (time < codec.expiresAt(entries.get(lru) as string) && fullWrites >= searchEvery) {
      fullWrites = 0;
      sweepAt(time);
      if (entries.size <= maxEntries) {
        // The live record stays, but the cursor has passed it: the next eviction starts a fresh
        // one, a walk over the table no longer than the sweep just made.
        oldest = undefined;
        return;
      }
    }
    drop(lru);
  }

  /** Re-inserts a record as most recently used, its user unchanged. */
  function refresh(id: string, encoded: string): void {
    entries.delete(id);
    entries.set(id, encoded);
    if (oldest !== undefined && ++insertsSinceEviction > entries.size) oldest = undefined;
  }

  function sweep(): void {
    let time: number;
    // The sweep runs from a timer, where a throw is an uncaught exception that ends the process.
    // A clock that fails skips this sweep (it only frees memory); a request reading it gets the error.
    try {
      time = now();
    } catch {
      return;
    }
    sweepAt(time);
  }

  function sweepAt(time: number): void {
    // Deleting the current key while a Map runs forEach is safe: it continues with the next. forEach,
    // not for-of: no [key, value] pair made per record, a fifth faster at 100,000 (measured, Node 20).
    entries.forEach((encoded, id) => {
      if (time >= codec.expiresAt(encoded)) drop(id);
    });
  }

  /**
   * The live sessions of `userId`; expired ones leave the index as they are found. A user id that
   * is not a non-empty string finds none: no save indexes one (`userIdIn`), and the map compares
   * keys strictly (the number 42 is not the user '42').
   */
  function liveSessionsOf(userId: string): UserSession[] {
    const sessions: UserSession[] = [];
    // Over a copy: live() drops expired ids from the set while we walk it.
    for (const id of [...(byUser.get(userId) ?? [])]) {
      const encoded = live(id);
      if (encoded === undefined) continue;
      const meta = codec.meta(encoded);
      sessions.push({ id, createdAt: meta.createdAt, touchedAt: meta.touchedAt, expiresAt: meta.expiresAt });
    }
    return sessions.sort((a, b) => a.createdAt - b.createdAt);
  }

  // Held by `close`, so for as long as the store is.
  const sweeping: Sweeping = { sweep, timer: undefined };
  if (sweepIntervalMs > 0) startSweeping(sweeping, sweepIntervalMs);

  return {
    name: 'memory',
    capabilities: { deltaWrites: true, userIndex: userIdKey !== false },
    get size() {
      return entries.size;
    },

    get(id: string): SessionRecord | undefined {
      const encoded = live(id);
      if (encoded === undefined) return undefined;
      refresh(id, encoded);
      return codec.record(encoded);
    },

    // Each write checks what is stored and writes in the same synchronous step, so no other call
    // can slip between the check and the write.
    set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): boolean {
      if (!hasLife(ttlMs)) {
        drop(id);
        return true;
      }
      const stored = live(id);
      // An id that regenerate retired stays retired: a request still in flight on it must not turn
      // it back into a session (the fixation regenerate defends against would survive).
      if (stored !== undefined && record.meta.retired !== true && codec.retired(stored)) return false;
      let data: SessionData = record.data;
      if (changes !== undefined && !changes.created) {
        // A save racing a destroy or an expiry must not bring the record back (core's SessionChanges).
        if (stored === undefined) return false;
        data = applyChanges(codec.data(stored), record.data, changes);
      }
      const time = now();
      write(id, codec.encode(data, record.meta, time + ttlMs), userIdIn(data, userIdKey), stored, time);
      return true;
    },

    async destroy(id: string): Promise<void> {
      drop(id);
    },

    touch(id: string, meta: SessionMeta, ttlMs: number): boolean {
      const encoded = live(id);
      if (encoded === undefined) return false;
      // A retired record takes only a retired meta (core retires a live record by touching it
      // with one), whatever the TTL: a refused touch must not end the grace window either. Then,
      // as set does, a lifetime of zero or less ends the record.
      if (meta.retired !== true && codec.retired(encoded)) return false;
      if (!hasLife(ttlMs)) {
        drop(id);
        return true;
      }
      const touched = codec.withMeta(encoded, meta, now() + ttlMs);
      // Undefined for a touch older than the stored meta (a save landed first): the record is
      // left as that save wrote it, meta and life, and the touch is not refused since it is live.
      if (touched !== undefined) {
        refresh(id, touched);
        codec.release(encoded);
      }
      return true;
    },

    async *ids(): AsyncGenerator<string> {
      // Over a snapshot of the keys, since a read or write re-inserts its id and a live Map
      // iterator would reach it again; each id is re-checked as it is yielded.
      for (const id of [...entries.keys()]) if (live(id) !== undefined) yield id;
    },

    async clear(): Promise<void> {
      entries.clear();
      // The cursor would hold the cleared table until the next eviction.
      oldest = undefined;
      byUser.clear();
      userOf.clear();
      codec.reset();
    },

    async sessionsOf(userId: string): Promise<UserSession[]> {
      return liveSessionsOf(userId);
    },

    async revokeUser(userId: string, options?: RevokeUserOptions): Promise<number> {
      const except = revokeUserExcept(options, 'memoryStore: revokeUser');
      // Listed and destroyed in one synchronous step: across an await, a save could make a listed
      // session another user's, and it would be destroyed with this user's.
      const doomed = liveSessionsOf(userId).filter((session) => session.id !== except);
      for (const { id } of doomed) drop(id);
      return doomed.length;
    },

    async close(): Promise<void> {
      clearInterval(sweeping.timer);
      sweeping.timer = undefined;
    },
  } satisfies MemoryStore;
}
