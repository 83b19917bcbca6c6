/**
 * @sess/h3: server-side sessions for h3 v2 on the sess core (h3 v1, as Nuxt and Nitro run it:
 * `@sess/h3/v1`). The cookie carries a signed id, the data lives in the store: no sealing and
 * no PBKDF2 per request.
 *
 * The adapter only translates: it reads the request's facts, wraps `next()` so it commits once
 * the response is known and before it leaves, and applies the effects the core returns.
 */
import { ServerResponse } from 'node:http';
import { HTTPError, toResponse } from 'h3';
import type { H3Config, H3Event, Middleware } from 'h3';
import { SessStoreError, SessUsageError } from '@sess/core';
import type { HttpEffect, Session } from '@sess/core';
import { applyEffects, commitFetch, commitNodeResponse, createOutputHold, createSessionContext, failureError } from '@sess/core/adapter';
import { dropBody, handoffResponse, heedStreamErrors, isSecure, loadedSession, withHeaders } from '@sess/core/adapter';
import type { DeferredResponse, HoldHooks, SocketRoutes, UpgradeRequest } from '@sess/core/adapter';
import { H3View, MISSING, REPLACED, configure } from './shared.js';
import type { SessionOptions, SessionUpdate as Update, SessionView } from './shared.js';

export type { SessionOptions } from './shared.js';
export type { SessionCookieOptions, SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export type { UpgradeRequest } from '@sess/core/adapter';
export { memoryStore } from '@sess/store-memory';

/** Declare your session's shape by merging into this interface: `declare module '@sess/h3' { interface SessionData { user?: string } }`. */
export interface SessionData {}
/** The session of one request: h3's `{ id, data, update, clear }` plus the sess operations. */
export type H3Session = SessionView<SessionData>;
export type SessionUpdate = Update<SessionData>;

declare module 'h3' {
  interface H3EventContext {
    /** Set by the `session()` middleware; read it with `useSession(event)`. */
    session?: H3Session;
  }
}

/**
 * A store failure as the HTTP error h3 answers with (503 by default), the `SessStoreError` its
 * `cause`: set after construction, since h3's constructor makes `cause` the options object it is
 * given. Unhandled, as h3 marks every thrown Error that is not its own: h3 logs it (unless
 * `silent`), and its answer names only the status, so an outage reaches the server's log and
 * not the client. Any other error goes on as it is: a `SessUsageError` is the app's bug, which
 * h3 logs and answers 500 as it does a thrown Error.
 */
const asHttpError = (error: unknown): unknown =>
  error instanceof SessStoreError
    ? failureError(error, (failure) => Object.assign(new HTTPError({ ...failure, unhandled: true }), { cause: error }))
    : error;
const rejected = (error: unknown) => Promise.reject(asHttpError(error));

/** What a route handler returns when no route matched; h3 answers it with a 404. */
const NOT_FOUND = Symbol.for('h3.notFound');
/**
 * What a Node handler's call rejects with once the body it piped failed: h3 has told `onError`
 * of the failure and answers nothing more (the Node response is its own), so it goes on as it
 * is (`answerOf` makes it a 500: nothing is saved behind the failure).
 */
const HANDLED = Symbol.for('h3.handled');

/**
 * A thrown value as h3 answers it (its `toError`): an Error as it is, a number as that status,
 * anything else (a string, an object, undefined) as an unhandled 500 keeping it as its cause.
 * The app's `onError` must get the error h3 would give it, not answer the value as a body.
 */
const asThrown = (thrown: unknown): unknown =>
  thrown instanceof Error || thrown === NOT_FOUND || thrown === HANDLED
    ? thrown
    : typeof thrown === 'number'
      ? new HTTPError({ status: thrown })
      : Object.assign(new HTTPError({ status: 500, unhandled: true }), { cause: thrown });

/**
 * The HTTPError h3 will answer an error (as `asThrown` makes it) with: its own status (`status`,
 * `statusCode`, or its cause's) and headers.
 */
const answerOf = (error: unknown): HTTPError =>
  error === NOT_FOUND ? new HTTPError({ status: 404 }) : HTTPError.isError(error) ? error : new HTTPError(error as Error);

/**
 * h3's conversion of a handler's value, made to report the error it meets (a value it can't
 * serialize) instead of answering it: the middleware rethrows it to the app's own error handling.
 * Under the app's `debug`, h3 pretty-prints JSON: `CONVERT_DEBUG` does as well.
 */
const unsendable = new WeakMap<H3Event, HTTPError>();
const CONVERT: H3Config = Object.freeze({ silent: true, onError: (error: HTTPError, event: H3Event) => void unsendable.set(event, error) });
const CONVERT_DEBUG: H3Config = Object.freeze({ ...CONVERT, debug: true });

type Effects = readonly HttpEffect[];

/** Commits for a response of `status` whose headers are `headers` and, under them, `own` (a thrown error's). */
function commit(core: Session, name: string, status: number, headers: Headers, own?: Headers): Effects | Promise<Effects> {
  const committed = commitFetch(core, status, name, headers, own);
  return committed instanceof Promise ? committed.catch(rejected) : committed;
}

/**
 * Whether `returned` is a Response whose body was read or is being read: srvx fails to send it.
 * Read as the app hands it over, before h3 makes the answer: on a runtime without Node's
 * response, an `onDispose` callback has h3 pipe a streamed body through a watch of its own,
 * which locks it without reading it for anyone.
 */
const spent = (returned: unknown): boolean => returned instanceof Response && (returned.bodyUsed || returned.body?.locked === true);

/** What the app answered with: the value itself, or an `HTTPResponse`'s body. */
const bodyOf = (returned: unknown): unknown => (returned as { body?: unknown } | null | undefined)?.body ?? returned;

/**
 * Cancels the body of a response the 503 replaces, as a closed connection would: nobody will
 * read it, so a stream's producer would wait forever and its cleanup (a `cancel`, an event
 * stream's `onClosed`, an `iterable()` generator's `finally`, a Node stream's `destroy`) never
 * run. Only a body the app handed over has a producer (h3 makes strings and JSON itself);
 * `response.body` is what it became (under `app.fetch`, h3 may pipe it through a stream of its own, which passes the cancel on).
 * Any other body goes as it is: the kit destroys a Node stream (srvx pipes it) and leaves the rest.
 */
function drop(response: Response, returned: unknown): void {
  const body = bodyOf(returned);
  dropBody(returned instanceof Response || body instanceof ReadableStream ? response.body : body);
}

/**
 * A copy of a Response the app returned. h3's WebSocket routes answer the upgrade request with
 * a 426 whose hooks hang on it as `crossws`, where a crossws `resolve` reads them off what
 * `app.fetch` answers: they go on the copy too, or the socket never opens.
 */
function copyOf(response: Response): Response {
  const { crossws } = response as { crossws?: unknown };
  const copy = Object.assign(new Response(response.body, response), crossws === undefined ? undefined : { crossws });
  const length = copy.headers.has('content-length') ? undefined : knownLength(response);
  if (length !== undefined) copy.headers.set('content-length', length);
  return copy;
}

/** srvx's Response on Node, and what it sends: its headers as name, value, name, value. */
type SrvxResponse = Response & { _toNodeResponse?(): { headers: string[] } };

/**
 * The length of a body srvx's Response was given whole (a string, a buffer), which srvx sends
 * as its Content-Length but keeps to itself: the copy's body is a stream of it, which would go
 * out chunked. srvx's conversion for Node names it, and empties the original as sending it
 * would. A stream's length is unknown, and none is made up.
 */
function knownLength(response: Response): string | undefined {
  const headers = (response as SrvxResponse)._toNodeResponse?.().headers ?? [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') return headers[i + 1];
  return undefined;
}

/** A character `Headers` takes in a value and Node refuses (a control character such as `\u0001`). */
const NODE_REFUSES = /[^\t\x20-\x7e\x80-\xff]/;

/** Whether srvx will fail to write `headers` on a Node response (`ERR_INVALID_CHAR`), answering 500. */
function nodeRefuses(headers: Headers): boolean {
  for (const [, value] of headers) if (NODE_REFUSES.test(value)) return true;
  return false;
}

/** The headers a session commit sets. */
const SESSION_HEADERS = ['set-cookie', 'vary', 'cache-control'] as const;

/**
 * Those of the session's headers that a Node middleware (`fromNodeMiddleware`: `cors`'s
 * `Vary: Origin`, a cookie of its own) set on the Node response, where `answer` (h3's answer, an
 * error's own headers) lacks them: srvx writes each header of the answer over the Node
 * response's same one, so the session's would replace them. They go on the answer, under the
 * session's, as if the app had set them there.
 */
function setOnNode(res: ServerResponse | undefined, ...answer: Array<Headers | undefined>): Headers | undefined {
  if (res === undefined || res.headersSent) return undefined;
  let set: Headers | undefined;
  for (const name of SESSION_HEADERS) {
    const value = res.getHeader(name);
    if (value === undefined || answer.some((headers) => headers?.has(name))) continue;
    set ??= new Headers();
    for (const line of Array.isArray(value) ? value : [value]) set.append(name, String(line));
  }
  return set;
}

/** `set` (see `setOnNode`) added to `headers`. */
function addAll(headers: Headers, set: Headers | undefined): void {
  if (set !== undefined) for (const [name, value] of set) headers.append(name, value);
}

/**
 * The answer's Set-Cookie lines, moved onto the Node response once that has headers of its own (a
 * Node middleware's): srvx's `writeHead` then sets the answer's headers one line at a time on
 * Node 20, so only the last cookie (the session's) would go out, not the app's beside it.
 */
function cookiesOnNode(res: ServerResponse | undefined, headers: Headers): void {
  if (res === undefined || res.headersSent || res.getHeaderNames().length === 0) return;
  const lines = headers.getSetCookie();
  if (lines.length < 2) return;
  headers.delete('set-cookie');
  res.setHeader('set-cookie', lines);
}

const output = createOutputHold();

/**
 * The output hold of a request on a Node server. A handler mounted with `fromNodeHandler` (an
 * Express-style handler, a connect middleware) answers on the Node response itself, before
 * `next()` returns: its first output is held until it has committed, as `@sess/h3/v1` holds it,
 * so the cookie goes with it and a failed store write becomes h3's error answer. Any other answer
 * is the value `next()` returns, which the middleware commits itself once the hold has handed the
 * response back (`response.release()`). A class, so the hold's hooks cost a request no closures.
 */
class NodeOutput implements HoldHooks {
  private failure: unknown = undefined;
  private drop: ((error: unknown) => void) | undefined = undefined;
  readonly response: DeferredResponse;

  constructor(
    private readonly res: ServerResponse,
    private readonly core: Session,
    private readonly name: string,
    private readonly event: H3Event,
    private readonly view: H3Session,
  ) {
    this.response = output.defer(res, this);
    this.response.gate();
  }

  commit(status: number): Promise<void> | undefined {
    if (this.event.context.session !== this.view) return Promise.reject((this.failure = new SessUsageError(REPLACED)));
    return commitNodeResponse(this.res, this.core, status, this.name);
  }

  fail(error: unknown): void {
    // The handler's headers go with its dropped output: its own cookies must not ride on h3's error answer.
    for (const header of this.res.getHeaderNames()) this.res.removeHeader(header);
    // A replaced session reaches h3 as it is, as in the middleware's own commit.
    if (error !== this.failure) this.failure = asHttpError(error);
    this.drop?.(this.failure);
  }

  /**
   * `next()`'s value, or the failure of a commit the output started, whichever comes first: a
   * connect middleware's `next()` waits for its output to finish, which a failure dropped. Made
   * on every Node request: the output may start after `next()` is awaited.
   */
  until(running: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.drop = reject;
      Promise.resolve(running).then(resolve, reject);
    });
  }

  /** `value`, once the commit the output started is done; rejects with its failure. */
  async committed<T>(value: T): Promise<T> {
    await this.response.settle(0);
    if (this.failure !== undefined) throw this.failure;
    return value;
  }
}

