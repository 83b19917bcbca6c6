/**
 * One request's session: the sess core session underneath, and `req.session` on top, an
 * express-session `Session` whose data are plain properties. The app changes the object as it
 * likes (nested values included); before a save and at commit, what changed since it was handed
 * out is told to the core as writes, which is how express-session's hash of the session would
 * see it. Every decision (save, touch, destroy, which cookie) is the core's.
 */
import type { ServerResponse } from 'node:http';
import type { CookieEffect, Session as CoreSession, SessionManager } from '@sess/core';
import { SessConfigError, SessUsageError, serializeCookie, serializeDeletion } from '@sess/core';
import { commitNodeResponse, commitNodeResponseAfter, setCookieLine } from '@sess/core/adapter';
import { RequestStore } from './callback-store.js';
import type { RequestSide } from './callback-store.js';
import { SessionCookie, cookieFromStore } from './cookie.js';
import type { CookieSettings } from './cookie.js';
import { attributesFor } from './cookie.js';
import { lifetimeOf, resolveCookie } from './options.js';
import type { Settings } from './options.js';
import { attributesOf, clampLifetime } from './record.js';
import { ExpressSession, attachControl, detachControl } from './session.js';
import { warnOnce } from './warnings.js';
import type { Callback, CallbackStore, SessionControl, SessionRequest } from './session.js';

/** The request as the middleware sees it: Node's, with express-session's properties. */
export interface MiddlewareRequest extends SessionRequest {
  readonly headers: { readonly cookie?: string | undefined };
  sessionStore?: CallbackStore | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const noop = () => {};

/**
 * Calls `callback` on a later turn with the outcome of `work`, as a store's callback would be.
 * What the callback throws goes to `fail` (Express's error handling): thrown from a bare tick it
 * would end the process, and the request, often answered from the callback, would never be.
 */
function report(work: Promise<unknown>, callback: Callback | undefined, fail: (error: unknown) => void): void {
  const done = callback ?? noop;
  const settle = (...outcome: [] | [unknown]) => {
    try {
      done(...outcome);
    } catch (error) {
      fail(error);
    }
  };
  work.then(
    () => process.nextTick(settle),
    (error: unknown) => process.nextTick(settle, error),
  );
}

/** The session the middleware started for each request, for `store.generate(req)`. */
const requests = new WeakMap<object, RequestSession<MiddlewareRequest>>();

/** The session the middleware started for `req`, if it started one. */
export function requestSessionOf(req: object): RequestSession<MiddlewareRequest> | undefined {
  return requests.get(req);
}

/** What the request's session needs to start. */
export interface RequestStart<Request> {
  readonly settings: Settings<Request>;
  readonly manager: SessionManager;
  readonly storeName: string;
  readonly cookie: CookieSettings;
  /** The lifetime of a new session, from `cookie`: ms, or `null` for a browser-session cookie. */
  readonly lifetimeMs: number | null;
  readonly secure: boolean;
  /** Where an error thrown by the app's callback goes: the middleware's `next`. */
  readonly fail: (error: unknown) => void;
}

export class RequestSession<Request extends MiddlewareRequest> implements SessionControl, RequestSide {
  /** The core's session of this request: a new one after `store.generate(req)`. */
  private core: CoreSession;
  /** The session handed out last; `undefined` once destroyed. */
  private view: ExpressSession | undefined;
  /** JSON of each data key as the core holds it. */
  private snapshot = new Map<string, string>();
  /** The session's own lifetime (`cookie.originalMaxAge`) as the core holds it; `null` until the browser closes. */
  private lifetime: number | null = null;
  /** The cookie the session was last seen with: its attributes go into the record and the Set-Cookie. */
  private cookie: Record<string, unknown>;
  /** The data the app left, for a store's `touch`. */
  private appData: Record<string, unknown> = {};
  /** The last stored session the store answered with, and its cookie. */
  private stored: { readonly id: string; readonly cookie: Record<string, unknown> } | undefined;
  /** Whether `req.session` was handed out: only then can the app have unset it. */
  private handedOut = false;
  /** A new session nobody saved or regenerated yet: with `saveUninitialized: false` only data initializes it. */
  private fresh = false;
  /**
   * The id a new session began with. Under it, with `saveUninitialized: false`, the session gets
   * its cookie only once it holds data, as express-session's hash of the session decides, even
   * when the app saved it (`save(cb)` stores it, the browser is not told).
   */
  private firstId: string | undefined;
  private destroyed = false;
  /**
   * The last store work the app started (`save()`, `reload()`, ...) while it runs. The core takes
   * its calls in turn, but it refuses writes mid-operation: what the app changed on `req.session`
   * since (`save(); req.session.x = 1; res.send()`) is handed to it once that work is over.
   */
  private pending: Promise<unknown> | undefined;
  /** A `destroy()` nobody passed a callback to: its failure is the commit's to answer. */
  private unheard: Promise<void> | undefined;
  /** The commit of `core` has begun: it writes nothing more. */
  private committing = false;

