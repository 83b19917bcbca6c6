/**
 * One request's session: the facts the core gets (the cookie, or the external key, as koa-session
 * reads it), the `ctx.session` object koa-session's API hands out, and the commit, whose effects
 * come back as koa-session's cookies. The core decides every write; this file reports what the
 * app did and translates what the core answers.
 */
import { createHash } from 'node:crypto';
import type { SessionRecord, HttpEffect, Session as CoreSession, SessionManager, Signer, CookieAttributes } from '@sess/core';
import { SessStoreError, SessUsageError, isWellFormedId } from '@sess/core';
import {
  MAX_LIFETIME_MS,
  assertNever,
  keepsSharedCachesOut,
  lifetimeExpiry,
  markHttpError,
  privately,
  withErrorHeaders,
} from '@sess/core/adapter';
import type { Context } from 'koa';
import { cookieLines, deletionLines, checkCookieValue, mergedLines, withSameSite } from './cookies.js';
import { type KoaSessionObject, define, renewDue, savedData } from './format.js';
import { type ExternalKey, type SessionOptions, sameSiteOf } from './options.js';
import type { Keys } from './keys.js';
import { type ExternalStore, type StorageRequest, joinedValue, signedBy } from './storage.js';
import { type Session, SessionObject, type SessionHost } from './view.js';

/** The options koa-session hands to Koa's `ctx.cookies.set`, as this request's `ctx.sessionOptions` holds them. */
const COOKIE_ATTRIBUTES = ['domain', 'path', 'secure', 'httpOnly', 'sameSite', 'partitioned', 'priority'] as const;

/** The app changed a cookie attribute on this request's `ctx.sessionOptions` (`shown`, as the middleware made them). */
function changesAttributes(current: Record<string, unknown>, shown: Record<string, unknown>): boolean {
  for (const name of COOKIE_ATTRIBUTES) if (current[name] !== shown[name]) return true;
  return false;
}

/** What every request of one middleware shares: its options, as checked once. */
export interface Shared {
  /** The options as koa-session shows them on `ctx.sessionOptions`, defaults filled in. */
  readonly options: object;
  readonly manager: SessionManager;
  /** The core's name for the cookie it plans; the app's cookie is `key`. */
  readonly coreName: string;
  readonly key: string;
  readonly signed: boolean;
  readonly overwrite: boolean;
  readonly autoCommit: boolean;
  /** The SameSite the app chose: without one the cookie has none, as koa-session's. */
  readonly sameSite: 'strict' | 'lax' | 'none' | undefined;
  /** The app asked for Partitioned cookies. */
  readonly partitioned: boolean;
  /** The attributes the core planned for a cookie, with koa-session's SameSite and Partitioned (see `sameSitePlan`). */
  readonly koaAttributes: (planned: CookieAttributes) => CookieAttributes;
  /** External store (koa-session's store mode) rather than the cookie. */
  readonly storeMode: boolean;
  readonly store: ExternalStore | undefined;
  readonly ContextStore: (new (ctx: Context) => ExternalStore) | undefined;
  readonly externalKey: ExternalKey | undefined;
  readonly genid: (ctx: Context) => string;
  readonly beforeSave: ((ctx: Context, session: Session) => void) | undefined;
  readonly maxAge: number | 'session' | undefined;
  readonly rolling: boolean;
  readonly renew: boolean;
  readonly clock: () => number;
  readonly keys: (appKeys: unknown) => Keys;
  /** The core's cookie value for an id, under the current internal secret or (rotated) the older one. */
  readonly signers: { readonly current: Signer; readonly older: Signer };
}

/** A key koa-session would use (any string) as an id the core accepts: itself when it is one, else its SHA-256. */
function coreIdOf(key: string): string {
  return isWellFormedId(key) ? key : createHash('sha256').update(key).digest('base64url');
}

/** What a call that came after the commit could not do, and what to do instead. */
const LATE = {
  save: 'the changes made to it since were not saved (koa-session writes them then): make them, and save, behind session()',
  manuallyCommit: 'the changes made to it since were not saved (koa-session writes them then): make them, and commit, behind session()',
  regenerate: 'it keeps its key (koa-session gives it a new one then): regenerate behind session()',
} as const;

