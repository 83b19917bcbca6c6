/**
 * @sess/koa: koa-session's shape on the sess core, for Koa 2 and 3. Server-side sessions: the
 * cookie carries a signed id, the data lives in the store.
 *
 * The adapter only translates: it reads the request's facts, commits after `await next()`
 * (before Koa responds) and applies the effects the core returns. Every session decision is in
 * `@sess/core`.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Context, Middleware, Next } from 'koa';
import { SessConfigError, SessError, SessUsageError, createSessionContext, createSessionManager } from '@sess/core';
import type { Session as CoreSession, SessionEvent, SessionManagerOptions, SocketSession, StandardSchemaV1, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { applyEffects, cookieLines, setCookieNames } from './apply.js';
import { replaceData, sessionView } from './view.js';
import type { KoaSession } from './view.js';

export type { KoaSession, SessionData, SessionMethods } from './view.js';
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

declare module 'koa' {
  interface ExtendableContext {
    /** The session. Assign `null` to destroy it, or an object to replace its data. */
    get session(): KoaSession;
    set session(value: KoaSession | Record<string, unknown> | null);
    /** The session id, once the session has one. */
    readonly sessionId: string | undefined;
  }
}

const context = createSessionContext<KoaSession>('@sess/koa');

/**
 * The current request's `ctx.session`, from any function the request calls, without passing
 * `ctx` down. Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export function getSession(): KoaSession {
  return context.get();
}

export interface SessionOptions {
  /** One secret or several (the first signs, all verify); each at least 32 bytes. */
  secret: string | readonly string[];
  /** Where sessions live. Default `memoryStore()` (one process, lost on restart). */
  store?: Store;
  /** Cookie name (koa-session's option). Default `'sid'`. */
  key?: string;
  /** Cookie name, as the other sess adapters call it. Give `key` or `name`, not both. */
  name?: string;
  /** Lifetime in ms, or `'session'` for a cookie that ends with the browser. Default 24 hours. */
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

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Defined<T>;
}

