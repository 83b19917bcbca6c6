/**
 * h3's `SessionConfig`, checked once and turned into the core's options. h3 takes the config on
 * every call, so the result is kept per config object; apps that write the config inline (h3's
 * own examples do) get a new object per request, so equal configs also share one result. An
 * inline config brings new functions too (`generateId`): they don't count in that comparison,
 * and each call uses its own config's, as h3 does.
 */
import { createHash } from 'node:crypto';
import { SessConfigError, describeValue } from '@sess/core';
import type { CookieAttributes, SessionManagerOptions, StandardSchemaV1, Store } from '@sess/core';
import { COOKIE_OPTIONS, MAX_LIFETIME_MS, checkOptions, cookieOptions, defined } from '@sess/core/adapter';
import type { OptionTable } from '@sess/core/adapter';
import { memoryStore } from '@sess/store-memory';

/** The options of h3's `SessionConfig` (v1 and v2), plus `store`, as this package reads them. */
export interface ConfigOptions {
  password: unknown;
  maxAge: unknown;
  idleTimeout: unknown;
  name: unknown;
  cookie: unknown;
  sessionHeader: unknown;
  seal: unknown;
  legacySealFallback: unknown;
  crypto: unknown;
  generateId: unknown;
  store: unknown;
}

/** h3's cookie options (cookie-es `CookieSerializeOptions`, plus v2's `chunkMaxLength`). */
interface CookieConfig {
  maxAge: unknown;
  expires: unknown;
  domain: unknown;
  path: unknown;
  httpOnly: unknown;
  secure: unknown;
  sameSite: unknown;
  partitioned: unknown;
  priority: unknown;
  encode: unknown;
  stringify: unknown;
  chunkMaxLength: unknown;
}

const OPTIONS: OptionTable<ConfigOptions> = {
  password: [],
  maxAge: [],
  idleTimeout: [],
  name: [],
  cookie: [],
  sessionHeader: [],
  seal: [],
  legacySealFallback: ['flag'],
  crypto: [],
  generateId: ['function'],
  store: ['store'],
};

const COOKIE: OptionTable<CookieConfig> = {
  ...COOKIE_OPTIONS,
  // h3 takes true or false; its default is true.
  secure: ['flag'],
  maxAge: [],
  expires: [],
  // The cookie carries a signed id of URL-safe characters: there is nothing to encode or chunk.
  encode: ['function'],
  stringify: ['function'],
  chunkMaxLength: [],
};

/** Names other session libraries use, and what h3's config calls them. */
const HINTS: Readonly<Record<string, string>> = {
  secret: 'h3 calls it "password" (at least 32 characters)',
  maxAgeMs: '"maxAge" is in seconds, as in h3',
  idleTimeoutMs: '"idleTimeout" is in seconds, as in h3',
  rolling: 'use "idleTimeout" (seconds): a session in use slides forward, as in h3',
  genid: 'use "generateId"',
  cookieName: 'use "name"',
};

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const HOW_TO_MAKE_A_PASSWORD = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

/** What a session needs to be an h3 session: the shape every stored record and opened seal must have. */
export interface H3Session {
  id: string;
  createdAt: number;
  data: Record<string, unknown>;
}

export function isH3Session(value: unknown): value is H3Session {
  const candidate = value as Partial<Record<keyof H3Session, unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null) return false;
  const { id, createdAt, data } = candidate;
  return (
    typeof id === 'string' &&
    id !== '' &&
    typeof createdAt === 'number' &&
    Number.isFinite(createdAt) &&
    typeof data === 'object' &&
    data !== null &&
    !Array.isArray(data)
  );
}

/**
 * Stored data must be an h3 session (`{ id, createdAt, data }`); anything else (a record of some
 * other app in a shared store) is treated by the core as no session, never read or overwritten.
 */