/** A negative `maxAge`: koa-session writes its cookie already expired, so the session ends. */
const ENDS = 'ends';

/**
 * A `maxAge` the app assigns, as `setExpiry` takes it: seconds, `0` for `'session'`, `null` for the
 * default, or `ENDS`. `0` too ends with the browser: koa-session's cookies set no expiry for a falsy one.
 */
function expiryOf(maxAge: unknown): number | null | typeof ENDS {
  if (maxAge === undefined || maxAge === null) return null;
  if (maxAge === 0) return 0;
  if (typeof maxAge === 'number' && maxAge < 0) return ENDS;
  // koa-session takes any lifetime; browsers keep a cookie 400 days at most, as sess keeps a session.
  if (typeof maxAge === 'number' && maxAge > MAX_LIFETIME_MS) return MAX_LIFETIME_MS / 1000;
  return lifetimeExpiry(maxAge, 1, 'ctx.session.maxAge', SessUsageError);
}

/** The lifetime in a session object koa-session saved: `_maxAge`, or `'session'` for `_session`. */
function savedLifetime(object: unknown): number | 'session' | undefined {
  // koa-session takes any `_session` key, whatever its value, as a browser session.
  if (Object.hasOwn(Object(object), '_session')) return 'session';
  const maxAge = (object as { _maxAge?: unknown } | undefined)?._maxAge;
  return typeof maxAge === 'number' ? maxAge : undefined;
}

/**
 * `error` as Koa's error handling should answer it: a sess error with its status hint, and the
 * session's cookies while this request's `ctx.onerror` answers it (see `answerWithCookies`).
 */
export function koaError(error: unknown, setCookies: readonly string[] = [], ctx?: Context): unknown {
  if (typeof error !== 'object' || error === null) return error;
  markHttpError(error);
  if (setCookies.length > 0 && ctx !== undefined) answerWithCookies(ctx, error, setCookies);
  return error;
}

/**
 * Has this request's `ctx.onerror` answer `error` with `setCookies`, which Koa drops with every
 * header set before it: they are the error's `headers` only while it answers (not enumerable, so
 * a logger does not print them), since an error object thrown on many requests (a module-level
 * one) must not carry one visitor's cookies to the next. Error path only: `ctx` gets an own
 * `onerror`.
 */
function answerWithCookies(ctx: Context, error: object, setCookies: readonly string[]): void {
  const base = ctx.onerror;
  ctx.onerror = function (this: Context, thrown: Error) {
    if (thrown !== error) return base.call(this, thrown);
    const headers = { ...(error as { headers?: object }).headers, 'Set-Cookie': setCookies };
    return withErrorHeaders(error, headers, () => base.call(this, thrown));
  };
}

