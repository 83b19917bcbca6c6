/**
 * One request's session state, the one value the lifecycle's actions change: the ids, the data
 * and what changed in it, the lifetime setting, the record loaded. `perform` carries out a
 * step's actions: the data-side ones here, the store and HTTP ones returned as effects.
 */
import type { CookieAttributes } from './cookie.js';
import { SET_COOKIE_OVERHEAD_BYTES, readCookie, serializeCookie } from './cookie.js';
import { requestStore } from './cookie-sessions.js';
import type { RequestStore } from './cookie-sessions.js';
import type { Effect, HttpEffect, StoreEffect } from './effects.js';
import { MARK_PRIVATE, assertNever } from './effects.js';
import { SessConfigError, SessUsageError } from './errors.js';
import { checkGeneratedId, generateId } from './ids.js';
import { lifetime, nextMeta } from './lifetime.js';
import type { LifetimeBasis } from './lifetime.js';
import type { ClientCookie, LifecycleAction } from './machine.js';
import type { Config } from './options.js';
import { MAX_LIFETIME_MS } from './options.js';
import { dataFrom } from './record.js';
import type { RequestFacts } from './session-api.js';
import type { StoreReport } from './session-events.js';
import type { ExpirySetting, SessionData, SessionMeta, SessionRecord, Store } from './store.js';

/** Browsers keep at most 4096 bytes of a cookie's name, value and attributes (RFC 6265 §6.1). */
const COOKIE_BYTES_LIMIT = 4096;

const NO_EFFECTS: readonly Effect[] = Object.freeze([]);
const VARY_ON_COOKIE: HttpEffect = Object.freeze({ type: 'header.vary', value: 'Cookie' });

export class SessionState implements LifetimeBasis {
  /** The clock as of the last store step (see `RequestSession.run`): lifetimes count from the write itself. */
  now: number;
  readonly requestMaxAgeMs: number | null | undefined;
  /** The id the client's cookie names, once verified (or opened, for cookie sessions). */
  readonly clientId: string | undefined;
  readonly clientCookie: ClientCookie;
  /** This request's store: the configured one, or for cookie sessions one over the cookie's record. */
  readonly store: Store;
  private readonly cookieStore: RequestStore | undefined;
  currentId: string | undefined;
  data: SessionData = dataFrom(undefined);
  meta: SessionMeta | undefined;
  expiry: ExpirySetting | undefined;
  /** Keys set and deleted since the data was loaded or cleared; made at the first change (most requests only read). */
  private setKeys: Set<string> | undefined;
  private deletedKeys: Set<string> | undefined;
  /** The record the last load accepted, kept for `adoptLoadedRecord` and `adoptReloadedRecord`. */
  loaded: SessionRecord | undefined;
  /**
   * The client's record as loaded, kept for the grace-window retire: never the new id's record a
   * reload read back (`adoptReloadedRecord`), which must not reach whoever holds the old id.
   */
  private clientRecord: SessionRecord | undefined;
  /** An id drawn for the step about to be taken (`drawId`). */
  private drawn: string | undefined;
  /** The id the last `store.load` asked for. */
  loadingId: string | undefined;
  /** The lifecycle dropped the change just asked for (`dropChange`): the caller leaves the data as it is. */
  changeDropped = false;
  /** What `onEvent` reports for a store effect once it succeeds, by the action that made it (kept only with `onEvent`). */
  private reports: Map<StoreEffect, StoreReport> | undefined;

  constructor(
    readonly config: Config,
    private readonly request: RequestFacts,
  ) {
    this.now = config.clock();
    this.requestMaxAgeMs = request.maxAgeMs;
    const raw = readCookie(request.cookieHeader, config.name);
    let verified: { readonly id: string; readonly rotated: boolean } | undefined;
    const { store, cookies } = config.storage;
    if (cookies === undefined) {
      verified = raw === undefined ? undefined : config.signer.verify(config.name, raw);
      this.store = request.store ?? store;
    } else {
      const opened = raw === undefined ? undefined : cookies.open(config.name, raw);
      if (opened !== undefined) verified = { id: opened.session.id, rotated: opened.rotated };
      this.cookieStore = requestStore(cookies, opened && { name: config.name, value: raw as string, session: opened.session }, this);
      this.store = this.cookieStore;
    }
    this.clientCookie = raw === undefined ? 'absent' : verified === undefined ? 'rejected' : verified.rotated ? 'rotated' : 'valid';
    this.clientId = verified?.id;
  }

