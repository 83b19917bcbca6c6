/**
 * `session()`'s options: koa-session's names, checked once at construction, and their
 * translation to the core's.
 */
import type { Context } from 'koa';
import { SessConfigError, checkFunction, checkOneOf, checkOptionKeys, checkStoreShape } from '@sess/core';
import type { SessionEvent, SessionManagerOptions, StandardSchemaV1, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { MAX_AGE_RULE, isMaxAge } from './view.js';

export interface SessionOptions {
  /** One secret or several (the first signs, all verify); each at least 32 bytes. */
  secret: string | readonly string[];
  /** Where sessions live. Default `memoryStore()` (one process, lost on restart). */
  store?: Store;
  /** Cookie name (koa-session's option). Default `'sid'`. */
  key?: string;
  /** Cookie name, as the other sess adapters call it. Give `key` or `name`, not both. */
  name?: string;
  /** Lifetime in ms (1000 to 400 days), or `'session'` for a cookie that ends with the browser. Default 24 hours. */
  maxAge?: number | 'session';
  /** Re-send the cookie and extend the session on every request that uses it. Default `false`. */
  rolling?: boolean;
  /** koa-session's `renew`: re-send and extend only once less than half the lifetime is left. */
  renew?: boolean;
  /** Accepted as `true` only: sess cookies are always signed (HMAC-SHA256 with `secret`). */
  signed?: boolean;
  /** Default `true`. */
  httpOnly?: boolean;
  /** Default `'auto'`: Secure exactly when `ctx.secure` (Koa's `app.proxy` decides about proxies). */
  secure?: boolean | 'auto';
  /** Default `'lax'`. `true` means `'strict'`, `false` means `'lax'`. */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** Default `'/'`. */
  path?: string;
  domain?: string;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Called without `ctx`. */
  genid?: () => string;
  /** End a session after this many ms without a request that uses it. */
  idleTimeoutMs?: number;
  /** End a session this many ms after it was created, however active. */
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
  /** Requests whose session is loaded but never written; changing it there throws `SessUsageError`. */
  readOnly?: (ctx: Context) => boolean;
  /** Makes `getSession()` work anywhere inside the request (AsyncLocalStorage). Default `false`. */
  asyncContext?: boolean;
  /** Told when a session is created, regenerated, destroyed, expired or invalid, or a store call fails (ids hashed). */
  onEvent?: (event: SessionEvent) => void;
  /** Upgrades stored data of an older shape on every load (make it idempotent). */
  migrate?: (data: Record<string, unknown>) => Record<string, unknown>;
  /** A synchronous Standard Schema (zod, valibot, ...) loaded data must pass, or the visitor gets a fresh session. */
  schema?: StandardSchemaV1;
}

export const DEFAULT_MAX_AGE_MS = 86_400_000;

const WHERE = 'session() of @sess/koa';

// prettier-ignore
const OPTIONS = [
  'secret',
  'store',
  'key',
  'name',
  'maxAge',
  'rolling',
  'renew',
  'signed',
  'genid',
  'clock',
  'readOnly',
  'asyncContext',
  'httpOnly',
  'secure',
  'sameSite',
  'path',
  'domain',
  'partitioned',
  'priority',
  'idleTimeoutMs',
  'absoluteTimeoutMs',
  'touchAfterMs',
  'regenerateGraceMs',
  'saveOnServerError',
  'storeTimeoutMs',
  'onEvent',
  'migrate',
  'schema',
] as const satisfies readonly (keyof SessionOptions)[];
// Fails to compile when an option of SessionOptions is missing above (it would be refused as unknown).
const _allListed: Record<Exclude<keyof SessionOptions, (typeof OPTIONS)[number]>, never> = {};

const NOT_IN_SESS = 'not supported by sess';
const CODEC = `${NOT_IN_SESS}: the cookie carries a signed id and the data stays in the store; for data in the cookie, pass store: cookieSessions({ secret }) from @sess/core (sealed)`;
/** koa-session's options (and cookie's) that sess does without, with what to do instead. */
const HINTS: Readonly<Record<string, string>> = {
  maxage: "koa-session's old spelling: use maxAge (ms, or 'session')",
  autoCommit: `${NOT_IN_SESS}: the session always commits after \`await next()\`, before Koa responds (with ctx.respond = false, before ctx.res's headers leave); remove it`,
  overwrite: `${NOT_IN_SESS}: a Set-Cookie for the session's name that the app set itself is left alone; remove it`,
  prefix: `${NOT_IN_SESS}: ids are 192 random bits (or yours, from genid); a key prefix is the store's option, e.g. redisStore({ client, prefix })`,
  valid: `${NOT_IN_SESS}: check loaded data with schema (a Standard Schema) or upgrade it with migrate; data that fails gives a fresh session`,
  beforeSave: `${NOT_IN_SESS}: change the session in your handler; it is saved after \`await next()\``,
  encode: CODEC,
  decode: CODEC,
  ContextStore: `${NOT_IN_SESS}: pass a sess store as store, e.g. memoryStore() or redisStore({ client }) from @sess/store-redis`,
  externalKey: `${NOT_IN_SESS}: the session id always travels in the signed cookie named by key`,
  expires: "use maxAge (ms, or 'session') for every session, or ctx.session.setExpiry(date) for one",
  cookie: 'cookie options are top-level in @sess/koa, as in koa-session: httpOnly, secure, sameSite, path, domain, partitioned, priority',
  generateId: 'it is called genid in @sess/koa (no ctx argument)',
};

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Defined<T>;
}