export class RequestSession implements SessionHost, StorageRequest {
  readonly store: ExternalStore;
  readonly keys: Keys | undefined;
  /** The store's key of each core id this request has seen. */
  private readonly ids = new Map<string, string>();
  core!: CoreSession;
  /** The store's key the request came with (store mode), for the events. */
  clientKey: string | undefined;
  loaded: unknown = undefined;
  changed = false;
  /** `ctx.session = null`: destroyed at the commit. */
  private unset = false;
  /** `regenerate()` or a new `ctx.session.maxAge`: koa-session's forced save, whose `changed` is false. */
  private forced = false;
  private view: SessionObject | undefined;
  /** Each key's JSON when the app first got the session (or last saved it): the commit reports the keys whose JSON moved. */
  private readonly snapshot = new Map<string, string>();
  /** Each key's JSON as loaded: koa-session's `changed` compares the session with it at every save. */
  private readonly initial = new Map<string, string>();
  private lifetime: number | 'session' | undefined;
  /** The lifetime applied is negative: the commit ends the session (koa-session's expired cookie). */
  private ends = false;
  /** `ctx.sessionOptions.maxAge` was set: the lifetime of the next save, which it does not cause (koa-session's). */
  private lifetimePending = false;
  /** A key handed out by `externalKey` before the session had one: the next new id gets it. */
  private pendingKey: string | undefined;
  private committed: Promise<string[]> | undefined;
  private options: object | undefined;
  /** `save()` wrote the session during this request. */
  private savedNow = false;
  /**
   * `save()` or `regenerate()` with `autoCommit: false`: koa-session sends their cookie at once,
   * so the request commits what they did even if the app never calls `manuallyCommit()`.
   */
  owesCommit = false;
  /** What `beforeSave` threw: the core sees it as the store's failure, Koa must get it as thrown. */
  private hookError: unknown;
  /**
   * `beforeSave` ran for the write under way, before the core wrote (see `beforeSave`): the
   * lifetime it set is the save's, as koa-session's save reads it after the hook.
   */
  private hookRan = false;
  /**
   * What `valid()` threw on the loaded session: koa-session makes no session of it, and the
   * error answers the request (see `validThrew`). Cleared when the app assigns `ctx.session`.
   */
  private validFailure: { readonly error: unknown } | undefined;
  /** The session was loaded (koa-session's `prevHash`): an empty one is still saved, as `{}`. */
  private adopted = false;

  constructor(
    readonly ctx: Context,
    private readonly shared: Shared,
  ) {
    const { store, ContextStore, signed } = shared;
    this.store = (ContextStore === undefined ? store : new ContextStore(ctx)) as ExternalStore;
    this.keys = signed ? shared.keys(ctx.app.keys) : undefined;
    this.lifetime = shared.maxAge;
  }

  /** Starts the core's session from the cookie (or external key) koa-session would read. */
  begin(): void {
    this.core = this.shared.manager.begin({ cookieHeader: this.coreCookie(), secure: this.ctx.secure });
  }

  private coreCookie(): string | undefined {
    const { key, signed, storeMode, externalKey, coreName, signers } = this.shared;
    const { ctx } = this;
    // koa-session's external key is not signed, and only store mode has one.
    const external = storeMode && externalKey !== undefined;
    const value = external ? externalKey.get(ctx) : ctx.cookies.get(key, { signed: false });
    if (typeof value !== 'string' || value === '') return undefined;
    const signature = signed && !external ? ctx.cookies.get(`${key}.sig`, { signed: false }) : undefined;
    // Cookie mode: the codec checks the signature. Store mode: checked here, then handed to the core as an id it signed itself.
    if (!storeMode) return `${coreName}=${encodeURIComponent(joinedValue(value, signature))}`;
    let index = 0;
    if (signed && !external) index = signature === undefined ? -1 : signedBy(this.keys as Keys, key, value, signature);
    if (index < 0) return undefined;
    const id = coreIdOf(value);
    this.ids.set(id, value);
    this.clientKey = value;
    return `${coreName}=${(index === 0 ? signers.current : signers.older).sign(coreName, id)}`;
  }

  /** A new id for the core, from koa-session's `genid(ctx)` (or `prefix` + a UUID). */
  newId(): string {
    const key = this.pendingKey ?? this.shared.genid(this.ctx);
    this.pendingKey = undefined;
    // Refused before the store is written: a key the cookie can't carry would be saved, then fail the response.
    if (this.shared.storeMode && this.shared.externalKey === undefined) checkCookieValue(this.shared.key, key, 'genid');
    const id = coreIdOf(key);
    this.ids.set(id, key);
    return id;
  }

  keyOf(id: string): string {
    return this.ids.get(id) as string;
  }

  /** `ctx.session`: `null` once the app assigned `null`. */
  session(): Session | null {
    // koa-session's cookie mode runs `valid()` at each read of a session it has not made yet.
    if (this.validFailure !== undefined) throw this.validFailure.error;
    return this.unset ? null : this.open();
  }

  /**
   * `valid()` threw on the loaded session. With koa-session the error reaches Koa (in store mode
   * before the app runs, in cookie mode where the app reads `ctx.session`), and nothing is
   * written or sent: the cookie stays, and the session is back once `valid()` accepts it.
   */
  validThrew(error: unknown): void {
    this.validFailure = { error };
  }

