/**
 * `req.session` as express-session users know it: the session's data as properties, with the
 * methods (callback or promise) and `cookie` beside them, on the kit's session view.
 */
import { type Session, SessUsageError, describeValue } from '@sess/core';
import {
  COOKIE_ATTRIBUTES,
  SESSION_ACCESSORS,
  SESSION_METHODS,
  assertAttributeKept,
  detach,
  fixedAttributes,
  flashAccessor,
  ownerOf,
  setLifetimeMs,
  setLifetimeUntil,
  viewOf,
  withCallbacks,
} from '@sess/core/adapter';
import type {
  AttributeWording,
  CallbackMethods,
  CookieOptions,
  FixedAttributes,
  SentCookieAttributes,
  SessionMethods as KitMethods,
} from '@sess/core/adapter';

/** Declare your session's shape by merging into this interface (see README). */
export interface SessionData {}

/** The kit's methods, with express-session's callback forms; `save()` resolves at once (sess saves before the headers leave). */
/**
 * `req.session.cookie`, express-session's view of the session cookie. Its attributes (`domain`,
 * `path`, `secure`, ...) read as sent; they are fixed in `session({ cookie })`: assigning another
 * value throws a `SessUsageError` saying so, the value it has or the option as written is accepted.
 */
export interface SessionCookie extends SentCookieAttributes {
  /** The life in ms the cookie gets if sent now; set it to change this session's lifetime (`null` or `false`: until the browser closes). */
  get maxAge(): number | null;
  set maxAge(ms: number | null | false | undefined);
  /** When the cookie expires; set a Date to end the session then (`null`: until the browser closes; `false`, express-session's way, works too). */
  expires: Date | null | undefined;
  /** The configured `cookie.maxAge` (24 h unless set; `null`: until the browser closes). Assigning it sets this session's lifetime, as `maxAge` does. */
  get originalMaxAge(): number | null;
  set originalMaxAge(ms: number | null | false | undefined);
}

const REFUSED: AttributeWording = {
  refused: (attribute) => `req.session.cookie.${attribute} can't be set per request`,
  setInstead: (setting) => `session({ cookie: ${setting} })`,
  secureRequests: 'Express calls secure (req.secure: see its trust proxy)',
};

type Methods = Omit<KitMethods, 'touch' | 'regenerate'> & {
  /**
   * New id and an empty session, as express-session's; `{ keepData: true }` keeps the data. The old
   * record dies at commit (fixation defence). Emptied, `req.session` is a new object, and the one
   * it replaces keeps its data to read (passport's `keepSessionInfo` merges it).
   */
  regenerate(options?: { keepData?: boolean }): Promise<void>;
};

export interface SessionMethods extends CallbackMethods<Methods, 'regenerate' | 'destroy' | 'reload' | 'save'> {
  readonly cookie: SessionCookie;
  touch(): this;
  /** express-session's name for `touch()` (its `touch()` calls it). */
  resetMaxAge(): this;
}

export type RequestSession = SessionMethods & Partial<SessionData>;

