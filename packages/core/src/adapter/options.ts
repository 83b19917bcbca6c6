/**
 * The options every adapter takes, written once: their types and TSDoc, how each is checked (so
 * a refusal names the option the app wrote), and what they become in the core's options. An
 * adapter adds only its own names (`key`, `cookie.maxAge`, `resave`, ...) and maps those.
 */
import { SessConfigError } from '../errors.js';
import { checkStorage } from '../cookie-sessions.js';
import { createSessionManager } from '../manager.js';
import { checkFunction, checkOneOf, checkOptionKeys, describeValue } from '../options-check.js';
import type { SessionStorage } from '../cookie-sessions.js';
import type { StandardSchemaV1 } from '../schema.js';
import type { SessionEvent } from '../session-events.js';
import { DEFAULT_MAX_AGE_MS, type SessionCookieOptions, type SessionManagerOptions } from '../options.js';
import type { SessionManager } from '../session-api.js';

/** The options of every adapter's `session(...)`: the core's (passed on unchanged) and the request-side ones. */
export interface SharedOptions<Request, Storage = SessionStorage> {
  /** One secret or several (the first signs, all verify); each at least 32 bytes. */
  secret: string | readonly string[];
  /**
   * Where sessions live. Default `memoryStore()` (one process, lost on restart); a shared store
   * such as `redisStore({ client })` from `@sess/store-redis`, or `cookieSessions({ secret })`
   * from `@sess/core` to keep the (small) data sealed in the cookie itself.
   */
  store?: Storage;
  /** Cookie name. Default `'sid'`; a `__Host-` name pins the cookie to this host over HTTPS. */
  name?: string;
  /** Re-send the cookie and extend the session on every request that uses it. Default `false`. */
  rolling?: boolean;
  /**
   * Requests for which the session is loaded but never written (say, parallel API reads that
   * must not clobber a writer). Changing the session there throws `SessUsageError`. Default none.
   * It must answer synchronously: a promise fails the request with `SessConfigError`.
   */
  readOnly?: (request: Request) => boolean;
  /**
   * Make `getSession()` work anywhere inside the request (AsyncLocalStorage). Default `false`:
   * on Node 20 it adds a small cost to every promise the request creates.
   */
  asyncContext?: boolean;
  /** End a session after this many ms without a request that uses it. Default none. */
  idleTimeoutMs?: number;
  /** End a session this many ms after it was created, however active. Default none. */
  absoluteTimeoutMs?: number;
  /** With `rolling` or an idle timeout, touch the store at most this often (ms). Default 0. */
  touchAfterMs?: number;
  /** After `regenerate()`, the old id answers reads for this many ms (in-flight requests). Default 0. */
  regenerateGraceMs?: number;
  /** Save even when the response is >= 500. Default `false`. */
  saveOnServerError?: boolean;
  /** Give up on a store call after this many ms (then 503). Default 5000. */
  storeTimeoutMs?: number;
  /** Epoch ms. Default `Date.now`; tests pass a fake clock. */
  clock?: () => number;
  /** Told when a session is created, regenerated, destroyed, expired or invalid, or a store call fails (ids hashed). */
  onEvent?: (event: SessionEvent) => void;
  /** Turns stored data of an older shape into the current one, on every load (make it idempotent). */
  migrate?: (data: Record<string, unknown>) => Record<string, unknown>;
  /** A synchronous Standard Schema (zod, valibot, ...) loaded data must pass, or the visitor gets a fresh session. */
  schema?: StandardSchemaV1;
}