  get validFailed(): boolean {
    return this.validFailure !== undefined;
  }

  /** Store mode: koa-session checks the session before the app runs, so what `valid()` threw answers the request. */
  throwIfValidThrew(): void {
    if (this.validFailure !== undefined) throw this.validFailure.error;
  }

  /** The session object, made at the first use: the data as loaded, and each key's JSON to compare at the commit. */
  private open(): SessionObject {
    if (this.view !== undefined) return this.view;
    // The core has an id before any write only when it adopted the record the request named;
    // koa-session then reports the lifetime that record was saved with.
    const adopted = this.core.id !== undefined;
    this.adopted = adopted;
    // After the commit the core answers no reads: a session first read then (by middleware up
    // the chain, an error handler say) is the one loaded, unchanged.
    let data: Record<string, unknown> = {};
    if (this.committed === undefined) for (const key of this.core.keys()) define(data, key, this.core.get(key));
    else if (adopted) data = savedData(this.loaded as KoaSessionObject);
    this.snapshotData(data);
    for (const [key, json] of this.snapshot) this.initial.set(key, json);
    // koa-session restores the saved lifetime when it loads the session: in store mode before the
    // app runs, so a `ctx.sessionOptions.maxAge` the app set since stands.
    if (adopted && !(this.shared.storeMode && this.lifetimePending)) this.lifetime = savedLifetime(this.loaded) ?? this.lifetime;
    this.view = new SessionObject(this, data, !adopted);
    // koa-session's session object keeps the `_expire` it was loaded with (an app may show when
    // the session ends); like every `_` key, it is not data and is never saved from here.
    const expire = adopted ? (this.loaded as KoaSessionObject | undefined)?._expire : undefined;
    if (expire !== undefined) define(this.view, '_expire', expire);
    return this.view;
  }

  /** Each key's JSON now: what the commit compares with. */
  private snapshotData(data: Record<string, unknown> = this.view?.toJSON() ?? {}): void {
    this.snapshot.clear();
    for (const [key, value] of Object.entries(data)) {
      // A value JSON can't hold (undefined, a function) is no data, as in koa-session's hash.
      const json = JSON.stringify(value);
      if (json !== undefined) this.snapshot.set(key, json);
    }
  }

  /** `ctx.session = value`: koa-session makes a new session object of the value's keys (`maxAge` and `_maxAge` set the lifetime). */
  replace(value: unknown): void {
    if (value === null) {
      this.unset = true;
      this.validFailure = undefined;
      return;
    }
    if (typeof value !== 'object') throw new TypeError('this.session can only be set as null or an object.');
    // koa-session makes the assigned session without asking `valid()`.
    this.validFailure = undefined;
    const unread = this.view === undefined;
    this.open();
    const data: Record<string, unknown> = {};
    let lifetime: { value: unknown } | undefined;
    for (const key in value) {
      const item: unknown = (value as Record<string, unknown>)[key];
      if (key === 'maxAge' || key === '_maxAge') lifetime = { value: item };
      else if (key === '_session') lifetime = { value: 'session' };
      else define(data, key, item);
    }
    this.unset = false;
    this.view = new SessionObject(this, data, false);
    if (lifetime !== undefined) this.maxAge = lifetime.value as number;
    else if (unread && this.adopted && !this.shared.storeMode) {
      // koa-session's cookie mode makes it without reading the cookie, so not with the lifetime
      // the cookie was saved with: the option's (none: a cookie that ends with the browser).
      this.lifetime = this.shared.maxAge;
      this.core.setExpiry(null);
    }
  }

  /** `ctx.sessionOptions`: koa-session's options for this request; its `maxAge` is this session's. */
  sessionOptions(): object {
    // A copy per request, as koa-session's: the app may change a cookie attribute for this response.
    this.options ??= Object.defineProperty({ ...this.shared.options }, 'maxAge', {
      get: () => this.maxAge,
      // koa-session's save reads it; unlike `ctx.session.maxAge`, setting it causes no save.
      set: (value: number | 'session' | undefined) => {
        this.lifetime = value;
        this.lifetimePending = true;
      },
      enumerable: true,
    });
    return this.options;
  }

