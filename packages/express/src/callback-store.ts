/**
 * Existing express-session stores (connect-redis, connect-mongo, ...) as sess stores. They take
 * Node-style callbacks (newer ones also return promises) and keep express-session's session
 * shape, whose `cookie.expires` they read to set their own TTL.
 */
import { SessConfigError, checkOptionKeys } from '@sess/core';
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

const WHERE = 'callbackStore() of @sess/express';
const METHODS = ['get', 'set', 'destroy'] as const;
const ADVICE = 'An express-session store has get(sid, callback), set(sid, session, callback) and destroy(sid, callback).';

/**
 * Wraps an express-session store, after checking its options and that it has the methods the
 * wrapper calls (a store without them would fail every request with a 503).
 *
 * @throws SessConfigError
 */
export function callbackStore(store: CallbackStore, options: { name?: string } = {}) {
  checkOptionKeys(options, ['name'], WHERE);
  const { name } = options;
  if (name !== undefined && typeof name !== 'string') throw new SessConfigError(`${WHERE}: name must be a string, got ${typeof name}`);
  return wrapCallbackStore(store, WHERE, name);
}

/**
 * `store` as a sess store, refused (naming `where`) unless it has express-session's methods.
 * `touch` is left out on purpose: those stores only move their TTL and would keep a stale
 * `expiresAt` in the record, so a touch is a full save.
 *
 * @throws SessConfigError
 */
export function wrapCallbackStore(store: unknown, where: string, name?: string) {
  checkCallbackStore(store, where);
  return {
    name: name ?? store.constructor?.name ?? 'express-session store',
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

function checkCallbackStore(store: unknown, where: string): asserts store is CallbackStore {
  if (typeof store !== 'object' || store === null)
    throw new SessConfigError(
      `${where}: store must be an express-session store object, got ${store === null ? 'null' : typeof store}. ${ADVICE}`,
    );
  // A sess store's promise-style methods never call back: every request would wait for the timeout.
  if ('capabilities' in store)
    throw new SessConfigError(`${where}: store declares capabilities, so it is a sess store: pass it to session() as it is`);
  const missing = METHODS.filter((method) => typeof (store as Record<string, unknown>)[method] !== 'function');
  if (missing.length > 0) {
    const methods = missing.map((method) => `${method}()`).join(', ');
    throw new SessConfigError(`${where}: store cannot serve as an express-session store (missing or wrong: ${methods}). ${ADVICE}`);
  }
}

/**
 * An express-session store (connect-redis, connect-pg-simple, its MemoryStore): no sess
 * `capabilities`, and what express-session itself calls on every store it runs, `on` (an
 * EventEmitter) and `createSession` (from its `Store`). Its `get`, `set` and `destroy` are checked
 * when it is wrapped, so one without them is refused, naming them. Not `instanceof`:
 * express-session is not our dependency and may be installed twice; not arity: connect-redis's
 * `async get(sid, cb)` and a sess `set(id, record, ttlMs)` both fit. Limit: a Store subclass that
 * never calls back still waits (then 503), as it would hang under express-session.
 */
export function isCallbackStore(store: unknown): boolean {
  const marks = (typeof store === 'object' && store !== null && !('capabilities' in store) ? store : {}) as Record<string, unknown>;
  return typeof marks.on === 'function' && typeof marks.createSession === 'function';
}
