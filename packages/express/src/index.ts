/**
 * @sess/express: express-session's API on the sess core, for Express 4 and 5.
 *
 * ```ts
 * import express from 'express';
 * import { session } from '@sess/express';
 *
 * const app = express();
 * app.use(session({ secret: process.env.SESSION_SECRET! }));
 * app.get('/', (req, res) => {
 *   req.session.views = (req.session.views ?? 0) + 1;
 *   res.send(`views: ${req.session.views}`);
 * });
 * ```
 *
 * The adapter only translates: it reads the request's facts, commits before the headers leave
 * and applies the effects the core returns. Every session decision is in `@sess/core`.
 */
import type { TLSSocket } from 'node:tls';
import { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkFunction, checkOneOf, checkOptionKeys, checkStoreShape, createSessionContext, createSessionManager } from '@sess/core';
import type { SessionEvent, SessionManagerOptions, SocketSession, StandardSchemaV1, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { applyEffects, commitBeforeHeaders } from './apply.js';
import { callbackStore, isCallbackStore } from './callback-store.js';
import type { CallbackStore } from './callback-store.js';
import { sessionView } from './view.js';
import type { RequestSession } from './view.js';

export { callbackStore } from './callback-store.js';

const context = createSessionContext<RequestSession>('@sess/express');

/**
 * The current request's `req.session`, from any function the request calls (chirp's
 * `get_session()`). Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export function getSession(): RequestSession {
  return context.get();
}
export type { CallbackStore } from './callback-store.js';
export type { RequestSession, SessionCookie, SessionData, SessionMethods } from './view.js';
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
/** express-session's names, for a one-line move: `new MemoryStore()` works too. */
export { memoryStore, memoryStore as MemoryStore } from '@sess/store-memory';

declare global {
  namespace Express {
    interface Request {
      session: RequestSession;
      /** The session id, once the session has one. */
      sessionID: string | undefined;
    }
  }
}

export interface SessionCookieOptions {
  /** Lifetime in ms. Default 24 hours; `null` makes a cookie that ends with the browser. */
  maxAge?: number | null;
  /** Default `true`. */
  httpOnly?: boolean;
  /** Default `'auto'`: Secure exactly when `req.secure` (Express's `trust proxy`) or `proxy` says so. */
  secure?: boolean | 'auto';
  /** Default `'lax'`. `true` means `'strict'`; `false` means `'lax'`, what browsers assume. */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** Default `'/'`. */
  path?: string;
  domain?: string;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

export interface SessionOptions {
  /** One secret or several (the first signs, all verify); each at least 32 bytes. */
  secret: string | readonly string[];
  /** A sess store, or an express-session store (connect-redis, ...). Default `memoryStore()`. */
  store?: Store | CallbackStore;
  /** Cookie name. Default `'sid'`. */
  name?: string;
  cookie?: SessionCookieOptions;
  /** Re-send the cookie and extend the session on every request that uses it. Default `false`. */
  rolling?: boolean;
  /** Save every used session even when unchanged. Default `false`. */
  resave?: boolean;
  /** Accepted for compatibility and ignored: sess never stores a session that holds no data. */
  saveUninitialized?: boolean;
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Called without the request. */
  genid?: () => string;
  /**
   * Trust `X-Forwarded-Proto` for `secure: 'auto'`. Default: follow Express's `trust proxy`
   * (`req.secure`); `true` trusts the header; `false` looks only at the connection.
   */
  proxy?: boolean;
  /** What `delete req.session` or `req.session = null` does. Default `'keep'`. */
  unset?: 'keep' | 'destroy';
  /**
   * Requests for which the session is loaded but never written (say, parallel API GETs that
   * must not clobber a writer). Changing the session there throws `SessUsageError`. Default none.
   */
  readOnly?: (req: Request) => boolean;
  idleTimeoutMs?: number;
  absoluteTimeoutMs?: number;
  touchAfterMs?: number;
  /** After `regenerate()`, the old id answers reads for this many ms (in-flight requests). Default 0. */
  regenerateGraceMs?: number;
  saveOnServerError?: boolean;
  storeTimeoutMs?: number;
  clock?: () => number;
  /**
   * Make `getSession()` work anywhere inside the request (AsyncLocalStorage). Default `false`:
   * on Node 20 it adds a small cost to every promise the request creates.
   */
  asyncContext?: boolean;
  /** Told when a session is created, regenerated, destroyed or expired, or a store call fails (ids hashed). */
  onEvent?: (event: SessionEvent) => void;
  /** Turns stored data of an older shape into the current one, on every load (make it idempotent). */
  migrate?: (data: Record<string, unknown>) => Record<string, unknown>;
  /** A synchronous Standard Schema (zod, valibot, ...) loaded data must pass, or the visitor gets a fresh session. */
  schema?: StandardSchemaV1;
}

/**
 * Every option, in one place: how it is checked here (so a refusal names the option you wrote,
 * not the core's name for it) and the core option it becomes. `cookie` and `store` are mapped
 * in `managerOptions`; the rest without a core name are the adapter's own. The type makes a new
 * option of `SessionOptions` fail to compile until it is listed here.
 */
const OPTIONS: {
  readonly [K in keyof SessionOptions]-?: readonly [check: 'flag' | 'function' | undefined, core?: keyof SessionManagerOptions];
} = {
  secret: [undefined, 'secret'],
  store: [undefined],
  name: [undefined, 'name'],
  cookie: [undefined],
  rolling: ['flag', 'rolling'],
  resave: ['flag', 'saveEveryRequest'],
  saveUninitialized: ['flag'],
  genid: ['function', 'generateId'],
  proxy: ['flag'],
  unset: [undefined],
  readOnly: ['function'],
  idleTimeoutMs: [undefined, 'idleTimeoutMs'],
  absoluteTimeoutMs: [undefined, 'absoluteTimeoutMs'],
  touchAfterMs: [undefined, 'touchAfterMs'],
  regenerateGraceMs: [undefined, 'regenerateGraceMs'],
  saveOnServerError: ['flag', 'saveOnServerError'],
  storeTimeoutMs: [undefined, 'storeTimeoutMs'],
  clock: ['function', 'clock'],
  asyncContext: ['flag'],
  onEvent: ['function', 'onEvent'],
  migrate: ['function', 'migrate'],
  schema: [undefined, 'schema'],
};
const COOKIE_OPTIONS = [
  'maxAge',
  'httpOnly',
  'secure',
  'sameSite',
  'path',
  'domain',
  'partitioned',
  'priority',
] as const satisfies readonly (keyof SessionCookieOptions)[];
const WHERE = 'session() of @sess/express';
/** express-session habits: cookie attributes at the top level, `cookie.expires`. */
const HINTS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(COOKIE_OPTIONS.map((key) => [key, `use cookie.${key}`])),
  expires: 'use cookie.maxAge (ms)',
};

function sameSiteOf(value: SessionCookieOptions['sameSite']): 'lax' | 'strict' | 'none' {
  if (value === true) return 'strict';
  if (value === false || value === undefined) return 'lax';
  return value;
}

function managerOptions(options: SessionOptions): SessionManagerOptions {
  checkOptionKeys(options, Object.keys(OPTIONS), WHERE, HINTS);
  const cookie = options.cookie ?? {};
  checkOptionKeys(cookie, COOKIE_OPTIONS, `cookie of ${WHERE}`, { expires: 'use cookie.maxAge (ms)' });
  checkOneOf(cookie.sameSite, [true, false, 'lax', 'strict', 'none'], 'cookie.sameSite');
  checkOneOf(options.unset, ['keep', 'destroy'], 'unset');
  const mapped: Record<string, unknown> = {};
  for (const [key, [check, core]] of Object.entries(OPTIONS)) {
    const value = options[key as keyof SessionOptions];
    if (check === 'flag') checkOneOf(value, [true, false], key);
    if (check === 'function') checkFunction(value, key);
    if (core !== undefined && value !== undefined) mapped[core] = value;
  }
  const store: unknown = options.store ?? memoryStore();
  if (!isCallbackStore(store))
    checkStoreShape(store, WHERE, 'Pass a sess store (memoryStore(), ...) or an express-session store with get, set and destroy.');
  return {
    ...(mapped as Omit<SessionManagerOptions, 'store'>),
    store: isCallbackStore(store) ? callbackStore(store) : (store as Store),
    ...(cookie.maxAge === undefined || cookie.maxAge === null ? {} : { maxAgeMs: cookie.maxAge }),
    expireAtBrowserClose: cookie.maxAge === null,
    cookie: {
      httpOnly: cookie.httpOnly ?? true,
      secure: cookie.secure ?? 'auto',
      sameSite: sameSiteOf(cookie.sameSite),
      path: cookie.path ?? '/',
      ...(cookie.domain === undefined ? {} : { domain: cookie.domain }),
      ...(cookie.partitioned === undefined ? {} : { partitioned: cookie.partitioned }),
      ...(cookie.priority === undefined ? {} : { priority: cookie.priority }),
    },
  };
}

function isSecure(req: Request, proxy: boolean | undefined): boolean {
  const encrypted = (req.socket as Partial<TLSSocket>).encrypted === true;
  // Without Express (a bare `http` or connect request) there is no `req.secure`: ask the socket.
  if (proxy === undefined) return typeof req.secure === 'boolean' ? req.secure : encrypted;
  if (!proxy) return encrypted;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === undefined ? encrypted : first === 'https';
}

/**
 * `req.sessionID` as a getter on Express's shared request prototype (the one every app's and
 * sub-app's `app.request` inherits), installed once. An accessor defined on each request instead
 * makes every request object slow for Express's own property reads: measured at ~20 us per
 * request on Express 5. Assigning `req.sessionID` (express-session in the same process) still
 * works: the setter turns it into the request's own data property.
 */
function installSessionId(req: Request): void {
  let proto = Object.getPrototypeOf(req) as object | null;
  while (proto !== null && Object.getPrototypeOf(proto) !== IncomingMessage.prototype)
    proto = Object.getPrototypeOf(proto) as object | null;
  const target: object = proto ?? req;
  if (Object.hasOwn(target, 'sessionID')) return;
  Object.defineProperty(target, 'sessionID', {
    get(this: Request) {
      return (this.session as RequestSession | undefined)?.id;
    },
    set(this: Request, value: unknown) {
      Object.defineProperty(this, 'sessionID', { value, writable: true, configurable: true, enumerable: true });
    },
    configurable: true,
    enumerable: true,
  });
}

function setCookieNames(value: number | string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [String(value)]).map((cookie) => cookie.slice(0, cookie.indexOf('=')).trim());
}

