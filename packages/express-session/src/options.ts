/**
 * express-session's options, checked once at construction (a mistake fails there, never on a
 * request), with express-session's defaults and its deprecation warnings. Where sess's own
 * default is safer, express-session's is kept and a warning names the safer choice.
 */
import type { IncomingMessage } from 'node:http';
import { SessConfigError, checkFunction, checkOneOf, checkOptionKeys, serializeCookie } from '@sess/core';
import { MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS, checkOptions } from '@sess/core/adapter';
import type { OptionTable } from '@sess/core/adapter';
import { type CookieSettings, attributesFor } from './cookie.js';
import { clampLifetime } from './record.js';
import type { SigningSecret } from './signer.js';
import { MemoryStoreBase } from './store.js';
import type { CallbackStore } from './session.js';
import { warnOnce } from './warnings.js';

/** express-session's options (see its README); `store` takes any express-session store. */
export interface MiddlewareOptions<Request = IncomingMessage> {
  /**
   * Signs the cookie: one secret, or several (the first signs, all verify). Without it the
   * secret of cookie-parser (`req.secret`) is used, as express-session does (deprecated there).
   */
  secret?: SigningSecret | SigningSecret[] | undefined;
  /** Makes a new session id; given the request. Ids must be 22-128 characters of A-Z a-z 0-9 _ -. */
  genid?: ((req: Request) => string) | undefined;
  /** The cookie's name. Default `'connect.sid'`. */
  name?: string | undefined;
  /** Where sessions live. Default a new `MemoryStore` (one process, for development). */
  store?: CallbackStore | undefined;
  /** The cookie's attributes, or a function of the request returning them. Default `{ path: '/', httpOnly: true, secure: false, maxAge: null }`. */
  cookie?: CookieSettings | ((req: Request) => CookieSettings) | undefined;
  /** Re-send the cookie, with its lifetime renewed, on every response. Default `false`. */
  rolling?: boolean | undefined;
  /** Save every session at the end of each request, changed or not. Default `true`, deprecated: say which. */
  resave?: boolean | undefined;
  /** Trust `X-Forwarded-Proto` for Secure cookies: `true` trusts it, `false` looks at the connection only, default: Express's `trust proxy`. */
  proxy?: boolean | undefined;
  /** Save new sessions nobody wrote to (and send their cookie). Default `true`, deprecated: say which. */
  saveUninitialized?: boolean | undefined;
  /** What `delete req.session` (or `req.session = null`) does: `'keep'` the stored session (default) or `'destroy'` it. */
  unset?: 'destroy' | 'keep' | undefined;
}

/** The options, checked and with defaults filled in. */
export interface Settings<Request> {
  readonly name: string;
  readonly store: CallbackStore;
  readonly secret: readonly SigningSecret[] | undefined;
  readonly genid: ((req: Request) => string) | undefined;
  readonly cookie: (req: Request) => CookieSettings;
  readonly rolling: boolean;
  readonly resave: boolean;
  readonly saveUninitialized: boolean;
  readonly proxy: boolean | undefined;
  readonly unset: 'destroy' | 'keep';
}

const OPTIONS: OptionTable<MiddlewareOptions & { key?: string }> = {
  secret: [],
  genid: ['function'],
  name: [],
  // express-session still reads connect's old name for `name`.
  key: [],
  store: [],
  cookie: [],
  rolling: ['flag'],
  resave: ['flag'],
  proxy: ['flag'],
  saveUninitialized: ['flag'],
  unset: [['destroy', 'keep']],
};

const COOKIE_KEYS = [
  'maxAge',
  'expires',
  'httpOnly',
  'path',
  'domain',
  'secure',
  'sameSite',
  'partitioned',
  'priority',
  'signed',
  'encode',
] as const satisfies readonly (keyof CookieSettings)[];

const WHERE = 'session() of @sess/express-session';
const COOKIE_HINTS = { 'max-age': 'use maxAge (ms)', maxAgeMs: 'use maxAge (ms)', httponly: 'use httpOnly', samesite: 'use sameSite' };