/** `SessionCookie` as a class, not an object literal: literal accessors give every request's cookie a hidden class of its own. */
class CookieView implements Omit<SessionCookie, (typeof COOKIE_ATTRIBUTES)[number]> {
  readonly #core: Session;
  readonly #attributes: FixedAttributes;
  readonly #originalMaxAge: number | null;
  constructor(core: Session, originalMaxAge: number | null, attributes: FixedAttributes) {
    this.#core = core;
    this.#originalMaxAge = originalMaxAge;
    this.#attributes = attributes;
  }
  // The attributes are accessors on the prototype: a setter, not a frozen object, fails loudly in
  // sloppy-mode code too, where express-session apps assign them and an ignored assignment is silent.
  static {
    for (const key of COOKIE_ATTRIBUTES) {
      Object.defineProperty(CookieView.prototype, key, {
        get(this: CookieView) {
          return this.#attributes.sent[key];
        },
        set(this: CookieView, value: unknown) {
          assertAttributeKept(this.#attributes, key, value, REFUSED);
        },
      });
    }
  }
  get maxAge(): number | null {
    return this.#core.endsWithBrowser ? null : this.#core.maxAgeMs;
  }
  set maxAge(ms: unknown) {
    // `false` is express-session's browser-session cookie too; as a number (under a second) it ended the session.
    if (ms === null || ms === undefined || ms === false) this.#core.setExpiry(0);
    else if (typeof ms === 'number' && !Number.isNaN(ms)) setLifetimeMs(this.#core, ms);
    // express-session's deprecated `maxAge = date`: its expiry.
    else if (ms instanceof Date) this.expires = ms;
    else
      throw new SessUsageError(
        `req.session.cookie.maxAge must be a number of ms, or null (or false) for a cookie that ends with the browser, got ${describeValue(ms)}`,
      );
  }
  get originalMaxAge(): number | null {
    return this.#originalMaxAge;
  }
  // A field would take the assignment and drop it with this object. In express-session it is the
  // lifetime its touch() at the end of the request gives the cookie: the same as setting maxAge.
  set originalMaxAge(ms: unknown) {
    this.maxAge = ms;
  }
  get expires(): Date | null {
    return this.#core.endsWithBrowser ? null : new Date(this.#core.expiresAt);
  }
  set expires(date: Date | false | null | undefined) {
    if (date instanceof Date && !Number.isNaN(date.getTime())) setLifetimeUntil(this.#core, date);
    else this.#core.setExpiry(date === false ? 0 : (date ?? 0));
  }
}

/** The request's side of `regenerate`: the session object that replaces `req.session`. */
export interface ViewOwner {
  handOver(fresh: RequestSession): void;
  /** The response has begun to go out with the session's commit. */
  readonly committed: boolean;
}

const LEFT_BEHIND =
  'this session object was replaced by req.session.regenerate(): it keeps the data it held, to read (passport merges it for keepSessionInfo); use req.session for the new session';

const FLASH_TAKEN =
  "req.session.flash is sess's flash(kind, message) and holds no data: connect-flash (and the flash package) keep their messages there and cannot work with sess. Call req.session.flash(kind, message) and req.session.takeFlash(kind) instead (for passport's failureFlash, give req a flash(kind, message) that calls them), or keep your own messages under another key";

const LATE = {
  save: "req.session.save() can't save once the response has gone (the session was committed with it), and changes made to req.session since were dropped: on a socket (Socket.IO's socket.request.session), make them in sessions.socket(req).use(...), which saves them to the store",
  regenerate:
    "req.session.regenerate() can't run once the response has gone (the session was committed with it, and a new id could not reach the browser): the session keeps its id. Regenerate before answering, and answer in its callback (req.session.regenerate(() => res.redirect(...))); on a socket, in sessions.socket(req).use(...)",
  reload:
    "req.session.reload() can't run once the response has gone (the session was committed with it): reload before answering; on a socket, sessions.socket(req).use(...) reads the stored session afresh",
} as const;

const lateWarned = new Set<keyof typeof LATE>();

/**
 * An operation that came after the commit: it fails, and says so to the callback, to whoever
 * awaits it, and once per process as a warning, since a bare call (`void req.session.save()`, in
 * a `res.on('finish')` handler or a socket's event) hears nothing else. A rejection, not a throw:
 * thrown in a socket's event handler it would end the process.
 */
function late(operation: keyof typeof LATE): Promise<never> {
  if (!lateWarned.has(operation)) {
    lateWarned.add(operation);
    process.emitWarning(LATE[operation], { type: 'SessWarning', code: `SESS_LATE_${operation.toUpperCase()}` });
  }
  return Promise.reject(new SessUsageError(LATE[operation]));
}

const committed = (view: RequestSession): boolean => (ownerOf(view) as ViewOwner | undefined)?.committed === true;

/**
 * express-session's `save()` writes at once, so its apps call it where no response follows (a
 * Socket.IO event, as Socket.IO's docs show): there it fails (see `late`).
 */
function save(core: Session): Promise<never> | undefined {
  // The lifecycle drops a save once the commit has begun.
  return core.save() ? undefined : late('save');
}

/** After the commit the core refuses it too, but only `late` says why, and regenerate must not replace `req.session` first. */
function reload(core: Session, view: RequestSession): Promise<void> {
  return committed(view) ? late('reload') : core.reload();
}

const touch = (core: Session, view: RequestSession): RequestSession => (core.touch(), view);

/** The views of one middleware; `originalMaxAge` is the configured `cookie.maxAge`, `written` its `cookie` option. */
export function expressView(originalMaxAge: number | null, name: string | undefined, written: CookieOptions = {}) {
  const attributes = fixedAttributes(written, name);
  const { flash: _, ...methods } = SESSION_METHODS;
  // express-session's `regenerate` puts a new, empty session object on `req`, and the old one
  // keeps its data: passport signs out through it, and merges the old one back for `keepSessionInfo`.
  function regenerate(core: Session, view: RequestSession, options?: { keepData?: boolean } | null): Promise<void> {
    if (committed(view)) return late('regenerate');
    const keepData = options?.keepData ?? false;
    const owner = ownerOf(view) as ViewOwner | undefined;
    if (keepData || owner === undefined) return core.regenerate({ keepData });
    try {
      detach(view, LEFT_BEHIND);
    } catch {
      // The data can't be read while a store call runs: emptied in place once it is over.
      return core.regenerate({ keepData });
    }
    owner.handOver(make(core, owner).view);
    return core.regenerate({ keepData });
  }
  const make = viewOf<RequestSession>({
    name: 'Session',
    accessors: {
      ...SESSION_ACCESSORS,
      cookie: { get: (core) => new CookieView(core, originalMaxAge, attributes) as unknown as SessionCookie },
      flash: flashAccessor(FLASH_TAKEN),
    },
    methods: {
      ...withCallbacks({ ...methods, regenerate, reload, save }, ['regenerate', 'destroy', 'reload', 'save']),
      touch,
      resetMaxAge: touch,
    },
  });
  return make;
}
