/**
 * @sess/h3/v1: the same sessions for h3 v1 (1.15.x, as Nuxt 3 and Nitro 2 run it). It imports
 * nothing from `h3` at runtime, so it works with whichever h3 v1 the app has, and commits by
 * holding the Node response's output until the store write is done (the kit's output hold): h3
 * v1's `onBeforeResponse` hook is app-wide and skipped for responses a handler sends itself
 * (`sendRedirect`, `send`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessConfigError, SessStoreError, SessUsageError } from '@sess/core';
import type { Session } from '@sess/core';
import { cancelUnread, commitNodeResponse, createOutputHold, failureError, handoffNode } from '@sess/core/adapter';
import { httpFailure, isSecureRequest, loadedSession } from '@sess/core/adapter';
import type { DeferredResponse, HoldHooks, SocketRoutes, UpgradeRequest } from '@sess/core/adapter';
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
  /** The web request `toWebHandler` serves, whose URL tells what a TLS socket would. */
  readonly web?: { readonly url?: URL };
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
  Object.defineProperty(V1View.prototype, name, {
    get(this: V1View) {
      // The kit's operation, bound once per session (`SessionObject`'s getter), as `super` would give it.
      const run = Reflect.get(H3View.prototype, name, this) as (...args: never[]) => Promise<void>;
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
  const what = failure === undefined ? 'held output failed after the handler returned:' : 'session commit failed:';
  console.error('[@sess/h3/v1]', what, error);
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
 * h3 v1's stand-in for Node's response (unenv's, marked `__unenv__`): `toWebHandler`,
 * `toPlainHandler` and Nitro 2's `localFetch` read it the moment the app's handler returns, so
 * nothing there can wait for a commit that output started (see `awaitSessions`).
 */
const isStandIn = (res: ServerResponse): boolean => '__unenv__' in res;

/** The commit of each request that `awaitSessions` serves on a stand-in, handed over by the middleware. */
const standIns = new WeakMap<H3V1Event, { response?: DeferredResponse }>();

const UNAWAITED =
  "this request is served without a Node server (toWebHandler, toPlainHandler, Nitro 2's localFetch), where h3 v1 reads the response before the session is saved: wrap the app once with awaitSessions(app) from @sess/h3/v1 (toWebHandler(awaitSessions(app)), or in a Nitro plugin awaitSessions(nitroApp.h3App))";

const refuseUnawaited = (): never => {
  throw new SessConfigError(UNAWAITED);
};

/** The status h3 v1 answers a thrown value with, as its `createError` reads it. */
function thrownStatus(thrown: unknown): number {
  const { statusCode, status } = (thrown ?? {}) as { statusCode?: unknown; status?: unknown };
  const code = Number.parseInt(String(statusCode || status), 10);
  return code >= 100 && code <= 999 ? code : 500;
}

/** A failed commit that no output started (a stream `sendStream` left on the stand-in): its body is dropped with it. */
function answerStandIn(res: ServerResponse, error: unknown): void {
  const stranded = res as { _data?: unknown };
  cancelUnread(stranded._data);
  stranded._data = undefined;
  answerFailure(res, error);
}

/** An h3 v1 app's options, where its `onError` is. */
interface AppOptions {
  onError?: unknown;
}
type OnError = (this: unknown, error: unknown, event: H3V1Event) => unknown;

/** The app's `onError`s, as `awaitSessions` wraps them (see `answeredBy`). */
const answering = new WeakSet<object>();

/**
 * The app's `onError`, made to wait for the session's commit on a stand-in. h3 calls it once the
 * app's handler has rejected, then answers the error itself unless onError did, and reads the
 * answer at once. The session commits for the answer that goes out, as on a Node server: one
 * onError wrote started the commit (waited for here), else h3's answer of the error's status
 * follows, committed for here first. A failed commit answers 503, which h3 then finds answered.
 */
function answeredBy(onError: OnError): OnError {
  const wrapped = async function onErrorAwaitingSessions(this: unknown, error: unknown, event: H3V1Event): Promise<void> {
    await onError.call(this, error, event);
    const response = standIns.get(event)?.response;
    if (response === undefined) return;
    const { res } = event.node;
    const answered = event._handled === true || res.writableEnded || res.headersSent;
    await response.settle(answered ? res.statusCode : thrownStatus(error)).catch((failure) => answerStandIn(res, failure));
  };
  answering.add(wrapped);
  return wrapped;
}

/** `handler` for one request on a stand-in: done once the session's commit is, and h3 finds its answer complete. */
async function committed(handler: (event: H3V1Event) => unknown, event: H3V1Event, options: AppOptions | undefined): Promise<void> {
  const slot: { response?: DeferredResponse } = {};
  standIns.set(event, slot);
  try {
    await handler(event);
  } catch (error) {
    // The app's onError (Nitro always has one) may answer with another status: its wrapper commits.
    if (answering.has(options?.onError as object)) throw error;
    // h3 answers the error once this rejects: the session commits for that answer's status first.
    await slot.response?.settle(thrownStatus(error)).catch((failure) => Promise.reject(toH3Error(failure)));
    throw error;
  }
  // Output started the commit (waited for here), or none came (a stream handed over as it is): commit now.
  await slot.response?.settle(event.node.res.statusCode).catch((failure) => answerStandIn(event.node.res, failure));
}

const awaiting = new WeakSet<object>();

/**
 * Makes an h3 v1 app usable with sessions without a Node server: `toWebHandler`, `toPlainHandler`
 * and Nitro 2's `localFetch` (its internal `$fetch` and edge presets) build the answer from h3's
 * stand-in for Node's response as soon as the app's handler returns, before a store that answers
 * later has saved the session. The app's handler then waits for the commit, so the answer carries
 * the cookie, leaves after the write, and a failed write answers 503. Changes `app` in place (a
 * Nitro plugin gets the app, not its handler) and returns it; requests on a Node server pass
 * straight through. Without it the middleware refuses such requests with a `SessConfigError`.
 *
 * @example
 * ```ts
 * const handler = toWebHandler(awaitSessions(app));
 * // Nitro 2 / Nuxt 3: server/plugins/sessions.ts
 * export default defineNitroPlugin((nitroApp) => void awaitSessions(nitroApp.h3App));
 * ```
 */
export function awaitSessions<App extends { handler: (event: never) => unknown }>(app: App): App {
  const handler = app.handler as unknown as (event: H3V1Event) => unknown;
  if (awaiting.has(handler)) return app;
  const { options } = app as { options?: AppOptions };
  // h3 reads the app's onError when it calls it: wrapped once, here (a frozen options object keeps its own).
  if (typeof options?.onError === 'function') Reflect.set(options, 'onError', answeredBy(options.onError as OnError));
  const awaited = (event: H3V1Event) => (isStandIn(event.node.res) ? committed(handler, event, options) : handler(event));
  awaiting.add(awaited);
  // Keeps what h3 hangs on its app handler (`__is_handler__`, `__resolve__`).
  app.handler = Object.assign(awaited, handler) as unknown as App['handler'];
  return app;
}

/** One response's commit, for the output hold: a class, so a request allocates no closures for it. */
class Commit implements HoldHooks {
  constructor(
    private readonly event: H3V1Event,
    private readonly core: Session,
    private readonly view: H3Session,
    private readonly name: string,
  ) {}
  commit(status: number): Promise<void> | undefined {
    const { event, core } = this;
    // Saving the session the app let go of (`event.context.session = {}`) would keep a user it
    // meant to sign out signed in: the usage error is answered and logged as a failed commit is.
    if (event.context.session !== this.view) return Promise.reject(new SessUsageError(REPLACED));
    return commitNodeResponse(event.node.res, core, status, this.name);
  }
  fail(error: unknown): void {
    answerFailure(this.event.node.res, error);
  }
  /**
   * h3 v1's own flag for "the response is taken care of" (its sendStream sets it too); without
   * it, h3 would run the next handlers and answer 404 behind the held response.
   */
  onHold(): void {
    this.event._handled = true;
  }
  onDropped(error: Error, res: ServerResponse): void {
    stopWebStream(error, res);
  }
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
    // Refused before any store call: h3 would read a stand-in before the session's commit is done.
    const standIn = isStandIn(res) ? (standIns.get(event) ?? refuseUnawaited()) : undefined;
    const secure = isSecureRequest(req, proxy) || event.web?.url?.protocol === 'https:';
    const core = manager.begin({ cookieHeader: req.headers.cookie, secure, readOnly: readOnly?.(event) ?? false });
    // Lazy (design §2.2): the record is read by the first `useSession`.
    const view = (event.context.session = new V1View(core) as H3Session);
    const response = output.hold(res, new Commit(event, core, view, manager.name));
    if (standIn !== undefined) standIn.response = response;
  };
  return Object.assign(asHandler(handler), { handoff: asHandler(handoff), socket });
}

/**
 * The request's session, loaded, as h3's `useSession` returns one (the `session()` middleware
 * must run first). A failed store read rejects with a 503 error h3 v1 understands.
 */
export const useSession = (event: Pick<H3V1Event, 'context'>) => loadedSession(event.context.session, MISSING, storeError);