/**
 * The cookie's lifetime, in ms (`null`: until the browser closes), from its options: the last of
 * `maxAge` and `expires` given wins, as in express-session. Browsers cap cookies at 400 days,
 * and sess takes no longer: a longer lifetime is shortened (with a warning), a shorter one than
 * a second lengthened to a second.
 */
export function lifetimeOf(cookie: CookieSettings, now: number): number | null {
  let ms: number | null = null;
  for (const key of Object.keys(cookie)) {
    if (key === 'maxAge') ms = typeof cookie.maxAge === 'number' ? cookie.maxAge : null;
    if (key === 'expires') ms = cookie.expires instanceof Date ? cookie.expires.valueOf() - now : null;
  }
  if (ms === null) return null;
  if (ms > MAX_LIFETIME_MS) {
    warnOnce(
      'SESS_EXPRESS_SESSION_LONG_MAX_AGE',
      `cookie.maxAge is longer than 400 days, the most browsers keep a cookie (RFC 6265bis): sessions last 400 days.`,
    );
  }
  return clampLifetime(ms);
}

/** The request's SameSite and Secure, with `'auto'` decided by whether the request is secure. */
export function resolveCookie(cookie: CookieSettings, secure: boolean): CookieSettings {
  if (cookie.secure !== 'auto' && cookie.sameSite !== 'auto') return cookie;
  const resolved = { ...cookie };
  if (cookie.secure === 'auto') resolved.secure = secure;
  if (cookie.sameSite === 'auto') resolved.sameSite = secure ? 'none' : 'lax';
  return resolved;
}

/**
 * Checks cookie options given as an object, once. Every variant a request can turn them into
 * (plain or secure request) must be a cookie browsers keep, or construction fails.
 */
function checkCookie(cookie: CookieSettings, name: string): void {
  checkOptionKeys(cookie, COOKIE_KEYS, `cookie of ${WHERE}`, COOKIE_HINTS);
  checkOneOf(cookie.httpOnly, [true, false], 'cookie.httpOnly');
  checkOneOf(cookie.secure, [true, false, 'auto'], 'cookie.secure');
  checkOneOf(cookie.partitioned, [true, false], 'cookie.partitioned');
  checkOneOf(
    typeof cookie.sameSite === 'string' ? cookie.sameSite.toLowerCase() : cookie.sameSite,
    [true, false, 'lax', 'strict', 'none', 'auto'],
    'cookie.sameSite',
  );
  checkOneOf(
    typeof cookie.priority === 'string' ? cookie.priority.toLowerCase() : cookie.priority,
    ['low', 'medium', 'high'],
    'cookie.priority',
  );
  checkFunction(cookie.encode, 'cookie.encode');
  const { maxAge, expires } = cookie;
  if (maxAge !== undefined && maxAge !== null && !(typeof maxAge === 'number' && maxAge >= MIN_COOKIE_LIFETIME_MS)) {
    throw new SessConfigError(`cookie.maxAge must be a number of ms (at least ${MIN_COOKIE_LIFETIME_MS}) or null, got ${String(maxAge)}`);
  }
  if (expires !== undefined && expires !== null && expires !== false && !(expires instanceof Date && Number.isFinite(expires.valueOf()))) {
    throw new SessConfigError(`cookie.expires must be a Date or null; express-session advises cookie.maxAge (ms) instead`);
  }
  lifetimeOf(cookie, Date.now());
  // The variant that goes out: a Secure cookie only on secure requests (express-session's rule),
  // and with `secure: 'auto'` a plain request's cookie browsers would refuse is left out as they would.
  for (const secure of cookie.secure === true || cookie.secure === 'auto' ? [true] : [false]) {
    const attributes = attributesFor(resolveCookie(cookie, secure) as Record<string, unknown>);
    try {
      serializeCookie(name, '', attributes);
    } catch (error) {
      throw new SessConfigError(`cookie options: ${(error as Error).message.replace(/^\[sess\] /, '')}`, 'cookie_invalid');
    }
  }
}

