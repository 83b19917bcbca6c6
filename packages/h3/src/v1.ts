/**
 * @sess/h3/v1: the same sessions for h3 v1 (1.15.x, as Nuxt 3 and Nitro 2 run it). It imports
 * nothing from `h3` at runtime, so it works with whichever h3 v1 the app has, and commits by
 * holding the Node response until the store write is done (see `hold.ts`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SessConfigError, SessError } from '@sess/core';
import type { SocketSession } from '@sess/core';
import { applyEffects } from './apply.js';
import type { HeaderTarget } from './apply.js';
import { commitBeforeHeaders } from './hold.js';
import { configure, cookieNames, sessionOf, socketSessions } from './options.js';
import type { SessionOptions, UpgradeRequest } from './options.js';
import { sessionView } from './view.js';
import type { SessionUpdate as Update, SessionView } from './view.js';

export type { SessionOptions, UpgradeRequest } from './options.js';
export type { SessionCookieOptions } from '@sess/core';

/** Declare your session's shape by merging into this interface: `declare module '@sess/h3/v1' { interface SessionData { user?: string } }`. */
export interface SessionData {}
/** The session of one request: h3's `{ id, data, update, clear }` plus the sess operations. */
export type H3Session = SessionView<SessionData>;
export type SessionUpdate = Update<SessionData>;
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

/** The part of an h3 v1 `H3Event` the adapter uses. */
export interface H3V1Event {
  readonly node: { readonly req: IncomingMessage; readonly res: ServerResponse };
  readonly context: { [key: string]: unknown; session?: H3Session };
  _handled?: boolean;
}

/** An h3 v1 event handler (`defineEventHandler` marks handlers the same way). */
export interface H3V1Handler {
  (event: H3V1Event): Promise<void>;
  readonly __is_handler__: true;
}

/** `session(...)`: the middleware, plus what WebSocket apps need (see README, "WebSockets"). */
export interface SessionHandler extends H3V1Handler {
  /**
   * A handler that exchanges a hand-off token (`?token=`) for the HttpOnly session cookie: 204
   * with Set-Cookie, or 400 for a token that is unknown, used or older than a minute.
   */
  readonly handoff: H3V1Handler;
  /** The session of a WebSocket, from its upgrade request (crossws's `peer.request`). */
  socket(request: UpgradeRequest): SocketSession<H3Session['data']>;
}

const asHandler = (handler: (event: H3V1Event) => Promise<void>): H3V1Handler => Object.assign(handler, { __is_handler__: true as const });

function isSecure(req: IncomingMessage, proxy: boolean): boolean {
  const encrypted = (req.socket as Partial<TLSSocket>).encrypted === true;
  if (!proxy) return encrypted;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return first === undefined ? encrypted : first === 'https';
}

function headerLines(value: number | string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [String(value)];
}

function nodeHeaders(res: ServerResponse): HeaderTarget {
  return {
    append: (name, value) => res.appendHeader(name, value),
    set: (name, value) => res.setHeader(name, value),
    get: (name) => headerLines(res.getHeader(name)).join(', ') || null,
  };
}

/** A store failure as h3 v1 reads errors (`statusCode`), 503 by default; the cause keeps the details. */
function toH3Error(error: unknown): Error {
  if (!(error instanceof SessError)) return error as Error;
  return Object.assign(new Error('Session store unavailable', { cause: error }), {
    statusCode: error.statusHint,
    statusMessage: 'Service Unavailable',
  });
}

/**
 * Once h3 has finished the handler it can't answer with an error any more, so a commit failure
 * is answered here, in h3 v1's JSON error shape, with every header the handler set dropped. Any
 * other error (held output that a wrapper of the response's methods refused when replayed) is
 * logged, as h3 logs errors it didn't expect, since no app hook can see it now, and answers 500,
 * or ends the connection if the headers already went out.
 */
function answerFailure(res: ServerResponse, error: unknown, end: () => void): void {
  const storeDown = error instanceof SessError;
  if (!storeDown) console.error('[@sess/h3/v1]', 'held output failed after the handler returned:', error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const [statusCode, statusMessage, message] = storeDown
    ? [error.statusHint, 'Service Unavailable', 'Session store unavailable']
    : [500, 'Internal Server Error', 'Internal Server Error'];
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = statusCode;
  res.statusMessage = statusMessage;
  res.setHeader('content-type', 'application/json');
  res.write(JSON.stringify({ statusCode, statusMessage, message }));
  end();
}

/**
 * The session middleware for h3 v1: `app.use(session({ ... }))`. Same options and behaviour as
 * the v2 entry; the commit happens when the response's headers are about to leave, whichever
 * way the handler answers (a returned value, `send`, `sendRedirect`, ...).
 *
 * @example
 * ```ts
 * import { createApp, eventHandler } from 'h3';
 * import { session, useSession } from '@sess/h3/v1';
 *
 * const app = createApp();
 * app.use(session({ secret: process.env.SESSION_SECRET! }));
 * app.use('/', eventHandler(async (event) => {
 *   const s = await useSession(event);
 *   s.data.views = (s.data.views ?? 0) + 1;
 *   return `views: ${s.data.views}`;
 * }));
 * ```
 */
export function session(options: SessionOptions<H3V1Event>): SessionHandler {
  const configured = configure(options, 'session() of @sess/h3/v1');
  // h3 v1 runs middleware one after another, not nested, so no async context can span the handler.
  if (configured.asyncContext) throw new SessConfigError('asyncContext needs h3 v2 (@sess/h3); h3 v1 runs handlers outside the middleware');
  const { manager, proxy, readOnly } = configured;

  const handoff = async (event: H3V1Event): Promise<void> => {
    const { req, res } = event.node;
    const token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
    const effects = await manager.redeemHandoff(token).catch((error: unknown) => {
      throw toH3Error(error);
    });
    applyEffects(nodeHeaders(res), effects);
    res.statusCode = effects.length === 0 ? 400 : 204;
    res.end();
  };

  const handler = async (event: H3V1Event): Promise<void> => {
    // Mounted twice: the first one owns the session.
    if (event.context.session !== undefined) return;
    const { req, res } = event.node;
    const core = manager.begin({ cookieHeader: req.headers.cookie, secure: isSecure(req, proxy), readOnly: readOnly?.(event) ?? false });
    // Lazy (design §2.2): the record is read by the first `useSession`.
    event.context.session = sessionView(core) as H3Session;
    commitBeforeHeaders(
      res,
      async (status) => {
        const effects = await core.commit({
          status,
          cookieAlreadySet: cookieNames(headerLines(res.getHeader('set-cookie'))).includes(manager.name),
          cacheControlSet: res.hasHeader('cache-control'),
        });
        applyEffects(nodeHeaders(res), effects);
      },
      (error, end) => answerFailure(res, error, end),
      // h3 v1's own flag for "the response is taken care of" (its sendStream sets it too);
      // without it, h3 would run the next handlers and answer 404 behind the held response.
      () => (event._handled = true),
    );
  };
  return Object.assign(asHandler(handler), { handoff: asHandler(handoff), socket: socketSessions<SessionData>(configured) });
}

/**
 * The request's session, loaded, as h3's `useSession` returns one (the `session()` middleware
 * must run first). A failed store read rejects with a 503 error h3 v1 understands.
 */
export async function useSession(event: Pick<H3V1Event, 'context'>): Promise<H3Session> {
  const found = sessionOf(event.context);
  await found.load().catch((error: unknown) => {
    throw toH3Error(error);
  });
  return found;
}
