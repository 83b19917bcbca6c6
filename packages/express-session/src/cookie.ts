/**
 * `session.Cookie`: express-session's view of the session cookie, `req.session.cookie`. Its
 * lifetime lives in `expires` (a Date, or `null`/`false` for a cookie that ends with the browser)
 * and `originalMaxAge` (the lifetime in ms each request renews it to); `maxAge` reads and writes
 * the time left. The record in the store holds its `toJSON()`.
 */
import { serializeCookie } from '@sess/core';
import type { CookieAttributes } from '@sess/core';

/** The cookie's attributes as express-session's `cookie` option takes them (see its README). */
export interface CookieSettings {
  /** Lifetime in ms; `null` or absent: the cookie ends when the browser closes. */
  maxAge?: number | null | undefined;
  /** An absolute end; express-session advises `maxAge` instead. */
  expires?: Date | null | false | undefined;
  /** Default `true`. */
  httpOnly?: boolean | undefined;
  /** Default `'/'`. */
  path?: string | undefined;
  domain?: string | undefined;
  /** Default `false`; `'auto'`: Secure exactly when the request is. */
  secure?: boolean | 'auto' | undefined;
  /** Default none; `true` is `'strict'`; `'auto'`: `'none'` on secure requests, `'lax'` on plain ones. */
  sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto' | undefined;
  partitioned?: boolean | undefined;
  priority?: 'low' | 'medium' | 'high' | undefined;
  /** Accepted and ignored, as express-session does. */
  signed?: boolean | undefined;
  /** Accepted and ignored, as express-session does: the value is always URL-encoded. */
  encode?: ((value: string) => string) | undefined;
}

/** The cookie as the store keeps it: `Cookie.toJSON()`. */
export interface CookieJSON {
  originalMaxAge: number | null;
  expires: Date | null | false | undefined;
  secure: boolean | 'auto' | undefined;
  httpOnly: boolean | undefined;
  domain: string | undefined;
  path: string | undefined;
  sameSite: boolean | 'lax' | 'strict' | 'none' | 'auto' | undefined;
  partitioned: boolean | undefined;
  priority: 'low' | 'medium' | 'high' | undefined;
}

export class SessionCookie {
  // `session.Cookie` to the app: it prints as express-session's does.
  static {
    Object.defineProperty(SessionCookie, 'name', { value: 'Cookie' });
  }
  declare path: string | undefined;
  /** Where `expires` keeps its value: express-session's own field name, which stores never see. */
  declare _expires: Date | null | false | undefined;
  declare originalMaxAge: number | null;
  declare httpOnly: boolean | undefined;
  declare secure?: boolean | 'auto' | undefined;
  declare domain?: string | undefined;
  declare sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto' | undefined;
  declare partitioned?: boolean | undefined;
  declare priority?: 'low' | 'medium' | 'high' | undefined;
  [option: string]: unknown;

  /** @throws TypeError when `options` is not an object, as express-session does. */
  constructor(options?: CookieSettings | Record<string, unknown> | null) {
    this.path = '/';
    this.maxAge = null;
    this.httpOnly = true;
    if (options) {
      if (typeof options !== 'object') throw new TypeError('argument options must be a object');
      for (const key in options) if (key !== 'data') this[key] = (options as Record<string, unknown>)[key];
    }
    if (this.originalMaxAge === undefined || this.originalMaxAge === null) this.originalMaxAge = this.maxAge;
  }

  set expires(date: Date | null | false | undefined) {
    this._expires = date;
    this.originalMaxAge = this.maxAge;
  }

  get expires(): Date | null | false | undefined {
    return this._expires;
  }