  get maxAge(): number | 'session' | undefined {
    return this.lifetime;
  }

  set maxAge(value: number | 'session' | undefined) {
    this.setExpiry(value);
    this.lifetime = value;
    this.lifetimePending = false;
    this.forced = true;
  }

  /** A lifetime set through `ctx.sessionOptions.maxAge`, for a save about to happen. */
  private applyLifetime(): void {
    if (!this.lifetimePending) return;
    this.lifetimePending = false;
    this.setExpiry(this.lifetime);
  }

  private setExpiry(maxAge: unknown): void {
    const expiry = expiryOf(maxAge);
    this.ends = expiry === ENDS;
    if (expiry !== ENDS) this.core.setExpiry(expiry);
  }

  /** Whether koa-session would save the session anyway at this commit: rolling, or renew due by the session's `maxAge` now. */
  private savesAnyway(): boolean {
    const { rolling, renew } = this.shared;
    if (rolling) return true;
    return renew && renewDue((this.loaded as KoaSessionObject | undefined)?._expire, this.lifetime, this.shared.clock());
  }

  /** koa-session's `changed`: the session's JSON differs from the one loaded. */
  private differsFromLoaded(): boolean {
    return this.differsFrom(this.initial);
  }

  /** The session's JSON differs, key by key, from `json`. */
  private differsFrom(json: ReadonlyMap<string, string>): boolean {
    const data = this.view?.toJSON() ?? {};
    const keys = Object.keys(data).filter((key) => JSON.stringify(data[key]) !== undefined);
    return keys.length !== json.size || keys.some((key) => JSON.stringify(data[key]) !== json.get(key));
  }

  /**
   * A `save()`, `regenerate()` or `manuallyCommit()` after this request's commit (koa-session's
   * writes at once, so its apps call them in a middleware ahead of the session, after `await
   * next()`): the core writes nothing more. The error goes to the caller and to Koa's 'error'
   * event, since a bare call hears nothing else; only to a listener, as an 'error' event nobody
   * hears throws, maybe inside a timer.
   */
  private late(operation: keyof typeof LATE): SessUsageError {
    const error = new SessUsageError(
      `ctx.session.${operation}() came after the session was committed (in a middleware ahead of session(), after \`await next()\`, or once the response had gone), so ${LATE[operation]}, before the response`,
    );
    const { app } = this.ctx;
    if (app.listenerCount('error') > 0) app.emit('error', error, this.ctx);
    return error;
  }

  get externalKey(): string | undefined {
    if (!this.shared.storeMode) return undefined;
    const id = this.core.id;
    return id === undefined ? (this.pendingKey ??= this.shared.genid(this.ctx)) : this.keyOf(id);
  }

  /**
   * koa-session's `save()`: written now, populated or not. Its commit compares the session with
   * the one loaded, so a session changed since the load is written again then, and one that is
   * not only if it changes after this.
   */
  async save(): Promise<void> {
    if (this.committed !== undefined) throw this.late('save');
    this.beforeSave();
    this.reportChanges();
    this.snapshotData();
    this.applyLifetime();
    this.changed = false;
    this.owesCommit ||= !this.shared.autoCommit;
    if (this.ends) return this.endNow();
    await this.writeNow();
  }

  async regenerate(): Promise<void> {
    if (this.committed !== undefined) throw this.late('regenerate');
    this.forced = true;
    if (!this.shared.autoCommit) {
      // koa-session's regenerate() saves the session as it is now, and what changes after waits for a commit.
      this.reportChanges();
      this.snapshotData();
      this.applyLifetime();
      this.owesCommit = true;
    }
    if (this.ends) return this.endNow();
    await this.core.regenerate();
  }

