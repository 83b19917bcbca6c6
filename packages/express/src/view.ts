/**
 * `req.session` as express-session users know it: the session's data as properties, with the
 * methods (callback or promise) and `cookie` beside them, on the kit's session view.
 */
import type { Session } from '@sess/core';
import {
  MAX_LIFETIME_MS,
  MIN_COOKIE_LIFETIME_MS,
  SESSION_ACCESSORS,
  SESSION_METHODS,
  flashAccessor,
  viewOf,
  withCallbacks,
} from '@sess/core/adapter';
import type { CallbackMethods, SessionMethods as KitMethods } from '@sess/core/adapter';

/** Declare your session's shape by merging into this interface (see README). */
export interface SessionData {}

/** The kit's methods, with express-session's callback forms; `save()` resolves at once (sess saves before the headers leave). */
/** `req.session.cookie`, express-session's view of the session cookie. */
export interface SessionCookie {
  /** Remaining life in ms; set it to change this session's lifetime (`null`: until the browser closes). */
  maxAge: number | null | undefined;
  /** When the cookie expires; set a Date to end the session then (`null`: until the browser closes; `false`, express-session's way, works too). */
  expires: Date | null | undefined;
  /** The configured `cookie.maxAge` (24 h unless set; `null`: until the browser closes). */
  readonly originalMaxAge: number | null;
}

export interface SessionMethods extends CallbackMethods<Omit<KitMethods, 'touch'>, 'regenerate' | 'destroy' | 'reload' | 'save'> {
  readonly cookie: SessionCookie;
  touch(): this;
}

export type RequestSession = SessionMethods & Partial<SessionData>;

/** `SessionCookie` as a class, not an object literal: literal accessors give every request's cookie a hidden class of its own. */
class CookieView implements SessionCookie {
  readonly #core: Session;
  readonly originalMaxAge: number | null;
  constructor(core: Session, originalMaxAge: number | null) {
    this.#core = core;
    this.originalMaxAge = originalMaxAge;
  }
  get maxAge(): number | null {
    return this.#core.endsWithBrowser ? null : this.#core.maxAgeMs;
  }
  set maxAge(ms: number | null | undefined) {
    if (ms === null || ms === undefined) this.#core.setExpiry(0);
    // As in express-session, under a second ends the cookie now (its Max-Age rounds down to 0);
    // the core's setExpiry(0) would mean "until the browser closes", keeping a session the app
    // meant to end. "Now" is the manager's clock: the core refuses a Date more than 400 days from it.
    else if (ms < MIN_COOKIE_LIFETIME_MS) this.#core.setExpiry(new Date(this.#now()));
    // Browsers keep a cookie 400 days at most, whatever express-session writes.
    else this.#core.setExpiry(Math.min(ms, MAX_LIFETIME_MS) / 1000);
  }
  /**
   * Now, as the core read it for this request: that reading was checked, so a clock gone bad since
   * fails the commit with the clock error (a bad reading here would be refused as a bad Date
   * instead).
   */
  #now(): number {
    const { expiresAt, maxAgeMs } = this.#core;
    return expiresAt - maxAgeMs;
  }
  get expires(): Date | null {
    return this.#core.endsWithBrowser ? null : new Date(this.#core.expiresAt);
  }
  set expires(date: Date | false | null | undefined) {
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
      this.#core.setExpiry(date === false ? 0 : (date ?? 0));
      return;
    }
    // A past date ends the session now. A far one is 400 days, as for maxAge, in seconds: the core
    // takes a Date only within 400 days of its own reading, which a clock that stepped (or a long
    // request) can leave minutes before the app's (see #now), but measures seconds from it itself.
    const now = this.#now();
    if (date.getTime() >= now + MAX_LIFETIME_MS - 60_000) this.#core.setExpiry(MAX_LIFETIME_MS / 1000);
    else this.#core.setExpiry(new Date(Math.max(date.getTime(), now)));
  }
}

const FLASH_TAKEN =
  "req.session.flash is sess's flash(kind, message) and holds no data: connect-flash (and the flash package) keep their messages there and cannot work with sess. Call req.session.flash(kind, message) and req.session.takeFlash(kind) instead (for passport's failureFlash, give req a flash(kind, message) that calls them), or keep your own messages under another key";

/** The views of one middleware; `originalMaxAge` is the configured `cookie.maxAge`. */
export function expressView(originalMaxAge: number | null) {
  const { flash: _, ...methods } = SESSION_METHODS;
  return viewOf<RequestSession>({
    name: 'Session',
    accessors: { ...SESSION_ACCESSORS, cookie: { get: (core) => new CookieView(core, originalMaxAge) }, flash: flashAccessor(FLASH_TAKEN) },
    methods: {
      ...withCallbacks(methods, ['regenerate', 'destroy', 'reload', 'save']),
      touch: (core, view) => (core.touch(), view),
    },
  });
}
