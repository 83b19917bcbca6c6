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
import { SessError, SessUsageError, createSessionContext, createSessionManager } from '@sess/core';
import type { Session as CoreSession, SocketSession } from '@sess/core';
import { applyEffects, cookieLines, holdOutput, setCookieNames } from './apply.js';
import { DEFAULT_MAX_AGE_MS, checkOptions, managerOptions } from './options.js';
import type { SessionOptions } from './options.js';
import { replaceData, sessionView } from './view.js';
import type { KoaSession } from './view.js';

export type { KoaSession, SessionData, SessionMethods } from './view.js';
export type { SessionOptions } from './options.js';
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

const context = createSessionContext<RequestState>('@sess/koa');

/**
 * The current request's `ctx.session`, from any function the request calls, without passing
 * `ctx` down. Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export function getSession(): KoaSession {
  const state = context.get();
  state.used = true;
  return state.view;
}

/** One request's session, kept on `ctx` under a symbol. */
interface RequestState {
  readonly core: CoreSession;
  readonly view: KoaSession;
  /** Pins the view's data for reads after the commit. */
  readonly closeView: () => void;
  /** The cookie's name. */
  readonly name: string;
  /** The app got hold of the session (`ctx.session`, `getSession()`) or replaced it. */
  used: boolean;
  /** A destroy started by `ctx.session = null`; the commit waits for it. */
  destroying: Promise<void> | undefined;
  /** The commit, once started (by the middleware, or by a raw response's first output). */
  committed: Promise<void> | undefined;
  /** With `ctx.respond = false`: commits before `ctx.res`'s headers leave (see `holdOutput`). */
  settle: ((status: number) => Promise<void>) | undefined;
}

const STATE = Symbol('@sess/koa');
const RESPOND = Symbol('@sess/koa respond');

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
 *
 * `ctx.respond` too: setting it to `false` is how an app says it will write to `ctx.res` itself,
 * possibly before `await next()` returns, so that is when the response's output gets held.
 */
