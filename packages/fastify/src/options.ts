/**
 * The plugin's options: sess's shared ones, and the names @fastify/session users know where they
 * mean the same thing (`cookieName`, `cookie.maxAge` in ms, `idGenerator`). Everything is checked
 * once, when the plugin is registered; what sess does differently is refused with what to use.
 */
import type { FastifyRequest } from 'fastify';
import { SessConfigError } from '@sess/core';
import type { SessionManager, SessionManagerOptions, SessionStorage } from '@sess/core';
import {
  COOKIE_OPTIONS,
  SHARED_OPTIONS,
  checkOptions,
  cookieOptions,
  coreOptions,
  createManager,
  lifetimeOptions,
} from '@sess/core/adapter';
import type { CookieOptions, OptionTable, SharedOptions } from '@sess/core/adapter';
import { memoryStore } from '@sess/store-memory';

/** The session cookie's attributes, and its lifetime as @fastify/session spells it. */
export interface SessionCookieOptions extends CookieOptions {
  /**
   * Lifetime in ms, as @fastify/session's `cookie.maxAge` (1000 to 400 days), or `'session'` for
   * a cookie that ends with the browser (the server still ends it after 24 hours). Default 24 hours.
   */
  maxAge?: number | 'session';
}

/** sess's options (see `SharedOptions`), with @fastify/session's names where sess has the same thing. */
export interface SessionOptions extends Omit<SharedOptions<FastifyRequest, SessionStorage>, 'name'> {
  /** Cookie name, as @fastify/session calls it. Default `'sid'`; a `__Host-` name pins the cookie to this host over HTTPS. */
  cookieName?: string;
  /** `secure: 'auto'` (the default) follows `request.protocol`, so Fastify's own `trustProxy`. */
  cookie?: SessionCookieOptions;
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Called without the request. Default: 192 random bits. */
  idGenerator?: () => string;
  /** Accepted as `false` only, what sess always does: a session that holds no data is never stored. */
  saveUninitialized?: false;
}

const NOT_IN_SESS = 'not supported by sess';
const LIFETIME = 'use cookie.maxAge (ms, or "session"); for one session, request.session.setExpiry(seconds or a Date)';
const SEALED = 'sess signs the id with "secret"; to keep the data in the cookie, pass store: cookieSessions({ secret }) from @sess/core';
const RAW_VALUE = `${NOT_IN_SESS}: sess writes the cookie value itself (the id and its MAC, which need no encoding) and reads it back; remove it`;

/** @fastify/cookie's options sess does without, said at registration and by `request.session.options()`. */
export const COOKIE_HINTS: Readonly<Record<string, string>> = {
  signed: `${NOT_IN_SESS}: the cookie is always signed (HMAC-SHA256 with "secret"); remove it`,
  // @fastify/session passes its cookie options on to @fastify/cookie, which takes these.
  encode: RAW_VALUE,
  decode: RAW_VALUE,
};

const COOKIE = {
  table: { ...COOKIE_OPTIONS, maxAge: [] },
  should: 'an object of cookie attributes',
  hints: { expires: LIFETIME, ...COOKIE_HINTS },
} as const;

const { name: _name, ...shared } = SHARED_OPTIONS;
const OPTIONS: OptionTable<SessionOptions> = {
  ...shared,
  cookieName: [undefined, 'name'],
  cookie: [COOKIE],
  idGenerator: ['function', 'generateId'],
  // sess never stores a session that holds no data (Django CVE-2015-5143): `true` is refused.
  saveUninitialized: [[false]],
};

/** Names from @fastify/session, @fastify/secure-session and the other sess adapters, with what to write instead. */
const HINTS: Readonly<Record<string, string>> = {
  ...Object.fromEntries([...Object.keys(COOKIE_OPTIONS), 'maxAge'].map((key) => [key, `use cookie.${key}`])),
  name: 'use "cookieName", as @fastify/session calls it',
  expires: LIFETIME,
  algorithm: `${NOT_IN_SESS}: sess signs with HMAC-SHA256; remove it`,
  cookiePrefix: `${NOT_IN_SESS}: the cookie value is the id and its MAC, with no prefix (express-session's "s:" included); remove it`,
  key: SEALED,
  salt: SEALED,
  trustProxy: "sess follows Fastify's own trustProxy option (request.protocol): set it with fastify({ trustProxy })",
};

/** Said for a store that is not a sess store (express-session and @fastify/session stores take callbacks). */
const STORE = 'Use a sess store (memoryStore, redisStore, postgresStore) or cookieSessions(); stores taking callbacks cannot serve sess.';

/**
 * The options without Fastify's own register options (`prefix`, `logLevel`, `logSerializers`):
 * Fastify passes the object given to `register` to the plugin as it is, and ignores these for a
 * plugin wrapped with fastify-plugin, as this one is. Any other key is left for the check.
 */
function withoutRegisterOptions(options: unknown): unknown {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return options;
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...rest } = options as Record<string, unknown>;
  return rest;
}

/**
 * @fastify/session calls `idGenerator(request)`, sess calls it with no arguments: one written for
 * @fastify/session that reads its parameter would throw at every new session, each a 500. One
 * that declares a parameter and throws without it is refused here; the core lets other throwing
 * generators through (they may need what the app sets up later).
 */
function checkIdGenerator(generate: unknown): void {
  if (typeof generate !== 'function' || generate.length === 0) return;
  try {
    generate();
  } catch (error) {
    throw new SessConfigError(
      `idGenerator threw when called without arguments (${String(error)}): sess calls it without the request, unlike @fastify/session's idGenerator(request); make one that needs none`,
    );
  }
}

/**
 * The session manager, after every check a request could otherwise trip over (the core checks
 * numbers, names and the secret). Fastify's own register options are ignored, as Fastify does.
 *
 * @throws SessConfigError
 */
export function sessionManager(options: SessionOptions): SessionManager {
  checkOptions<SessionOptions>(withoutRegisterOptions(options), OPTIONS, 'session plugin of @sess/fastify', { hints: HINTS, store: STORE });
  checkIdGenerator(options.idGenerator);
  const core: SessionManagerOptions = {
    ...coreOptions(options, OPTIONS),
    ...lifetimeOptions(options.cookie?.maxAge, 1, 'cookie.maxAge'),
    store: options.store ?? memoryStore(),
    cookie: cookieOptions(options.cookie),
  };
  return createManager(core, OPTIONS);
}