  constructor(
    private readonly req: Request,
    /** How the request began; after `store.generate(req)`, with the new session's cookie. */
    private start: RequestStart<Request>,
  ) {
    this.cookie = start.cookie as Record<string, unknown>;
    this.core = this.begin(req.headers.cookie);
    requests.set(req, this as unknown as RequestSession<MiddlewareRequest>);
  }

  /** A core session for this request: the one its cookie names, or with no cookie header a new one. */
  private begin(cookieHeader: string | undefined): CoreSession {
    const { req, start } = this;
    const { settings, manager, secure, lifetimeMs } = start;
    const genid = settings.genid;
    return manager.begin({
      cookieHeader,
      secure,
      maxAgeMs: lifetimeMs,
      store: new RequestStore(start.storeName, settings.store, this, lifetimeMs, Date.now(), settings.rolling),
      ...(genid === undefined ? {} : { generateId: () => genid(req) }),
    });
  }

  /** Loads the session the cookie names (or starts a new one) and hands it out as `req.session`. */
  async open(): Promise<void> {
    this.req.sessionStore = this.start.settings.store;
    await this.core.load();
    this.present();
    this.fresh = this.stored?.id !== this.core.id;
    this.firstId = this.fresh ? this.core.id : undefined;
  }

  /** Makes `req.session` from the core's session: its data, and the stored cookie or a new one. */
  private present(): void {
    const { req, core } = this;
    req.sessionID = core.id;
    const session = new ExpressSession(req, undefined);
    const stored = this.stored?.id === core.id ? this.stored?.cookie : undefined;
    session.cookie = stored === undefined ? new SessionCookie(this.start.cookie) : cookieFromStore(stored);
    const snapshot = new Map<string, string>();
    const data: Record<string, unknown> = {};
    for (const key of core.keys()) {
      if (key in session) continue;
      const value = core.get(key);
      Object.defineProperty(session, key, { value, writable: true, enumerable: true, configurable: true });
      data[key] = value;
      snapshot.set(key, JSON.stringify(value));
    }
    if (this.view !== undefined) detachControl(this.view);
    this.view = attachControl(session, this);
    this.snapshot = snapshot;
    this.appData = data;
    this.cookie = session.cookie as unknown as Record<string, unknown>;
    this.lifetime = ownLifetimeOf(session.cookie);
    req.session = session;
    this.handedOut = true;
  }

