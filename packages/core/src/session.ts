/**
 * The framework-free session of one request: the app's API (get/set, regenerate, destroy, ...)
 * over the memoized lifecycle. Each call becomes a lifecycle event; the actions that come back
 * are carried out here (data-side: ids, data, lifetimes) or by the runner (store effects); the
 * HTTP effects go back to the adapter from `commit`. Nothing here decides session state.
 */
import type { CookieAttributes } from './cookie.js';
import { readCookie, serializeCookie } from './cookie.js';
import { requestStore } from './cookie-sessions.js';
import type { RequestStore, SessionStorage } from './cookie-sessions.js';
import type { Effect, HttpEffect, StoreEffect } from './effects.js';
import { assertNever } from './effects.js';
import { SessConfigError, SessUsageError } from './errors.js';
import { isWellFormedId } from './ids.js';
import type { ClientCookie, LifecycleAction, LifecycleEvent, LoadedFacts } from './machine.js';
import { createConfig, MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS } from './options.js';
import type { Config, SessionManagerOptions } from './options.js';
import { dataFrom, isPlainObject, isSessionRecord, timesAhead } from './record.js';
import type { LifecycleNode } from './runtime.js';
import { runEffects } from './runner.js';
import type { StoreFeedback, StoreOutcome } from './runner.js';
import { generateId } from './ids.js';
import { createHandoffs, createSocketSession } from './socket.js';
import type { SocketSession } from './socket.js';
import { hashId } from './session-events.js';
import type { SessionEvent } from './session-events.js';
import type { ExpirySetting, SessionData, SessionMeta, SessionRecord, Store } from './store.js';

export type { SessionCookieOptions, SessionManagerOptions } from './options.js';
export { MAX_LIFETIME_MS } from './options.js';

/** Facts an adapter reads off the request. */
export interface RequestFacts {
  readonly cookieHeader: string | undefined;
  /** The request arrived over TLS (or a trusted proxy says so). */
  readonly secure: boolean;
  /**
   * Load the session but never write it: parallel reads on this route can't clobber a writer's
   * changes, and nothing is saved or touched (rolling and idle-timeout touches included). Any
   * call that would change the session throws `SessUsageError`. Default false.
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
  readonly cacheControlSet?: boolean;
}

/** Browsers keep at most 4096 bytes of a cookie's name, value and attributes (RFC 6265 §6.1). */
const COOKIE_BYTES_LIMIT = 4096;

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
   * minute of its issue. Resolves to the `cookie.set` effect to apply, or `[]` for a bad token.
   *
   * @throws SessStoreError when the store fails.
   */
  redeemHandoff(token: unknown): Promise<readonly HttpEffect[]>;
  readonly name: string;
  /** The `store` option: a server-side store, or cookie sessions. */
  readonly store: SessionStorage;
}

/**
 * Validates the options once and returns a manager whose `begin` starts each request's session.
 *
 * @throws SessConfigError for a missing store, a secret shorter than 32 bytes, a bad number, or
 *   cookie options browsers would refuse (code `cookie_invalid`).
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const config = createConfig(options);
  const { name } = config;
  // Tokens always come from the CSPRNG generator, whatever `generateId` the app chose for ids.
  const { store } = config.storage;
  const handoffs = store === undefined ? undefined : createHandoffs(store, config.clock, config.deadlines, generateId);
  return Object.freeze({
    name,
    store: options.store,
    begin: (request: RequestFacts) => new RequestSession(config, request),
    socket: (request: RequestFacts) => {
      if (handoffs === undefined) {
        // A cookie session changed on a socket could only reach the browser through a hand-off
        // parked on the server, and cookie sessions keep nothing there.
        throw new SessUsageError('WebSocket sessions need a server-side store; cookie sessions have none');
      }
      return createSocketSession(
        name,
        readCookie(request.cookieHeader, name),
        (cookieHeader) => new RequestSession(config, { cookieHeader, secure: request.secure }),
        handoffs.park,
      );
    },
    // With nothing parked on the server, every token is unknown.
    redeemHandoff: handoffs?.redeem ?? (() => Promise.resolve([])),
  });
}

const readEvent = { type: 'app.read' } as const;
/** A read-only request asks for no write of any kind, so nothing the commit plans can be one. */
/** Where flash messages live in the session's data. */
const FLASH_KEY = 'sess.flash';
const writeEvent = { type: 'app.write' } as const;
const loadEvent = { type: 'app.load' } as const;
const doneEvent = { type: 'store.done' } as const;
const refusedEvent = { type: 'store.refused' } as const;
const failedEvent = { type: 'store.failed' } as const;