/** Every check a request could otherwise trip over, once; the core checks numbers, names and the secret. */
export function checkOptions(options: unknown): asserts options is SessionOptions {
  checkOptionKeys(options, OPTIONS, WHERE, HINTS);
  const given = options as Record<(typeof OPTIONS)[number], unknown>;
  if (given.signed === false) {
    throw new SessConfigError('signed: false is not supported: sess cookies always carry an HMAC of the id; remove the option');
  }
  if (given.key !== undefined && given.name !== undefined && given.key !== given.name) {
    throw new SessConfigError(`key ${JSON.stringify(given.key)} and name ${JSON.stringify(given.name)} disagree: give one`);
  }
  if (given.maxAge !== undefined && !isMaxAge(given.maxAge)) {
    throw new SessConfigError(`maxAge must be ${MAX_AGE_RULE}, got ${JSON.stringify(given.maxAge)}`);
  }
  for (const flag of ['signed', 'rolling', 'renew', 'httpOnly', 'partitioned', 'saveOnServerError', 'asyncContext'] as const) {
    checkOneOf(given[flag], [true, false], flag);
  }
  checkOneOf(given.secure, [true, false, 'auto'], 'secure');
  checkOneOf(given.sameSite, [true, false, 'lax', 'strict', 'none'], 'sameSite');
  checkOneOf(given.priority, ['low', 'medium', 'high'], 'priority');
  for (const callback of ['genid', 'clock', 'readOnly', 'onEvent', 'migrate'] as const) checkFunction(given[callback], callback);
  // koa-session's stores take (key, maxAge, opts) and hold its cookie format: they can't serve sess.
  if (given.store !== undefined) {
    checkStoreShape(given.store, WHERE, 'Use a sess store: memoryStore() (the default) or redisStore({ client }) from @sess/store-redis.');
  }
}

export function managerOptions(options: SessionOptions): SessionManagerOptions {
  const { maxAge } = options;
  const maxAgeMs = typeof maxAge === 'number' ? maxAge : undefined;
  // renew is "rolling, but only in the second half of the lifetime": a touch due after half of it.
  const renew = options.renew === true && options.rolling !== true;
  const sameSite =
    options.sameSite === true ? 'strict' : options.sameSite === false || options.sameSite === undefined ? 'lax' : options.sameSite;
  return {
    ...defined({
      name: options.key ?? options.name,
      maxAgeMs,
      generateId: options.genid,
      idleTimeoutMs: options.idleTimeoutMs,
      absoluteTimeoutMs: options.absoluteTimeoutMs,
      touchAfterMs: renew ? (options.touchAfterMs ?? (maxAgeMs ?? DEFAULT_MAX_AGE_MS) / 2) : options.touchAfterMs,
      regenerateGraceMs: options.regenerateGraceMs,
      saveOnServerError: options.saveOnServerError,
      storeTimeoutMs: options.storeTimeoutMs,
      clock: options.clock,
      onEvent: options.onEvent,
      migrate: options.migrate,
      schema: options.schema,
    }),
    secret: options.secret,
    store: options.store ?? memoryStore(),
    rolling: options.rolling === true || renew,
    expireAtBrowserClose: maxAge === 'session',
    cookie: {
      ...defined({ domain: options.domain, partitioned: options.partitioned, priority: options.priority }),
      httpOnly: options.httpOnly ?? true,
      secure: options.secure ?? 'auto',
      sameSite,
      path: options.path ?? '/',
    },
  };
}