  /**
   * A write while the lifetime is negative. koa-session stores the session already expired (the
   * record outlives its `_expire` by the store's 10 seconds, the cookie deleted as it is sent):
   * the session ends now instead, and no record is left behind. Afterwards the core holds
   * nothing, so a later save (a lifetime set again) writes every key.
   */
  private async endNow(): Promise<void> {
    this.snapshot.clear();
    await this.core.destroy().catch((error: unknown) => Promise.reject(koaError(error)));
  }

  /**
   * `manuallyCommit()`. With `autoCommit: false` it is the request's commit. With `autoCommit`
   * on, koa-session commits now and again after the app, each time comparing the session with
   * the one loaded: so this writes now what its commit would (a destroy, or a save when the
   * session changed since the load, or is forced, rolling or due to renew), and the commit after
   * the app writes what changed since, and sends the cookie.
   */
  async commit(): Promise<void> {
    if (this.committed !== undefined) {
      // koa-session commits again; here the core has, and would drop what changed since.
      if (this.differsFrom(this.snapshot)) throw this.late('manuallyCommit');
      await this.committed;
      return;
    }
    if (!this.shared.autoCommit) {
      await this.commitOnce();
      return;
    }
    if (this.unset) {
      await this.core.destroy().catch((error: unknown) => Promise.reject(koaError(error)));
      return;
    }
    const differs = this.differsFromLoaded();
    // koa-session's commit: forced, or changed, rolling or due to renew; never a new session that holds nothing.
    if (!this.forced && !(this.holdsData() && (differs || this.savesAnyway()))) return;
    // koa-session's `changed` is decided before `beforeSave` runs (a lifetime it sets forces nothing more).
    this.changed = differs && !this.forced;
    this.beforeSave();
    this.reportChanges();
    this.snapshotData();
    this.applyLifetime();
    if (this.ends) return this.endNow();
    await this.writeNow();
  }

  /** The write `save()` and `manuallyCommit()` ask for, now; what `beforeSave` did is this write's. */
  private async writeNow(): Promise<void> {
    try {
      await this.core.saveNow();
    } catch (error) {
      throw this.thrown(error);
    } finally {
      this.hookRan = false;
    }
    this.savedNow = true;
  }

  fail(error: unknown): void {
    this.ctx.onerror(error as Error);
  }

  /** A session koa-session would save: one adopted from the store or cookie, or one holding data. */
  private holdsData(): boolean {
    return this.adopted || (this.view !== undefined && this.view.length > 0);
  }

  /**
   * koa-session's `beforeSave(ctx, session)`, before a write the adapter knows of, so that what it
   * changes is reported with the rest, and a lifetime it sets (`session.maxAge`, or
   * `ctx.sessionOptions.maxAge`) is the save's, as koa-session's save reads it after the hook.
   */
  private beforeSave(): void {
    const { beforeSave } = this.shared;
    if (beforeSave === undefined || this.view === undefined) return;
    try {
      beforeSave(this.ctx, this.view);
    } catch (error) {
      this.hookError = error;
      throw error;
    }
    this.hookRan = true;
  }

  /** The record to save, after `beforeSave(ctx, session)` changed what it liked on the session object. */
  dataToSave(record: SessionRecord): SessionRecord {
    const { beforeSave } = this.shared;
    if (beforeSave === undefined) return record;
    // Ran before this write already (see `beforeSave`): the view holds what it did.
    if (this.hookRan && this.view !== undefined) return { data: this.view.toJSON(), meta: record.meta };
    const session = this.view ?? new SessionObject(this, record.data, false);
    try {
      beforeSave(this.ctx, session);
    } catch (error) {
      this.hookError = error;
      throw error;
    }
    return { data: session.toJSON(), meta: record.meta };
  }

  /**
   * The request commits when it ends: with autoCommit, or the commit owed after save() or
   * regenerate(), or one `manuallyCommit()` began that the app may not have awaited.
   */
  get commitDue(): boolean {
    return this.shared.autoCommit || this.owesCommit || this.committed !== undefined;
  }

