/**
 * The session cookie as express-session's `req.session.cookie` and @fastify/session's
 * `session.options(opts)` let an app change it per request: the lifetime, which sess keeps with
 * the session (`setExpiry`), and the attributes, which sess fixes at construction and so reports
 * as they are sent and refuses to change, loudly, where the peers would have honoured it.
 */
import { cookiePrefix } from '../cookie.js';
import { SessUsageError } from '../errors.js';
import { MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS } from '../options.js';
import { describeValue } from '../options-check.js';
import type { Session } from '../session-api.js';
import type { CookieOptions } from './options.js';
import { cookieOptions } from './options.js';

/** The session cookie's attributes other than its lifetime, which sess fixes at construction. */
export const COOKIE_ATTRIBUTES = ['domain', 'path', 'secure', 'sameSite', 'httpOnly', 'partitioned', 'priority'] as const;
/** One of `COOKIE_ATTRIBUTES`. */
export type CookieAttribute = (typeof COOKIE_ATTRIBUTES)[number];

/** The session cookie's attributes as the Set-Cookie carries them, defaults filled in. */
export interface SentCookieAttributes {
  /** `cookie.domain`; none unless set. */
  readonly domain: string | undefined;
  /** `cookie.path` (`'/'` unless set). */
  readonly path: string;
  /** `cookie.secure` (`'auto'` unless set: Secure exactly on secure requests); `true` for a `__Secure-` or `__Host-` name. */
  readonly secure: boolean | 'auto';
  /** `cookie.sameSite` (`'lax'` unless set; `true` reads `'strict'`). */
  readonly sameSite: 'lax' | 'strict' | 'none';
  /** `cookie.httpOnly` (`true` unless set). */
  readonly httpOnly: boolean;
  /** `cookie.partitioned` (CHIPS). */
  readonly partitioned: boolean | undefined;
  /** `cookie.priority`. */
  readonly priority: 'low' | 'medium' | 'high' | undefined;
}

/** One middleware's cookie attributes: as the Set-Cookie carries them, and as the app wrote them. */
export interface FixedAttributes {
  readonly sent: SentCookieAttributes;
  /** The middleware's `cookie` option as the app wrote it (`sameSite: true`, say). */
  readonly written: CookieOptions;
}

/** The attributes from the middleware's `cookie` option and cookie name: defaults filled in, and a `__Secure-`/`__Host-` name always Secure, as the core sends it. */
export function fixedAttributes(written: CookieOptions = {}, cookieName = ''): FixedAttributes {
  const options = cookieOptions(written);
  const sent = {
    domain: options.domain,
    path: options.path ?? '/',
    secure: cookiePrefix(cookieName) !== undefined || (options.secure ?? 'auto'),
    sameSite: options.sameSite ?? 'lax',
    httpOnly: options.httpOnly ?? true,
    partitioned: options.partitioned,
    priority: options.priority,
  } as const;
  return { sent, written };
}

/** How an adapter names the per-request change it refuses, and where the attribute is set instead. */
export interface AttributeWording {
  /** The change, e.g. `req.session.cookie.domain can't be set per request`. */
  readonly refused: (attribute: CookieAttribute) => string;
  /** The construction call that sets it, given `{ attribute: value }`. */
  readonly setInstead: (setting: string) => string;
  /** Which of the framework's requests are secure, for `secure: 'auto'`. */
  readonly secureRequests: string;
}

/**
 * Accepts `value` for `attribute` when it is what the cookie is sent with, or what the app wrote
 * (express-session apps re-assign their configured values); anything else is a `SessUsageError`
 * naming the option to set instead.
 */
export function assertAttributeKept(
  attributes: FixedAttributes,
  attribute: CookieAttribute,
  value: unknown,
  wording: AttributeWording,
): void {
  const { sent, written } = attributes;
  if (value === sent[attribute] || (value !== undefined && value === written[attribute])) return;
  const auto =
    attribute === 'secure' && sent.secure === 'auto'
      ? `, or leave the default secure: 'auto', Secure on exactly the requests ${wording.secureRequests}`
      : '';
  throw new SessUsageError(
    `${wording.refused(attribute)} (it is ${describeValue(sent[attribute])}): sess sets the cookie's attributes once, for every session. Set ${wording.setInstead(`{ ${attribute}: ${describeValue(value)} }`)} instead${auto}`,
  );
}

/**
 * Now, as the core read it for this request: that reading was checked, so a clock gone bad since
 * fails the commit with the clock error (a bad reading here would be refused as a bad Date).
 */
function readingOf(core: Session): number {
  return core.expiresAt - core.maxAgeMs;
}

/**
 * express-session's `cookie.maxAge = ms` and @fastify/session's `options({ maxAge: ms })`: under
 * a second ends the session now (its Max-Age would round down to 0, where the core's
 * `setExpiry(0)` means "until the browser closes"); past 400 days, 400 days, all browsers keep.
 */
export function setLifetimeMs(core: Session, ms: number): void {
  if (ms < MIN_COOKIE_LIFETIME_MS) core.setExpiry(new Date(readingOf(core)));
  else core.setExpiry(Math.min(ms, MAX_LIFETIME_MS) / 1000);
}

/**
 * `cookie.expires = date`: a past date ends the session now, a far one is 400 days, in seconds:
 * the core takes a Date only within 400 days of its own reading, which a clock that stepped (or
 * a long request) can leave minutes before the app's, but measures seconds from it itself.
 */
export function setLifetimeUntil(core: Session, date: Date): void {
  const now = readingOf(core);
  if (date.getTime() >= now + MAX_LIFETIME_MS - 60_000) core.setExpiry(MAX_LIFETIME_MS / 1000);
  else core.setExpiry(new Date(Math.max(date.getTime(), now)));
}