  /**
   * Tells the core what the app changed on `view` since it was handed out: each data key whose
   * JSON differs is written, each one gone is deleted, and a new cookie lifetime is set. The
   * cookie itself is not data, as in express-session's hash.
   */
  private sync(view: Record<string, unknown>): void {
    const seen = new Set<string>();
    const data: Record<string, unknown> = {};
    for (const key of Object.keys(view)) {
      if (key === 'cookie') continue;
      const value = view[key];
      const json = JSON.stringify(value);
      // What JSON drops (undefined, functions) is not stored, so it is not data.
      if (json === undefined) continue;
      seen.add(key);
      data[key] = value;
      if (json === this.snapshot.get(key)) continue;
      this.core.set(key, value);
      this.snapshot.set(key, json);
    }
    for (const key of [...this.snapshot.keys()]) {
      if (seen.has(key)) continue;
      this.core.delete(key);
      this.snapshot.delete(key);
    }
    this.appData = data;
    if (!isObject(view.cookie)) return;
    this.cookie = view.cookie;
    const lifetime = ownLifetimeOf(view.cookie);
    if (lifetime === this.lifetime) return;
    // express-session's hash leaves the cookie out: a lifetime alone does not initialize a new
    // session. It is told to the core with the first data, or never.
    if (this.uninitialized(this.fresh, seen.size)) return;
    this.core.setExpiry(expiryOf(lifetime));
    this.lifetime = lifetime;
  }

  /** express-session's uninitialized session: a new one holding no data, which `saveUninitialized: false` keeps from the browser. */
  private uninitialized(isNew: boolean, keys: number): boolean {
    return isNew && keys === 0 && !this.start.settings.saveUninitialized;
  }

  save(session: ExpressSession, callback: Callback | undefined): void {
    const saving = this.committing ? lateSave() : this.inTurn(() => this.saveNow(session));
    report(this.track(saving), callback, this.start.fail);
  }

  /**
   * `work`, started once the store work the app started before it is over, whatever that came to
   * (its failure is its own callback's to hear). The core takes its calls in turn, but a reload or
   * regenerate finishes here, after the core's part: work started behind it must not begin before.
   */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const { pending } = this;
    return pending === undefined ? work() : pending.then(work, work);
  }

