/**
 * What an adapter and an app see of sessions: the facts an adapter reads off the request and
 * the response, the manager, and the `Session` of one request. `session.ts` implements them.
 */
import type { HttpEffect } from './effects.js';
import type { SocketSession } from './socket.js';
import type { SessionStorage } from './cookie-sessions.js';
import type { SessionData, Store } from './store.js';

/** Facts an adapter reads off the request. */
export interface RequestFacts {
  readonly cookieHeader: string | undefined;
  /** The request arrived over TLS (or a trusted proxy says so). */
  readonly secure: boolean;
  /**
   * Load the session but never write it: parallel reads on this route can't clobber a writer's
   * changes, and nothing is saved or touched (rolling and idle-timeout touches included). Any
   * call that would change the session throws `SessUsageError`. Default false. A promise (an
   * async `readOnly(request)` option's answer) fails the request with `SessConfigError`.
   */
  readonly readOnly?: boolean;
  /** Makes this request's new ids, instead of the manager's `generateId` (express-session's `genid(req)`). */
  readonly generateId?: () => string;
  /**
   * This request's view of the manager's store, for an adapter whose store needs the request
   * (express-session stores keep the request's cookie in the record). Default the manager's store.
   */
  readonly store?: Store;
  /**
   * This request's default lifetime in ms, `null` for a cookie that ends with the browser, in
   * place of the manager's `maxAgeMs` / `expireAtBrowserClose` (express-session's cookie options
   * may be a function of the request). Checked as `maxAgeMs` is.
   */
  readonly maxAgeMs?: number | null;
}

/** Facts an adapter reads off the response, just before its headers leave. */
export interface ResponseFacts {
  readonly status: number;
  /** A Set-Cookie for the session's name is already on the response. */
  readonly cookieAlreadySet?: boolean;
  /**
   * The response's Cache-Control keeps shared caches out already (`private` or `no-store`): the
   * core asks for no `Cache-Control: private` then. Otherwise a response that sets a cookie gets
   * the `header.cacheControl` effect, which makes the app's value private (see `privately` in
   * `@sess/core/adapter`).
   */
  readonly sharedCachesKeptOut?: boolean;
  /**
   * The response's headers have already left (the app wrote past the framework): no cookie can
   * go with them, so the commit writes nothing, even with `saveOnServerError`.
   */
  readonly headersSent?: boolean;
}

export interface SessionManager {
  /** Starts the session of one request. Reads and verifies the cookie; does no I/O. */
  begin(request: RequestFacts): Session;
  /**
   * The session of a WebSocket, from its upgrade request: each `use(work)` is one lifecycle run
   * with store effects only, and a cookie the browser lacks comes back as a hand-off token.
   */
  socket(request: RequestFacts): SocketSession<Session>;
  /**
   * Exchanges a hand-off token (from `socket(...).use`) for the session cookie, once, within a
   * minute of its issue. Resolves to the `cookie.set` effect to apply and `Cache-Control: private`,
   * or `[]` for a bad token.
   *
   * @throws SessStoreError when the store fails.
   */
  redeemHandoff(token: unknown): Promise<readonly HttpEffect[]>;
  readonly name: string;
  /** The `store` option: a server-side store, or cookie sessions. */
  readonly store: SessionStorage;
}

/**
 * One request's session, from `SessionManager.begin`. Reads and writes are synchronous;
 * operations that need the store are async, and each waits for store work still in flight (a
 * `destroy()` not awaited yet, say), whatever its outcome; a second `destroy()` joins the first
 * when called.
 * Every method may throw `SessUsageError` when the lifecycle does not allow it now (for example
 * a change on a read-only request, or a read before `load()` when the request carries a cookie).
 * A synchronous change once the commit has begun (`set`, `delete`, `save`, `touch`, ...) is
 * dropped instead, since nothing could save it, and reported to `onEvent` as `lateChange`; the
 * operations that return a promise reject then.
 */