function installAccessors(proto: object): void {
  if (Object.hasOwn(proto, 'session')) return;
  Object.defineProperties(proto, {
    session: {
      get(this: object) {
        const state = requireState(this);
        state.used = true;
        return state.view;
      },
      set(this: object, value: unknown) {
        const state = requireState(this);
        state.used = true;
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
  if ('respond' in proto) return;
  Object.defineProperty(proto, 'respond', {
    get(this: Record<symbol, unknown>) {
      return this[RESPOND];
    },
    set(this: Context & Record<symbol, unknown>, value: unknown) {
      this[RESPOND] = value;
      const state = stateOf(this);
      if (value === false && state !== undefined) holdRawResponse(this, state);
    },
    configurable: true,
  });
}

/** A store failure becomes an HTTP error Koa's error handling understands (503 by default). */
function toKoaError(ctx: Context, error: unknown): never {
  if (error instanceof SessError) ctx.throw(error.statusHint, error);
  throw error;
}

/** Answers `error` as Koa would, for a commit that failed while `ctx.respond` was `false`. */
function answerError(ctx: Context, error: unknown): void {
  try {
    toKoaError(ctx, error);
  } catch (httpError) {
    ctx.onerror(httpError as Error);
  }
}

function holdRawResponse(ctx: Context, state: RequestState): void {
  if (state.settle !== undefined || state.committed !== undefined || ctx.headerSent) return;
  state.settle = holdOutput(
    ctx.res,
    (status) => commitOnce(ctx, state, status),
    (error) => answerError(ctx, error),
  );
}

function commitOnce(ctx: Context, state: RequestState, status: number): Promise<void> {
  return (state.committed ??= commit(ctx, state, status));
}

async function commit(ctx: Context, state: RequestState, status: number): Promise<void> {
  const { core, destroying } = state;
  // A destroy started by `ctx.session = null` must have succeeded before any 2xx goes out. If it
  // failed, the lifecycle has still ended the session, so the commit deletes the cookie.
  const failedDestroy =
    destroying === undefined
      ? undefined
      : await destroying.then(
          () => undefined,
          (error: unknown) => ({ error }),
        );
  if (state.used) state.closeView();
  if (ctx.headerSent) {
    // The app wrote to `ctx.res` without `ctx.respond = false`, and the headers left without the
    // cookie: save nothing (as for a server error) rather than records no cookie names.
    await core.commit({ status: 500 });
    if (failedDestroy !== undefined) throw failedDestroy.error;
    if (state.used) {
      throw new SessUsageError(
        'the response was written to ctx.res before the session was committed, so the session was not saved: set ctx.respond = false before writing to ctx.res',
      );
    }
    return;
  }
  const effects = await core.commit({
    status: failedDestroy === undefined ? status : 503,
    cookieAlreadySet: setCookieNames(ctx).includes(state.name),
    cacheControlSet: Boolean(ctx.res.getHeader('cache-control')),
  });
  if (failedDestroy !== undefined) {
    // Koa's error handling removes every header set so far, then applies the error's own.
    const error = failedDestroy.error;
    ctx.throw(error instanceof SessError ? error.statusHint : 500, error as Error, { headers: { 'Set-Cookie': cookieLines(effects) } });
  }
  applyEffects(ctx, effects);
}

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

/**
 * The session middleware. Validates `options` once (throwing `SessConfigError` for an unknown
 * or unsupported option, a short secret, a bad value or a store that is not a sess store), then
 * per request: verifies the cookie, loads the record it names (one store read, none without a
 * valid cookie), exposes `ctx.session`, and commits after `await next()`, before Koa writes the
 * response (with `ctx.respond = false`, before the app's own output leaves). A failed store call
 * is thrown as an HTTP error with status 503 (`SessStoreError` with `status` set), so Koa answers 503.
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
export function session(options: SessionOptions): SessionMiddleware {
  checkOptions(options);
  const manager = createSessionManager(Object.freeze(managerOptions(options)));
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE_MS;

  const handoff: Middleware = async (ctx) => {
    const effects = await manager.redeemHandoff(ctx.query.token).catch((error: unknown) => toKoaError(ctx, error));
    applyEffects(ctx, effects);
    ctx.status = effects.length === 0 ? 400 : 204;
  };

  const socket = (req: IncomingMessage, secure = (req.socket as Partial<TLSSocket>).encrypted === true): SocketSession<KoaSession> => {
    const core = manager.socket({ cookieHeader: req.headers.cookie, secure });
    return { use: (work) => core.use((session) => work(sessionView(session, maxAge).view)) };
  };

  async function sessionMiddleware(ctx: Context, next: Next): Promise<void> {
    // Mounted twice (or a router re-entering): the first one owns the session.
    if (stateOf(ctx) !== undefined) return next();
    installAccessors(Object.getPrototypeOf(ctx) as object);
    const core = manager.begin({
      cookieHeader: ctx.get('cookie') || undefined,
      secure: ctx.secure,
      readOnly: options.readOnly?.(ctx) ?? false,
    });
    const { view, close } = sessionView(core, maxAge);
    const state: RequestState = {
      core,
      view,
      closeView: close,
      name: manager.name,
      used: false,
      destroying: undefined,
      committed: undefined,
      settle: undefined,
    };
    (ctx as unknown as Record<symbol, RequestState>)[STATE] = state;
    // An earlier middleware may have bypassed Koa already.
    if (ctx.respond === false) holdRawResponse(ctx, state);

    try {
      await core.load();
    } catch (error) {
      toKoaError(ctx, error);
    }
    const finish = (status: number) => state.settle?.(status) ?? commitOnce(ctx, state, status);
    try {
      await (options.asyncContext === true ? context.run(state, next) : next());
    } catch (error) {
      // Koa answers a thrown error itself and drops every header set so far, so the session is
      // committed as the server error it becomes: nothing saved, no cookie to lose.
      await finish(500).catch(() => undefined);
      // A failed regenerate, destroy or reload reaches here as the store's error.
      toKoaError(ctx, error);
    }
    try {
      await finish(ctx.status);
    } catch (error) {
      toKoaError(ctx, error);
    }
  }

  return Object.assign(sessionMiddleware, { handoff, socket });
}