  /** The write `save(cb)` asks for, with the session as the app has left it now. */
  private saveNow(session: ExpressSession): Promise<void> {
    try {
      this.fresh = false;
      // A save that waited its turn behind a reload or regenerate saves the session they handed out.
      if (session === this.view) this.sync(session as unknown as Record<string, unknown>);
      return this.core.saveNow();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  reload(_session: ExpressSession, callback: Callback): void {
    const reloading = this.inTurn(() => {
      this.stored = undefined;
      return this.core.reload();
    }).then(() => {
      const found = this.stored?.id === this.core.id;
      this.present();
      if (!found) throw new Error('failed to load session');
    });
    report(this.track(reloading), callback, this.start.fail);
  }

  destroy(session: ExpressSession, callback: Callback | undefined): void {
    this.letGo(session);
    const destroying = this.track(this.inTurn(() => this.core.destroy()));
    // With no callback the app never hears that the delete failed, and the record is still there:
    // the response must not tell the browser it signed out (as with `unset: 'destroy'`).
    if (callback === undefined) this.unheard = destroying;
    report(destroying, callback, this.start.fail);
  }

  /**
   * express-session's regenerate (`Store.prototype.regenerate`): the old record is deleted now,
   * then a new session is generated whatever the delete came to, and the callback hears the
   * delete's failure. Deleting first leaves the commit only the new session to write: a delete
   * failing after that write would answer 5xx with the new record orphaned. An app that passes
   * the error on answers 5xx, so the new session is never written and the browser keeps its own.
   */
  regenerate(session: ExpressSession, callback: Callback | undefined): void {
    const destroying = this.inTurn(() => this.core.destroy());
    const regenerating = destroying.then(
      () => this.generateInstead(session),
      (error: unknown) => {
        this.generateInstead(session);
        throw error;
      },
    );
    // As with `destroy()`: a failed delete nobody hears of must not end in a 2xx.
    if (callback === undefined) this.unheard = destroying;
    report(this.track(regenerating), callback, this.start.fail);
  }

  /** `generate()` for a regenerate; if it throws (`cookie(req)`, `genid(req)`), the session stays destroyed. */
  private generateInstead(session: ExpressSession): void {
    try {
      this.generate();
    } catch (error) {
      this.letGo(session);
      throw error;
    }
  }

  /** `req.session` is gone, and its cookie goes at commit. */
  private letGo(session: ExpressSession): void {
    delete this.req.session;
    detachControl(session);
    this.view = undefined;
    this.destroyed = true;
  }

  /** `work` as the pending store work until it settles. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.pending = work;
    const over = () => {
      if (this.pending === work) this.pending = undefined;
    };
    work.then(over, over);
    return work;
  }

  /**
   * express-session's `store.generate(req)`: a new, empty session under a new id (sess's
   * generator, or `genid(req)`) at `req.session`, with the cookie the `cookie` option gives now.
   * The core session so far is let go of (`discard`): nothing more of it is written or sent, so
   * its record stays in the store as it is, or gone after `destroy()`, as with express-session.
   * The new one is a core session of its own, started without the request's cookie: it is saved
   * at commit even unchanged (express-session saves it, its id not being the request's), and its
   * cookie is sent once the store holds it.
   *
   * @throws what `cookie(req)` or `genid(req)` throws, and SessConfigError for a malformed id;
   *   the request's session is then unchanged.
   */
  generate(): void {
    const { req, start } = this;
    const cookie = resolveCookie(start.settings.cookie(req), start.secure);
    this.start = { ...start, cookie, lifetimeMs: lifetimeOf(cookie, Date.now()) };
    let core: CoreSession;
    try {
      core = this.begin(undefined);
    } catch (error) {
      this.start = start;
      throw error;
    }
    const previous = this.core;
    this.core = core;
    this.committing = false;
    core.save();
    // What the previous session's store work did was the app's to hear (destroy's or save's
    // callback); once its commit ran there is nothing left to let go of.
    previous.discard().catch(noop);
    this.stored = undefined;
    this.fresh = false;
    this.destroyed = false;
    this.present();
  }

  attributes(): Record<string, unknown> {
    return attributesOf(this.cookie);
  }

  data(): Record<string, unknown> {
    return this.appData;
  }

  /**
   * express-session sets `req.sessionID` from the cookie before it asks the store: `genid(req)`
   * (the record is gone) and an error handler (the read failed) see the id the cookie named.
   */
  reading(id: string): void {
    this.req.sessionID = id;
  }

  loaded(id: string, cookie: Record<string, unknown>): void {
    this.stored = { id, cookie };
  }

  /**
   * The commit, before the response's headers leave: what the app did to `req.session` goes to
   * the core (unset: `'keep'` lets go of it, `'destroy'` destroys it), then the core's effects:
   * at once, returning nothing, when nothing had to wait for the store.
   */
  commit(res: ServerResponse, status: number): Promise<void> | undefined {
    this.committing = true;
    if (this.pending === undefined) return this.commitNow(res, status);
    const inTurn = () => this.commitNow(res, status);
    return this.pending.then(inTurn, inTurn);
  }

  private commitNow(res: ServerResponse, status: number): Promise<void> | undefined {
    const view = this.req.session as unknown;
    const { name, unset } = this.start.settings;
    // express-session saves nothing and sends no cookie once the app made `req.sessionID` no string.
    if (isObject(view) && typeof this.req.sessionID !== 'string') {
      return commitNodeResponseAfter(this.core.discard(), res, this.core, status, name, this.cookieLine);
    }
    if (isObject(view)) {
      this.sync(view);
    } else if (this.handedOut && !this.destroyed) {
      this.destroyed = unset === 'destroy';
      const letGo = unset === 'destroy' ? this.core.destroy() : this.core.discard();
      return commitNodeResponseAfter(letGo, res, this.core, status, name, this.cookieLine);
    }
    const { unheard } = this;
    if (unheard !== undefined) {
      this.unheard = undefined;
      return commitNodeResponseAfter(unheard, res, this.core, status, name, this.cookieLine);
    }
    return commitNodeResponse(res, this.core, status, name, this.cookieLine);
  }

  /**
   * The session cookie as express-session writes it: the value URL-encoded, the attributes of
   * `req.session.cookie`, and a Secure cookie only on a secure request. Attributes a browser would
   * refuse (possible only in a stored cookie or from a `cookie` function) leave the cookie out,
   * as the browser would.
   */
  private readonly cookieLine = (effect: CookieEffect): string | undefined =>
    effect.name === this.start.settings.name ? this.sessionCookieLine(effect) : setCookieLine(effect);

  private sessionCookieLine(effect: CookieEffect): string | undefined {
    const { name } = effect;
    const attributes = attributesFor(this.cookie);
    if (attributes.secure && !this.start.secure) return undefined;
    try {
      // Only a session the app destroyed (`destroy()`, `unset: 'destroy'`) loses its cookie; one
      // naming a record the store lacks keeps it, as express-session leaves it.
      if (effect.type === 'cookie.delete') return this.destroyed ? serializeDeletion(name, attributes) : undefined;
      if (this.uninitialized(this.firstId !== undefined && this.core.id === this.firstId, this.snapshot.size)) return undefined;
      const { expires, maxAgeMs } = effect.attributes;
      const lifetime = expires === undefined ? {} : { expires, maxAgeMs: maxAgeMs ?? expires - Date.now() };
      // express-session's value is `encodeURIComponent`ed in full (`s%3A...`); sess's codec would leave `:` as it is.
      return `${name}=${encodeURIComponent(effect.value)}${serializeCookie(name, '', { ...attributes, ...lifetime }).slice(name.length + 1)}`;
    } catch (error) {
      if (error instanceof SessConfigError) return undefined;
      throw error;
    }
  }
}

const LATE_SAVE =
  "req.session.save() came after the response was committed, so the changes made to req.session since were not saved (express-session writes them then, though the browser can't be told of them): make them, and save, before answering";

/**
 * express-session's `save()` writes whenever it is called, so its apps call it after the response
 * (in its finish event, a timer). sess refuses: it says so to the callback, and once per process
 * as a warning, since a bare `save()` hears nothing else. A rejection, never a throw: thrown on a
 * later turn it would end the process.
 */
function lateSave(): Promise<never> {
  warnOnce('SESS_EXPRESS_SESSION_LATE_SAVE', LATE_SAVE);
  return Promise.reject(new SessUsageError(LATE_SAVE));
}

/**
 * A lifetime as `setExpiry` takes it. One already over (`maxAge = 0`, a past `expires`) is how an
 * app ends the session, as express-session stores it expired and sends a cookie that expires at
 * once: an end in the past makes the core delete the record at commit and send a cookie with
 * `Max-Age=0`. A second back, so the request's own clock (read before this one) is past it too.
 */
function expiryOf(lifetime: number | null): number | Date {
  if (lifetime === null) return 0;
  return lifetime > 0 ? clampLifetime(lifetime) / 1000 : new Date(Date.now() - ENDED_AGO_MS);
}

const ENDED_AGO_MS = 1000;

/**
 * The lifetime a cookie renews to on each request (`originalMaxAge`); `null` for a browser-session
 * cookie. A lifetime that is no number of ms (`maxAge = NaN`, an invalid `expires`, Infinity) is a
 * browser-session cookie, as express-session stores it (its `expires` serializes to `null`).
 */
function ownLifetimeOf(cookie: Record<string, unknown> | SessionCookie): number | null {
  const { originalMaxAge } = cookie as { originalMaxAge?: unknown };
  return typeof originalMaxAge === 'number' && Number.isFinite(originalMaxAge) ? originalMaxAge : null;
}
