/**
 * The store contract. Small; times are epoch milliseconds, TTLs are milliseconds. The four
 * methods a request calls (`get`, `set`, `touch`, `destroy`) may answer with a promise or, for a
 * store in the process, with the value itself: a request on such a store then takes no promise
 * step in sess. `@sess/store-test` states this contract as tests: a store is done when it
 * passes that suite.
 */

/** A value, or a promise of it: what a store method a request calls may return. */
export type Awaitable<T> = T | PromiseLike<T>;

/** What the app keeps in a session. Values must survive JSON (stores may serialise them). */
export type SessionData = Record<string, unknown>;

/** A per-session lifetime chosen with `setExpiry` (Django's `set_expiry`). */
export type ExpirySetting =
  /** Ends when the browser closes (cookie without Max-Age); the server still applies the default lifetime. */
  | { readonly kind: 'browser' }
  /** Ends after this many ms without a save or touch. */
  | { readonly kind: 'duration'; readonly ms: number }
  /** Ends at this instant (epoch ms). */
  | { readonly kind: 'at'; readonly at: number };

export interface SessionMeta {
  /** When the session was first saved: the absolute timeout counts from here. */
  readonly createdAt: number;
  /** When the session was last saved or touched: the idle timeout counts from here. */
  readonly touchedAt: number;
  /** The instant the record dies, whatever a store's TTL says (guards against TTL lag). */
  readonly expiresAt: number;
  /** A per-session lifetime; absent means the configured default. */
  readonly expiry?: ExpirySetting;
  /**
   * The id was replaced by `regenerate` and lives on only for the grace window
   * (`regenerateGraceMs`), to answer requests already in flight: read-only, never extended.
   */
  readonly retired?: true;
}

export interface SessionRecord {
  readonly data: SessionData;
  readonly meta: SessionMeta;
}

/** Which keys a save changed, so a store with delta writes can write only those. */
export interface SessionChanges {
  /** Keys set this request; their values are in `record.data`. */
  readonly set: readonly string[];
  /** Keys removed this request. */
  readonly deleted: readonly string[];
  /**
   * True when this save creates the record under a new id. When false, a delta-writing store
   * must not recreate a record that is gone: a save racing a destroy must not revive it.
   */
  readonly created: boolean;
}

export interface StoreCapabilities {
  /** `set` with `changes` writes only those keys and the meta, keeping other keys as stored. */
  readonly deltaWrites: boolean;
  /** The store indexes sessions by user and has `sessionsOf` and `revokeUser`. */
  readonly userIndex?: boolean;
}

/** One live session of a user, as `sessionsOf` lists it. Times are epoch ms from its meta. */
export interface UserSession {
  /**
   * The session id as the store keys it: the cookie's id, or its digest when the store hashes
   * ids at rest (then it cannot be turned back into a cookie, which is the point).
   */
  readonly id: string;
  readonly createdAt: number;
  readonly touchedAt: number;
  readonly expiresAt: number;
}

export interface RevokeUserOptions {
  /** A session id (as the cookie carries it) to keep, typically the one making the request. */
  readonly except?: string;
}

export interface Store {
  /** Shown in errors and logs. */
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /** The record, or undefined if missing or expired. Never returns an expired record. */
  get(id: string): Awaitable<SessionRecord | undefined>;
  /**
   * Writes the record, living `ttlMs` from now. A `ttlMs` of zero or less deletes instead.
   *
   * Resolves to `false` when the store refused the write because the session it would continue
   * is dead: `changes.created` is false and no record is stored (a destroy won the race), or the
   * stored record is retired (`meta.retired`) and `record.meta` is not (a request still in flight
   * on an id that `regenerate` replaced). The check and the write are one atomic step. Resolving
   * to `true` or nothing means written; a store without delta writes may always write.
   */
  set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Awaitable<boolean | void>;
  /** Deletes the record. Deleting a missing id is not an error. */
  destroy(id: string): Awaitable<void>;
  /**
   * Replaces the meta of an existing record and extends its life; never creates a record.
   * Resolves to `false` when there was no live record to touch, or the stored record is retired
   * and `meta` is not; `true` or nothing means touched. A `meta` older than the stored one (an
   * earlier `touchedAt`, and not retired: another request's save landed first) leaves the record
   * as it is, meta and life, and resolves to `true`: the record is live.
   */
  touch?(id: string, meta: SessionMeta, ttlMs: number): Awaitable<boolean | void>;
  /** Every live id (admin use; may be slow on big stores). */
  ids?(): AsyncIterable<string>;
  /** Deletes every record of this store (admin use). */
  clear?(): Promise<void>;
  /**
   * The live sessions whose data names `userId` (under the store's user-id key, `userId` by
   * default), in no particular order. Present when `capabilities.userIndex` is true.
   */
  sessionsOf?(userId: string): Promise<UserSession[]>;
  /** Destroys every session of `userId` but `except`; resolves to how many it destroyed. */
  revokeUser?(userId: string, options?: RevokeUserOptions): Promise<number>;
  /** Releases timers and connections it owns. */
  close?(): Promise<void>;
}