/** The session cookie's attributes, as express-session and koa-session spell them. */
export interface CookieOptions {
  /** Default `true`: scripts can't read the id. */
  httpOnly?: boolean;
  /** Default `'auto'`: Secure exactly when the request is (the adapter's `proxy` rules say when). */
  secure?: boolean | 'auto';
  /** Default `'lax'`. `true` means `'strict'`; `false` means `'lax'`, what browsers assume. */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** Default `'/'`. */
  path?: string;
  /** Default none: the cookie goes to this host only. */
  domain?: string;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/**
 * How one option is checked: `'flag'` (a boolean), `'function'`, `'store'` (the shape of a sess
 * store), one of a list of words, or `undefined` where the core checks it (numbers, names, the
 * secret) or the adapter does.
 */
export type OptionCheck = 'flag' | 'function' | 'store' | readonly (string | boolean)[] | NestedOptions | undefined;

/** An option that is itself an options object (`cookie`), checked by its own table. */
export interface NestedOptions {
  readonly table: { readonly [name: string]: OptionSpec };
  /** What the option must be, said when it isn't an object. */
  readonly should: string;
  readonly hints?: Readonly<Record<string, string>>;
}

/** An option's check, and the core option it is passed to unchanged, if any. */
export type OptionSpec = readonly [check?: OptionCheck, core?: keyof SessionManagerOptions];

/**
 * Every option of `Options` with its spec: a new option fails to compile until it is listed, so
 * none is refused as unknown or forgotten on the way to the core. The order is the one a
 * refusal lists them in.
 */
export type OptionTable<Options> = { readonly [K in keyof Options]-?: OptionSpec };

/** The shared options' specs: an adapter's table spreads them and adds its own. */
export const SHARED_OPTIONS: OptionTable<SharedOptions<never>> = Object.freeze({
  secret: [undefined, 'secret'],
  store: ['store', 'store'],
  name: [undefined, 'name'],
  rolling: ['flag', 'rolling'],
  readOnly: ['function'],
  asyncContext: ['flag'],
  idleTimeoutMs: [undefined, 'idleTimeoutMs'],
  absoluteTimeoutMs: [undefined, 'absoluteTimeoutMs'],
  touchAfterMs: [undefined, 'touchAfterMs'],
  regenerateGraceMs: [undefined, 'regenerateGraceMs'],
  saveOnServerError: ['flag', 'saveOnServerError'],
  storeTimeoutMs: [undefined, 'storeTimeoutMs'],
  clock: ['function', 'clock'],
  onEvent: ['function', 'onEvent'],
  migrate: ['function', 'migrate'],
  schema: [undefined, 'schema'],
});

/** The cookie attributes' checks; they reach the core through `cookieOptions`. */
export const COOKIE_OPTIONS: OptionTable<CookieOptions> = Object.freeze({
  httpOnly: ['flag'],
  secure: [[true, false, 'auto']],
  sameSite: [[true, false, 'lax', 'strict', 'none']],
  path: [],
  domain: [],
  partitioned: ['flag'],
  priority: [['low', 'medium', 'high']],
});

const STORE_ADVICE =
  'Use a sess store: memoryStore() (the default) or redisStore() from @sess/store-redis, or cookieSessions() from @sess/core.';

/** What `checkOptions` says beyond the checks: see there. */
export interface CheckAdvice {
  readonly hints?: Readonly<Record<string, string>>;
  readonly prefix?: string;
  readonly store?: string;
}

/**
 * Refuses anything but an options object with only the keys of `table`, each passing its
 * check. `where` names the factory in the message; `hints` say what to write instead of a peer
 * library's name for something; `prefix` goes before the option's name (`'cookie.'`); `store`
 * says which stores to use instead of one that is not a sess store.
 *
 * @throws SessConfigError
 */
export function checkOptions<Options>(options: unknown, table: OptionTable<Options>, where: string, advice: CheckAdvice = {}): void {
  const { hints = {}, prefix = '', store = STORE_ADVICE } = advice;
  checkOptionKeys(options, Object.keys(table), where, hints);
  for (const [key, [check]] of Object.entries(table) as [string, OptionSpec][]) {
    const value = (options as Record<string, unknown>)[key];
    if (check === 'function') checkFunction(value, prefix + key);
    else if (check === 'store') value === undefined || checkStorage(value, where, store);
    else if (typeof check === 'object' && 'table' in check) {
      checkObject(value, prefix + key, check.should);
      checkOptions(value ?? {}, check.table, `${where} ${key}`, { hints: check.hints ?? {}, prefix: `${prefix}${key}.` });
    } else if (check !== undefined) checkOneOf(value, check === 'flag' ? [true, false] : check, prefix + key);
  }
}

/**
 * The options `table` passes to the core, under the core's names, leaving out those not given.
 * `table` spreads `SHARED_OPTIONS`, so `secret` is there.
 */
export function coreOptions<Options>(
  options: Options,
  table: OptionTable<Options>,
): Pick<SessionManagerOptions, 'secret'> & Partial<Omit<SessionManagerOptions, 'secret' | 'store'>> {
  const core: Record<string, unknown> = {};
  for (const [key, [, name]] of Object.entries(table) as [keyof Options & string, OptionSpec][]) {
    if (name !== undefined && options[key] !== undefined) core[name] = options[key];
  }
  return core as Pick<SessionManagerOptions, 'secret'>;
}

/**
 * `createSessionManager(options)`, whose refusals name the options as the adapter's users write
 * them. The core's name for an option the adapter renames (`generateId` for `idGenerator` or
 * `genid`, read off `table`) becomes the adapter's; `cookieAtTop` says the cookie's attributes
 * are top-level options (`secure`, not `cookie.secure`), as in koa-session.
 *
 * @throws SessConfigError
 */
export function createManager<Options>(
  options: SessionManagerOptions,
  table: OptionTable<Options>,
  { cookieAtTop = false }: { readonly cookieAtTop?: boolean } = {},
): SessionManager {
  try {
    const manager = createSessionManager(options);
    checkTouchInterval(options);
    return manager;
  } catch (error) {
    if (!(error instanceof SessConfigError)) throw error;
    const names: [string, string][] = [];
    for (const [key, [, core]] of Object.entries(table) as [string, OptionSpec][])
      if (core !== undefined && core !== key && !PROSE_WORDS.has(core)) names.push([core, key]);
    if (cookieAtTop) for (const key of Object.keys(COOKIE_OPTIONS)) names.push([`cookie.${key}`, key]);
    let message = error.message.replace(/^\[sess\] /, '');
    for (const [core, own] of names) message = message.replace(new RegExp(`(?<![\\w.])${core.replace('.', '\\.')}(?!\\w)`, 'g'), own);
    throw `[sess] ${message}` === error.message ? error : new SessConfigError(message, error.code as ConfigErrorCode);
  }
}

/**
 * With `rolling` (or a touch on every request) a read extends the session only through a touch,
 * so a `touchAfterMs` as long as the lifetime lets a session in use expire. Checked here, for the
 * options an app wrote: the compatibility packages set the same core options to mean a peer's
 * own rules (koa-session re-sends its cookie on every save and extends nothing on a read).
 */
function checkTouchInterval({ rolling, touchEveryRequest, touchAfterMs = 0, maxAgeMs = DEFAULT_MAX_AGE_MS }: SessionManagerOptions): void {
  if ((rolling === true || touchEveryRequest === true) && touchAfterMs >= maxAgeMs) {
    throw new SessConfigError(
      `touchAfterMs (${touchAfterMs}) must be shorter than the session's lifetime (${maxAgeMs} ms) with rolling, or a session in use would still expire`,
    );
  }
}

/** Core option names that are everyday words too, which messages use as prose ("the name ..."): never renamed. */
const PROSE_WORDS: ReadonlySet<string> = new Set(['name', 'secret', 'store', 'cookie', 'schema', 'clock']);

type ConfigErrorCode = ConstructorParameters<typeof SessConfigError>[1];

/** Refuses a value that is not an options object, saying what `option` should be. */
export function checkObject(value: unknown, option: string, should: string): void {
  if (value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value))) return;
  throw new SessConfigError(`${option} must be ${should}, got ${describeValue(value)}`);
}

