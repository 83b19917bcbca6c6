/**
 * @sess/h3: server-side sessions for h3 v2 on the sess core (h3 v1, as Nuxt and Nitro run it:
 * `@sess/h3/v1`). The cookie carries a signed id, the data lives in the store: no sealing and
 * no PBKDF2 per request.
 *
 * The adapter only translates: it reads the request's facts, wraps `next()` so it commits once
 * the response is known and before it leaves, and applies the effects the core returns.
 */
import { HTTPError, getRequestProtocol, toResponse } from 'h3';
import type { H3Config, H3Event, Middleware } from 'h3';
import { SessError, createSessionContext } from '@sess/core';
import type { HttpEffect, Session as CoreSession, SocketSession } from '@sess/core';
import { applyEffects } from './apply.js';
import { configure, cookieNames, sessionOf, socketSessions } from './options.js';
import type { SessionOptions, UpgradeRequest } from './options.js';
import { sessionView } from './view.js';
import type { SessionUpdate as Update, SessionView } from './view.js';

export type { SessionOptions, UpgradeRequest } from './options.js';
export type { SessionCookieOptions } from '@sess/core';

/** Declare your session's shape by merging into this interface: `declare module '@sess/h3' { interface SessionData { user?: string } }`. */
export interface SessionData {}
/** The session of one request: h3's `{ id, data, update, clear }` plus the sess operations. */
export type H3Session = SessionView<SessionData>;
export type SessionUpdate = Update<SessionData>;
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

declare module 'h3' {
  interface H3EventContext {
    /** Set by the `session()` middleware; read it with `useSession(event)`. */
    session?: H3Session;
  }
}

/** A store failure as the HTTP error h3 answers with (503 by default); the cause keeps the details. */
function asHttpError(error: unknown): unknown {
  if (!(error instanceof SessError)) return error;
  return new HTTPError({ status: error.statusHint, statusText: 'Service Unavailable', message: 'Session store unavailable', cause: error });
}

function toHttpError(error: unknown): never {
  throw asHttpError(error);
}

/** What a route handler returns when no route matched; h3 answers it with a 404. */
const NOT_FOUND = Symbol.for('h3.notFound');

/** The status h3 will answer a thrown value with: an error's own (`status`, `statusCode`, or its cause's), else 500. */
function statusOf(error: unknown): number {
  if (error === NOT_FOUND) return 404;
  return error instanceof Error ? new HTTPError(error).status : 500;
}

/**
 * h3's conversion of a handler's value, made to report the error it meets (a value it can't
 * serialize) instead of answering it: the middleware rethrows it to the app's own error handling.
 */
const unsendable = new WeakMap<H3Event, HTTPError>();
const CONVERT: H3Config = Object.freeze({ silent: true, onError: (error: HTTPError, event: H3Event) => void unsendable.set(event, error) });

function commit(core: CoreSession, name: string, status: number, headers: Headers): Promise<readonly HttpEffect[]> {
  return core
    .commit({ status, cookieAlreadySet: cookieNames(headers.getSetCookie()).includes(name), cacheControlSet: headers.has('cache-control') })
    .catch(toHttpError);
}

/**
 * The handler's response with the session's headers, set in place; a response whose headers
 * are immutable (from `fetch` or `Response.redirect`) is copied instead.
 */
