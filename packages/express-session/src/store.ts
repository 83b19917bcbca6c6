/**
 * `session.Store` and `session.MemoryStore`, as express-session has them: ES5 constructors (so
 * `Store.call(this)` with `util.inherits`, and `class extends Store`, both work), EventEmitters
 * whose `disconnect` and `connect` events the middleware follows, with callback methods. Stores
 * written for express-session (connect-redis, connect-pg-simple, ...) extend this `Store`.
 */
import { EventEmitter } from 'node:events';
import { inherits } from 'node:util';
import { cookieFromStore } from './cookie.js';
import { ExpressSession, controlOf } from './session.js';
import type { Callback, CallbackStore, DataCallback, SessionRequest, StoredSession } from './session.js';

/** The base every express-session store extends. `get`, `set` and `destroy` are the store's own. */
export interface StoreInstance<Data extends StoredSession = StoredSession> extends CallbackStore<Data> {
  /** Replaces the request's session with a new one under a new id (`generate`), deleting the old one. */
  regenerate(req: SessionRequest, callback: Callback): void;
  /** `get`, turned into a `Session`. */
  load(sid: string, callback: DataCallback<ExpressSession & Data>): void;
  /** A `Session` (with its `Cookie`) at `req.session` from a stored session. */
  createSession(req: SessionRequest, session: Record<string, unknown>): ExpressSession & Data;
}

export interface StoreConstructor<Data extends StoredSession = StoredSession> {
  new (): StoreInstance<Data>;
  /** For `Store.call(this)` in an ES5 store's constructor. */
  (this: unknown): void;
  readonly prototype: StoreInstance<Data>;
}

export const StoreBase = function Store(this: EventEmitter) {
  EventEmitter.call(this);
} as unknown as StoreConstructor;

inherits(StoreBase, EventEmitter);

StoreBase.prototype.regenerate = function regenerate(this: StoreInstance, req: SessionRequest, callback: Callback) {
  const session = req.session;
  const control = session == null ? undefined : controlOf(session);
  if (control !== undefined && session != null) {
    control.regenerate(session, callback);
    return;
  }
  // As express-session's: the old session is deleted, then the middleware's `generate` makes the new one.
  this.destroy(req.sessionID as string, (error?: unknown) => {
    let failure = error;
    try {
      if (typeof this.generate === 'function') this.generate(req);
    } catch (thrown) {
      // A `genid` or `cookie` function that throws, here in the store's callback, would be an
      // uncaught exception (as in express-session): the callback hears it instead.
      failure ??= thrown;
    }
    callback(failure);
  });
};

StoreBase.prototype.load = function load(this: StoreInstance, sid: string, callback: DataCallback<ExpressSession & StoredSession>) {
  this.get(sid, (error, stored) => {
    if (error) return callback(error);
    // No arguments, as express-session's `fn()`: callbacks that count what they get see the same.
    if (!stored) return (callback as () => void)();
    callback(null, this.createSession({ sessionID: sid, sessionStore: this }, stored as unknown as Record<string, unknown>));
  });
};

StoreBase.prototype.createSession = function createSession(this: StoreInstance, req: SessionRequest, stored: Record<string, unknown>) {
  stored.cookie = cookieFromStore((stored.cookie ?? {}) as Record<string, unknown>);
  req.session = new ExpressSession(req, stored);
  return req.session as ExpressSession & StoredSession;
};

/**
 * express-session's in-process store: each session as JSON text in `sessions`, checked for expiry
 * when read. It forgets everything on restart and is not shared between processes, and expired
 * sessions nobody reads stay in memory: use it for development and tests.
 */
export interface MemoryStoreInstance<Data extends StoredSession = StoredSession> extends StoreInstance<Data> {
  sessions: Record<string, string>;
  get(sid: string, callback: DataCallback<Data | null>): void;
  set(sid: string, session: Data, callback?: Callback): void;
  destroy(sid: string, callback?: Callback): void;
  touch(sid: string, session: Data, callback?: Callback): void;
  all(callback: DataCallback<Record<string, Data>>): void;
  length(callback: DataCallback<number>): void;
  clear(callback?: Callback): void;
}

export interface MemoryStoreConstructor<Data extends StoredSession = StoredSession> {
  new (): MemoryStoreInstance<Data>;
  (this: unknown): void;
  readonly prototype: MemoryStoreInstance<Data>;
}

/** Callbacks run on a later turn, as express-session's MemoryStore runs them. */
const later = (callback: ((...args: never[]) => void) | undefined, ...args: unknown[]) =>
  callback && setImmediate(callback as (...args: unknown[]) => void, ...args);

export const MemoryStoreBase = function MemoryStore(this: MemoryStoreInstance) {
  StoreBase.call(this);
  this.sessions = Object.create(null) as Record<string, string>;
} as unknown as MemoryStoreConstructor;

inherits(MemoryStoreBase, StoreBase);

/** The session stored under `sid`, parsed; an expired one is deleted and reads as absent. */
function stored(store: MemoryStoreInstance, sid: string): StoredSession | undefined {
  const json = store.sessions[sid];
  if (!json) return undefined;
  const session = JSON.parse(json) as { cookie?: { expires?: string | null } };
  const expires = typeof session.cookie?.expires === 'string' ? new Date(session.cookie.expires) : session.cookie?.expires;
  if (expires && expires.valueOf() <= Date.now()) {
    delete store.sessions[sid];
    return undefined;
  }
  return session as unknown as StoredSession;
}

Object.assign(MemoryStoreBase.prototype, {
  get(this: MemoryStoreInstance, sid: string, callback: DataCallback<StoredSession | null>) {
    later(callback, null, stored(this, sid));
  },
  set(this: MemoryStoreInstance, sid: string, session: StoredSession, callback?: Callback) {
    this.sessions[sid] = JSON.stringify(session);
    later(callback);
  },
  destroy(this: MemoryStoreInstance, sid: string, callback?: Callback) {
    delete this.sessions[sid];
    later(callback);
  },
  touch(this: MemoryStoreInstance, sid: string, session: StoredSession, callback?: Callback) {
    const current = stored(this, sid);
    if (current !== undefined) {
      current.cookie = session.cookie;
      this.sessions[sid] = JSON.stringify(current);
    }
    later(callback);
  },
  all(this: MemoryStoreInstance, callback: DataCallback<Record<string, StoredSession>>) {
    const sessions = Object.create(null) as Record<string, StoredSession>;
    for (const sid of Object.keys(this.sessions)) {
      const session = stored(this, sid);
      if (session !== undefined) sessions[sid] = session;
    }
    later(callback, null, sessions);
  },
  length(this: MemoryStoreInstance, callback: DataCallback<number>) {
    this.all((error, sessions) => {
      if (error) return callback(error);
      callback(null, Object.keys(sessions ?? {}).length);
    });
  },
  clear(this: MemoryStoreInstance, callback?: Callback) {
    this.sessions = Object.create(null) as Record<string, string>;
    later(callback);
  },
});
