/**
 * The session manager's options, validated once into a frozen `Config`: every check that could
 * fail later (cookie attributes, lifetimes, callbacks, the store's shape) fails here instead.
 */
import type { CookieAttributes } from './cookie.js';
import { cookiePrefix, serializeCookie, serializeDeletion } from './cookie.js';
import { checkStorage, isCookieSessions } from './cookie-sessions.js';
import type { CookieSessions, SessionStorage } from './cookie-sessions.js';
import { SessConfigError } from './errors.js';
import { checkGeneratedId, generateId, isWellFormedId } from './ids.js';
import { checkFunction, checkOneOf, checkOptionKeys, isThenable, kindOfAnswer } from './options-check.js';
import { createDeadlines } from './runner.js';
import type { Deadlines } from './runner.js';
import type { LifecycleInput } from './machine.js';
import { createLifecycle, inputKey } from './runtime.js';
import { ASYNC_SCHEMA, isAsyncResult } from './schema.js';
import type { StandardSchemaV1 } from './schema.js';
import { type SessionEvent, tell } from './session-events.js';
import { createSigner } from './sign.js';
import type { Signer, VerifiedCookie } from './sign.js';
import type { SessionData, Store } from './store.js';

export interface SessionCookieOptions {
  /** Default `/`. */
  readonly path?: string;
  /** Default none: the cookie goes to this host only. */
  readonly domain?: string;
  /** Default `true`: scripts can't read the id. */
  readonly httpOnly?: boolean;
  /** Default `'auto'`: Secure exactly when the request is (the adapter says which). */
  readonly secure?: boolean | 'auto';
  /** Default `'lax'`: sent on top-level navigations, not on cross-site subrequests. */
  readonly sameSite?: 'lax' | 'strict' | 'none';
  readonly partitioned?: boolean;
  readonly priority?: 'low' | 'medium' | 'high';
}

export interface SessionManagerOptions {
  /** One secret or several: the first signs, all verify. Each at least 32 bytes. Required unless `signer` is given. */
  readonly secret?: string | readonly string[];
  /**
   * Signs and verifies the cookie's value instead of the signer `secret` makes: for a peer
   * library's cookie format (express-session's `s:<id>.<signature>`). It sets its own rules for
   * secrets; sess's default (`secret`, at least 32 bytes, the cookie's name inside the MAC) is the
   * safer one. Both methods must answer synchronously: a `verify` answer without a well-formed id
   * reads as a cookie that did not verify, and a `sign` that returns no string fails the request.
   */
  readonly signer?: Signer;
  /**
   * Where sessions live: a store (the cookie carries a signed id), or `cookieSessions(...)` (the
   * cookie carries the whole session, sealed; the server keeps nothing).
   */
  readonly store: SessionStorage;
  /** Cookie name. Default `sid`. A `__Host-` name forces Secure, Path=/ and no Domain. */
  readonly name?: string;
  readonly cookie?: SessionCookieOptions;
  /** Default lifetime of a session and its cookie, in ms. Default 24 hours (connect-redis's TTL). */
  readonly maxAgeMs?: number;
  /** Cookie without Max-Age (gone when the browser closes); the server still applies `maxAgeMs`. */
  readonly expireAtBrowserClose?: boolean;
  /** Extend the session and re-send its cookie on every request that uses it. Default false. */
  readonly rolling?: boolean;
  /** Save every used, non-empty session even when unchanged (express-session `resave`), once: not again after `saveNow()` left it unchanged. Default false. */
  readonly saveEveryRequest?: boolean;
  /** Save even when the response status is >= 500. Default false (Django). */
  readonly saveOnServerError?: boolean;
  /**
   * Save a new session the request used, and send its cookie, even when nothing was written to
   * it (express-session's `saveUninitialized: true`). Default false: a session is stored only
   * once it holds data (no record or cookie for every visitor). A new session then has its id
   * from the start, as with `idAtStart`.
   */
  readonly saveUninitialized?: boolean;
  /**
   * An emptied session stays a session: saved like any other, its cookie kept (express-session).
   * Default false: a session the app empties is destroyed and its cookie deleted (Django).
   */
  readonly keepEmptySessions?: boolean;
  /**
   * Extend a live session's record on every request that uses it, without re-sending the cookie
   * unless `rolling` (express-session calls its store's `touch`). Default false.
   */
  readonly touchEveryRequest?: boolean;
  /**
   * Re-send a lasting cookie whenever a change to the session is saved, so the cookie's expiry
   * follows the record's (express-session). Default false: a valid cookie is re-sent only when
   * its lifetime is set anew (`setExpiry`, `touch`, `rolling`).
   */
  readonly resendCookieOnChange?: boolean;
  /**
   * Give a new session its id at once rather than at its first write, so `Session.id` is always
   * known (express-session's `req.sessionID`). Default false.
   */
  readonly idAtStart?: boolean;
  /** End a session after this many ms without a request that uses it. Default none. */
  readonly idleTimeoutMs?: number;
  /** End a session this many ms after it was created, however active. Default none. */
  readonly absoluteTimeoutMs?: number;
  /** With `rolling` or an idle timeout, touch the store at most this often, in ms. Default 0 (every request). */
  readonly touchAfterMs?: number;
  /**
   * After `regenerate`, the old id keeps answering for this many ms, read-only, so requests
   * already in flight with the old cookie don't find their session gone (PHP's advice for
   * `session_regenerate_id`). Default 0: the old record is destroyed at once. Anyone holding
   * the old id can read the pre-regenerate data for that long, so keep it to seconds; it never
   * sees what the new id holds. Needs a server-side store.
   */
  readonly regenerateGraceMs?: number;
  /** Give up on a store call after this many ms, 1 or more. Default 5000. */
  readonly storeTimeoutMs?: number;
  /** The clock, epoch ms. Default `Date.now`; tests pass a fake one. */
  readonly clock?: () => number;
  /** Fresh ids. Default `generateId` (192 random bits). */
  readonly generateId?: () => string;
  /**
   * Told when a session is created, regenerated, destroyed or found expired, and when a store
   * call fails or a custom signer's `verify` throws; ids arrive hashed. Called synchronously; an exception it throws is ignored, so
   * logging can't break a request.
   */
  readonly onEvent?: (event: SessionEvent) => void;
  /**
   * Applied to stored data on every load, before `schema`: turn an older shape into the current
   * one (it runs on each load, so make it idempotent; the result is stored by the next save).
   */
  readonly migrate?: (data: SessionData) => SessionData;
  /**
   * A synchronous Standard Schema (zod, valibot, ArkType, ...) the loaded data must pass. Data
   * that fails it, or makes `migrate` throw, is treated as no session: the request starts a
   * fresh one and `onEvent` gets `invalid`. The schema's output (defaults, transforms) is used.
   */
  readonly schema?: StandardSchemaV1;
}