function withEffects(response: Response, effects: readonly HttpEffect[]): Response {
  try {
    applyEffects(response.headers, effects);
    return response;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  const headers = new Headers(response.headers);
  applyEffects(headers, effects);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The session middleware for h3 v2. Validates `options` once (throwing `SessConfigError` for a
 * short secret or bad numbers), then per request: verifies the cookie and puts the session on
 * `event.context`; the first `useSession(event)` loads the record the cookie names (one store
 * read, none without a valid cookie or without a `useSession`). It commits once the handler's response is known: a failed store write becomes an `HTTPError`
 * (503), never a 2xx. A thrown error commits as the status h3 will answer with, and the
 * session's headers travel on `event.res.errHeaders`.
 *
 * @example
 * ```ts
 * import { H3 } from 'h3';
 * import { session, useSession } from '@sess/h3';
 *
 * const app = new H3();
 * app.use(session({ secret: process.env.SESSION_SECRET! }));
 * app.get('/', async (event) => {
 *   const s = await useSession(event);
 *   s.data.views = (s.data.views ?? 0) + 1;
 *   return `views: ${s.data.views}`;
 * });
 * ```
 */
const context = createSessionContext<H3Session>('@sess/h3');

/**
 * The current request's session, from any function the request calls, without passing the
 * event down (it is not loaded yet: `await getSession().load()` before the first read).
 * Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export function getSession(): H3Session {
  return context.get();
}

/** `session(...)`: the middleware, plus what WebSocket apps need (see README, "WebSockets"). */
export interface SessionMiddleware extends Middleware {
  /**
   * A handler that exchanges a hand-off token (`?token=`) for the HttpOnly session cookie: 204
   * with Set-Cookie, or 400 for a token that is unknown, used or older than a minute.
   */
  readonly handoff: (event: H3Event) => Promise<Response>;
  /**
   * The session of a WebSocket, from its upgrade request (crossws hands it to the `upgrade` hook
   * and as `peer.request`): `use(work)` persists changes with store effects only and returns a
   * `handoff` token when the browser needs a new cookie.
   */
  socket(request: UpgradeRequest): SocketSession<H3Session['data']>;
}

export function session(options: SessionOptions<H3Event>): SessionMiddleware {
  const configured = configure(options, 'session() of @sess/h3');
  const { manager, proxy, readOnly, asyncContext } = configured;

  const handoff = async (event: H3Event): Promise<Response> => {
    const effects = await manager.redeemHandoff(event.url.searchParams.get('token')).catch(toHttpError);
    const headers = new Headers();
    applyEffects(headers, effects);
    return new Response(null, { status: effects.length === 0 ? 400 : 204, headers });
  };

  const sessionMiddleware: Middleware = async function sessionMiddleware(event, next) {
    // Mounted twice: the first one owns the session.
    if (event.context.session !== undefined) return next();
    const secure = getRequestProtocol(event, { xForwardedProto: proxy }) === 'https';
    const core = manager.begin({
      cookieHeader: event.req.headers.get('cookie') ?? undefined,
      secure,
      readOnly: readOnly?.(event) ?? false,
    });
    // Lazy (design §2.2): the record is read by the first `useSession`, so a route that never
    // asks for the session costs no store call.
    const view = sessionView(core) as H3Session;
    event.context.session = view;
    let response: Response;
    try {
      const value = await (asyncContext ? context.run(view, next) : next());
      // h3 answers a returned Error, or no route, as a thrown one. Thrown from here, they reach
      // the app's error handling (`onError`, `silent`, `debug`) as they do without sess.
      if (value instanceof Error || value === NOT_FOUND) throw value;
      response = await toResponse(value, event, CONVERT);
      const refused = unsendable.get(event);
      if (refused !== undefined) throw refused;
    } catch (thrown) {
      // A failed regenerate, destroy or reload reaches here as the store's error.
      const error = asHttpError(thrown);
      applyEffects(event.res.errHeaders, await commit(core, manager.name, statusOf(error), event.res.errHeaders));
      throw error;
    }
    return withEffects(response, await commit(core, manager.name, response.status, response.headers));
  };

  return Object.assign(sessionMiddleware, { handoff, socket: socketSessions<SessionData>(configured) });
}

/**
 * The request's session, loaded, as h3's `useSession` returns one (the `session()` middleware
 * must run first). A failed store read rejects; the middleware turns it into a 503.
 */
export async function useSession(event: H3Event): Promise<H3Session> {
  const found = sessionOf(event.context);
  await found.load();
  return found;
}