/**
 * One request's session, from `SessionManager.begin`. Reads and writes are synchronous;
 * operations that need the store are async. Every method may throw `SessUsageError` when the
 * lifecycle does not allow it now (for example a write after commit, a change on a read-only
 * request, or a read before `load()` when the request carries a cookie).
 */
export interface Session<Data extends SessionData = SessionData> {
  /** The session id, once the session has one (loaded, written, or regenerated). */
  readonly id: string | undefined;
  /** When the session's record will expire if saved now (epoch ms), for cookie views. */
  readonly expiresAt: number | undefined;
  /** How long the cookie would live if sent now, in ms (express-session's `cookie.maxAge`). */
  readonly maxAgeMs: number | undefined;
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
  /** Re-reads the record, dropping unsaved changes. */
  reload(): Promise<void>;
  /** Saves at commit even if nothing changed. */
  save(): void;
  /**
   * Writes the session to the store now, before the commit (express-session's `save(callback)`);
   * the commit writes again only for changes made after it.
   *
   * @throws SessStoreError when the write fails or times out (the changes stay unsaved).
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
   * @returns the HTTP effects to apply to the response.
   * @throws SessStoreError when a store write failed or timed out: the response must not be a 2xx.
   */
  commit(response: ResponseFacts): Promise<readonly HttpEffect[]>;
}

/** The `Session` of one request: the app's calls become lifecycle events; their actions are carried out here. */
class RequestSession<Data extends SessionData = SessionData> implements Session<Data> {
  private node: LifecycleNode;
  private readonly now: number;
  private readonly clientId: string | undefined;
  private currentId: string | undefined;
  private data: SessionData = dataFrom(undefined);
  private meta: SessionMeta | undefined;
  private expiry: ExpirySetting | undefined;
  private readonly setKeys = new Set<string>();
  private readonly deletedKeys = new Set<string>();
  private inflight: Promise<unknown> | undefined;
  private regeneratedFrom: string | undefined;
  /** This request's store: the configured one, or for cookie sessions one over the cookie's record. */
  private readonly store: Store;
  private readonly cookieStore: RequestStore | undefined;

  constructor(
    private readonly config: Config,
    private readonly request: RequestFacts,
  ) {
    this.now = config.clock();
    const { maxAgeMs } = request;
    if (maxAgeMs !== undefined && maxAgeMs !== null && !(maxAgeMs >= MIN_COOKIE_LIFETIME_MS && maxAgeMs <= MAX_LIFETIME_MS)) {
      throw new SessUsageError(
        `maxAgeMs must be a number of ms from ${MIN_COOKIE_LIFETIME_MS} to ${MAX_LIFETIME_MS} (400 days) or null, got ${String(maxAgeMs)}`,
      );
    }
    const raw = readCookie(request.cookieHeader, config.name);
    let verified: { readonly id: string; readonly rotated: boolean } | undefined;
    const { store, cookies } = config.storage;
    if (cookies === undefined) {
      verified = raw === undefined ? undefined : config.signer.verify(config.name, raw);
      this.store = request.store ?? store;
    } else {
      const opened = raw === undefined ? undefined : cookies.open(config.name, raw);
      if (opened !== undefined) verified = { id: opened.session.id, rotated: opened.rotated };
      this.cookieStore = requestStore(cookies, opened?.session);
      this.store = this.cookieStore;
    }
    const clientCookie: ClientCookie =
      raw === undefined ? 'absent' : verified === undefined ? 'rejected' : verified.rotated ? 'rotated' : 'valid';
    this.clientId = verified?.id;
    const start = config.lifecycle.start({
      ...config.flags,
      readOnly: request.readOnly === true,
      idleTimeout: config.idleTimeoutMs !== undefined,
      regenerateGrace: config.regenerateGraceMs > 0,
      browserSession: this.endsWithBrowser(undefined),
      cookieCarriesData: cookies !== undefined,
      clientCookie,
      testCookieReceived: readCookie(request.cookieHeader, config.testCookieName) !== undefined,
    });
    this.node = start.to;
    this.perform(start.actions);
  }