export interface Config {
  readonly name: string;
  readonly testCookieName: string;
  /** Where sessions live: a server-side store, or the cookie itself. */
  readonly storage:
    | { readonly store: Store; readonly cookies?: undefined }
    | { readonly store?: undefined; readonly cookies: CookieSessions };
  readonly signer: Signer;
  /** The session and test cookies' attributes on a secure request and on a plain one. */
  readonly cookie: { readonly onSecure: Readonly<CookieAttributes>; readonly onPlain: Readonly<CookieAttributes> };
  readonly maxAgeMs: number;
  readonly idleTimeoutMs: number | undefined;
  readonly absoluteTimeoutMs: number | undefined;
  readonly touchAfterMs: number;
  readonly regenerateGraceMs: number;
  readonly deadlines: Deadlines;
  readonly clock: () => number;
  readonly generateId: () => string;
  readonly onEvent: ((event: SessionEvent) => void) | undefined;
  readonly migrate: ((data: SessionData) => SessionData) | undefined;
  readonly schema: StandardSchemaV1 | undefined;
  readonly lifecycle: ReturnType<typeof createLifecycle>;
  readonly expireAtBrowserClose: boolean;
  /** The lifecycle's start key for this configuration; each request adds its own bits (`requestInputKey`). */
  readonly startKey: number;
}

/**
 * The longest lifetime or timeout sess accepts: 400 days, the most a browser keeps a cookie
 * (RFC 6265bis). It keeps every time sess computes well inside what a `Date` can hold.
 */
export const MAX_LIFETIME_MS = 400 * 86_400_000;

/** A session's lifetime unless `maxAgeMs` says otherwise: 24 hours. */
export const DEFAULT_MAX_AGE_MS = 86_400_000;

/** Cookies count their lifetime in whole seconds: a shorter one would go out as `Max-Age=0`. */
export const MIN_COOKIE_LIFETIME_MS = 1_000;

function lifetimeMs(value: unknown, option: string, fallback: number | undefined, min = 0): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_LIFETIME_MS) {
    throw new SessConfigError(`${option} must be a number of ms from ${min} to ${MAX_LIFETIME_MS} (400 days), got ${String(value)}`);
  }
  return value;
}