function checkStore(store: unknown): CallbackStore {
  const candidate = store as Partial<CallbackStore> | null;
  const missing = ['get', 'set', 'destroy', 'on'].filter((method) => typeof candidate?.[method as keyof CallbackStore] !== 'function');
  if (typeof store !== 'object' || store === null || missing.length > 0) {
    throw new SessConfigError(
      `${WHERE}: store must be an express-session store (an EventEmitter with get, set and destroy: extend session.Store); missing ${missing.join(', ')}`,
    );
  }
  return store as CallbackStore;
}

/**
 * Checks `options` once and fills in express-session's defaults.
 *
 * @throws SessConfigError for an unknown option (with "did you mean"), a value of the wrong
 *   type, an empty secret list, or cookie options browsers would refuse.
 */
export function settingsOf<Request>(options: MiddlewareOptions<Request> = {}): Settings<Request> {
  checkOptions(options, OPTIONS as OptionTable<MiddlewareOptions<Request>>, WHERE, {
    hints: { ...COOKIE_HINTS, maxAge: 'use cookie.maxAge (ms)' },
  });
  const { cookie = {}, secret } = options;
  const name = options.name || (options as { key?: string }).key || 'connect.sid';
  if (typeof name !== 'string') throw new SessConfigError(`name must be a string, got ${typeof name}`);
  // The name is checked here even when the secret comes per request (cookie-parser's).
  if (typeof cookie === 'function') serializeCookie(name, '', {});
  else if (typeof cookie !== 'object' || cookie === null)
    throw new SessConfigError('cookie must be an object or a function of the request');
  else checkCookie(cookie, name);
  if (options.resave === undefined)
    warnOnce('SESS_EXPRESS_SESSION_RESAVE', 'undefined resave option; provide resave option', 'DeprecationWarning');
  if (options.saveUninitialized === undefined) {
    warnOnce(
      'SESS_EXPRESS_SESSION_SAVE_UNINITIALIZED',
      'undefined saveUninitialized option; provide saveUninitialized option',
      'DeprecationWarning',
    );
  }
  if (Array.isArray(secret) && secret.length === 0) throw new SessConfigError('secret option array must contain one or more strings');
  if (!secret) warnOnce('SESS_EXPRESS_SESSION_REQ_SECRET', 'req.secret; provide secret option', 'DeprecationWarning');
  if (typeof cookie === 'object' && (cookie.secure === undefined || cookie.sameSite === undefined)) {
    warnOnce(
      'SESS_EXPRESS_SESSION_COOKIE_DEFAULTS',
      `the session cookie keeps express-session's defaults: ${cookie.secure === undefined ? 'no Secure attribute' : ''}${cookie.secure === undefined && cookie.sameSite === undefined ? ' and ' : ''}${cookie.sameSite === undefined ? 'no SameSite attribute' : ''}. Safer: cookie: { secure: 'auto', sameSite: 'lax' } (with app.set('trust proxy', ...) behind a proxy), sess's defaults in @sess/express.`,
    );
  }
  const store = options.store === undefined ? new MemoryStoreBase() : checkStore(options.store);
  if (store instanceof MemoryStoreBase && process.env.NODE_ENV === 'production') {
    warnOnce(
      'SESS_EXPRESS_SESSION_MEMORY_STORE',
      'MemoryStore is not designed for a production environment: it will leak memory and will not scale past a single process. Use a shared store (connect-redis, connect-pg-simple, ...), or @sess/express with its bounded memoryStore().',
    );
  }
  return Object.freeze({
    name,
    store,
    secret: secret ? (Array.isArray(secret) ? Object.freeze([...secret]) : Object.freeze([secret])) : undefined,
    genid: options.genid,
    cookie: typeof cookie === 'function' ? cookie : () => cookie,
    rolling: options.rolling ?? false,
    resave: options.resave ?? true,
    saveUninitialized: options.saveUninitialized ?? true,
    proxy: options.proxy,
    unset: options.unset ?? 'keep',
  });
}