function managerOptions(options: SessionOptions): SessionManagerOptions {
  if (options.signed === false) {
    throw new SessConfigError('signed: false is not supported: sess cookies always carry an HMAC of the id; remove the option');
  }
  if (options.key !== undefined && options.name !== undefined && options.key !== options.name) {
    throw new SessConfigError(`key ${JSON.stringify(options.key)} and name ${JSON.stringify(options.name)} disagree: give one`);
  }
  const { maxAge } = options;
  if (maxAge !== undefined && maxAge !== 'session' && typeof maxAge !== 'number') {
    throw new SessConfigError(`maxAge must be a number of ms or 'session', got ${JSON.stringify(maxAge)}`);
  }
  const maxAgeMs = typeof maxAge === 'number' ? maxAge : undefined;
  // renew is "rolling, but only in the second half of the lifetime": a touch due after half of it.
  const renew = options.renew === true && options.rolling !== true;
  const sameSite = options.sameSite === true ? 'strict' : options.sameSite === false || options.sameSite === undefined ? 'lax' : options.sameSite;
  return {
    ...defined({
      name: options.key ?? options.name,
      maxAgeMs,
      generateId: options.genid,
      idleTimeoutMs: options.idleTimeoutMs,
      absoluteTimeoutMs: options.absoluteTimeoutMs,
      touchAfterMs: renew ? (options.touchAfterMs ?? (maxAgeMs ?? 86_400_000) / 2) : options.touchAfterMs,
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

/** A store failure becomes an HTTP error Koa's error handling understands (503 by default). */
/** One request's session, kept on `ctx` under a symbol. */
interface RequestState {
  readonly core: CoreSession;
  readonly view: KoaSession;
  /** A destroy started by `ctx.session = null`; the commit waits for it. */
  destroying: Promise<void> | undefined;
}

const STATE = Symbol('@sess/koa');

function stateOf(ctx: object): RequestState | undefined {
  return (ctx as Record<symbol, RequestState | undefined>)[STATE];
}

function requireState(ctx: object): RequestState {
  const state = stateOf(ctx);
  if (state === undefined) throw new SessUsageError('ctx.session is only there behind the session() middleware');
  return state;
}

/**
 * `ctx.session` and `ctx.sessionId` as accessors on the app's context prototype, once per app
 * (as koa-session does). Defining them on each `ctx` instead turns every context into a
 * dictionary-mode object, and all of Koa's own property reads slow down with it: measured at
 * ~25 us per request on Koa 3, more than the whole rest of the session.
 */
function installAccessors(proto: object): void {
  if (Object.hasOwn(proto, 'session')) return;
  Object.defineProperties(proto, {
    session: {
      get(this: object) {
        return requireState(this).view;
      },
      set(this: object, value: unknown) {
        const state = requireState(this);
        if (value === null) {
          state.destroying = state.core.destroy();
          state.destroying.catch(() => undefined);
        } else if (typeof value === 'object') replaceData(state.core, value as object);
        else throw new TypeError('ctx.session can only be set to null or an object');
      },
      configurable: true,
      enumerable: true,
    },
    sessionId: {
      get(this: object) {
        return requireState(this).core.id;
      },
      configurable: true,
      enumerable: true,
    },
  });
}

function toKoaError(ctx: Context, error: unknown): never {
  if (error instanceof SessError) ctx.throw(error.statusHint, error);
  throw error;
}

async function commit(ctx: Context, core: CoreSession, destroying: Promise<void> | undefined, name: string, status: number): Promise<void> {
  // A destroy started by `ctx.session = null` must have succeeded before any 2xx goes out. If it
  // failed, the lifecycle has still ended the session, so the commit deletes the cookie.
  const failedDestroy =
    destroying === undefined
      ? undefined
      : await destroying.then(
          () => undefined,
          (error: unknown) => ({ error }),
        );
  const effects = await core.commit({
    status: failedDestroy === undefined ? status : 503,
    cookieAlreadySet: setCookieNames(ctx).includes(name),
    cacheControlSet: Boolean(ctx.res.getHeader('cache-control')),
  });
  if (failedDestroy !== undefined) {
    // Koa's error handling removes every header set so far, then applies the error's own.
    const error = failedDestroy.error;
    ctx.throw(error instanceof SessError ? error.statusHint : 500, error as Error, { headers: { 'Set-Cookie': cookieLines(effects) } });
  }
  // An app that wrote to `ctx.res` itself (`ctx.respond = false`) has sent its headers: the
  // store is written, but Koa would throw on a header set now.
  if (!ctx.headerSent) applyEffects(ctx, effects);
}

/**
 * The session middleware. Validates `options` once (throwing `SessConfigError` for a short
 * secret, `signed: false` or bad numbers), then per request: verifies the cookie, loads the
 * record it names (one store read, none without a valid cookie), exposes `ctx.session`, and
 * commits after `await next()`, before Koa writes the response. A failed store call is thrown
 * as an HTTP error with status 503 (`SessStoreError` with `status` set), so Koa answers 503.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { session } from '@sess/koa';
 *
 * const app = new Koa();
 * app.use(session({ secret: process.env.SESSION_SECRET! }));
 * app.use((ctx) => {
 *   ctx.session.views = (ctx.session.views ?? 0) + 1;
 *   ctx.body = `views: ${ctx.session.views}`;
 * });
 * ```
 */
/** `session(...)`: the middleware, plus what WebSocket apps need (see README, "WebSockets"). */
export interface SessionMiddleware extends Middleware {
  /**
   * A route that exchanges a hand-off token (`?token=`) for the HttpOnly session cookie: 204
   * with Set-Cookie, or 400 for a token that is unknown, used or older than a minute.
   */
  readonly handoff: Middleware;
  /**
   * The session of a WebSocket, from its upgrade request (`secure` defaults to whether the
   * socket is TLS): `use(work)` persists changes with store effects only and returns a
   * `handoff` token when the browser needs a new cookie.
   */
  socket(req: IncomingMessage, secure?: boolean): SocketSession<KoaSession>;
}

export function session(options: SessionOptions): SessionMiddleware {
  const manager = createSessionManager(Object.freeze(managerOptions(options)));

  const handoff: Middleware = async (ctx) => {
    const effects = await manager.redeemHandoff(ctx.query.token).catch((error: unknown) => toKoaError(ctx, error));
    applyEffects(ctx, effects);
    ctx.status = effects.length === 0 ? 400 : 204;
  };

  const socket = (req: IncomingMessage, secure = (req.socket as Partial<TLSSocket>).encrypted === true): SocketSession<KoaSession> => {
    const core = manager.socket({ cookieHeader: req.headers.cookie, secure });
    return { use: (work) => core.use((session) => work(sessionView(session))) };
  };

  async function sessionMiddleware(ctx: Context, next: Next): Promise<void> {
    // Mounted twice (or a router re-entering): the first one owns the session.
    if (stateOf(ctx) !== undefined) return next();
    installAccessors(Object.getPrototypeOf(ctx) as object);
    const core = manager.begin({ cookieHeader: ctx.get('cookie') || undefined, secure: ctx.secure, readOnly: options.readOnly?.(ctx) ?? false });
    const view = sessionView(core);
    const state: RequestState = { core, view, destroying: undefined };
    (ctx as unknown as Record<symbol, RequestState>)[STATE] = state;

    try {
      await core.load();
    } catch (error) {
      toKoaError(ctx, error);
    }
    try {
      await (options.asyncContext === true ? context.run(view, next) : next());
    } catch (error) {
      // Koa answers a thrown error itself and drops every header set so far, so the session is
      // committed as the server error it becomes: nothing saved, no cookie to lose.
      await commit(ctx, core, state.destroying, manager.name, 500).catch(() => undefined);
      // A failed regenerate, destroy or reload reaches here as the store's error.
      toKoaError(ctx, error);
    }
    try {
      await commit(ctx, core, state.destroying, manager.name, ctx.status);
    } catch (error) {
      toKoaError(ctx, error);
    }
  }

  return Object.assign(sessionMiddleware, { handoff, socket });
}