const MANAGER_OPTIONS = [
  'secret',
  'signer',
  'store',
  'name',
  'cookie',
  'maxAgeMs',
  'expireAtBrowserClose',
  'rolling',
  'saveEveryRequest',
  'saveOnServerError',
  'saveUninitialized',
  'keepEmptySessions',
  'touchEveryRequest',
  'resendCookieOnChange',
  'idAtStart',
  'idleTimeoutMs',
  'absoluteTimeoutMs',
  'touchAfterMs',
  'regenerateGraceMs',
  'storeTimeoutMs',
  'clock',
  'generateId',
  'onEvent',
  'migrate',
  'schema',
] as const satisfies readonly (keyof SessionManagerOptions)[];
const COOKIE_OPTIONS = [
  'path',
  'domain',
  'httpOnly',
  'secure',
  'sameSite',
  'partitioned',
  'priority',
] as const satisfies readonly (keyof SessionCookieOptions)[];

function flag(value: unknown, option: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new SessConfigError(`${option} must be true or false, got ${typeof value}`);
}

/**
 * The cookie's attributes, made once: per request the session picks the secure or the plain
 * variant instead of building an object. Every variant a request can produce (secure or plain,
 * with a lifetime or for the browser session, set or deleted, session or test cookie) is
 * serialized here, so options browsers would refuse fail at start-up with `SessConfigError`,
 * never on a request after its store write.
 */
function cookieAttributes(name: string, cookie: SessionCookieOptions): Config['cookie'] {
  checkOptionKeys(cookie, COOKIE_OPTIONS, 'cookie options');
  const secure = checkOneOf(cookie.secure, [true, false, 'auto'] as const, 'cookie.secure') ?? 'auto';
  for (const attribute of ['path', 'domain'] as const) {
    const value: unknown = cookie[attribute];
    // Written into the header as text, a number or an array would pass the character checks.
    if (value !== undefined && typeof value !== 'string') {
      throw new SessConfigError(
        `cookie.${attribute} must be a string, got ${Array.isArray(value) ? 'an array' : typeof value}`,
        'cookie_invalid',
      );
    }
  }
  if ((cookie.sameSite === 'none' || cookie.partitioned === true) && secure !== true) {
    const attribute = cookie.sameSite === 'none' ? 'SameSite=None' : 'Partitioned';
    throw new SessConfigError(
      `cookie: ${attribute} needs cookie.secure: true (browsers drop a ${attribute} cookie without Secure, and secure: ${JSON.stringify(secure)} would send one on plain HTTP). Browsers treat http://localhost as secure, so this works in development too.`,
      'cookie_invalid',
    );
  }
  // Browsers take a __Host- or __Secure- cookie only with Secure, so the serializer always adds
  // it: an explicit `secure: false` would be overruled without a word.
  const prefix = cookiePrefix(name);
  if (prefix !== undefined && secure === false) {
    throw new SessConfigError(
      `cookie: the name ${JSON.stringify(name)} needs Secure (browsers drop a ${prefix} cookie without it), but cookie.secure is false: remove cookie.secure, or pick a name without the prefix`,
      'cookie_invalid',
    );
  }
  const base = {
    path: cookie.path ?? '/',
    httpOnly: flag(cookie.httpOnly, 'cookie.httpOnly') ?? true,
    sameSite: cookie.sameSite ?? 'lax',
    ...(cookie.domain === undefined ? {} : { domain: cookie.domain }),
    ...(flag(cookie.partitioned, 'cookie.partitioned') === undefined ? {} : { partitioned: cookie.partitioned }),
    ...(cookie.priority === undefined ? {} : { priority: cookie.priority }),
  };
  const onSecure = Object.freeze({ ...base, secure: secure !== false });
  const onPlain = Object.freeze({ ...base, secure: secure === true });
  for (const attributes of [onSecure, onPlain]) {
    for (const cookieName of [name, `${name}.test`]) {
      serializeCookie(cookieName, '', attributes);
      serializeCookie(cookieName, '', { ...attributes, expires: MAX_LIFETIME_MS, maxAgeMs: MAX_LIFETIME_MS });
      serializeDeletion(cookieName, attributes);
    }
  }
  return Object.freeze({ onSecure, onPlain });
}

/**
 * A schema must validate synchronously (a load decides within the request's step). One that is
 * asynchronous for every value is refused here by trying it once on `{}`; one that turns
 * asynchronous only for some data is refused when such data loads (see `acceptRecord`).
 */
function checkSchema(schema: StandardSchemaV1): void {
  const validate: unknown = schema?.['~standard']?.validate;
  if (typeof validate !== 'function') {
    throw new SessConfigError('schema must be a Standard Schema (zod, valibot, ArkType, ...): it has no ~standard.validate');
  }
  let trial: unknown;
  try {
    trial = schema['~standard'].validate({});
  } catch {
    return;
  }
  if (!isAsyncResult(trial)) return;
  throw new SessConfigError(ASYNC_SCHEMA);
}

