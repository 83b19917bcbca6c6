/**
 * Existing express-session stores (connect-redis, connect-mongo, ...) as sess stores. They take
 * Node-style callbacks (newer ones also return promises) and keep express-session's session
 * shape, whose `cookie.expires` they read to set their own TTL.
 */
import type { SessionRecord, Store } from '@sess/core';

type Callback = (error?: unknown, value?: unknown) => void;

/** The part of express-session's `Store` interface sess uses. */
export interface CallbackStore {
  get(sid: string, callback: Callback): unknown;
  set(sid: string, session: object, callback: Callback): unknown;
  destroy(sid: string, callback: Callback): unknown;
}

function call(store: CallbackStore, method: 'get' | 'set' | 'destroy', ...args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const callback: Callback = (error, value) => (error ? reject(error) : resolve(value));
    const returned = (store[method] as (...a: unknown[]) => unknown).apply(store, [...args, callback]);
    // The callback answers, as in express-session: an async method's promise may settle (empty)
    // before its callback brings the session, so it adds only a failure thrown before the callback.
    if (returned instanceof Promise) returned.then(undefined, reject);
  });
}

/** The stored shape: express-session's `cookie` for the store's TTL, then our record. */
type StoredSession = Partial<SessionRecord> & { readonly cookie: { readonly originalMaxAge: number; readonly expires: string } };

/**
 * Wraps an express-session store. `touch` is left out on purpose: those stores only move
 * their TTL and would keep a stale `expiresAt` in the record, so a touch is a full save.
 */
export function callbackStore(store: CallbackStore, options: { name?: string } = {}) {
  return {
    name: options.name ?? store.constructor?.name ?? 'express-session store',
    capabilities: { deltaWrites: false },
    async get(id: string) {
      // express-session reads ENOENT (session-file-store's missing file) as no session, not a failure.
      const missing = (error: unknown) => ((error as { code?: unknown } | null)?.code === 'ENOENT' ? undefined : Promise.reject(error));
      const stored = (await call(store, 'get', id).catch(missing)) as StoredSession | null | undefined;
      return stored?.data === undefined || stored.meta === undefined ? undefined : { data: stored.data, meta: stored.meta };
    },
    async set(id: string, record: SessionRecord, ttlMs: number) {
      const { data, meta } = record;
      const cookie = { originalMaxAge: ttlMs, expires: new Date(meta.expiresAt).toISOString() };
      await (ttlMs <= 0 ? call(store, 'destroy', id) : call(store, 'set', id, { cookie, data, meta } satisfies StoredSession));
    },
    async destroy(id: string) {
      await call(store, 'destroy', id);
    },
  } satisfies Store;
}

/**
 * An express-session store (connect-redis, connect-pg-simple, its MemoryStore): get, set and
 * destroy, no sess `capabilities`, and what express-session itself calls on every store it runs,
 * `on` (an EventEmitter) and `createSession` (from its `Store`). Not `instanceof`: express-session
 * is not our dependency and may be installed twice; not arity: connect-redis's `async get(sid, cb)`
 * and a sess `set(id, record, ttlMs)` both fit. Limit: a Store subclass that never calls back still
 * waits (then 503), as it would hang under express-session.
 */
export function isCallbackStore(store: unknown): store is CallbackStore {
  const methods = (typeof store === 'object' && store !== null && !('capabilities' in store) ? store : {}) as Record<string, unknown>;
  return ['get', 'set', 'destroy', 'on', 'createSession'].every((name) => typeof methods[name] === 'function');
}