  /** The session id, once the session has one (loaded, written, or regenerated). */
  get id(): string | undefined {
    return this.currentId;
  }

  /** When the session's record will expire if saved now (epoch ms), for cookie views. */
  get expiresAt(): number | undefined {
    return this.currentId === undefined ? undefined : this.lifetime().cookieExpiresAt;
  }

  /** How long the cookie would live if sent now, in ms (express-session's `cookie.maxAge`). */
  get maxAgeMs(): number | undefined {
    const expiresAt = this.expiresAt;
    return expiresAt === undefined ? undefined : expiresAt - this.now;
  }

  get<K extends keyof Data & string>(key: K): Data[K] | undefined {
    this.step(readEvent);
    return this.data[key] as Data[K] | undefined;
  }

  has(key: string): boolean {
    this.step(readEvent);
    return Object.hasOwn(this.data, key);
  }

  keys(): string[] {
    this.step(readEvent);
    return Object.keys(this.data);
  }

  set<K extends keyof Data & string>(key: K, value: Data[K]): void {
    this.step(writeEvent, 'set');
    this.data[key] = value;
    this.setKeys.add(key);
    this.deletedKeys.delete(key);
  }

  delete(key: string): void {
    this.step(writeEvent, 'delete');
    if (!Object.hasOwn(this.data, key)) return;
    delete this.data[key];
    this.deletedKeys.add(key);
    this.setKeys.delete(key);
  }

  /** Removes every key; an emptied session is destroyed at commit and its cookie deleted. */
  clear(): void {
    for (const key of this.keys()) this.delete(key);
  }

  /** Fetches the record the cookie names (once); needed before reads when a cookie came in. */
  async load(): Promise<void> {
    await this.run(loadEvent);
  }

  /** New id, data kept unless `keepData: false`; the old record dies at commit (fixation defence). */
  async regenerate(options: { keepData?: boolean } = {}): Promise<void> {
    await this.load();
    const previous = this.currentId;
    await this.run({ type: 'app.regenerate', keepData: options.keepData ?? true }, 'regenerate');
    // Remembered for `onEvent` only: the save under the new id reports it as a regeneration.
    if (previous !== undefined && previous === this.clientId) this.regeneratedFrom = previous;
  }

  /** Deletes the record now and empties the session; the cookie is deleted at commit. */
  async destroy(): Promise<void> {
    await this.run({ type: 'app.destroy' }, 'destroy');
  }

  /** Re-reads the record, dropping unsaved changes. */
  async reload(): Promise<void> {
    await this.load();
    await this.run({ type: 'app.reload' });
  }

  /** Saves at commit even if nothing changed. */
  save(): void {
    this.step({ type: 'app.save' }, 'save');
  }

  /** Writes the session to the store now; the commit writes again only for later changes. */
  async saveNow(): Promise<void> {
    await this.load();
    await this.run({ type: 'app.saveNow' }, 'save');
  }

  /** Lets go of the session: whatever the request changed is dropped, and the commit writes and sends nothing. */
  async discard(): Promise<void> {
    if (this.inflight !== undefined) await this.inflight.catch(() => undefined);
    this.step({ type: 'app.discard' }, 'discard');
  }

  /** Extends the session's life at commit and re-sends its cookie. */
  touch(): void {
    this.step({ type: 'app.touch' }, 'touch');
  }

  /**
   * Django's `set_expiry`: seconds of inactivity, a `Date`, `0` for "when the browser closes",
   * or `null` for the configured default.
   */
  setExpiry(value: number | Date | null): void {
    let expiry: ExpirySetting | undefined;
    if (value === null) expiry = undefined;
    else if (value instanceof Date) expiry = { kind: 'at', at: value.getTime() };
    else if (value === 0) expiry = { kind: 'browser' };
    else expiry = { kind: 'duration', ms: value * 1000 };
    // Checked here, where app input enters, so a bad lifetime fails the handler's own call and
    // never reaches the commit after a store write.
    if (expiry?.kind === 'at' && !(Math.abs(expiry.at - this.now) <= MAX_LIFETIME_MS)) {
      throw new SessUsageError(`setExpiry: the Date must be a valid time within 400 days of now, got ${String(value)}`);
    }
    if (
      expiry?.kind === 'duration' &&
      !(typeof value === 'number' && expiry.ms >= MIN_COOKIE_LIFETIME_MS && expiry.ms <= MAX_LIFETIME_MS)
    ) {
      throw new SessUsageError(
        `setExpiry: seconds must be 0 (browser session) or from 1 to ${MAX_LIFETIME_MS / 1000} (400 days), got ${String(value)}`,
      );
    }
    this.step({ type: 'app.setExpiry', browserSession: this.endsWithBrowser(expiry) }, 'setExpiry');
    this.expiry = expiry;
  }

