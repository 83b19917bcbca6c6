/**
 * An express-session store (connect-redis, connect-pg-simple, `MemoryStore`, ...) as the sess
 * `Store` the core runs: callbacks become promises, and records are kept in express-session's
 * shape. A request's store is made per request, because the record carries the request's cookie
 * and `touch` hands the store the session as the app left it (connect-redis's `ttl` may read it).
 */
import type { SessionMeta, SessionRecord, StoreCapabilities, Store as SessStore } from '@sess/core';
import { cookieFor, fromStored } from './record.js';
import type { CallbackStore } from './session.js';

type Method = 'get' | 'set' | 'destroy' | 'touch';

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null | undefined)?.then === 'function';

/** Calls `method` on an express-session store: resolves with what its callback gives, rejects with its error. */
export function call(store: CallbackStore, method: Method, args: readonly unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback = (error?: unknown, value?: unknown) => (error ? reject(error) : resolve(value));
    const returned = (store[method] as (...given: unknown[]) => unknown).apply(store, [...args, callback]);
    // Stores written as async functions (connect-redis) call back and return a promise too: the
    // callback answers, and the promise can only add a failure thrown before it.
    if (isThenable(returned)) returned.then(undefined, reject);
  });
}

/** express-session's "not found" from a store that reads files: `ENOENT` is no session, not a failure. */
const isNotFound = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === 'ENOENT';

/** What a request's store needs of the request. */
export interface RequestSide {
  /** The store is asked for `id`, the session the request's cookie names. */
  reading(id: string): void;
  /** The attributes the record's cookie is written with: the request's `req.session.cookie`. */
  attributes(): Record<string, unknown>;
  /** The session's data as the app left it, for `touch`. */
  data(): Record<string, unknown>;
  /** The store answered `id` with a session, whose stored cookie is `cookie`. */
  loaded(id: string, cookie: Record<string, unknown>): void;
}

const NO_DELTAS: StoreCapabilities = Object.freeze({ deltaWrites: false });

/** One request's view of an express-session store, as a sess store. */
export class RequestStore implements SessStore {
  readonly capabilities = NO_DELTAS;

  constructor(
    readonly name: string,
    private readonly store: CallbackStore,
    private readonly side: RequestSide,
    /** The configured lifetime (ms), `null` for a browser-session cookie: what a session without its own has. */
    private readonly defaultMs: number | null,
    /** When the request began (epoch ms): a stored session was last extended no later than that. */
    private readonly startedAt: number,
    /** express-session's `rolling`: the cookie may outlive the record's `expires` (see `fromStored`). */
    private readonly rolling = false,
  ) {}

  async get(id: string): Promise<SessionRecord | undefined> {
    this.side.reading(id);
    let stored: unknown;
    try {
      stored = await call(this.store, 'get', [id]);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const loaded = fromStored(stored, this.startedAt, this.rolling);
    if (loaded !== undefined) this.side.loaded(id, loaded.cookie);
    return loaded?.record;
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return this.destroy(id);
    await call(this.store, 'set', [id, { cookie: cookieFor(record.meta, this.side.attributes(), this.defaultMs), ...record.data }]);
  }

  /** express-session calls `touch` only on a store that has one: without it, a touch writes nothing. */
  async touch(id: string, meta: SessionMeta): Promise<void> {
    if (typeof this.store.touch !== 'function') return;
    await call(this.store, 'touch', [id, { cookie: cookieFor(meta, this.side.attributes(), this.defaultMs), ...this.side.data() }]);
  }

  async destroy(id: string): Promise<void> {
    await call(this.store, 'destroy', [id]);
  }
}