const STORED_SESSION: StandardSchemaV1 = Object.freeze({
  '~standard': Object.freeze({
    version: 1 as const,
    vendor: '@sess/h3-session',
    validate: (value: unknown) => (isH3Session(value) ? { value } : { issues: [{ message: 'not an h3 session { id, createdAt, data }' }] }),
  }),
});

/** A config, checked and read once. */
export interface Settings {
  readonly name: string;
  /** The request header that may carry the session (lower case), or `undefined` for none. */
  readonly header: string | undefined;
  /** `cookie: false`: the session travels in the header only and no cookie is sent. */
  readonly sendsCookie: boolean;
  /** The session cookie's attributes, as the core sets them: what `clearSession` deletes it with when the core has nothing to delete. */
  readonly cookie: CookieAttributes;
  /** h3's `maxAge` in ms: how long after `createdAt` a session ends. */
  readonly maxAgeMs: number | undefined;
  /** The `id` of a new h3 session when the call's config has no `generateId`: `crypto.randomUUID()`, as in h3. */
  readonly newId: () => string;
  /** What h3's own `unsealSession` reads, copied at first use. */
  readonly h3: Readonly<Record<string, unknown>>;
  readonly core: SessionManagerOptions;
}

/**
 * A number of seconds (`option` names it) in ms, at least 1 s; longer than 400 days counts as
 * 400 days, all a browser keeps the cookie anyway.
 */
function secondsInMs(value: unknown, option: string, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= 1)) {
    throw new SessConfigError(`${where}: ${option} must be a number of seconds, at least 1, got ${describeValue(value)}`);
  }
  return Math.min(value * 1000, MAX_LIFETIME_MS);
}

function objectOption(value: unknown, option: string, where: string): void {
  if (value === undefined || (typeof value === 'object' && value !== null)) return;
  throw new SessConfigError(`${where}: ${option} must be an object, got ${describeValue(value)}`);
}

/** What h3 v1's `unsealSession` calls on `crypto.subtle` to open a seal (h3 v2's uses `globalThis.crypto`). */
const SUBTLE_METHODS = ['importKey', 'deriveBits', 'decrypt', 'sign'] as const;

/**
 * Refuses a `crypto` that could not make a new session's id (`randomUUID()`) or, where h3 opens
 * its seals with it (`opensSeals`: h3 v1), open one: it would pass here and fail the first new
 * session, or every old cookie. h3 v2 takes `crypto` for ids only, so there `randomUUID()` will do.
 */
function checkCrypto(crypto: unknown, where: string, opensSeals: boolean): void {
  if (crypto === undefined) return;
  objectOption(crypto, 'crypto', where);
  const { randomUUID, subtle } = crypto as { randomUUID?: unknown; subtle?: unknown };
  if (typeof randomUUID !== 'function') {
    throw new SessConfigError(
      `${where}: crypto must have randomUUID(), as WebCrypto's globalThis.crypto does, got ${describeValue(randomUUID)}`,
    );
  }
  if (!opensSeals) return;
  if (typeof subtle !== 'object' || subtle === null) {
    throw new SessConfigError(
      `${where}: crypto must have subtle (WebCrypto's SubtleCrypto), to open h3's sealed cookies, got ${describeValue(subtle)}`,
    );
  }
  const missing = SUBTLE_METHODS.filter((method) => typeof (subtle as Record<string, unknown>)[method] !== 'function');
  if (missing.length > 0) {
    throw new SessConfigError(
      `${where}: crypto.subtle must have ${SUBTLE_METHODS.map((m) => `${m}()`).join(', ')}: missing ${missing.join(', ')}`,
    );
  }
}

/** The process's memory store, made on first need: shared by every config without a `store`, as h3's sealed sessions are. */
let defaultStore: Store | undefined;

/**
 * Checks `config` and reads it into `Settings` (`where` names the entry in messages;
 * `cryptoOpensSeals`: the entry's h3 opens its seals with `config.crypto`, as v1 does).
 *
 * @throws SessConfigError for an unknown option (naming the closest known one), a password shorter
 *   than 32 characters, a bad lifetime, or cookie options browsers would refuse.
 */
