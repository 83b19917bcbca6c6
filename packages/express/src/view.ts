/**
 * `req.session` as express-session users know it: the session's data as properties, with the
 * methods (callback or promise) and `cookie` beside them, on the kit's session view.
 */
import { type Session, SessUsageError } from '@sess/core';
import {
  MAX_LIFETIME_MS,
  MIN_COOKIE_LIFETIME_MS,
  SESSION_ACCESSORS,
  SESSION_METHODS,
  cookieOptions,
  flashAccessor,
  viewOf,
  withCallbacks,
} from '@sess/core/adapter';
import type { CallbackMethods, CookieOptions, SessionMethods as KitMethods } from '@sess/core/adapter';

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
  /**
   * The configured attributes, defaults filled in (`sameSite: true` reads `'strict'`; `secure`
   * reads `'auto'`, the default, unless set or the name's `__Secure-`/`__Host-` prefix makes it
   * `true`). They are fixed in `session({ cookie })`: assigning another value throws a
   * `SessUsageError` saying so; the value it has, or the option as written, is accepted.
   */
  readonly domain: string | undefined;
  /** The configured `cookie.path` (`'/'` unless set). */
  readonly path: string;
  /** The configured `cookie.secure` (`'auto'` unless set): `'auto'` is Secure exactly on secure requests. */
  readonly secure: boolean | 'auto';
  /** The configured `cookie.sameSite` (`'lax'` unless set). */
  readonly sameSite: 'lax' | 'strict' | 'none';
  /** The configured `cookie.httpOnly` (`true` unless set). */
  readonly httpOnly: boolean;
  /** The configured `cookie.partitioned` (CHIPS). */
  readonly partitioned: boolean | undefined;
  /** The configured `cookie.priority`. */
  readonly priority: 'low' | 'medium' | 'high' | undefined;
}

const ATTRIBUTES = ['domain', 'path', 'secure', 'sameSite', 'httpOnly', 'partitioned', 'priority'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

/** One middleware's cookie attributes: as they read, and as the app wrote them in `session()`. */
interface Attributes {
  readonly read: Pick<SessionCookie, Attribute>;
  readonly written: CookieOptions;
}

const show = (value: unknown) =>
  typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' && value !== null ? 'an object' : String(value);

export interface SessionMethods extends CallbackMethods<Omit<KitMethods, 'touch'>, 'regenerate' | 'destroy' | 'reload' | 'save'> {
  readonly cookie: SessionCookie;
  touch(): this;
}

export type RequestSession = SessionMethods & Partial<SessionData>;

/** `SessionCookie` as a class, not an object literal: literal accessors give every request's cookie a hidden class of its own. */
class CookieView implements Omit<SessionCookie, Attribute> {
  readonly #core: Session;
  readonly #attributes: Attributes;
  readonly originalMaxAge: number | null;
  constructor(core: Session, originalMaxAge: number | null, attributes: Attributes) {
    this.#core = core;
    this.originalMaxAge = originalMaxAge;
    this.#attributes = attributes;
  }
  // The attributes are accessors on the prototype: a setter, not a frozen object, fails loudly in
  // sloppy-mode code too, where express-session apps assign them and an ignored assignment is silent.
  static {
    for (const key of ATTRIBUTES) {
      Object.defineProperty(CookieView.prototype, key, {
        get(this: CookieView) {
          return this.#attributes.read[key];
        },
        set(this: CookieView, value: unknown) {
          const { read, written } = this.#attributes;
          if (value === read[key] || (value !== undefined && value === written[key])) return;
          const auto =
            key === 'secure' && read.secure === 'auto'
              ? ", or leave the default secure: 'auto', Secure on exactly the requests Express calls secure (req.secure: see its trust proxy)"
              : '';
          throw new SessUsageError(
            `req.session.cookie.${key} can't be set per request (it is ${show(read[key])}): sess sets the cookie's attributes once, in session(). Set session({ cookie: { ${key}: ${show(value)} } }) instead${auto}`,
          );
        },
      });
    }
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

/** The views of one middleware; `originalMaxAge` is the configured `cookie.maxAge`, `written` its `cookie` option. */
export function expressView(originalMaxAge: number | null, name: string | undefined, written: CookieOptions = {}) {
  const read = cookieOptions(written) as Attributes['read'];
  // The core sends a __Secure- or __Host- cookie Secure whatever `secure` says.
  const attributes: Attributes = { read: { ...read, secure: /^__(secure|host)-/i.test(name ?? '') || read.secure }, written };
  const { flash: _, ...methods } = SESSION_METHODS;
  return viewOf<RequestSession>({
    name: 'Session',
    accessors: {
      ...SESSION_ACCESSORS,
      cookie: { get: (core) => new CookieView(core, originalMaxAge, attributes) as unknown as SessionCookie },
      flash: flashAccessor(FLASH_TAKEN),
    },
    methods: {
      ...withCallbacks(methods, ['regenerate', 'destroy', 'reload', 'save']),
      touch: (core, view) => (core.touch(), view),
    },
  });
}