  /**
   * Keeps a message for the next request that takes it (a flash: set now, read once).
   * Messages are grouped by `kind` (e.g. `'info'`, `'error'`) and must survive JSON.
   */
  flash(kind: string, message: unknown): void {
    const flashes = this.flashes();
    const earlier = Object.hasOwn(flashes, kind) ? (flashes[kind] as unknown[]) : [];
    this.set(FLASH_KEY, { ...flashes, [kind]: [...earlier, message] } as Data[keyof Data & string]);
  }

  /**
   * Returns the flash messages of `kind` (or of every kind, flattened in kind order) and removes
   * them, so each is read once. Returns `[]` when there are none, without writing anything.
   */
  takeFlash(kind?: string): unknown[] {
    const flashes = this.flashes();
    const kinds = kind === undefined ? Object.keys(flashes) : Object.hasOwn(flashes, kind) ? [kind] : [];
    if (kinds.length === 0) return [];
    const taken = kinds.flatMap((name) => flashes[name] ?? []);
    const rest: Record<string, unknown[]> = { ...flashes };
    for (const name of kinds) delete rest[name];
    if (Object.keys(rest).length === 0) this.delete(FLASH_KEY);
    else this.set(FLASH_KEY, rest as Data[keyof Data & string]);
    return taken;
  }

  /** Asks the browser to store a test cookie (Django `set_test_cookie`); no store involved. */
  setTestCookie(): void {
    this.step({ type: 'app.setTestCookie' });
  }

  /** Whether the browser sent the test cookie back. */
  testCookieWorked(): boolean {
    this.step({ type: 'app.checkTestCookie' });
    return this.node.context.testCookieReceived;
  }

  deleteTestCookie(): void {
    this.step({ type: 'app.deleteTestCookie' });
  }

  /**
   * Ends the request's session: saves, touches or destroys as the lifecycle decides, waiting
   * for any operation still in flight. Call it before the response headers leave.
   *
   * @returns the HTTP effects to apply to the response.
   * @throws SessStoreError when a store write failed or timed out: the response must not be a 2xx.
   */
  async commit(response: ResponseFacts): Promise<readonly HttpEffect[]> {
    if (this.inflight !== undefined) await this.inflight.catch(() => undefined);
    let empty = true;
    for (const _ in this.data) {
      empty = false;
      break;
    }
    return this.run({
      type: 'response.commit',
      serverError: response.status >= 500,
      empty,
      cookieAlreadySet: response.cookieAlreadySet ?? false,
      cacheControlSet: response.cacheControlSet ?? false,
    });
  }

  private flashes(): Record<string, unknown[]> {
    const stored = this.get(FLASH_KEY as keyof Data & string) as unknown;
    // Without a prototype, a kind named `__proto__` is just a kind.
    const flashes = Object.create(null) as Record<string, unknown[]>;
    if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return flashes;
    // Only arrays count: a stored value of another shape is ignored rather than trusted.
    for (const [name, messages] of Object.entries(stored)) if (Array.isArray(messages)) flashes[name] = messages;
    return flashes;
  }

  private run(event: LifecycleEvent, operation?: string): Promise<HttpEffect[]> {
    let effects: readonly Effect[];
    try {
      effects = this.step(event, operation);
    } catch (error) {
      return Promise.reject(error);
    }
    if (effects.length === 0) return Promise.resolve([]);
    const running = runEffects(effects, this.store, this.config.deadlines, this.feedback);
    this.inflight = running;
    return running;
  }

  private readonly feedback: StoreFeedback = (effect, outcome) => {
    if (this.config.onEvent !== undefined) this.report(effect, outcome);
    if (!outcome.ok) return this.step(failedEvent);
    if (effect.type !== 'store.load') return this.step(outcome.refused === true ? refusedEvent : doneEvent);
    return this.step({ type: 'store.loaded', ...this.judge(outcome) });
  };

