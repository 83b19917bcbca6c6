/**
 * koa-session's options, checked once: the signatures `session(opts, app)` and `session(app,
 * opts)`, unknown options refused (with a hint where sess or express-session spell something
 * differently), and the values a request could otherwise trip over.
 */
import { SessConfigError, describeValue } from '@sess/core';
import { COOKIE_OPTIONS, type OptionTable, checkOptions, lifetimeMs } from '@sess/core/adapter';
import type { Context } from 'koa';
import type { ExternalStore } from './storage.js';
import type { Session } from './view.js';

/** koa-session's custom external key: where the store's key travels instead of the cookie. */
export interface ExternalKey {
  /** The store's key this request carries, or nothing for a new session. */
  get(ctx: Context): string | undefined | null;
  /** Hands the client the key of a session just saved. */
  set(ctx: Context, value: string): void;
}

/** koa-session's options, with its defaults. Cookie attributes sit at the top level, as there. */
export interface SessionOptions {
  /** The cookie's name. Default `'koa.sess'` (koa-session before 6 used `'koa:sess'`, which works too). */
  key?: string;
  /**
   * The session's lifetime in ms, or `'session'` for a cookie that ends with the browser (and
   * a session that never expires on the server, as with koa-session). Default one day; the first
   * cookie of a new session then ends with the browser, as koa-session sends it.
   */
  maxAge?: number | 'session';
  /** koa-session's old spelling of `maxAge`. */
  maxage?: number | 'session';
  /** Commit after `await next()`. Default `true`; with `false`, call `ctx.session.manuallyCommit()`. */
  autoCommit?: boolean;
  /** The session's Set-Cookie replaces one of the same name the app set earlier. Default `true`. */
  overwrite?: boolean;
  /** Default `true`. */
  httpOnly?: boolean;
  /** Sign the cookie with `app.keys` (the `.sig` cookie). Default `true`. */
  signed?: boolean;
  /** Save the session and re-send its cookie on every request that has one. Default `false`. */
  rolling?: boolean;
  /** Save the session and re-send its cookie once less than half of its lifetime is left. Default `false`. */
  renew?: boolean;
  /** Default: Secure exactly when the request is (Koa's `ctx.secure`, which honours `app.proxy`). */
  secure?: boolean;
  /** Default none, as koa-session's (browsers then apply their own). `true` means `'strict'`. */
  sameSite?: 'strict' | 'lax' | 'none' | 'Strict' | 'Lax' | 'None' | boolean | null;
  /** Default `'/'`. */
  path?: string;
  /** Default none: the cookie goes to this host only. */
  domain?: string;
  /** CHIPS: a cookie per top-level site (needs `secure: true`). */
  partitioned?: boolean;
  /** Chrome's cookie priority. */
  priority?: 'low' | 'medium' | 'high';
  /** Keep sessions in this store; the cookie then carries only the store's key. */
  store?: ExternalStore;
  /** A store class made for each request, `new ContextStore(ctx)`. */
  ContextStore?: new (
    ctx: Context,
  ) => ExternalStore;
  /** Where the store's key travels instead of the cookie (store mode). */
  externalKey?: ExternalKey;
  /** Cookie mode: the session object to the cookie's value. Default base64 of its JSON. */
  encode?: (session: Record<string, unknown>) => string;
  /** Cookie mode: the cookie's value to the session object. A throw means no session. */
  decode?: (value: string) => unknown;
  /** Store mode: new keys. Default `prefix` + `randomUUID()`. */
  genid?: (ctx: Context) => string;
  /** Store mode: put before each new key (when `genid` is not given). */
  prefix?: string;
  /** A loaded session object is used only if this returns a truthy value (else `session:invalid`). */
  valid?: (ctx: Context, session: Record<string, unknown>) => unknown;
  /** Called before each save with the session object; what it changes is saved. */
  beforeSave?: (ctx: Context, session: Session) => void;
}

const WHERE = 'session() of @sess/koa-session';

