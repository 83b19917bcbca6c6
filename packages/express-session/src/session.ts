/**
 * `session.Session`: `req.session` as express-session has it. The session's data are its own
 * enumerable properties, beside `cookie`; `id` and `req` are read-only and hidden, the methods sit
 * on the prototype. A session the middleware handed out does its work through that request's sess
 * session (`SessionControl`); one made by hand (`new Session(req, data)`, `store.load`) talks to
 * `req.sessionStore` directly, as express-session's does.
 */
import type { EventEmitter } from 'node:events';
import type { SessionCookie } from './cookie.js';

export type Callback = (error?: unknown) => void;
export type DataCallback<T> = (error: unknown, value?: T) => void;

/** A session as a store holds it: its cookie, beside the data the app declares in `SessionData`. */
export interface StoredSession {
  cookie: SessionCookie;
}

/** The callback methods the middleware calls on a store; `touch` only if the store has it. */
export interface CallbackStore<Data extends StoredSession = StoredSession> extends EventEmitter {
  get(sid: string, callback: DataCallback<Data | null>): unknown;
  set(sid: string, session: Data, callback?: Callback): unknown;
  destroy(sid: string, callback?: Callback): unknown;
  touch?(sid: string, session: Data, callback?: Callback): unknown;
  all?(callback: DataCallback<Data[] | Record<string, Data> | null>): unknown;
  length?(callback: DataCallback<number>): unknown;
  clear?(callback?: Callback): unknown;
  regenerate?(req: SessionRequest, callback: Callback): void;
  /** Added by the middleware, as express-session adds it: a new session at `req.session`. */
  generate?(req: SessionRequest): void;
  createSession?(req: SessionRequest, session: Record<string, unknown>): ExpressSession;
}

/** What a session needs of its request: express-session's `req.sessionID`, `req.sessionStore` and `req.session`. */
export interface SessionRequest {
  sessionID?: string | undefined;
  sessionStore?: CallbackStore | undefined;
  session?: ExpressSession | null | undefined;
}

/** The request's side of a session the middleware handed out. */
export interface SessionControl {
  save(session: ExpressSession, callback: Callback | undefined): void;
  reload(session: ExpressSession, callback: Callback): void;
  destroy(session: ExpressSession, callback: Callback | undefined): void;
  regenerate(session: ExpressSession, callback: Callback): void;
}

/** Where a handed-out session keeps its control: hidden, and shared by every copy of this module (ESM and CJS). */
export const CONTROL = Symbol.for('@sess/express-session.control');

function controlOf(session: ExpressSession): SessionControl | undefined {
  return (session as unknown as { [CONTROL]?: SessionControl })[CONTROL];
}

const noop = () => {};

export class ExpressSession {
  // `session.Session` to the app: `req.session` prints as express-session's does.
  static {
    Object.defineProperty(ExpressSession, 'name', { value: 'Session' });
  }
  /** The session id, as `req.sessionID` was when the session was made. */
  declare readonly id: string;
  declare readonly req: SessionRequest;
  declare cookie: SessionCookie;

  constructor(req: SessionRequest, data?: unknown) {
    Object.defineProperty(this, 'req', { value: req });
    Object.defineProperty(this, 'id', { value: req.sessionID });
    if (typeof data !== 'object' || data === null) return;
    // Names the session already has (`id`, the methods, `__proto__`) are not data: skipped, as
    // express-session does, so a stored `save` or `__proto__` can't shadow a method or a prototype.
    for (const key in data) {
      if (key in this) continue;
      Object.defineProperty(this, key, {
        value: (data as Record<string, unknown>)[key],
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }

  /** Renews the cookie's lifetime to `originalMaxAge` (the middleware does it for every response). */
  touch(): this {
    return this.resetMaxAge();
  }

  resetMaxAge(): this {
    this.cookie.maxAge = this.cookie.originalMaxAge;
    return this;
  }

  /** Writes the session to the store now; `callback(error)` once it is written. */
  save(callback?: Callback): this {
    const control = controlOf(this);
    if (control !== undefined) control.save(this, callback);
    else this.req.sessionStore?.set(this.id, this, callback ?? noop);
    return this;
  }

  /** Reads the session back from the store, dropping unsaved changes; `req.session` becomes a new `Session`. */
  reload(callback: Callback): this {
    const control = controlOf(this);
    if (control !== undefined) {
      control.reload(this, callback);
      return this;
    }
    const { req } = this;
    const store = req.sessionStore as CallbackStore;
    store.get(this.id, (error: unknown, stored?: unknown) => {
      if (error) return callback(error);
      if (!stored) return callback(new Error('failed to load session'));
      store.createSession?.(req, stored as Record<string, unknown>);
      callback();
    });
    return this;
  }

  /** Deletes the session from the store and removes `req.session`. */
  destroy(callback?: Callback): this {
    const control = controlOf(this);
    if (control !== undefined) {
      control.destroy(this, callback);
      return this;
    }
    delete this.req.session;
    this.req.sessionStore?.destroy(this.id, callback ?? noop);
    return this;
  }

  /** A new, empty session under a new id at `req.session`; the old one is deleted from the store. */
  regenerate(callback: Callback): this {
    const control = controlOf(this);
    if (control !== undefined) control.regenerate(this, callback);
    else (this.req.sessionStore as CallbackStore).regenerate?.(this.req, callback);
    return this;
  }
}

/** Hands `session` its request's control: hidden, so the session prints and serializes as its data. */
export function attachControl(session: ExpressSession, control: SessionControl): ExpressSession {
  Object.defineProperty(session, CONTROL, { value: control, configurable: true });
  return session;
}

/** A session replaced (regenerate, reload) or destroyed goes back to talking to the store directly, as express-session's old objects do. */
export function detachControl(session: ExpressSession): void {
  Object.defineProperty(session, CONTROL, { value: undefined });
}

export { controlOf };