  /** Names what a finished store call meant; it reports, the machine decides. */
  private report(effect: StoreEffect, outcome: StoreOutcome): void {
    let event: SessionEvent | undefined;
    if (!outcome.ok) {
      event = {
        type: 'storeError',
        idHash: hashId(effect.id),
        op: outcome.error.op,
        code: outcome.error.code as 'store_failed' | 'store_timeout',
      };
    } else if (effect.type === 'store.save' && effect.changes.created) {
      // A first save under a new id replaces the client's record only after regenerate.
      event =
        this.regeneratedFrom === undefined
          ? { type: 'created', idHash: hashId(effect.id) }
          : { type: 'regenerated', idHash: hashId(effect.id), previousIdHash: hashId(this.regeneratedFrom) };
    } else if (effect.type === 'store.destroy' && effect.id !== this.regeneratedFrom) {
      event = { type: 'destroyed', idHash: hashId(effect.id) };
    } else if (effect.type === 'store.load') {
      // The cookie's signature is ours, so a missing record is one that died, not a forgery.
      const reason = isSessionRecord(outcome.record) ? this.expiryReason(outcome.record.meta) : 'gone';
      if (reason !== undefined) event = { type: 'expired', idHash: hashId(effect.id), reason };
    }
    if (event !== undefined) this.emit(event);
  }

  private emit(event: SessionEvent): void {
    try {
      this.config.onEvent?.(event);
    } catch {
      // A failing logger must not fail the request (documented on `onEvent`).
    }
  }

  private expiryReason(meta: SessionMeta): 'lifetime' | 'idle' | 'absolute' | undefined {
    const { idleTimeoutMs, absoluteTimeoutMs } = this.config;
    if (timesAhead(meta, this.now)) return 'lifetime';
    // Most specific first: a timeout also caps `expiresAt`, so both can have passed.
    if (absoluteTimeoutMs !== undefined && this.now - meta.createdAt >= absoluteTimeoutMs) return 'absolute';
    if (idleTimeoutMs !== undefined && this.now - meta.touchedAt >= idleTimeoutMs) return 'idle';
    if (meta.expiresAt <= this.now) return 'lifetime';
    return undefined;
  }

  /** The loaded record as facts for the machine; times come from the store, never the client. */
  private judge(outcome: StoreOutcome & { ok: true }): LoadedFacts {
    const stored = outcome.record;
    const record = isSessionRecord(stored) ? this.accept(this.loadingId as string, stored) : undefined;
    if (record === undefined) {
      return {
        record: 'missing',
        pastExpiry: false,
        pastIdleTimeout: false,
        pastAbsoluteTimeout: false,
        touchIntervalPassed: false,
        browserSession: false,
        retired: false,
      };
    }
    this.loaded = record;
    const { meta } = record;
    const { idleTimeoutMs, absoluteTimeoutMs, touchAfterMs } = this.config;
    return {
      record: 'live',
      pastExpiry: meta.expiresAt <= this.now || timesAhead(meta, this.now),
      pastIdleTimeout: idleTimeoutMs !== undefined && this.now - meta.touchedAt >= idleTimeoutMs,
      pastAbsoluteTimeout: absoluteTimeoutMs !== undefined && this.now - meta.createdAt >= absoluteTimeoutMs,
      touchIntervalPassed: this.now - meta.touchedAt >= touchAfterMs,
      browserSession: this.endsWithBrowser(meta.expiry),
      retired: meta.retired === true,
    };
  }

  /** Stored data through `migrate` and `schema`; `undefined` when it doesn't pass. */
  private accept(id: string, record: SessionRecord): SessionRecord | undefined {
    const { migrate, schema } = this.config;
    if (migrate === undefined && schema === undefined) return record;
    let data: unknown;
    try {
      data = migrate === undefined ? record.data : migrate(dataFrom(record.data));
      if (schema !== undefined) {
        const result = schema['~standard'].validate(data);
        if (result instanceof Promise) throw new SessConfigError('schema validates asynchronously; sessions need a synchronous schema');
        data = result.issues === undefined ? result.value : undefined;
      }
    } catch (error) {
      if (error instanceof SessConfigError) throw error;
      data = undefined;
    }
    if (!isPlainObject(data)) {
      this.emit({ type: 'invalid', idHash: hashId(id) });
      return undefined;
    }
    return { data, meta: record.meta };
  }