/** The signer `secret` makes, or the one given in its place (never both: one would be ignored). */
function signerOf(options: SessionManagerOptions, onEvent: ((event: SessionEvent) => void) | undefined): Signer {
  const { signer, secret } = options;
  if (signer === undefined) return createSigner(secret as string | readonly string[]);
  if (secret !== undefined) throw new SessConfigError('give secret or signer, not both: a signer brings its own secrets');
  if (typeof signer?.sign !== 'function' || typeof signer.verify !== 'function') {
    throw new SessConfigError('signer must have sign(name, id) and verify(name, value) methods');
  }
  return new CheckedSigner(signer, onEvent);
}

/**
 * A custom signer with its answers checked, as they decide what reaches the store and the cookie:
 * a `verify` answer that names no well-formed id (`true`, an object without one, an id no store
 * key should be made of) reads as a cookie that did not verify, so the visitor gets a fresh
 * session as for a forged one, and so does a `verify` that throws: the value is the client's,
 * and a forged one must not make a 500. A throw is told to `onEvent` (`signerError`), as a signer
 * that throws on every cookie signs every visitor out. A `sign` that makes no string fails the
 * request rather than sending something else as the cookie's text.
 */
const SIGNER_ERROR: SessionEvent = Object.freeze({ type: 'signerError' });

class CheckedSigner implements Signer {
  constructor(
    private readonly signer: Signer,
    private readonly onEvent: ((event: SessionEvent) => void) | undefined,
  ) {}

  sign(name: string, id: string): string {
    const value: unknown = this.signer.sign(name, id);
    if (typeof value === 'string') return value;
    throw new SessConfigError(`signer.sign must return the cookie value as a string, synchronously; it returned ${kindOfAnswer(value)}`);
  }

  verify(name: string, value: string): VerifiedCookie | undefined {
    let answer: unknown;
    let id: unknown;
    let rotated: unknown;
    try {
      answer = this.signer.verify(name, value);
      ({ id, rotated } = (answer ?? {}) as Partial<VerifiedCookie>);
    } catch {
      tell(this.onEvent, SIGNER_ERROR);
      return undefined;
    }
    // Read once, here: what goes on is plain data that no getter of the signer's answers again.
    if (isWellFormedId(id as string)) return { id: id as string, rotated: rotated === true };
    // An async verify would otherwise turn every visitor away, silently.
    if (isThenable(answer)) {
      throw new SessConfigError(
        `signer.verify must return { id, rotated } or undefined, synchronously; it returned ${kindOfAnswer(answer)}`,
      );
    }
    return undefined;
  }
}

/**
 * A custom id generator, tried twice here so that one returning ids no cookie could carry back,
 * or the same id each time (every visitor would share one session), fails at start-up rather
 * than at the first new visitor. One that throws now (it may need what the app sets up later) is
 * checked at each use only, as every generator is.
 */
function checkGenerator(value: unknown): () => string {
  const generate = checkFunction<() => string>(value, 'generateId');
  if (generate === undefined) return generateId;
  let samples: unknown[];
  try {
    samples = [generate(), generate()];
  } catch {
    return generate;
  }
  for (const sample of samples) checkGeneratedId(sample);
  if (samples[0] === samples[1]) {
    throw new SessConfigError(
      `generateId returned ${JSON.stringify(samples[0]).slice(0, 40)} twice: ids must be random (128 bits or more)`,
    );
  }
  return generate;
}

const clockError = (now: unknown) =>
  new SessConfigError(
    `clock must return the time in epoch ms, as Date.now does; it returned ${now instanceof Date ? 'a Date' : typeof now === 'number' ? String(now) : `a ${typeof now}`}`,
  );

/**
 * The clock, read once here so that one answering a `Date`, a string or NaN fails at start-up
 * rather than at the first write, after the store has saved a record with such times. One that
 * throws now is left to fail where it is used, as a generator is. A custom clock is checked at
 * every reading too, so one that goes wrong later fails its request before the store write.
 */
function checkClock(value: unknown): () => number {
  const clock = checkFunction<() => number>(value, 'clock');
  if (clock === undefined) return Date.now;
  let now: unknown;
  try {
    now = clock();
  } catch {
    now = 0;
  }
  if (typeof now !== 'number' || !Number.isFinite(now)) throw clockError(now);
  return () => {
    const time: unknown = clock();
    if (typeof time !== 'number' || !Number.isFinite(time)) throw clockError(time);
    return time;
  };
}

