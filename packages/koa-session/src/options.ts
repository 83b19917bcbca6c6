/**
 * koa-session's options, checked once: the signatures `session(opts, app)` and `session(app,
 * opts)`, unknown options refused (with a hint where sess or express-session spell something
 * differently), and the values a request could otherwise trip over.
 */
import { SessConfigError } from '@sess/core';
import { COOKIE_OPTIONS, type OptionTable, checkOptions, lifetimeMs } from '@sess/core/adapter';
import type { SessionOptions } from './index.js';

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
  throw new SessConfigError(`sameSite must be 'strict', 'lax', 'none', true, false or null, got ${JSON.stringify(value) ?? String(value)}`);
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
  if (maxAge !== undefined) lifetimeMs(maxAge, 1, 'maxAge');
  if (typeof key !== 'string' || !COOKIE_NAME.test(key))
    throw new SessConfigError(`key must be a cookie name (no spaces, ";" or "="), got ${JSON.stringify(key)}`);
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
