/**
 * The framework-free session of one request: the app's API (get/set, regenerate, destroy, ...)
 * over the memoized lifecycle. Each call becomes a lifecycle event; the actions that come back
 * are carried out here (data-side: ids, data, lifetimes) or by the runner (store effects); the
 * HTTP effects go back to the adapter from `commit`. Nothing here decides session state.
 */
import type { CookieAttributes } from './cookie.js';
import { readCookie, serializeCookie } from './cookie.js';
import { requestStore } from './cookie-sessions.js';
import type { RequestStore } from './cookie-sessions.js';
import type { Effect, HttpEffect, StoreEffect } from './effects.js';
import { assertNever } from './effects.js';
import { SessConfigError, SessUsageError } from './errors.js';
import { isWellFormedId } from './ids.js';
import type { ClientCookie, LifecycleAction, LifecycleEvent, LoadedFacts } from './machine.js';
import { createConfig } from './options.js';
import type { Config, SessionManagerOptions } from './options.js';
import { dataFrom, isSessionRecord } from './record.js';
import type { LifecycleNode } from './runtime.js';
import { runEffects } from './runner.js';
import type { StoreFeedback, StoreOutcome } from './runner.js';
import { generateId } from './ids.js';
import { createHandoffs, createSocketSession } from './socket.js';
import { hashId, storeOutcomeEvent } from './session-events.js';
import { FLASH_KEY, flashesOf, takeFlashes, withFlash } from './flash.js';
import type { Flashes } from './flash.js';
import { checkRequestLifetime, endsWithBrowser, expirySetting, lifetime, nextMeta } from './lifetime.js';
import type { LifetimeBasis } from './lifetime.js';
import { MISSING_RECORD, acceptRecord, expiryReason, loadedFacts } from './loaded-record.js';
import type { SessionEvent } from './session-events.js';
import type { RequestFacts, ResponseFacts, Session, SessionManager } from './session-api.js';
import type { ExpirySetting, SessionData, SessionMeta, SessionRecord, Store } from './store.js';

export type { SessionCookieOptions, SessionManagerOptions } from './options.js';
export type { RequestFacts, ResponseFacts, Session, SessionManager } from './session-api.js';
export { MAX_LIFETIME_MS } from './options.js';

/** Browsers keep at most 4096 bytes of a cookie's name, value and attributes (RFC 6265 §6.1). */
const COOKIE_BYTES_LIMIT = 4096;

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
const writeEvent = { type: 'app.write' } as const;
const loadEvent = { type: 'app.load' } as const;
const doneEvent = { type: 'store.done' } as const;
const refusedEvent = { type: 'store.refused' } as const;
const failedEvent = { type: 'store.failed' } as const;