  /**
   * Commits once (later calls get the first one's outcome): reports what the app changed, lets
   * the core decide, and writes its answer as koa-session's cookies.
   *
   * @param report - false for the commit owed after `save()` or `regenerate()` with `autoCommit:
   *   false`: it sends what they did, and what the app changed since waits, as with koa-session.
   * @returns the Set-Cookie lines written, for an error response to keep.
   */
  commitOnce(status?: number, report = true): Promise<string[]> {
    this.committed ??= this.run(status ?? this.ctx.status, report);
    return this.committed;
  }

  private async run(status: number, report: boolean): Promise<string[]> {
    let failed: { error: unknown } | undefined;
    if (this.validFailure !== undefined) {
      // Nothing was made of the session `valid()` threw on: nothing to write, and its cookie stays.
      await this.core.discard();
    } else if (!report) {
      // Nothing more to tell the core.
    } else if (this.unset)
      failed = await this.core.destroy().then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
    else {
      // koa-session's commit compares with the session as loaded, so one changed since is
      // written again after `save()` (or `manuallyCommit()`), and one back as loaded is not.
      const differs = this.differsFromLoaded();
      // As koa-session decides before `beforeSave` runs: a lifetime the hook sets forces nothing more.
      const forced = this.forced;
      const rewritten = differs || forced || this.savesAnyway();
      // koa-session's hook runs when it saves: forced, or changed, rolling or due to renew; never a new session that holds nothing.
      if (forced || (this.holdsData() && rewritten)) this.beforeSave();
      const reported = this.savedNow && !rewritten ? false : this.reportChanges();
      // What this commit saw: a late `manuallyCommit()` finds what changed after it.
      this.snapshotData();
      if (reported || forced || this.hookRan || this.savesAnyway()) this.applyLifetime();
      if (this.ends) failed = await this.end(status);
      else {
        if (this.savedNow && differs) this.core.save();
        this.changed = (reported || differs) && !forced;
        // A lifetime set on a new session that holds nothing: koa-session saves it, as `{}`, where
        // the core saves a new session only once it holds data; so it is written now, as `save()` is.
        if (forced && !this.holdsData()) await this.writeNow();
      }
    }
    // A failed destroy has still ended the session: the commit deletes the cookie, on a 503.
    let effects: readonly HttpEffect[];
    try {
      effects = await this.core.commit(this.responseFacts(failed === undefined ? status : 503));
    } catch (error) {
      throw this.thrown(error);
    } finally {
      this.hookRan = false;
    }
    const lines = this.apply(effects);
    if (failed !== undefined) throw koaError(failed.error, lines, this.ctx);
    return lines;
  }

  /**
   * A negative lifetime: koa-session's cookie is expired as it is written, so the session ends
   * (and its cookie is deleted). Behind a 5xx nothing is written, the session kept as it was.
   */
  private async end(status: number): Promise<{ error: unknown } | undefined> {
    if (status >= 500) {
      await this.core.discard();
      return undefined;
    }
    return this.core.destroy().then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
  }

  /** `error` as the app would see it without sess: what its `beforeSave` threw, rather than the store failure the core made of it. */
  private thrown(error: unknown): unknown {
    return error instanceof SessStoreError && this.hookError !== undefined && error.cause === this.hookError ? this.hookError : error;
  }

  /**
   * Tells the core every key whose JSON differs from when the app got the session (koa-session
   * compares the whole session's JSON the same way, so changes inside nested objects count, and
   * a write of the same value does not).
   */
  private reportChanges(): boolean {
    if (this.view === undefined) return false;
    const data = this.view.toJSON();
    let changed = false;
    for (const [key, value] of Object.entries(data)) {
      const json = JSON.stringify(value);
      if (json === undefined || json === this.snapshot.get(key)) continue;
      this.core.set(key, value);
      changed = true;
    }
    for (const key of this.snapshot.keys()) {
      if (JSON.stringify(data[key]) !== undefined) continue;
      this.core.delete(key);
      changed = true;
    }
    return changed;
  }

  private responseFacts(status: number) {
    return {
      status,
      // Koa's cookies always send the session's cookie: `overwrite: false` only keeps a line the
      // app set before it (see mergedLines), and the browser, reading in order, keeps the session's.
      cookieAlreadySet: false,
      sharedCachesKeptOut: keepsSharedCachesOut(this.ctx.res.getHeader('cache-control')),
    };
  }