/** Browsers cap a cookie's life at 400 days (RFC 6265bis); sess takes at least a second. */
const LIFETIME_MS = { min: 1_000, max: 400 * 86_400_000 } as const;

/**
 * A lifetime option (`maxAge`) in ms: a number of `unitMs` a cookie can carry (1 s to 400 days),
 * or `'session'` for a cookie that ends with the browser.
 *
 * @throws `Failure` (SessConfigError by default) naming `option`, for anything else.
 */
export function lifetimeMs(value: unknown, unitMs: 1 | 1000, option: string, Failure: new (message: string) => Error = SessConfigError) {
  if (value === 'session') return value;
  const ms = typeof value === 'number' ? value * unitMs : Number.NaN;
  if (ms >= LIFETIME_MS.min && ms <= LIFETIME_MS.max) return ms;
  const unit = unitMs === 1 ? 'ms' : 'seconds';
  throw new Failure(
    `${option} must be a number of ${unit} from ${LIFETIME_MS.min / unitMs} to ${LIFETIME_MS.max / unitMs} (400 days) or 'session', got ${describeValue(value)}`,
  );
}

/**
 * `setExpiry`'s argument for a lifetime an app assigns to one session (koa-session's
 * `ctx.session.maxAge = ...`): `value` is in units of `unitMs`, as `lifetimeMs` takes it; the
 * answer is in seconds, `0` for `'session'` (a cookie that ends with the browser), or `null` for
 * `undefined` or `null` (the configured lifetime).
 *
 * @throws as `lifetimeMs`
 */
export function lifetimeExpiry(value: unknown, unitMs: 1 | 1000, option: string, Failure?: new (message: string) => Error): number | null {
  if (value === undefined || value === null) return null;
  const ms = lifetimeMs(value, unitMs, option, Failure);
  return ms === 'session' ? 0 : ms / 1000;
}

/**
 * The core's lifetime options for a `maxAge` option in units of `unitMs` (checked by `lifetimeMs`):
 * `'session'` is a cookie that ends with the browser (the server keeps the default lifetime).
 */