/** `session(...)`: the middleware, plus what WebSocket apps need (see README, "WebSockets"). */
export interface SessionMiddleware extends RequestHandler {
  /**
   * A route that exchanges a hand-off token (`?token=`, or `token` in a parsed body) for the
   * HttpOnly session cookie: 204 with Set-Cookie, or 400 for a token that is unknown, used or
   * older than a minute. Mount it where the page can reach it: `app.post('/session/handoff', sessions.handoff)`.
   */
  readonly handoff: RequestHandler;
  /**
   * The session of a WebSocket, from its upgrade request: `use(work)` runs `work` on
   * `req.session`-style data, persists it with store effects only, and returns a `handoff` token
   * when the browser needs a new cookie (send it down the socket; the page posts it to `handoff`).
   */
  socket(req: IncomingMessage): SocketSession<RequestSession>;
}

/**
 * The session middleware. Validates `options` once (throwing `SessConfigError` for a short
 * secret, bad numbers or unsupported options), then per request: reads the cookie, loads the
 * record it names (one store read, none without a valid cookie), exposes `req.session`, and
 * commits before the response headers leave. A failed store call reaches Express's error
 * handling as a `SessStoreError` (status hint 503).
 */
export function session(options: SessionOptions): SessionMiddleware {
  const manager = createSessionManager(managerOptions(options));
  const originalMaxAge = options.cookie?.maxAge ?? undefined;
  const unset = options.unset ?? 'keep';

  const handoff: RequestHandler = (req, res, next) => {
    const token = typeof req.query.token === 'string' ? req.query.token : (req.body as { token?: unknown } | undefined)?.token;
    manager
      .redeemHandoff(token)
      .then((effects) => {
        applyEffects(res, effects);
        res.status(effects.length === 0 ? 400 : 204).end();
      })
      .catch(next);
  };

  const socket = (req: IncomingMessage): SocketSession<RequestSession> => {
    // An upgrade request never went through Express, so `req.secure` is unknown: ask the socket
    // (or X-Forwarded-Proto, with `proxy: true`).
    const core = manager.socket({ cookieHeader: req.headers.cookie, secure: isSecure(req as Request, options.proxy ?? false) });
    return { use: (work) => core.use((session) => work(sessionView(session, originalMaxAge))) };
  };

  function sessionMiddleware(req: Request, res: Response, next: NextFunction): void {
    // Mounted twice (or a router re-entering): the first one owns the session.
    if (req.session !== undefined) {
      next();
      return;
    }
    const core = manager.begin({
      cookieHeader: req.headers.cookie,
      secure: isSecure(req, options.proxy),
      readOnly: options.readOnly?.(req) ?? false,
    });
    req.session = sessionView(core, originalMaxAge);
    installSessionId(req);

    commitBeforeHeaders(
      res,
      async (status) => {
        if (unset === 'destroy' && (req.session as RequestSession | null | undefined) == null) await core.destroy();
        return core.commit({
          status,
          cookieAlreadySet: setCookieNames(res.getHeader('set-cookie')).includes(manager.name),
          cacheControlSet: res.hasHeader('cache-control'),
        });
      },
      next,
    );
    const proceed = () => core.load().then(() => next(), next);
    if (options.asyncContext === true) context.run(req.session, proceed);
    else proceed();
  }

  return Object.assign(sessionMiddleware, { handoff, socket });
}