const OPTIONS: OptionTable<SessionOptions> = {
  key: [],
  maxAge: [],
  maxage: [],
  autoCommit: ['flag'],
  overwrite: ['flag'],
  httpOnly: ['flag'],
  signed: ['flag'],
  rolling: ['flag'],
  renew: ['flag'],
  secure: ['flag'],
  sameSite: [],
  path: [],
  domain: [],
  partitioned: ['flag'],
  priority: COOKIE_OPTIONS.priority,
  store: [],
  ContextStore: ['function'],
  externalKey: [],
  encode: ['function'],
  decode: ['function'],
  genid: ['function'],
  prefix: [],
  valid: ['function'],
  beforeSave: ['function'],
};

/** What users of sess's other adapters, or of express-session, may write instead. */
const HINTS: Readonly<Record<string, string>> = {
  secret: 'koa-session signs with app.keys: set app.keys = [secret] on the Koa app',
  name: 'koa-session calls the cookie name key',
  cookie: 'cookie attributes are top-level options in koa-session: httpOnly, secure, sameSite, path, domain',
  expires: "use maxAge (ms, or 'session')",
};

/** Koa's cookies take any name without `;`, `=`, spaces or control characters. */
const COOKIE_NAME = /^[\x21-\x2B\x2D-\x3A\x3C\x3E-\x7E]+$/;

function checkShape(value: unknown, option: string, methods: readonly string[], of: (value: object) => unknown = (v) => v): void {
  if (value === undefined) return;
  const target = (typeof value === 'object' || typeof value === 'function') && value !== null ? (of(value) as Record<string, unknown>) : {};
  const missing = methods.filter((method) => typeof target?.[method] !== 'function');
  if (missing.length > 0)
    throw new SessConfigError(`${option} must have ${methods.map((m) => `${m}()`).join(', ')}: missing ${missing.join(', ')}`);
}

export function sameSiteOf(value: SessionOptions['sameSite']): 'strict' | 'lax' | 'none' | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true) return 'strict';
  const lower = typeof value === 'string' ? value.toLowerCase() : value;
  if (lower === 'strict' || lower === 'lax' || lower === 'none') return lower;
  throw new SessConfigError(`sameSite must be 'strict', 'lax', 'none', true, false or null, got ${describeValue(value)}`);
}

/** What the middleware needs of a Koa app (of any state and context types). */
export interface KoaApp {
  use(...args: never[]): unknown;
  /** Where `ctx.session` is installed. */
  readonly context: object;
  /** For `session:missed`, `session:expired` and `session:invalid`. */
  emit(event: string, ...args: unknown[]): boolean;
}

/** `session(opts, app)` or `session(app, opts)`: the app is the one with `use()`. */
function argumentsOf(first: unknown, second: unknown): { app: KoaApp; options: SessionOptions } {
  const isApp = (value: unknown): value is KoaApp => typeof (value as { use?: unknown } | null | undefined)?.use === 'function';
  const [app, options] = isApp(first) ? [first, second] : [second, first];
  if (!isApp(app)) throw new SessConfigError('app instance required: `session(opts, app)`');
  return { app, options: (options ?? {}) as SessionOptions };
}

/** The options after every check; `maxAge` includes koa-session's old `maxage` spelling. */
export function checkedOptions(
  first: unknown,
  second: unknown,
): { app: KoaApp; options: SessionOptions; maxAge: number | 'session' | undefined } {
  const { app, options } = argumentsOf(first, second);
  checkOptions<SessionOptions>(options, OPTIONS, WHERE, { hints: HINTS });
  const { key = 'koa.sess' } = options;
  const maxAge = options.maxAge ?? options.maxage;
  // koa-session takes a maxAge of 0 as none given (a first cookie that ends with the browser, records of a day).
  if (maxAge !== undefined && maxAge !== 0) lifetimeMs(maxAge, 1, 'maxAge');
  if (typeof key !== 'string' || !COOKIE_NAME.test(key))
    throw new SessConfigError(`key must be a cookie name (no spaces, ";" or "="), got ${describeValue(key)}`);
  if (options.prefix !== undefined && typeof options.prefix !== 'string') throw new SessConfigError('prefix must be a string');
  checkShape(options.store, 'store', ['get', 'set', 'destroy']);
  checkShape(
    options.ContextStore,
    'ContextStore.prototype',
    ['get', 'set', 'destroy'],
    (value) => (value as { prototype?: object }).prototype ?? {},
  );
  checkShape(options.externalKey, 'externalKey', ['get', 'set']);
  return { app, options, maxAge };
}
