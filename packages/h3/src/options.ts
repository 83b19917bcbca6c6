/** Options shared by both entries, validated once into the core's options. */
import {
  SessConfigError,
  SessUsageError,
  checkFunction,
  checkOneOf,
  checkOptionKeys,
  checkStoreShape,
  createSessionManager,
} from '@sess/core';
import type { SessionCookieOptions, SessionManager, SessionManagerOptions, SocketSession, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { sessionView } from './view.js';
import type { SessionView } from './view.js';

/**
 * The options. `idleTimeoutMs`, `absoluteTimeoutMs`, `touchAfterMs`, `regenerateGraceMs`, `saveOnServerError`,
 * `storeTimeoutMs`, `clock` and `cookie` (`httpOnly`, `secure: 'auto'`, `sameSite`, `path`,
 * `domain`, `partitioned`, `priority`) are the core's, documented in `@sess/core`.
 */
export interface SessionOptions<Event = unknown>
  extends Partial<
    Pick<
      SessionManagerOptions,
      | 'idleTimeoutMs'
      | 'absoluteTimeoutMs'
      | 'touchAfterMs'
      | 'regenerateGraceMs'
      | 'saveOnServerError'
      | 'storeTimeoutMs'
      | 'clock'
      | 'rolling'
      | 'generateId'
      | 'cookie'
      | 'onEvent'
      | 'migrate'
      | 'schema'
    >
  > {
  /** One secret or several (the first signs, all verify); each at least 32 bytes. h3 calls it `password`. */
  secret: string | readonly string[];
  /** Where sessions live. Default `memoryStore()` (one process, lost on restart). */
  store?: Store;
  /** Cookie name. Default `'sid'`. */
  name?: string;
  /** Lifetime in seconds, as h3's `maxAge`; `'session'` for a cookie that ends with the browser. Default 24 hours. */
  maxAge?: number | 'session';
  /** Trust `X-Forwarded-Proto` when deciding whether the request is secure. Default `false`. */
  proxy?: boolean;
  /** Requests whose session is loaded but never written; changing it there throws `SessUsageError`. */
  readOnly?: (event: Event) => boolean;
  /** Makes `getSession()` work anywhere inside the request (AsyncLocalStorage; h3 v2 only). Default `false`. */
  asyncContext?: boolean;
}

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Defined<T>;
}

// Written as objects so the compiler checks that each list names every option, and nothing else.
const OPTIONS = Object.keys({
  secret: 1,
  store: 1,
  name: 1,
  maxAge: 1,
  proxy: 1,
  readOnly: 1,
  asyncContext: 1,
  idleTimeoutMs: 1,
  absoluteTimeoutMs: 1,
  touchAfterMs: 1,
  regenerateGraceMs: 1,
  saveOnServerError: 1,
  storeTimeoutMs: 1,
  clock: 1,
  rolling: 1,
  generateId: 1,
  cookie: 1,
  onEvent: 1,
  migrate: 1,
  schema: 1,
} satisfies Record<keyof SessionOptions, 1>);
const COOKIE_OPTIONS = Object.keys({
  path: 1,
  domain: 1,
  httpOnly: 1,
  secure: 1,
  sameSite: 1,
  partitioned: 1,
  priority: 1,
} satisfies Record<keyof SessionCookieOptions, 1>);

const LIFETIME = 'use the top-level "maxAge" option, in seconds, or \'session\' for a cookie that ends with the browser';

/** Options of h3's `useSession` (and a few of other session libraries) that sess spells differently or has no use for. */
const HINTS: Readonly<Record<string, string>> = {
  password: 'sess calls it "secret" (at least 32 bytes; an array of secrets rotates them)',
  idleTimeout: 'use "idleTimeoutMs", in milliseconds (h3 counts idleTimeout in seconds)',
  sessionHeader: 'sess reads the session from its cookie only; there is no header session',
  seal: 'sess does not seal the cookie: it carries a signed id and the data lives in the store. To keep the data in the cookie, pass store: cookieSessions({ secret }) from @sess/core',
  legacySealFallback: 'sess does not read cookies sealed by h3, so there is nothing to fall back to',
  crypto: 'sess signs with node:crypto; there is nothing to pass',
  genid: 'sess calls it "generateId"',
  maxAgeMs: 'this entry takes "maxAge" in seconds, as h3 does',
  expireAtBrowserClose: "use maxAge: 'session'",
  trustProxy: 'use "proxy: true"',
};
const COOKIE_HINTS: Readonly<Record<string, string>> = {
  maxAge: LIFETIME,
  expires: LIFETIME,
  name: 'use the top-level "name" option',
  encode: 'sess writes the cookie value itself (a signed id)',
  chunkMaxLength: 'the cookie holds only a signed id, so it is never chunked',
};

const STORE_ADVICE =
  'Use a sess store: memoryStore() from @sess/h3, redisStore() from @sess/store-redis, or cookieSessions() from @sess/core.';