  /**
   * The latest `expiresAt` any copy of the client's cookie may carry (see `requestStore`): each
   * was sealed by a request up to now, which may have given it the longest lifetime sess takes
   * (`setExpiry`, a request's own `maxAgeMs`), within the idle and absolute timeouts.
   */
  revocationEnds(meta: SessionMeta): number {
    const { idleTimeoutMs, absoluteTimeoutMs } = this.config;
    let ends = this.now + MAX_LIFETIME_MS;
    if (idleTimeoutMs !== undefined) ends = Math.min(ends, this.now + idleTimeoutMs);
    if (absoluteTimeoutMs !== undefined) ends = Math.min(ends, meta.createdAt + absoluteTimeoutMs);
    return ends;
  }

  /** Lifetimes from the session's own setting and the configured ones, measured from now. */
  lifetime(): { ttlMs: number; cookieExpiresAt: number } {
    return lifetime(this, this.expiry, this.meta?.createdAt ?? this.now);
  }

  /** Carries out a step's actions: the data-side ones here, the rest returned as effects. */
  perform(actions: readonly LifecycleAction[]): readonly Effect[] {
    // Most steps yield no effect or one: the list is made at the first, holding just it (a list
    // that starts empty is given room for 16 at its first push).
    let effects: Effect[] | undefined;
    for (const action of actions) {
      const effect = this.carryOut(action);
      if (effect === undefined) continue;
      if (effects === undefined) effects = [effect];
      else effects.push(effect);
    }
    return effects ?? NO_EFFECTS;
  }

  /** Carries out one action: a data-side one here; any other comes back as its effect. */
  private carryOut(action: LifecycleAction): Effect | undefined {
    switch (action) {
      case 'assignNewId':
        this.currentId = this.drawn ?? this.freshId();
        this.drawn = undefined;
        return undefined;
      case 'adoptLoadedRecord':
        this.clientRecord = this.loaded;
        return this.carryOut('adoptReloadedRecord');
      case 'adoptReloadedRecord':
        if (this.loaded !== undefined) {
          this.data = dataFrom(this.loaded.data);
          this.meta = this.loaded.meta;
          this.expiry = this.loaded.meta.expiry;
        }
        this.currentId = this.loadingId;
        this.forgetChanges();
        return undefined;
      case 'clearData':
        this.data = dataFrom(undefined);
        this.forgetChanges();
        return undefined;
      case 'forgetId':
        this.currentId = undefined;
        this.meta = undefined;
        this.expiry = undefined;
        return undefined;
      case 'forgetExpiry':
        this.expiry = undefined;
        return undefined;
      case 'loadRecord':
        // The client's record, or on reload the current one (a new id saved already has its own).
        this.loadingId = this.currentId ?? this.clientId;
        return { type: 'store.load', id: this.loadingId as string };
      case 'saveRecord':
        return this.saveEffect();
      case 'saveNewRecord':
        return this.noted(this.saveEffect(), 'created');
      case 'saveRegeneratedRecord':
        return this.noted(this.saveEffect(), 'regenerated');
      case 'touchRecord': {
        const { meta, ttlMs } = this.nextMeta();
        this.meta = meta;
        return { type: 'store.touch', id: this.currentId as string, meta, ttlMs, record: { data: this.data, meta } };
      }
      case 'destroyCurrentRecord':
        return this.noted({ type: 'store.destroy', id: this.currentId as string }, 'destroyed');
      case 'destroyClientRecord':
        return this.noted({ type: 'store.destroy', id: this.clientId as string }, 'destroyed');
      case 'destroyReplacedRecord':
        // Retired after regenerate: the save under the new id reported the move.
        return { type: 'store.destroy', id: this.clientId as string };
      case 'retireClientRecord':
        return this.retireEffect();
      case 'setSessionCookie':
        return this.sessionCookie(true);
      case 'setBrowserSessionCookie':
        return this.sessionCookie(false);
      case 'deleteSessionCookie':
        return { type: 'cookie.delete', name: this.config.name, attributes: this.baseAttributes() };
      case 'setTestCookie':
        return { type: 'cookie.set', name: this.config.testCookieName, value: '1', attributes: this.baseAttributes() };
      case 'deleteTestCookie':
        return { type: 'cookie.delete', name: this.config.testCookieName, attributes: this.baseAttributes() };
      case 'varyOnCookie':
        return VARY_ON_COOKIE;
      case 'markPrivate':
        return MARK_PRIVATE;
      case 'dropChange':
        this.changeDropped = true;
        return undefined;
      case 'joinSignOut':
        return undefined;
      default:
        return assertNever(action);
    }
  }