export function settingsOf(config: unknown, where: string, cryptoOpensSeals: boolean): Settings {
  checkOptions<ConfigOptions>(config, OPTIONS, where, { hints: HINTS });
  const options = config as Partial<ConfigOptions>;
  const { password, cookie = {}, sessionHeader, seal, crypto } = options;
  if (typeof password !== 'string' || Buffer.byteLength(password) < 32) {
    throw new SessConfigError(
      `${where}: password must be a string of at least 32 characters (h3 requires 32 too); make one with ${HOW_TO_MAKE_A_PASSWORD}`,
      'secret_too_short',
    );
  }
  const name = options.name || 'h3';
  if (typeof name !== 'string') throw new SessConfigError(`${where}: name must be a string, got ${typeof name}`, 'cookie_invalid');
  if (cookie !== false) {
    objectOption(cookie, 'cookie', where);
    checkOptions<CookieConfig>(cookie, COOKIE, `${where} cookie`, { prefix: 'cookie.' });
  }
  const cookieConfig = cookie === false ? {} : (cookie as Partial<CookieConfig>);
  if (cookieConfig.expires !== undefined) {
    throw new SessConfigError(
      `${where}: cookie.expires would end every session on one date; use maxAge (seconds) instead`,
      'cookie_invalid',
    );
  }
  // A header name is an HTTP token: h3 v2's Headers would throw any other on every request.
  if (sessionHeader !== undefined && sessionHeader !== false && (typeof sessionHeader !== 'string' || !HEADER_NAME.test(sessionHeader))) {
    throw new SessConfigError(`${where}: sessionHeader must be false or a header name, got ${describeValue(sessionHeader)}`);
  }
  objectOption(seal, 'seal', where);
  checkCrypto(crypto, where, cryptoOpensSeals);

  // h3 reads a falsy maxAge or idleTimeout as none.
  const maxAgeMs = secondsInMs(options.maxAge || undefined, 'maxAge', where);
  const idleMs = secondsInMs(options.idleTimeout || undefined, 'idleTimeout', where);
  const cookieLifeMs = secondsInMs(cookieConfig.maxAge, 'cookie.maxAge', where);
  // How long the cookie (and the record) live from each write: h3's cookie lifetime, else its
  // idle window, else its absolute one. With none, h3's cookie ends with the browser and its
  // seal never expires: the record is kept for the longest lifetime a cookie can have.
  const lifetimeMs = cookieLifeMs ?? idleMs ?? maxAgeMs;
  const secure = (cookieConfig.secure as boolean | undefined) ?? true;
  const sessionCookie = cookieOptions({
    ...defined({
      domain: cookieConfig.domain as string | undefined,
      path: cookieConfig.path as string | undefined,
      httpOnly: cookieConfig.httpOnly as boolean | undefined,
      sameSite: cookieConfig.sameSite as boolean | 'lax' | 'strict' | 'none' | undefined,
      partitioned: cookieConfig.partitioned as boolean | undefined,
      priority: cookieConfig.priority as 'low' | 'medium' | 'high' | undefined,
    }),
    secure,
  });
  const core: SessionManagerOptions = {
    secret: password,
    store: (options.store as Store | undefined) ?? (defaultStore ??= memoryStore({ clock: () => Date.now() })),
    name,
    cookie: sessionCookie,
    ...(lifetimeMs === undefined ? { maxAgeMs: MAX_LIFETIME_MS, expireAtBrowserClose: true } : { maxAgeMs: lifetimeMs }),
    ...(maxAgeMs !== undefined && { absoluteTimeoutMs: maxAgeMs }),
    // h3 slides an idle session forward once half its window has passed, re-sending the cookie.
    ...(idleMs !== undefined && { idleTimeoutMs: idleMs, touchAfterMs: idleMs / 2, rolling: true }),
    // Read at each call, as h3 reads `Date.now()`, so `createdAt` and the core's clock agree.
    clock: () => Date.now(),
    schema: STORED_SESSION,
  };
  const randomId = (crypto as { randomUUID(): string } | undefined) ?? globalThis.crypto;
  return Object.freeze({
    name,
    header: sessionHeader === false ? undefined : (sessionHeader ?? `x-${name}-session`).toLowerCase(),
    sendsCookie: cookie !== false,
    cookie: Object.freeze({ ...sessionCookie, secure }),
    maxAgeMs,
    newId: () => randomId.randomUUID(),
    h3: Object.freeze(
      defined({
        password,
        maxAge: options.maxAge,
        idleTimeout: options.idleTimeout,
        seal,
        legacySealFallback: options.legacySealFallback,
        crypto,
      }),
    ),
    core,
  });
}