  /** A per-session lifetime wins; without one, the configured default applies. */
  private endsWithBrowser(expiry: ExpirySetting | undefined): boolean {
    if (expiry !== undefined) return expiry.kind === 'browser';
    return this.request.maxAgeMs === undefined ? this.config.expireAtBrowserClose : this.request.maxAgeMs === null;
  }

  private loaded: SessionRecord | undefined;
  /** The id the last `store.load` asked for. */
  private loadingId: string | undefined;

  /** One lifecycle step; `operation` names the app's call in the error when the machine refuses it. */
  private step(event: LifecycleEvent, operation: string = event.type): readonly Effect[] {
    const step = this.config.lifecycle.next(this.node, event);
    if (step === undefined) {
      // The machine refuses every change on a read-only request; say so rather than "not allowed".
      if (this.node.context.readOnly) {
        throw new SessUsageError(`${operation}() on a read-only session: this request may read the session but not change it`);
      }
      throw new SessUsageError(`${operation} is not allowed now (session state: ${String(this.node.snapshot.value)})`);
    }
    this.node = step.to;
    return this.perform(step.actions);
  }

  /** Carries out a step's actions: the data-side ones here, the rest returned as effects. */
  private perform(actions: readonly LifecycleAction[]): readonly Effect[] {
    if (actions.length === 0) return actions as readonly never[];
    const effects: Effect[] = [];
    for (const action of actions) {
      switch (action) {
        case 'assignNewId':
          this.currentId = this.freshId();
          break;
        case 'adoptLoadedRecord':
          if (this.loaded !== undefined) {
            this.data = dataFrom(this.loaded.data);
            this.meta = this.loaded.meta;
            this.expiry = this.loaded.meta.expiry;
          }
          this.currentId = this.loadingId;
          this.setKeys.clear();
          this.deletedKeys.clear();
          break;
        case 'clearData':
          this.data = dataFrom(undefined);
          this.setKeys.clear();
          this.deletedKeys.clear();
          break;
        case 'forgetId':
          this.currentId = undefined;
          this.meta = undefined;
          this.expiry = undefined;
          break;
        case 'loadRecord':
          // The client's record, or on reload the current one (a new id saved already has its own).
          this.loadingId = this.currentId ?? this.clientId;
          effects.push({ type: 'store.load', id: this.loadingId as string });
          break;
        case 'saveRecord':
          effects.push(this.saveEffect());
          break;
        case 'touchRecord': {
          const { meta, ttlMs } = this.nextMeta();
          this.meta = meta;
          effects.push({ type: 'store.touch', id: this.currentId as string, meta, ttlMs, record: { data: this.data, meta } });
          break;
        }
        case 'destroyCurrentRecord':
          effects.push({ type: 'store.destroy', id: this.currentId as string });
          break;
        case 'destroyClientRecord':
          effects.push({ type: 'store.destroy', id: this.clientId as string });
          break;
        case 'retireClientRecord':
          effects.push(this.retireEffect());
          break;
        case 'destroyReplacedRecord':
          effects.push({ type: 'store.destroy', id: this.clientId as string });
          break;
        case 'setSessionCookie':
          effects.push(this.sessionCookie(true));
          break;
        case 'setBrowserSessionCookie':
          effects.push(this.sessionCookie(false));
          break;
        case 'deleteSessionCookie':
          effects.push({ type: 'cookie.delete', name: this.config.name, attributes: this.baseAttributes() });
          break;
        case 'setTestCookie':
          effects.push({ type: 'cookie.set', name: this.config.testCookieName, value: '1', attributes: this.baseAttributes() });
          break;
        case 'deleteTestCookie':
          effects.push({ type: 'cookie.delete', name: this.config.testCookieName, attributes: this.baseAttributes() });
          break;
        case 'varyOnCookie':
          effects.push({ type: 'header.vary', value: 'Cookie' });
          break;
        case 'markPrivate':
          effects.push({ type: 'header.cacheControl', value: 'private' });
          break;
        default:
          assertNever(action);
      }
    }
    return effects;
  }

  /** A custom generator's id must pass the same check as a cookie's, or it could never come back. */
  private freshId(): string {
    const id = (this.request.generateId ?? this.config.generateId)();
    if (!isWellFormedId(id)) {
      throw new SessConfigError(`generateId returned ${JSON.stringify(id).slice(0, 40)}: ids must be 22-128 characters of A-Z a-z 0-9 _ -`);
    }
    return id;
  }