  /** @throws TypeError for a value that is neither a number nor a Date. */
  set maxAge(ms: number | Date | null | false | undefined) {
    if (ms && typeof ms !== 'number' && !(ms instanceof Date)) throw new TypeError('maxAge must be a number or Date');
    this.expires = typeof ms === 'number' ? new Date(Date.now() + ms) : ms;
    // express-session's Cookie reads the clock again in the `expires` setter, so its
    // originalMaxAge can come out a millisecond short of the lifetime set; this keeps it exact.
    if (typeof ms === 'number') this.originalMaxAge = ms;
  }

  /** The time left, in ms; `null` (or what `expires` holds) for a browser-session cookie. */
  get maxAge(): number | null {
    const { expires } = this;
    return expires instanceof Date ? expires.valueOf() - Date.now() : (expires as null);
  }

  get data(): CookieJSON {
    return {
      originalMaxAge: this.originalMaxAge,
      partitioned: this.partitioned,
      priority: this.priority,
      expires: this._expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }

  toJSON(): CookieJSON {
    return this.data;
  }

  /**
   * A Set-Cookie line for `name=value` with this cookie's attributes, as express-session's
   * `Cookie.serialize` writes it: the value URL-encoded, `Expires` and no `Max-Age`. Apps use it to
   * set the session cookie by hand.
   * @throws SessConfigError for a name or attributes browsers would refuse.
   */
  serialize(name: string, value: string): string {
    const { expires } = this;
    const lifetime = expires instanceof Date ? { expires: expires.valueOf() } : {};
    return `${name}=${encodeURIComponent(value)}${serializeCookie(name, '', { ...attributesFor(this), ...lifetime }).slice(name.length + 1)}`;
  }
}

/** A stored cookie (its JSON) as a `Cookie`, as express-session's `Store.createSession` makes it. */
export function cookieFromStore(stored: Record<string, unknown>): SessionCookie {
  const { expires, originalMaxAge } = stored;
  const cookie = new SessionCookie(stored);
  // Stores keep `expires` as JSON text; the session works with a Date. One that is no date (a
  // record of another app or an old version) ends with the browser rather than breaking `maxAge`.
  if (expires !== undefined && expires !== null && expires !== false) cookie.expires = storedDate(expires);
  // Kept as stored: the lifetime the session renews to, not the time left. Anything but a number
  // of ms would make `touch()` throw, so it reads as a browser-session cookie.
  cookie.originalMaxAge = typeof originalMaxAge === 'number' && Number.isFinite(originalMaxAge) ? originalMaxAge : null;
  return cookie;
}

/** A stored `expires` (JSON text, or ms since the epoch) as a Date; `null` for one that is no date. */
function storedDate(expires: unknown): Date | null {
  const date = typeof expires === 'string' || typeof expires === 'number' ? new Date(expires) : expires;
  return date instanceof Date && Number.isFinite(date.valueOf()) ? date : null;
}

const SAME_SITE = { lax: 'lax', strict: 'strict', none: 'none' } as const;
const PRIORITY = { low: 'low', medium: 'medium', high: 'high' } as const;

/**
 * The Set-Cookie attributes of a cookie as express-session writes them: `sameSite: true` is
 * Strict, `false` or absent no SameSite; words in any case (the `cookie` module's rule).
 */
export function attributesFor(cookie: Record<string, unknown>): CookieAttributes {
  const { path, domain, sameSite, priority } = cookie;
  const site =
    sameSite === true ? 'strict' : typeof sameSite === 'string' ? SAME_SITE[sameSite.toLowerCase() as keyof typeof SAME_SITE] : undefined;
  const rank = typeof priority === 'string' ? PRIORITY[priority.toLowerCase() as keyof typeof PRIORITY] : undefined;
  return {
    ...(typeof path === 'string' ? { path } : {}),
    ...(typeof domain === 'string' ? { domain } : {}),
    httpOnly: Boolean(cookie.httpOnly),
    secure: Boolean(cookie.secure),
    ...(site === undefined ? {} : { sameSite: site }),
    ...(cookie.partitioned ? { partitioned: true } : {}),
    ...(rank === undefined ? {} : { priority: rank }),
  };
}