/** How many configs with equal contents share one result at most (oldest forgotten first). */
const CONFIGS_BY_CONTENT = 100;

/**
 * The config's `generateId`, called as h3 calls it (`config.generateId()`), or `undefined`. Read
 * from the config of each call: one written inline has a new function every time, which may
 * close over that request.
 */
export function generateIdOf(config: unknown): (() => string) | undefined {
  const generateId = (config as { generateId?: unknown } | null | undefined)?.generateId;
  return typeof generateId === 'function' ? () => sessionId(generateId.call(config)) : undefined;
}

/**
 * An id `generateId` returned. Anything but a non-empty string is refused before the session is
 * written: its record would fail to load on the next request, and the session be lost every time.
 */
function sessionId(id: unknown): string {
  if (typeof id === 'string' && id !== '') return id;
  throw new SessConfigError(`generateId must return a non-empty string, got ${typeof id === 'string' ? '""' : String(id)}`);
}

/** What a function option stands for in a config's contents: only whether it is there (each call reads its own). */
const A_FUNCTION = '[function]';

/**
 * `make(settings)` once per config object, and once per distinct config contents: the same
 * options written inline on every request reuse one result instead of building a new one each
 * time (and so keep one request's calls on one session). Functions count only as being there:
 * an inline config has new ones on every call, and the result uses none of them (`generateId`
 * is read per call, `generateIdOf`; `cookie.encode` and `stringify` are unused). `store` and
 * `crypto` compare by identity; the key is a hash, so no password is kept in it.
 */
export function perConfig<T>(where: string, cryptoOpensSeals: boolean, make: (settings: Settings) => T): (config: unknown) => T {
  const byObject = new WeakMap<object, T>();
  const byContent = new Map<string, T>();
  const identities = new WeakMap<object, number>();
  let nextIdentity = 0;
  const identity = (value: object) => {
    let known = identities.get(value);
    if (known === undefined) identities.set(value, (known = nextIdentity++));
    return `#${known}`;
  };
  const contentKey = (config: object): string | undefined => {
    try {
      const text = JSON.stringify(config, (key, value: unknown) => {
        if (typeof value === 'function') return A_FUNCTION;
        return (key === 'store' || key === 'crypto') && typeof value === 'object' && value !== null ? identity(value) : value;
      });
      return createHash('sha256').update(text).digest('base64url');
    } catch {
      // Not JSON (a cycle, a BigInt): only the object itself is remembered; the checks say what is wrong.
      return undefined;
    }
  };
  return (config) => {
    if (typeof config !== 'object' || config === null) return make(settingsOf(config, where, cryptoOpensSeals));
    const known = byObject.get(config);
    if (known !== undefined) return known;
    const key = contentKey(config);
    let made = key === undefined ? undefined : byContent.get(key);
    if (made === undefined) {
      made = make(settingsOf(config, where, cryptoOpensSeals));
      if (key !== undefined) {
        byContent.set(key, made);
        if (byContent.size > CONFIGS_BY_CONTENT) byContent.delete(byContent.keys().next().value as string);
      }
    }
    byObject.set(config, made);
    return made;
  };
}