  /** Notes that `key` was set this request. */
  noteSet(key: string): void {
    (this.setKeys ??= new Set()).add(key);
    this.deletedKeys?.delete(key);
  }

  /** Notes that `key` was deleted this request. */
  noteDeleted(key: string): void {
    (this.deletedKeys ??= new Set()).add(key);
    this.setKeys?.delete(key);
  }

  private forgetChanges(): void {
    this.setKeys = undefined;
    this.deletedKeys = undefined;
  }

  /** What `onEvent` reports once `effect` succeeds, if anything. */
  reportOf(effect: StoreEffect): StoreReport | undefined {
    return this.reports?.get(effect);
  }

  private noted(effect: StoreEffect, report: StoreReport): StoreEffect {
    if (this.config.onEvent !== undefined) (this.reports ??= new Map()).set(effect, report);
    return effect;
  }

  /**
   * Draws the id the next `assignNewId` gives the session, before the lifecycle moves: a generator
   * that throws (or repeats the session's id) then leaves the session as it was.
   */
  drawId(): void {
    this.drawn = this.freshId();
  }

  private freshId(): string {
    const generate = this.request.generateId ?? this.config.generateId;
    // An app's generator's id must pass the same check as a cookie's, or it could never come back;
    // sess's own are well formed by construction.
    const id = generate === generateId ? generate() : checkGeneratedId(generate());
    // The id this session has would be saved as the new record and then destroyed as the old one.
    if (id === this.clientId || id === this.currentId) {
      throw new SessConfigError('generateId returned the id this session already has: ids must be random (128 bits or more)');
    }
    return id;
  }

  private nextMeta(): { meta: SessionMeta; ttlMs: number } {
    return nextMeta(this, this.expiry, this.meta?.createdAt ?? this.now);
  }

  private saveEffect(): StoreEffect {
    const { meta, ttlMs } = this.nextMeta();
    this.meta = meta;
    // Cookie sessions keep the record they are handed, to seal at commit: a copy, or a change
    // made after `saveNow()` would be in "the saved record" that `reload()` reads back.
    const data = this.cookieStore === undefined ? this.data : dataFrom(this.data);
    return {
      type: 'store.save',
      id: this.currentId as string,
      record: { data, meta },
      ttlMs,
      changes: { set: [...(this.setKeys ?? [])], deleted: [...(this.deletedKeys ?? [])], created: this.currentId !== this.clientId },
    };
  }

  /**
   * The client's old record after regenerate: destroyed, or with a grace window kept as loaded,
   * marked retired and living at most `regenerateGraceMs` more (never longer than it would have).
   */
  private retireEffect(): StoreEffect {
    const id = this.clientId as string;
    const { regenerateGraceMs } = this.config;
    // The machine retires only a record it loaded (clientRecordLive).
    const loaded = this.clientRecord as SessionRecord;
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
    // A sealed value is base64url, one byte a character, so a line that surely fits is not
    // serialized here too: the adapter serializes it once, for the header. A codec's value may
    // be percent-encoded to up to 9 bytes a character, so it is always measured.
    const sealed = this.config.storage.cookies?.mode !== 'codec';
    const most = name.length + value.length + (attributes.domain?.length ?? 0) + (attributes.path?.length ?? 1) + SET_COOKIE_OVERHEAD_BYTES;
    if (sealed && most <= COOKIE_BYTES_LIMIT) return;
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
