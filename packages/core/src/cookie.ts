/**
 * The cookie codec: read one cookie out of a `Cookie` request header, and write `Set-Cookie`
 * values. Reading is lenient, because the header is attacker-controlled and a bad cookie is
 * just an absent one; writing is strict, because a bad attribute is the app's bug, and a
 * browser that silently ignores it would leave a cookie the app can neither see nor delete.
 */
import { SessConfigError } from './errors.js';

export interface CookieAttributes {
  /** Absolute expiry, epoch ms. Sent alongside Max-Age for clients that predate it. */
  readonly expires?: number;
  /** Lifetime in ms, sent as whole seconds (rounded down). Wins over `expires` where both are known. */
  readonly maxAgeMs?: number;
  readonly domain?: string;
  readonly path?: string;
  readonly secure?: boolean;
  readonly httpOnly?: boolean;
  readonly sameSite?: 'lax' | 'strict' | 'none';
  /** CHIPS: a separate cookie per top-level site. Requires Secure. */
  readonly partitioned?: boolean;
  readonly priority?: 'low' | 'medium' | 'high';
}

// RFC 9110 token characters. A single character class under `+` cannot backtrack.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 6265 §4.1.1 cookie-octet, minus `%`: a raw `%` would be percent-decoded by `readCookie`,
// so a value holding one is encoded instead, and every value survives the round trip.
const COOKIE_OCTETS = /^[\x21\x23-\x24\x26-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
// Printable ASCII minus `;` and `,`. A space can never match a request path (browsers compare
// the percent-encoded path), and `,` is where old parsers split folded Set-Cookie headers. At
// most 1024 bytes: browsers ignore a longer attribute value (RFC 6265bis §5.6), and the cookie
// would fall back to the request's default path, where this Path can neither find nor delete it.
const PATH = /^\/[\x21-\x2B\x2D-\x3A\x3C-\x7E]{0,1023}$/;
// Dot-separated labels of letters, digits and inner hyphens. Each repetition starts with a
// literal `.`, so the groups cannot overlap and the match stays linear.
const DOMAIN = /^\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const MAX_DOMAIN_LENGTH = 254; // 253 plus an optional leading dot.

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;
const PRIORITY = { low: 'Low', medium: 'Medium', high: 'High' } as const;

function isOptionalWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Reads one cookie from a `Cookie` request header.
 *
 * Optional whitespace around the name and value is trimmed, one pair of surrounding double
 * quotes is removed, and a value containing `%` is percent-decoded (left as it is if it
 * does not decode). Pairs without `=` and other malformed input are skipped.
 *
 * @param header - The `Cookie` header as received, or `undefined` when the request had none.
 * @param name - The exact, case-sensitive cookie name.
 * @returns The value of the first cookie called `name` (browsers send the most specific path
 *   first), or `undefined` if there is none. The empty name never matches.
 * @throws Never, whatever the header holds. It runs in time linear in the header's length.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (typeof header !== 'string' || typeof name !== 'string' || name.length === 0) return undefined;
  const length = header.length;
  // The next `=` is carried across pairs: searching afresh from each pair of a header with
  // no `=` left (`a;a;a;...`) would rescan its whole tail every time, quadratic overall.
  let equals = header.indexOf('=');
  let start = 0;
  while (equals !== -1 && start < length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    if (equals < start) equals = header.indexOf('=', start);
    if (equals !== -1 && equals < end) {
      let nameStart = start;
      let nameEnd = equals;
      while (nameStart < nameEnd && isOptionalWhitespace(header.charCodeAt(nameStart))) nameStart++;
      while (nameEnd > nameStart && isOptionalWhitespace(header.charCodeAt(nameEnd - 1))) nameEnd--;
      if (nameEnd - nameStart === name.length && header.startsWith(name, nameStart)) {
        return decodeValue(header, equals + 1, end);
      }
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * Whether `header` holds a cookie called `name`. Most headers do not even contain the name (the
 * test cookie is rare), and a substring search says so without parsing the header.
 */
export function hasCookie(header: string | undefined, name: string): boolean {
  return typeof header === 'string' && header.includes(name) && readCookie(header, name) !== undefined;
}

function decodeValue(header: string, start: number, end: number): string {
  while (start < end && isOptionalWhitespace(header.charCodeAt(start))) start++;
  while (end > start && isOptionalWhitespace(header.charCodeAt(end - 1))) end--;
  if (end - start >= 2 && header.charCodeAt(start) === 0x22 && header.charCodeAt(end - 1) === 0x22) {
    start++;
    end--;
  }
  const value = header.slice(start, end);
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The most bytes `serializeCookie` writes beyond the name, the value as given and the Domain and
 * Path texts: `=`, Max-Age (any finite number), Expires (any date a Date holds), the flags,
 * SameSite and Priority, with room to spare. Lets a caller that only needs to know a line fits
 * skip serializing it.
 */
export const SET_COOKIE_OVERHEAD_BYTES = 200;

/** The prefix of `name` that browsers give rules to (matched without regard to case), if any. */
export function cookiePrefix(name: string): '__Host-' | '__Secure-' | undefined {
  const start = name.slice(0, 9).toLowerCase();
  return start.startsWith('__host-') ? '__Host-' : start === '__secure-' ? '__Secure-' : undefined;
}

/**
 * Builds a `Set-Cookie` header value, in the order
 * `name=value; Max-Age; Domain; Path; Expires; HttpOnly; Secure; SameSite; Partitioned; Priority`.
 *
 * A value that is not all RFC 6265 cookie-octets (or that holds `%`) is percent-encoded, and
 * `readCookie` decodes it back. A `__Host-` name gets Secure and `Path=/`; a `__Secure-` name
 * gets Secure (prefixes are matched case-insensitively, as current browsers do). An `expires`
 * before 1601 or after 9999 is written as the nearest time a cookie date can carry, and Max-Age
 * stops at 2^53 - 1 seconds, so browsers can read both.
 *
 * @returns The header value, without the `Set-Cookie:` field name.
 * @throws SessConfigError with code `'cookie_invalid'` when the name is not an RFC 9110 token;
 *   the path does not start with `/`, holds a control character, space, `;` or `,`, or is over
 *   1024 bytes; the domain is not letters, digits, `-` and dots; `expires` or `maxAgeMs` is not a
 *   finite time;
 *   the value holds a lone surrogate (it has no UTF-8 form); `SameSite=None` or `Partitioned`
 *   lacks Secure (browsers drop such cookies); or a `__Host-` cookie is given a Domain or a
 *   path other than `/`.
 */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw invalid(`cookie name ${show(name)} is not an RFC 9110 token: use letters, digits and !#$%&'*+-.^_\`|~`);
  }
  const { domain, expires, maxAgeMs, sameSite } = attributes;
  let { path } = attributes;
  let secure = attributes.secure === true;

  const prefix = cookiePrefix(name);
  if (prefix === '__Host-') {
    // Refused, not dropped: a cookie quietly rescoped is one the app can neither find nor delete.
    if (domain !== undefined) throw invalid(`the __Host- cookie ${show(name)} cannot have a Domain; remove the domain option`);
    if (path !== undefined && path !== '/') throw invalid(`the __Host- cookie ${show(name)} must have Path=/, got ${show(path)}`);
    path = '/';
    secure = true;
  } else if (prefix === '__Secure-') {
    secure = true;
  }

  if (domain !== undefined && (domain.length > MAX_DOMAIN_LENGTH || !DOMAIN.test(domain))) {
    throw invalid(`cookie domain ${show(domain)} is not a host name such as "example.com" or ".example.com"`);
  }
  if (path !== undefined && !PATH.test(path)) {
    throw invalid(
      `cookie path ${show(path.length > 40 ? `${path.slice(0, 40)}...` : path)} must start with "/", hold no control characters, spaces, ";" or "," and be at most 1024 bytes`,
    );
  }
  // Checked because plain-JS config often says 'Lax', and browsers ignore a SameSite they can't parse.
  if (sameSite !== undefined && !Object.hasOwn(SAME_SITE, sameSite))
    throw invalid(`cookie sameSite must be 'lax', 'strict' or 'none', got ${show(sameSite)}`);
  if (attributes.priority !== undefined && !Object.hasOwn(PRIORITY, attributes.priority)) {
    throw invalid(`cookie priority must be 'low', 'medium' or 'high', got ${show(attributes.priority)}`);
  }
  if (sameSite === 'none' && !secure) throw invalid('SameSite=None requires Secure: browsers drop the cookie otherwise');
  if (attributes.partitioned === true && !secure) throw invalid('Partitioned requires Secure: browsers drop the cookie otherwise');
  if (maxAgeMs !== undefined && !Number.isFinite(maxAgeMs))
    throw invalid(`cookie maxAgeMs must be a finite number of ms, got ${String(maxAgeMs)}`);
  const expiresAt = expires === undefined ? undefined : httpDate(expires);
  if (expiresAt === INVALID_DATE) throw invalid(`cookie expires must be a time in epoch ms, got ${String(expires)}`);

  let header = `${name}=${encodeValue(value)}`;
  // Floored, so the cookie never outlives the lifetime the server applies to its session. Capped,
  // so it stays digits: browsers ignore `Max-Age=1e+22`, and the cookie would end with the browser.
  if (maxAgeMs !== undefined) header += `; Max-Age=${Math.min(Math.max(0, Math.floor(maxAgeMs / 1000)), Number.MAX_SAFE_INTEGER)}`;
  if (domain !== undefined) header += `; Domain=${domain}`;
  if (path !== undefined) header += `; Path=${path}`;
  if (expiresAt !== undefined) header += `; Expires=${expiresAt}`;
  if (attributes.httpOnly === true) header += '; HttpOnly';
  if (secure) header += '; Secure';
  if (sameSite !== undefined) header += `; SameSite=${SAME_SITE[sameSite]}`;
  if (attributes.partitioned === true) header += '; Partitioned';
  if (attributes.priority !== undefined) header += `; Priority=${PRIORITY[attributes.priority]}`;
  return header;
}

const INVALID_DATE = 'Invalid Date';
const MAX_DATE_MS = 8.64e15; // The furthest a Date reaches either side of 1970 (ECMA-262 §21.4.1.1).
// The years a cookie date carries (RFC 6265 §5.1.1): four digits, 1601 or later. Browsers read year
// 0068 as 2068, a past date as a future one, and skip a five-digit year; the nearest year they
// read keeps the time in the past or the far future.
const FIRST_COOKIE_DATE_MS = Date.UTC(1601, 0, 1);
const LAST_COOKIE_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
// Cookies written in the same second share their Expires, so its text is made once a second.
let httpDateSecond = Number.NaN;
let httpDateText = INVALID_DATE;

/** `time` (epoch ms) as an HTTP date within years 1601-9999, or `INVALID_DATE` for a time no Date can hold. */
function httpDate(given: number): string {
  if (!(Math.abs(given) <= MAX_DATE_MS)) return INVALID_DATE;
  const time = Math.min(Math.max(given, FIRST_COOKIE_DATE_MS), LAST_COOKIE_DATE_MS);
  const second = Math.floor(time / 1000);
  if (second !== httpDateSecond) {
    httpDateText = new Date(time).toUTCString();
    httpDateSecond = second;
  }
  return httpDateText;
}

function encodeValue(value: string): string {
  if (COOKIE_OCTETS.test(value)) return value;
  try {
    return encodeURIComponent(value);
  } catch {
    throw invalid('cookie value holds a lone surrogate, which has no UTF-8 form');
  }
}

function invalid(message: string): SessConfigError {
  return new SessConfigError(message, 'cookie_invalid');
}

// JSON quoting makes a stray CR, LF or NUL visible in the message instead of breaking it.
function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Builds a `Set-Cookie` header value that deletes a cookie: an empty value, `Max-Age=0` and an
 * `Expires` in 1970. A browser deletes only the cookie whose name, domain and path match (and,
 * for a partitioned cookie, `Partitioned`), so pass the attributes the cookie was set with.
 *
 * @returns The header value, without the `Set-Cookie:` field name.
 * @throws SessConfigError with code `'cookie_invalid'`, for the reasons `serializeCookie` does.
 */
export function serializeDeletion(
  name: string,
  attributes: Pick<CookieAttributes, 'domain' | 'path' | 'secure' | 'httpOnly' | 'sameSite' | 'partitioned'>,
): string {
  // Spread, then overridden: callers pass the attributes the cookie was set with, and its
  // lifetime must not survive onto the deletion.
  return serializeCookie(name, '', { ...attributes, maxAgeMs: 0, expires: 0 });
}