export function lifetimeOptions(maxAge: unknown, unitMs: 1 | 1000, option = 'maxAge') {
  const lifetime = maxAge === undefined ? undefined : lifetimeMs(maxAge, unitMs, option);
  return { ...(typeof lifetime === 'number' && { maxAgeMs: lifetime }), expireAtBrowserClose: lifetime === 'session' };
}

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** `value` without its `undefined` properties (exactOptionalPropertyTypes reads absent and undefined apart). */
export function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Defined<T>;
}

/** The core's cookie options from the attributes an app wrote: booleans for `sameSite`, defaults filled in. */
export function cookieOptions(cookie: CookieOptions = {}): SessionCookieOptions {
  const { sameSite } = cookie;
  return {
    ...defined({ domain: cookie.domain, partitioned: cookie.partitioned, priority: cookie.priority }),
    httpOnly: cookie.httpOnly ?? true,
    secure: cookie.secure ?? 'auto',
    sameSite: sameSite === true ? 'strict' : sameSite === false || sameSite === undefined ? 'lax' : sameSite,
    path: cookie.path ?? '/',
  };
}

/**
 * The options of an adapter for a Fetch-style framework (h3, Hono) beyond the shared ones, under
 * those frameworks' names: written once, as both take them the same way.
 */
export interface WebOptions<Request, Cookie extends object = CookieOptions> extends SharedOptions<Request> {
  /** Lifetime in seconds, as h3's and `hono/cookie`'s `maxAge`; `'session'` for a cookie that ends with the browser. Default 24 hours. */
  maxAge?: number | 'session';
  /** Trust `X-Forwarded-Proto` when deciding whether the request is secure. Default `false`. */
  proxy?: boolean;
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Default: 192 random bits. */
  generateId?: () => string;
  /** The cookie's attributes (`secure: 'auto'`, the default, follows the request and `proxy`). */
  cookie?: Cookie;
}

/** The specs of `WebOptions`' own options but `cookie`, whose attributes each framework spells its own way. */
export const WEB_OPTIONS: OptionTable<Pick<WebOptions<never>, 'maxAge' | 'proxy' | 'generateId'>> = Object.freeze({
  maxAge: [],
  proxy: ['flag'],
  generateId: ['function', 'generateId'],
});

const WEB_LIFETIME = 'use the top-level "maxAge" option, in seconds, or \'session\' for a cookie that ends with the browser';

/** What to write instead, for names a `WebOptions` adapter does not take: those at the top level, and those under `cookie`. */
export const WEB_HINTS: Readonly<Record<'options' | 'cookie', Readonly<Record<string, string>>>> = Object.freeze({
  options: { expireAtBrowserClose: "use maxAge: 'session'", trustProxy: 'use "proxy: true"', genid: 'sess calls it "generateId"' },
  cookie: { maxAge: WEB_LIFETIME, expires: WEB_LIFETIME, name: 'use the top-level "name" option' },
});

/** How `configureWeb` fills in what the app left out, and reads the cookie attributes its framework spells its own way. */
export interface WebDefaults<Cookie> extends CheckAdvice {
  /** Makes the store when the app gave none. */
  readonly defaultStore: () => SessionStorage;
  /** The cookie attributes as the kit takes them; default: as they are. */
  readonly cookie?: (cookie: Cookie | undefined) => CookieOptions | undefined;
}

/**
 * The session manager and the request-side options of a `WebOptions` adapter: `options` checked
 * against `table` (which orders the options a refusal lists; `where` and `defaults` as for
 * `checkOptions`), `maxAge` in seconds. Read once, so changing the options object later changes nothing.
 *
 * @throws SessConfigError
 */
export function configureWeb<Request, Cookie extends object>(
  options: WebOptions<Request, Cookie>,
  table: OptionTable<WebOptions<never, Cookie>>,
  where: string,
  defaults: WebDefaults<Cookie>,
): Readonly<{ manager: SessionManager; proxy: boolean; readOnly: ((request: Request) => boolean) | undefined; asyncContext: boolean }> {
  checkOptions(options, table, where, defaults);
  const manager = createManager(
    {
      ...coreOptions(options as WebOptions<never, Cookie>, table),
      ...lifetimeOptions(options.maxAge, 1000),
      store: options.store ?? defaults.defaultStore(),
      cookie: cookieOptions(
        defaults.cookie === undefined ? (options.cookie as CookieOptions | undefined) : defaults.cookie(options.cookie),
      ),
    },
    table,
  );
  const { proxy = false, readOnly, asyncContext = false } = options;
  return Object.freeze({ manager, proxy, readOnly, asyncContext });
}
