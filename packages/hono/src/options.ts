/**
 * The options of `session()`: sess's shared options, plus Hono's own spellings where it has them
 * (`maxAge` in seconds and the `sameSite`/`priority` words of `hono/cookie`), checked once and
 * turned into the core's.
 */
import type { Context } from 'hono';
import { COOKIE_OPTIONS, SHARED_OPTIONS, WEB_HINTS, WEB_OPTIONS, configureWeb, defined } from '@sess/core/adapter';
import type { CookieOptions as KitCookieOptions, OptionTable, WebOptions } from '@sess/core/adapter';
import { memoryStore } from '@sess/store-memory';

/** A word as `hono/cookie` takes it: `'lax'` or `'Lax'`. */
type Spelled<Word extends string> = Word | Capitalize<Word>;

/** The session cookie's attributes, spelled as `hono/cookie`'s `setCookie` takes them. */
export interface CookieOptions extends Omit<KitCookieOptions, 'sameSite' | 'priority'> {
  /** Default `'lax'`. `true` means `'strict'`, `false` means `'lax'`, what browsers assume. */
  sameSite?: boolean | Spelled<'lax' | 'strict' | 'none'>;
  /** Chrome's `Priority` attribute. Default none. */
  priority?: Spelled<'low' | 'medium' | 'high'>;
}

/** Hono's names where it has them (`maxAge` in seconds), and the core's options under their own names (see `SharedOptions`). */
export interface SessionOptions extends WebOptions<Context, CookieOptions> {}

const COOKIE = {
  table: {
    ...COOKIE_OPTIONS,
    sameSite: [[true, false, 'lax', 'strict', 'none', 'Lax', 'Strict', 'None']],
    priority: [['low', 'medium', 'high', 'Low', 'Medium', 'High']],
  },
  should: 'an object of cookie attributes',
  hints: {
    ...WEB_HINTS.cookie,
    prefix: "name the cookie '__Host-sid' instead: sess applies the prefix's rules (Secure, Path=/, no Domain)",
    signingSecret: 'sess signs the cookie with the top-level "secret"',
  },
} as const;
const OPTIONS: OptionTable<SessionOptions> = { ...SHARED_OPTIONS, ...WEB_OPTIONS, cookie: [COOKIE] };

/** Options of hono-sessions, hono-session and other session libraries that sess spells differently. */
const HINTS: Readonly<Record<string, string>> = {
  encryptionKey:
    'sess calls it "secret" (at least 32 bytes; an array of secrets rotates them). The cookie carries a signed id and the data lives in the store; to keep the data in the cookie, pass store: cookieSessions({ secret }) from @sess/core',
  password: 'sess calls it "secret" (at least 32 bytes; an array of secrets rotates them)',
  expireAfterSeconds: 'use "idleTimeoutMs" (milliseconds without a request) to end idle sessions, and "maxAge" (seconds) for the cookie',
  autoExtendExpiration: 'use "rolling: true"',
  cookieOptions: 'sess calls it "cookie"',
  sessionCookieName: 'sess calls it "name"',
  cookieName: 'sess calls it "name"',
  maxAgeMs: 'this entry takes "maxAge" in seconds, as hono/cookie does',
  ...WEB_HINTS.options,
};

/** `hono/cookie` takes `'Lax'` and `'lax'` alike; the kit takes the lower case. */
const lower = <Word extends string>(word: Word | undefined) => word?.toLowerCase() as Lowercase<Word> | undefined;

/** The cookie attributes as the kit takes them. */
function kitCookie({ sameSite, priority, ...cookie }: CookieOptions = {}): KitCookieOptions {
  return { ...cookie, ...defined({ sameSite: typeof sameSite === 'string' ? lower(sameSite) : sameSite, priority: lower(priority) }) };
}

/**
 * The options, checked and turned into the core's; what a request needs is read here, once.
 *
 * @throws SessConfigError
 */
export const configure = (options: SessionOptions) =>
  configureWeb(options, OPTIONS, 'session() of @sess/hono', { hints: HINTS, defaultStore: memoryStore, cookie: kitCookie });
