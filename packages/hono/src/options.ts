/**
 * The options of `session()`: sess's shared options, plus Hono's own spellings where it has them
 * (`maxAge` in seconds and the `sameSite`/`priority` words of `hono/cookie`), checked once and
 * turned into the core's.
 */
import type { Context } from 'hono';
import { createSessionManager } from '@sess/core';
import { COOKIE_OPTIONS, SHARED_OPTIONS, checkOptions, cookieOptions, coreOptions, defined, lifetimeOptions } from '@sess/core/adapter';
import type { CookieOptions as KitCookieOptions, OptionTable, SharedOptions } from '@sess/core/adapter';
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
export interface SessionOptions extends SharedOptions<Context> {
  /** Lifetime in seconds, as `hono/cookie`'s `maxAge`; `'session'` for a cookie that ends with the browser. Default 24 hours. */
  maxAge?: number | 'session';
  /** Trust `X-Forwarded-Proto` when deciding whether the request is secure. Default `false`. */
  proxy?: boolean;
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Default: 192 random bits. */
  generateId?: () => string;
  /** The cookie's attributes (`secure: 'auto'`, the default, follows the request and `proxy`). */
  cookie?: CookieOptions;
}

const LIFETIME = 'use the top-level "maxAge" option, in seconds, or \'session\' for a cookie that ends with the browser';
const COOKIE = {
  table: {
    ...COOKIE_OPTIONS,
    sameSite: [[true, false, 'lax', 'strict', 'none', 'Lax', 'Strict', 'None']],
    priority: [['low', 'medium', 'high', 'Low', 'Medium', 'High']],
  },
  should: 'an object of cookie attributes',
  hints: {
    maxAge: LIFETIME,
    expires: LIFETIME,
    name: 'use the top-level "name" option',
    prefix: "name the cookie '__Host-sid' instead: sess applies the prefix's rules (Secure, Path=/, no Domain)",
    signingSecret: 'sess signs the cookie with the top-level "secret"',
  },
} as const;
const OPTIONS: OptionTable<SessionOptions> = {
  ...SHARED_OPTIONS,
  maxAge: [],
  proxy: ['flag'],
  generateId: ['function', 'generateId'],
  cookie: [COOKIE],
};

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
  expireAtBrowserClose: "use maxAge: 'session'",
  trustProxy: 'use "proxy: true"',
  genid: 'sess calls it "generateId"',
};

/** `hono/cookie` takes `'Lax'` and `'lax'` alike; the kit takes the lower case. */
const lower = <Word extends string>(word: Word | undefined) => word?.toLowerCase() as Lowercase<Word> | undefined;

/**
 * The options, checked and turned into the core's; what a request needs is read here, once, so
 * changing the options object later changes nothing.
 *
 * @throws SessConfigError
 */
export function configure(options: SessionOptions) {
  checkOptions<SessionOptions>(options, OPTIONS, 'session() of @sess/hono', { hints: HINTS });
  const { sameSite, priority, ...cookie } = options.cookie ?? {};
  const manager = createSessionManager({
    ...coreOptions(options, OPTIONS),
    ...lifetimeOptions(options.maxAge, 1000),
    store: options.store ?? memoryStore(),
    cookie: cookieOptions({
      ...cookie,
      ...defined({ sameSite: typeof sameSite === 'string' ? lower(sameSite) : sameSite, priority: lower(priority) }),
    }),
  });
  const { proxy = false, readOnly, asyncContext = false } = options;
  return Object.freeze({ manager, proxy, readOnly, asyncContext });
}