/**
 * Validates `options` once.
 *
 * @throws SessConfigError for a missing store, a secret shorter than 32 bytes, a bad number, an
 *   unknown option, or cookie options browsers would refuse (code `cookie_invalid`).
 */
export function createConfig(options: SessionManagerOptions): Config {
  checkOptionKeys(options, MANAGER_OPTIONS, 'createSessionManager()');
  if (options.store === undefined) throw new SessConfigError('a store is required, e.g. memoryStore() from @sess/store-memory');
  checkStorage(options.store, 'createSessionManager()', 'Use a sess store, e.g. memoryStore() from @sess/store-memory.');
  const storage = isCookieSessions(options.store) ? { cookies: options.store } : { store: options.store };
  const name = options.name ?? 'sid';
  if (typeof name !== 'string') throw new SessConfigError(`name must be a string, got ${typeof name}`, 'cookie_invalid');
  const cookie = options.cookie ?? {};
  const regenerateGraceMs = lifetimeMs(options.regenerateGraceMs, 'regenerateGraceMs', 0) as number;
  const idleTimeoutMs = lifetimeMs(options.idleTimeoutMs, 'idleTimeoutMs', undefined, MIN_COOKIE_LIFETIME_MS);
  const touchAfterMs = lifetimeMs(options.touchAfterMs, 'touchAfterMs', 0) as number;
  if (idleTimeoutMs !== undefined && touchAfterMs >= idleTimeoutMs) {
    // No touch would be due before the idle deadline: a session used more often than that still ends.
    throw new SessConfigError(
      `touchAfterMs (${touchAfterMs}) must be shorter than idleTimeoutMs (${idleTimeoutMs}), or a session in use would still time out`,
    );
  }
  if (options.schema !== undefined) checkSchema(options.schema);
  if (regenerateGraceMs > 0 && storage.cookies !== undefined) {
    // A sealed cookie stays valid until it expires or `isRevoked` says otherwise: there is no record to keep.
    throw new SessConfigError('regenerateGraceMs needs a server-side store; with cookie sessions, delay revocation in onRevoke instead');
  }
  const onEvent = checkFunction<(event: SessionEvent) => void>(options.onEvent, 'onEvent');
  const startKey = inputKey({
    rolling: flag(options.rolling, 'rolling') ?? false,
    saveEveryRequest: flag(options.saveEveryRequest, 'saveEveryRequest') ?? false,
    saveOnServerError: flag(options.saveOnServerError, 'saveOnServerError') ?? false,
    saveUninitialized: flag(options.saveUninitialized, 'saveUninitialized') ?? false,
    keepEmpty: flag(options.keepEmptySessions, 'keepEmptySessions') ?? false,
    touchEveryRequest: flag(options.touchEveryRequest, 'touchEveryRequest') ?? false,
    resendCookieOnChange: flag(options.resendCookieOnChange, 'resendCookieOnChange') ?? false,
    idAtStart: flag(options.idAtStart, 'idAtStart') ?? false,
    idleTimeout: idleTimeoutMs !== undefined,
    regenerateGrace: regenerateGraceMs > 0,
    cookieCarriesData: storage.cookies !== undefined,
    // The request's own: added per request.
    clientCookie: 'absent',
    readOnly: false,
    browserSession: false,
    testCookieReceived: false,
  } satisfies Required<LifecycleInput>);
  return Object.freeze({
    name,
    testCookieName: `${name}.test`,
    storage,
    signer: signerOf(options, onEvent),
    cookie: cookieAttributes(name, cookie),
    maxAgeMs: lifetimeMs(options.maxAgeMs, 'maxAgeMs', DEFAULT_MAX_AGE_MS, MIN_COOKIE_LIFETIME_MS) as number,
    idleTimeoutMs,
    absoluteTimeoutMs: lifetimeMs(options.absoluteTimeoutMs, 'absoluteTimeoutMs', undefined, MIN_COOKIE_LIFETIME_MS),
    touchAfterMs,
    regenerateGraceMs,
    deadlines: createDeadlines(lifetimeMs(options.storeTimeoutMs, 'storeTimeoutMs', 5_000, 1) as number),
    clock: checkClock(options.clock),
    generateId: checkGenerator(options.generateId),
    onEvent,
    migrate: checkFunction<(data: SessionData) => SessionData>(options.migrate, 'migrate'),
    schema: options.schema,
    lifecycle: createLifecycle(),
    expireAtBrowserClose: flag(options.expireAtBrowserClose, 'expireAtBrowserClose') ?? false,
    startKey,
  });
}