/**
 * The `Session` of one request (its methods are documented there): the app's calls become
 * lifecycle events; their actions are carried out here.
 */
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
  private readonly basis: LifetimeBasis;
  private readonly cookieStore: RequestStore | undefined;

  constructor(
    private readonly config: Config,
    private readonly request: RequestFacts,
  ) {
    this.now = config.clock();
    checkRequestLifetime(request.maxAgeMs);
    this.basis = { config, requestMaxAgeMs: request.maxAgeMs, now: this.now };
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
      browserSession: endsWithBrowser(this.basis, undefined),
      cookieCarriesData: cookies !== undefined,
      clientCookie,
      testCookieReceived: readCookie(request.cookieHeader, config.testCookieName) !== undefined,
    });
    this.node = start.to;
    this.perform(start.actions);
  }

  get id(): string | undefined {
    return this.currentId;
  }

  get expiresAt(): number | undefined {
    return this.currentId === undefined ? undefined : this.lifetime().cookieExpiresAt;
  }

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

  clear(): void {
    for (const key of this.keys()) this.delete(key);
  }

  async load(): Promise<void> {
    await this.run(loadEvent);
  }

  async regenerate(options: { keepData?: boolean } = {}): Promise<void> {
    await this.load();
    const previous = this.currentId;
    await this.run({ type: 'app.regenerate', keepData: options.keepData ?? true }, 'regenerate');
    // Remembered for `onEvent` only: the save under the new id reports it as a regeneration.
    if (previous !== undefined && previous === this.clientId) this.regeneratedFrom = previous;
  }

  async destroy(): Promise<void> {
    await this.run({ type: 'app.destroy' }, 'destroy');
  }

  async reload(): Promise<void> {
    await this.load();
    await this.run({ type: 'app.reload' });
  }

  save(): void {
    this.step({ type: 'app.save' }, 'save');
  }

  async saveNow(): Promise<void> {
    await this.load();
    await this.run({ type: 'app.saveNow' }, 'save');
  }

  async discard(): Promise<void> {
    if (this.inflight !== undefined) await this.inflight.catch(() => undefined);
    this.step({ type: 'app.discard' }, 'discard');
  }

  touch(): void {
    this.step({ type: 'app.touch' }, 'touch');
  }

  setExpiry(value: number | Date | null): void {
    const expiry = expirySetting(value, this.now);
    this.step({ type: 'app.setExpiry', browserSession: endsWithBrowser(this.basis, expiry) }, 'setExpiry');
    this.expiry = expiry;
  }

  flash(kind: string, message: unknown): void {
    this.set(FLASH_KEY, withFlash(this.flashes(), kind, message) as Data[keyof Data & string]);
  }

  takeFlash(kind?: string): unknown[] {
    const taking = takeFlashes(this.flashes(), kind);
    if (taking === undefined) return [];
    if (Object.keys(taking.rest).length === 0) this.delete(FLASH_KEY);
    else this.set(FLASH_KEY, taking.rest as Data[keyof Data & string]);
    return taking.taken;
  }

  setTestCookie(): void {
    this.step({ type: 'app.setTestCookie' });
  }

  testCookieWorked(): boolean {
    this.step({ type: 'app.checkTestCookie' });
    return this.node.context.testCookieReceived;
  }

  deleteTestCookie(): void {
    this.step({ type: 'app.deleteTestCookie' });
  }

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

  private flashes(): Flashes {
    return flashesOf(this.get(FLASH_KEY as keyof Data & string));
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
    return this.step({ type: 'store.loaded', ...this.judge(outcome.record) });
  };

  private report(effect: StoreEffect, outcome: StoreOutcome): void {
    // The cookie's signature is ours, so a missing record is one that died, not a forgery.
    const event = storeOutcomeEvent(effect, outcome, this.regeneratedFrom, (record) =>
      isSessionRecord(record) ? expiryReason(this.config, record.meta, this.now) : 'gone',
    );
    if (event !== undefined) this.emit(event);
  }

  private emit(event: SessionEvent): void {
    try {
      this.config.onEvent?.(event);
    } catch {
      // A failing logger must not fail the request (documented on `onEvent`).
    }
  }

  /** The loaded record as facts for the machine, kept for `adoptLoadedRecord`. */
  private judge(stored: unknown): LoadedFacts {
    const record = isSessionRecord(stored) ? acceptRecord(this.config, stored) : undefined;
    if (record === undefined) {
      if (isSessionRecord(stored)) this.emit({ type: 'invalid', idHash: hashId(this.loadingId as string) });
      return MISSING_RECORD;
    }
    this.loaded = record;
    return loadedFacts(this.config, record.meta, this.now, endsWithBrowser(this.basis, record.meta.expiry));
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

  /** Lifetimes from the session's own setting and the configured ones, measured from now. */
  private lifetime(): { ttlMs: number; cookieExpiresAt: number } {
    return lifetime(this.basis, this.expiry, this.meta?.createdAt ?? this.now);
  }

  private nextMeta(): { meta: SessionMeta; ttlMs: number } {
    return nextMeta(this.basis, this.expiry, this.meta?.createdAt ?? this.now);
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
