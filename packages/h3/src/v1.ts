/**
 * @sess/h3/v1: the same sessions for h3 v1 (1.15.x, as Nuxt 3 and Nitro 2 run it). It imports
 * nothing from `h3` at runtime, so it works with whichever h3 v1 the app has, and commits by
 * holding the Node response's output until the store write is done (the kit's output hold): h3
 * v1's `onBeforeResponse` hook is app-wide and skipped for responses a handler sends itself
 * (`sendRedirect`, `send`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessConfigError, SessStoreError, SessUsageError } from '@sess/core';
import {
  commitNodeResponse,
  createOutputHold,
  failureError,
  handoffNode,
  httpFailure,
  isSecureRequest,
  loadedSession,
  SessionObject,
} from '@sess/core/adapter';
import type { SocketRoutes, UpgradeRequest } from '@sess/core/adapter';
import { H3View, MISSING, REPLACED, configure } from './shared.js';
import type { SessionOptions, SessionUpdate as Update, SessionView } from './shared.js';

export type { SessionOptions } from './shared.js';
export type { SessionCookieOptions, SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export type { UpgradeRequest } from '@sess/core/adapter';
export { memoryStore } from '@sess/store-memory';

/** Declare your session's shape by merging into this interface: `declare module '@sess/h3/v1' { interface SessionData { user?: string } }`. */
export interface SessionData {}
/** The session of one request: h3's `{ id, data, update, clear }` plus the sess operations. */
export type H3Session = SessionView<SessionData>;
export type SessionUpdate = Update<SessionData>;

/** The part of an h3 v1 `H3Event` the adapter uses. */
export interface H3V1Event {
  readonly node: { readonly req: IncomingMessage; readonly res: ServerResponse };
  readonly context: { [key: string]: unknown; session?: H3Session };
  _handled?: boolean;
}

/** An h3 v1 event handler (`defineEventHandler` marks handlers the same way). */
export type H3V1Handler = ((event: H3V1Event) => Promise<void>) & { readonly __is_handler__: true };

/** `session(...)`: the middleware, plus what WebSocket apps need (`socket` takes crossws's `peer.request`). */
export interface SessionHandler extends H3V1Handler, SocketRoutes<H3V1Handler, [request: UpgradeRequest], H3Session['data']> {}

const asHandler = (handler: (event: H3V1Event) => Promise<void>): H3V1Handler => Object.assign(handler, { __is_handler__: true as const });

/** A store failure as h3 v1 reads errors (`statusCode`), 503 by default; the cause keeps the details. */
const toH3Error = (error: unknown): unknown => failureError(error) ?? error;
/**
 * What the session's own store work rejects with in a handler: a store failure as `toH3Error`
 * makes it (h3 v2's middleware maps it instead; h3 v1 runs handlers outside it), and the app's
 * misuse (a `SessUsageError`, such as a load after the response went out) as it is, its message kept.
 */
const storeError = (error: unknown): unknown => (error instanceof SessStoreError ? toH3Error(error) : error);
const rejectStore = (error: unknown): Promise<never> => Promise.reject(storeError(error));

/** The session of an h3 v1 request: `regenerate`, `destroy` and `reload` reject with `storeError`. */
class V1View extends H3View {}
for (const name of ['regenerate', 'destroy', 'reload'] as const) {
  const operation = Object.getOwnPropertyDescriptor(SessionObject.prototype, name)?.get as (
    this: H3View,
  ) => (...args: never[]) => Promise<void>;
  Object.defineProperty(V1View.prototype, name, {
    get(this: V1View) {
      const run = operation.call(this);
      return (...args: never[]) => run(...args).catch(rejectStore);
    },
    configurable: true,
  });
}

/**
 * Once h3 has finished the handler it can't answer with an error any more, so a commit failure
 * is answered here, in h3 v1's JSON error shape, with every header the handler set dropped. No
 * app hook can see the failure now (h3 v1 gives middleware no way to reach the app's `onError`),
 * so it is logged, as h3 logs errors it didn't make; `onEvent` hears of a store's failure too.
 * Any other error (held output that a wrapper of the response's methods refused when replayed)
 * answers 500 (past the headers, the kit ends the connection).
 */
function answerFailure(res: ServerResponse, error: unknown): void {
  const failure = httpFailure(error);
  console.error(
    '[@sess/h3/v1]',
    failure === undefined ? 'held output failed after the handler returned:' : 'session commit failed:',
    error,
  );
  if (res.headersSent) return;
  const { status, statusText, message } = failure ?? INTERNAL;
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  Object.assign(res, { statusCode: status, statusMessage: statusText }).setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ statusCode: status, statusMessage: statusText, message }));
}

const INTERNAL = { status: 500, statusText: 'Internal Server Error', message: 'Internal Server Error' };

/**
 * Output after a failed commit's error answer: `sendStream` pipes a web stream (kept on the
 * response as `_data`) into a sink that ignores what `write` returns and its callback, so only a
 * throw stops the pipe and cancels the stream; an endless one (an event stream) would otherwise be
 * pulled forever into nothing. The error then rejects `sendStream`, which h3 finds answered. A
 * Node stream's pipe() is left to the response's 'close', since a throw there would be uncaught.
 */
function stopWebStream(error: Error, res: ServerResponse): void {
  const body = (res as { _data?: unknown })._data;
  if (body instanceof ReadableStream && body.locked) throw error;
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
  const { manager, proxy, readOnly, asyncContext, socket } = configure(options, 'session() of @sess/h3/v1');
  // h3 v1 runs middleware one after another, not nested, so no async context can span the handler.
  if (asyncContext) throw new SessConfigError('asyncContext needs h3 v2 (@sess/h3); h3 v1 runs handlers outside the middleware');
  const output = createOutputHold();

  const handoff = ({ node }: H3V1Event) => handoffNode(manager, node.req, node.res).catch((error) => Promise.reject(toH3Error(error)));

  const handler = async (event: H3V1Event): Promise<void> => {
    // Mounted twice: the first one owns the session.
    if (event.context.session !== undefined) return;
    const { req, res } = event.node;
    const secure = isSecureRequest(req, proxy);
    const core = manager.begin({ cookieHeader: req.headers.cookie, secure, readOnly: readOnly?.(event) ?? false });
    // Lazy (design §2.2): the record is read by the first `useSession`.
    const view = (event.context.session = new V1View(core) as H3Session);
    output.hold(res, {
      // Saving the session the app let go of (`event.context.session = {}`) would keep a user it
      // meant to sign out signed in: the usage error is answered and logged as a failed commit is.
      commit: (status) =>
        event.context.session === view ? commitNodeResponse(res, core, status, manager.name) : Promise.reject(new SessUsageError(REPLACED)),
      fail: (error) => answerFailure(res, error),
      // h3 v1's own flag for "the response is taken care of" (its sendStream sets it too);
      // without it, h3 would run the next handlers and answer 404 behind the held response.
      onHold: () => void (event._handled = true),
      onDropped: stopWebStream,
    });
  };
  return Object.assign(asHandler(handler), { handoff: asHandler(handoff), socket });
}

/**
 * The request's session, loaded, as h3's `useSession` returns one (the `session()` middleware
 * must run first). A failed store read rejects with a 503 error h3 v1 understands.
 */
export const useSession = (event: Pick<H3V1Event, 'context'>) => loadedSession(event.context.session, MISSING, storeError);