export interface Session<Data extends SessionData = SessionData> {
  /** The session id, once the session has one (loaded, written, or regenerated). */
  readonly id: string | undefined;
  /** When the session's record will expire if saved now (epoch ms), for cookie views; a new session's first save included. */
  readonly expiresAt: number;
  /** How long the cookie would live if sent now, in ms (express-session's `cookie.maxAge`). */
  readonly maxAgeMs: number;
  /**
   * The cookie ends when the browser closes (it carries no `Expires` or `Max-Age`): the session's
   * own setting (`setExpiry(0)`), else the request's or the manager's default. `expiresAt` and
   * `maxAgeMs` are then the record's life on the server; cookie views show none (`null`).
   */
  readonly endsWithBrowser: boolean;
  /** The value under `key`; the session counts as used (the response varies by Cookie). */
  get<K extends keyof Data & string>(key: K): Data[K] | undefined;
  has(key: string): boolean;
  keys(): string[];
  /** Sets `key`; the session is saved at commit. Values must survive JSON. */
  set<K extends keyof Data & string>(key: K, value: Data[K]): void;
  delete(key: string): void;
  /** Removes every key; an emptied session is destroyed at commit and its cookie deleted. */
  clear(): void;
  /** Fetches the record the cookie names (once); needed before reads when a cookie came in. */
  load(): Promise<void>;
  /** New id, data kept unless `keepData: false`; the old record dies at commit (fixation defence). */
  regenerate(options?: { keepData?: boolean }): Promise<void>;
  /** Deletes the record now and empties the session; the cookie is deleted at commit. */
  destroy(): Promise<void>;
  /** Re-reads the record, dropping unsaved changes. After `regenerate()`, refused until the new id is saved (`saveNow()`): nothing is under it to re-read. */
  reload(): Promise<void>;
  /** Saves at commit even if nothing changed; `false` when it came too late, once the commit had begun (dropped, as a late change is). */
  save(): boolean;
  /**
   * Writes the session to the store now, before the commit (express-session's `save(callback)`);
   * the commit writes again only for changes made after it.
   *
   * @throws SessStoreError when the write fails or times out (the changes stay unsaved);
   *   SessUsageError with code `'data_not_json'` when the store cannot encode the data.
   */
  saveNow(): Promise<void>;
  /**
   * Lets go of the session (express-session's `unset: 'keep'`): changes not saved yet are
   * dropped, and the commit writes nothing and sends no cookie.
   */
  discard(): Promise<void>;
  /** Extends the session's life at commit and re-sends its cookie. */
  touch(): void;
  /**
   * Django's `set_expiry`: seconds of inactivity, a `Date`, `0` for "when the browser closes",
   * or `null` for the configured default.
   */
  setExpiry(value: number | Date | null): void;
  /**
   * Keeps a message for the next request that takes it (a flash: set now, read once).
   * Messages are grouped by `kind` (e.g. `'info'`, `'error'`) and must survive JSON.
   */
  flash(kind: string, message: unknown): void;
  /**
   * Returns the flash messages of `kind` (or of every kind, flattened in kind order) and removes
   * them, so each is read once. Returns `[]` when there are none, without writing anything.
   */
  takeFlash(kind?: string): unknown[];
  /** Asks the browser to store a test cookie (Django `set_test_cookie`); no store involved. */
  setTestCookie(): void;
  /** Whether the browser sent the test cookie back. */
  testCookieWorked(): boolean;
  /** Asks the browser to delete the test cookie. */
  deleteTestCookie(): void;
  /**
   * Ends the request's session: saves, touches or destroys as the lifecycle decides, waiting
   * for any operation still in flight. Call it before the response headers leave.
   *
   * @returns the HTTP effects to apply to the response: the list itself when nothing had to wait
   *   for the store (a request that wrote nothing, or a store that answers synchronously, as the
   *   memory store and cookie sessions do), else a promise of it. `await` takes either.
   * @throws Never synchronously: a store write that failed or timed out rejects with
   *   SessStoreError, and the response must not be a 2xx; data the store cannot encode rejects
   *   with SessUsageError (code `'data_not_json'`), nothing written.
   */
  commit(response: ResponseFacts): readonly HttpEffect[] | Promise<readonly HttpEffect[]>;
}