/** The core's ceiling: browsers cap a cookie's life at 400 days (RFC 6265bis). */
const MAX_AGE_SECONDS = 400 * 86_400;

function checkMaxAge(maxAge: unknown): void {
  if (maxAge === undefined || maxAge === 'session') return;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 1 || maxAge > MAX_AGE_SECONDS) {
    throw new SessConfigError(
      `maxAge must be a number of seconds from 1 to ${MAX_AGE_SECONDS} (400 days) or 'session', got ${JSON.stringify(maxAge) ?? String(maxAge)}`,
    );
  }
}

function checkCookie(cookie: unknown, where: string): void {
  if (cookie === undefined) return;
  // h3 takes `cookie: false` for header-only sessions; sess has only the cookie.
  if (typeof cookie !== 'object' || cookie === null || Array.isArray(cookie)) {
    throw new SessConfigError(
      `cookie must be an object of cookie attributes (sess always uses its cookie), got ${JSON.stringify(cookie) ?? typeof cookie}`,
    );
  }
  checkOptionKeys(cookie, COOKIE_OPTIONS, `${where} cookie`, COOKIE_HINTS);
  const attributes = cookie as Record<string, unknown>;
  checkOneOf(attributes.sameSite, ['lax', 'strict', 'none'], 'cookie.sameSite');
  checkOneOf(attributes.priority, ['low', 'medium', 'high'], 'cookie.priority');
  checkOneOf(attributes.secure, [true, false, 'auto'], 'cookie.secure');
  for (const flag of ['httpOnly', 'partitioned']) checkOneOf(attributes[flag], [true, false], `cookie.${flag}`);
}

/** Refuses, with advice, what a request would otherwise trip over; `where` names the entry in messages. */
function checkOptions(input: unknown, where: string): void {
  checkOptionKeys(input, OPTIONS, where, HINTS);
  const options = input as Record<string, unknown>;
  for (const flag of ['proxy', 'asyncContext', 'rolling', 'saveOnServerError']) checkOneOf(options[flag], [true, false], flag);
  for (const callback of ['readOnly', 'clock', 'generateId', 'onEvent', 'migrate']) checkFunction(options[callback], callback);
  checkMaxAge(options.maxAge);
  checkCookie(options.cookie, where);
  if (options.store !== undefined) checkStoreShape(options.store, where, STORE_ADVICE);
}

export interface Configured<Event = never> {
  readonly manager: SessionManager;
  readonly proxy: boolean;
  readonly readOnly: ((event: Event) => boolean) | undefined;
  readonly asyncContext: boolean;
}

/**
 * The options, checked and turned into the core's; what a request needs is read here, once, so
 * changing the options object later changes nothing.
 *
 * @throws SessConfigError
 */
export function configure<Event>(options: SessionOptions<Event>, where: string): Configured<Event> {
  checkOptions(options, where);
  const { maxAge } = options;
  const manager = createSessionManager(
    Object.freeze({
      ...defined({
        name: options.name,
        maxAgeMs: typeof maxAge === 'number' ? maxAge * 1000 : undefined,
        rolling: options.rolling,
        generateId: options.generateId,
        idleTimeoutMs: options.idleTimeoutMs,
        absoluteTimeoutMs: options.absoluteTimeoutMs,
        touchAfterMs: options.touchAfterMs,
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
      expireAtBrowserClose: maxAge === 'session',
      cookie: Object.freeze(defined({ ...options.cookie })),
    }),
  );
  return Object.freeze({ manager, proxy: options.proxy ?? false, readOnly: options.readOnly, asyncContext: options.asyncContext ?? false });
}

/** The session the middleware put on the event; a clear error when it isn't registered. */
export function sessionOf<T>(context: { session?: T }): T {
  const found = context.session;
  if (found === undefined) throw new SessUsageError('no session on this event: register session({ ... }) with app.use() first');
  return found;
}

/** Names of the cookies a response already sets, to let the core keep its hands off them. */
export function cookieNames(lines: readonly string[]): string[] {
  return lines.map((line) => line.slice(0, line.indexOf('=')).trim());
}

/** What a WebSocket upgrade request must offer: crossws's `peer.request`, on h3 v1 and v2 alike. */
export interface UpgradeRequest {
  readonly url: string;
  readonly headers: { get(name: string): string | null };
}

/**
 * The session of a WebSocket from its upgrade request: `use(work)` persists changes with store
 * effects only and returns a `handoff` token when the browser needs a new cookie.
 */
export function socketSessions<Data>(configured: Configured<never>): (request: UpgradeRequest) => SocketSession<Partial<Data>> {
  const { manager, proxy } = configured;
  return (request) => {
    const forwarded = proxy ? request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() : undefined;
    const secure = forwarded === undefined ? /^(https|wss):$/.test(new URL(request.url).protocol) : forwarded === 'https';
    const core = manager.socket({ cookieHeader: request.headers.get('cookie') ?? undefined, secure });
    return { use: (work) => core.use((s) => work((sessionView(s) as SessionView<Data>).data)) };
  };
}