  /** The core's effects as Koa headers: the session cookie as koa-session writes it, with its `.sig`. */
  private apply(effects: readonly HttpEffect[]): string[] {
    const { ctx } = this;
    const lines: string[] = [];
    for (const effect of effects) {
      switch (effect.type) {
        case 'header.vary':
          ctx.vary(effect.value);
          break;
        case 'header.cacheControl':
          ctx.set('Cache-Control', privately(ctx.res.getHeader('cache-control')));
          break;
        case 'cookie.set':
          lines.push(...this.cookieLines(effect.value, this.attributes(effect.attributes)));
          break;
        case 'cookie.delete':
          // With an externalKey no cookie carried the key: a stale key deletes nothing, and only the
          // app's `ctx.session = null` deletes the cookies, as koa-session's remove() does.
          if (this.shared.storeMode && this.shared.externalKey !== undefined && !this.unset) break;
          lines.push(...deletionLines(this.shared.key, this.attributes(effect.attributes), this.shared.signed));
          break;
        default:
          assertNever(effect);
      }
    }
    if (lines.length > 0) this.setCookies(lines);
    return lines;
  }

  /**
   * The attributes of a cookie the core planned, as koa-session writes it: with the SameSite and
   * Partitioned decided at construction, or, when the app changed a cookie attribute on this
   * request's `ctx.sessionOptions`, with what it set there (koa-session writes with those).
   */
  private attributes(planned: CookieAttributes): CookieAttributes {
    const current = this.options as Record<string, unknown> | undefined;
    const shown = this.shared.options as Record<string, unknown>;
    if (current === undefined || !changesAttributes(current, shown)) return this.shared.koaAttributes(planned);
    const result: Record<string, unknown> = withSameSite(planned, this.shared.sameSite, this.shared.partitioned);
    this.applyOptions(result, current, shown);
    // The app's attributes decide whether this cookie is Secure: browsers drop a SameSite=None or
    // Partitioned cookie that is not, and sess writes none (koa-session's would be lost).
    if (result.secure !== true) {
      if (result.sameSite === 'none') delete result.sameSite;
      delete result.partitioned;
    }
    return result as CookieAttributes;
  }

  /** The cookie attributes the app changed on this request's `ctx.sessionOptions`, applied to `result`. */
  private applyOptions(result: Record<string, unknown>, current: Record<string, unknown>, shown: Record<string, unknown>): void {
    for (const name of COOKIE_ATTRIBUTES) {
      if (current[name] === shown[name]) continue;
      const given = current[name];
      // Unset, each falls back to koa-session's default: Secure as the request is, HttpOnly, Path=/.
      const value =
        name === 'sameSite'
          ? sameSiteOf(given as SessionOptions['sameSite'])
          : name === 'secure'
            ? (given ?? this.ctx.secure)
            : name === 'httpOnly'
              ? (given ?? true)
              : name === 'path'
                ? (given ?? '/')
                : given;
      if (value === undefined || value === false) delete result[name];
      else result[name] = value;
    }
  }

  private cookieLines(coreValue: string, attributes: CookieAttributes): string[] {
    const { key, storeMode, externalKey } = this.shared;
    // Store mode: the core's cookie names an id; koa-session's names the store's key.
    const value = storeMode ? this.keyOf(this.core.id as string) : coreValue;
    if (storeMode && externalKey !== undefined) {
      externalKey.set(this.ctx, value);
      return [];
    }
    return cookieLines(key, value, attributes, this.keys, storeMode ? 'genid' : 'encode');
  }

  private setCookies(lines: readonly string[]): void {
    const { ctx } = this;
    if (ctx.headerSent) {
      throw new SessUsageError('the response headers were sent before the session was committed, so its cookie could not be set');
    }
    ctx.set('Set-Cookie', mergedLines(ctx.res.getHeader('set-cookie'), lines, this.shared.key, this.shared.overwrite));
  }
}