  /** Lifetimes from the stored setting and the configured timeouts, measured from now. */
  private lifetime(): { ttlMs: number; cookieExpiresAt: number } {
    const { idleTimeoutMs, absoluteTimeoutMs } = this.config;
    const maxAgeMs = typeof this.request.maxAgeMs === 'number' ? this.request.maxAgeMs : this.config.maxAgeMs;
    const expiry = this.expiry;
    let cookieLifeMs = expiry?.kind === 'duration' ? expiry.ms : expiry?.kind === 'at' ? expiry.at - this.now : maxAgeMs;
    if (absoluteTimeoutMs !== undefined) {
      const createdAt = this.meta?.createdAt ?? this.now;
      cookieLifeMs = Math.min(cookieLifeMs, createdAt + absoluteTimeoutMs - this.now);
    }
    const ttlMs = idleTimeoutMs === undefined ? cookieLifeMs : Math.min(cookieLifeMs, idleTimeoutMs);
    return { ttlMs, cookieExpiresAt: this.now + cookieLifeMs };
  }

  private nextMeta(): { meta: SessionMeta; ttlMs: number } {
    const { ttlMs } = this.lifetime();
    const meta: SessionMeta = {
      createdAt: this.meta?.createdAt ?? this.now,
      touchedAt: this.now,
      expiresAt: this.now + ttlMs,
      ...(this.expiry === undefined ? {} : { expiry: this.expiry }),
    };
    return { meta, ttlMs };
  }

  private saveEffect(): Effect {
    const { meta, ttlMs } = this.nextMeta();
    this.meta = meta;
    return {
      type: 'store.save',
      id: this.currentId as string,
      record: { data: this.data, meta },
      ttlMs,
      changes: { set: [...this.setKeys], deleted: [...this.deletedKeys], created: this.currentId !== this.clientId },
    };
  }

  /**
   * The client's old record after regenerate: destroyed, or with a grace window kept as loaded,
   * marked retired and living at most `regenerateGraceMs` more (never longer than it would have).
   */
  private retireEffect(): Effect {
    const id = this.clientId as string;
    const { regenerateGraceMs } = this.config;
    // The machine retires only a record it loaded (clientRecordLive).
    const loaded = this.loaded as SessionRecord;
    const expiresAt = Math.min(loaded.meta.expiresAt, this.now + regenerateGraceMs);
    const meta: SessionMeta = { ...loaded.meta, expiresAt, retired: true };
    return { type: 'store.touch', id, meta, ttlMs: expiresAt - this.now, record: { data: loaded.data, meta } };
  }

  private baseAttributes(): Readonly<CookieAttributes> {
    return this.request.secure ? this.config.cookie.onSecure : this.config.cookie.onPlain;
  }

  private sessionCookie(persistent: boolean): HttpEffect {
    const { name } = this.config;
    const base = this.baseAttributes();
    const id = this.currentId as string;
    const value = this.cookieStore === undefined ? this.config.signer.sign(name, id) : this.cookieStore.seal(name, id);
    let attributes: CookieAttributes = base;
    if (persistent) {
      const expires = this.lifetime().cookieExpiresAt;
      attributes = { ...base, expires, maxAgeMs: Math.max(0, expires - this.now) };
    }
    if (this.cookieStore !== undefined) this.assertFits(name, value, attributes);
    return { type: 'cookie.set', name, value, attributes };
  }

  /** Refuses a Set-Cookie browsers would drop: the app must hear of it, not lose the session. */
  private assertFits(name: string, value: string, attributes: CookieAttributes): void {
    const bytes = Buffer.byteLength(serializeCookie(name, value, attributes));
    if (bytes <= COOKIE_BYTES_LIMIT) return;
    const record = (this.cookieStore as RequestStore).current(this.currentId as string);
    const sizes = Object.entries(record?.data ?? {})
      .map(([key, entry]) => [key, Buffer.byteLength(JSON.stringify(entry) ?? '')] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([key, size]) => `${JSON.stringify(key)} ${size} B`);
    throw new SessUsageError(
      `cookie session is ${bytes} bytes (limit ${COOKIE_BYTES_LIMIT}): largest keys ${sizes.join(', ')} (JSON sizes, before ${this.config.storage.cookies?.mode === 'encrypt' ? 'encryption and ' : ''}base64url); keep less in the session or use a server-side store`,
      'session_too_large',
    );
  }
}