const context = createSessionContext<H3Session>('@sess/h3');

/**
 * The current request's session, from any function the request calls, without passing the
 * event down (it is not loaded yet: `await getSession().load()` before the first read).
 * Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export const getSession = (): H3Session => context.get();

type Handoff = (event: H3Event) => Promise<Response>;
/** `session(...)`: the middleware, plus what WebSocket apps need (`socket` takes crossws's `peer.request`). */
export interface SessionMiddleware extends Middleware, SocketRoutes<Handoff, [request: UpgradeRequest], H3Session['data']> {}

/**
 * The session middleware for h3 v2. Validates `options` once (throwing `SessConfigError` for a
 * short secret or bad numbers), then per request: verifies the cookie and puts the session on
 * `event.context`; the first `useSession(event)` loads the record the cookie names (one store
 * read, none without a valid cookie or without a `useSession`). It commits once the handler's
 * response is known: a failed store write becomes an `HTTPError` (503), never a 2xx. A thrown
 * error commits as the status h3 will answer with, and the session's headers travel on
 * `event.res.errHeaders`; with the app's `onError`, its answer is made here, as h3 makes it, and
 * commits as its status, carrying the session's headers.
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
export function session(options: SessionOptions<H3Event>): SessionMiddleware {
  const { manager, proxy, readOnly, asyncContext, socket } = configure(options, 'session() of @sess/h3');

  const handoff: Handoff = (event) =>
    handoffResponse(manager, event.url.searchParams.get('token'), event.req.headers.get('sec-fetch-site')).catch(rejected);

  const sessionMiddleware: Middleware = async function sessionMiddleware(event, next) {
    // Mounted twice: the first one owns the session.
    if (event.context.session !== undefined) return next();
    // The core's reading of X-Forwarded-Proto (any case, the first of a list), as every adapter's: h3's takes only lowercase.
    const secure = isSecure(event.url.protocol === 'https:', event.req.headers.get('x-forwarded-proto') ?? undefined, proxy);
    const cookieHeader = event.req.headers.get('cookie') ?? undefined;
    const core = manager.begin({ cookieHeader, secure, readOnly: readOnly?.(event) ?? false });
    // Lazy (design §2.2): the record is read by the first `useSession`, so a route that never
    // asks for the session costs no store call.
    const view = (event.context.session = new H3View(core) as H3Session);
    let response: Response;
    // What the handler (or the app's onError) returned, when it is the Response that goes out
    // (h3 passes one on as it is).
    let returned: unknown;
    let returnedSpent = false;
    const node = event.runtime?.node?.res;
    const res = node instanceof ServerResponse ? node : undefined;
    const nodeOutput = res === undefined ? undefined : new NodeOutput(res, core, manager.name, event, view);
    try {
      const running = asyncContext ? context.run(view, next) : next();
      const value = await (nodeOutput === undefined ? running : nodeOutput.until(running));
      // A Node handler answered on the response (`value` is h3's "handled"): its output commits.
      if (nodeOutput?.response.release() === false) return await nodeOutput.committed(value);
      returned = value;
      returnedSpent = spent(value);
      // h3 answers a returned Error, or no route, as a thrown one. Thrown from here, they reach
      // the app's error handling (`onError`, `silent`, `debug`) as they do without sess.
      if (value instanceof Error || value === NOT_FOUND) throw value;
      // Awaited only when it is a promise: a step on every request otherwise.
      const converted = toResponse(value, event, event.app?.config.debug === true ? CONVERT_DEBUG : CONVERT);
      response = typeof (converted as Partial<PromiseLike<Response>>).then === 'function' ? await converted : (converted as Response);
      if (unsendable.has(event)) throw unsendable.get(event);
    } catch (thrown) {
      // A failed regenerate, destroy or reload reaches here as the store's error.
      const error = asThrown(asHttpError(thrown));
      const config = event.app?.config;
      // The Node output started the commit: h3 answers the error once it is done, or its failure.
      if (nodeOutput?.response.release() === false) {
        const answered = await nodeOutput.committed(error).catch((failure: unknown) => failure);
        if (!asyncContext || config?.onError === undefined || answered === HANDLED) throw answered;
        // h3 would call onError outside the request: the answer is made here, as h3 makes it (its
        // onResponse left for h3), so `getSession()` works there too. The session is committed:
        // reads work, changes are dropped.
        const { onResponse: _onResponse, ...answer } = config;
        return await context.run(view, () => toResponse(answered, event, answer));
      }
      if (config?.onError === undefined) {
        // A replaced session: see the commit below.
        if (event.context.session !== view) throw new SessUsageError(REPLACED);
        // h3 answers with the error's own headers and `errHeaders` over them: the commit reads
        // both, and the error's Vary is carried over so the session's joins it, not replaces it.
        const { status, headers: own } = answerOf(error);
        const headers = event.res.errHeaders;
        const vary = own?.get('vary');
        if (vary != null && !headers.has('vary')) headers.set('vary', vary);
        addAll(headers, setOnNode(res, headers, own));
        // A header value Node refuses fails h3's answer in srvx as a 500: it commits as that (see below).
        const refused = res !== undefined && (nodeRefuses(headers) || (own !== undefined && nodeRefuses(own)));
        const effects = await commit(core, manager.name, refused ? 500 : status, headers, own);
        applyEffects(headers, effects);
        // An error-catching middleware mounted before this one may answer with a value, or a
        // Response under 400, which h3 makes with `event.res.headers` instead of `errHeaders`: h3
        // takes one or the other, so the session's headers go on both.
        applyEffects(event.res.headers, effects);
        if (own?.has('set-cookie') !== true) cookiesOnNode(res, headers);
        throw error;
      }
      // The app's onError may answer with another status, or a Response that h3 sends without
      // `errHeaders`: the answer is made here, as h3 makes it (its onResponse left for h3 to
      // call once), and commits as the status that goes out, carrying the session's headers.
      // What onError returns is the app's, as what a handler returns is (see below). It runs
      // inside the request, so `getSession()` works there as in the handler.
      const { onResponse: _onResponse, onError, ...answer } = config;
      const answering = () =>
        toResponse(error, event, {
          ...answer,
          onError: async (e, ev) => {
            returned = await onError(e, ev);
            returnedSpent = spent(returned);
            return returned;
          },
        });
      response = await (asyncContext ? context.run(view, answering) : answering());
    }
    // `Response.error()`'s status 0 fails in srvx as a 500, as without sess, and so do a
    // returned Response whose body was read or is being read (HEAD sends none) and, on Node, a
    // header value Node refuses: it commits as that, so nothing is saved behind the failure, and
    // goes on unchanged (a copy carrying the session's headers can't have status 0 or a read body).
    const refused =
      response.status < 100 || (returnedSpent && event.req.method !== 'HEAD') || (res !== undefined && nodeRefuses(response.headers));
    // Saving the session the app let go of (`event.context.session = {}`) would keep a user it meant
    // to sign out signed in. The usage error reaches h3 as it is, which logs its message.
    const setOnRes = setOnNode(res, response.headers);
    const committed =
      event.context.session === view
        ? commit(core, manager.name, refused ? 500 : response.status, response.headers, setOnRes)
        : Promise.reject(new SessUsageError(REPLACED));
    let effects: Effects;
    if (committed instanceof Promise) {
      // Nothing listens to a Node stream's errors until srvx sends it: one emitted while the
      // commit waits on the store would be thrown where nothing catches it, ending the process.
      // srvx then sees the destroyed stream and answers 500.
      const unheard = heedStreamErrors(bodyOf(returned));
      try {
        effects = await committed;
      } catch (error) {
        // The 503 replaces this response, whose body nobody will read.
        drop(response, returned);
        throw error;
      } finally {
        unheard?.();
      }
    } else effects = committed;
    if (refused || effects.length === 0) return response;
    // A Response the handler or onError returned is the app's, which it may hand to every request
    // (one made once, at start-up): the session's headers go on a copy, so no visitor's cookie
    // rides on it to the next. One h3 made from another value is this request's own. A response
    // whose headers are immutable (from `fetch` or `Response.redirect`) is copied either way.
    const own = response === returned && !response.bodyUsed ? copyOf(response) : response;
    return withHeaders(own, (headers) => {
      addAll(headers, setOnRes);
      applyEffects(headers, effects);
      cookiesOnNode(res, headers);
    });
  };

  return Object.assign(sessionMiddleware, { handoff, socket });
}

/**
 * The request's session, loaded, as h3's `useSession` returns one (the `session()` middleware
 * must run first). A failed store read rejects; the middleware turns it into a 503.
 */
export const useSession = (event: H3Event): Promise<H3Session> => loadedSession(event.context.session, MISSING);
