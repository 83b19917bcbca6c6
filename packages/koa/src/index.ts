/**
 * @sess/koa: koa-session's shape on the sess core, for Koa 2 and 3. Server-side sessions: the
 * cookie carries a signed id, the data lives in the store.
 *
 * The adapter only translates: it reads the request's facts, commits after `await next()`
 * (before Koa responds) and applies the effects the core returns. Every session decision is in
 * `@sess/core`.
 */
import type { IncomingMessage } from 'node:http';
import { type Readable, Stream } from 'node:stream';
import { format } from 'node:util';
import type { Context, Middleware } from 'koa';
import { SessConfigError, SessError, SessUsageError, type HttpEffect, type SessionManagerOptions, type SessionStorage } from '@sess/core';
import { COOKIE_OPTIONS, DEFAULT_MAX_AGE_MS, RELEASED, SHARED_OPTIONS, accessorLayer, afterSignOut } from '@sess/core/adapter';
import { applyEffects, cancelUnread, checkOptions, cookieOptions, coreOptions, createManager, createOutputHold } from '@sess/core/adapter';
import {
  createSessionContext,
  errorHeaders,
  handoffHeaders,
  failureStatus,
  headersLeft,
  heedStreamErrors,
  httpFailure,
} from '@sess/core/adapter';
import { isSecureRequest, lifetimeOptions, markHttpError, nodeHeaders, nodeResponseFacts, prototypeLayer } from '@sess/core/adapter';
import { socketSession, withErrorHeaders } from '@sess/core/adapter';
import type { CookieOptions, DeferredResponse, OptionTable, SessionView, SharedOptions, SocketRoutes } from '@sess/core/adapter';
import { memoryStore } from '@sess/store-memory';
import { type KoaSession, koaView, replaceData } from './view.js';

export type { KoaSession, SessionData, SessionMethods } from './view.js';
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

/** koa-session's options, the cookie's attributes (`secure: 'auto'` follows `ctx.secure`, so Koa's `app.proxy`), and the core's. */
export interface SessionOptions extends SharedOptions<Context, SessionStorage>, CookieOptions {
  /** Cookie name (koa-session's option; `name`, as the other sess adapters call it, works too: give one). Default `'sid'`. */
  key?: string;
  /** Lifetime in ms (1000 to 400 days), or `'session'` for a cookie that ends with the browser. Default 24 hours. */
  maxAge?: number | 'session';
  /** koa-session's `renew`: re-send and extend only once less than half the lifetime is left. */
  renew?: boolean;
  /** Accepted as `true` only: sess cookies are always signed (HMAC-SHA256 with `secret`). */
  signed?: boolean;
  /** Accepted as `true` only (koa-session's default, in its sample config): the session always commits after `await next()`. */
  autoCommit?: boolean;
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Called without `ctx`. */
  genid?: () => string;
}

const { secret, store, ...shared } = SHARED_OPTIONS;
const OPTIONS: OptionTable<SessionOptions> = {
  secret,
  store,
  key: [undefined, 'name'],
  maxAge: [],
  renew: ['flag'],
  signed: ['flag'],
  autoCommit: ['flag'],
  genid: ['function', 'generateId'],
  ...shared,
  ...COOKIE_OPTIONS,
};

const NOT_IN_SESS = 'not supported by sess';
const CODEC = `${NOT_IN_SESS}: the cookie carries a signed id and the data stays in the store; for data in the cookie, pass store: cookieSessions({ secret }) from @sess/core (sealed)`;
/** koa-session's options (and cookie's) that sess does without, with what to do instead. */
const HINTS: Readonly<Record<string, string>> = {
  maxage: "koa-session's old spelling: use maxAge (ms, or 'session')",
  overwrite: `${NOT_IN_SESS}: a Set-Cookie for the session's name that the app set itself is left alone; remove it`,
  prefix: `${NOT_IN_SESS}: ids are 192 random bits (or yours, from genid); a key prefix is the store's option, e.g. redisStore({ client, prefix })`,
  valid: `${NOT_IN_SESS}: check loaded data with schema (a Standard Schema) or upgrade it with migrate; data that fails gives a fresh session`,
  beforeSave: `${NOT_IN_SESS}: change the session in your handler; it is saved after \`await next()\``,
  encode: CODEC,
  decode: CODEC,
  ContextStore: `${NOT_IN_SESS}: pass a sess store as store, e.g. memoryStore() or redisStore({ client }) from @sess/store-redis`,
  externalKey: `${NOT_IN_SESS}: the session id always travels in the signed cookie named by key`,
  expires: "use maxAge (ms, or 'session') for every session, or ctx.session.setExpiry(date) for one",
  cookie: 'cookie options are top-level in @sess/koa, as in koa-session: httpOnly, secure, sameSite, path, domain, partitioned, priority',
  generateId: 'it is called genid in @sess/koa (no ctx argument)',
};

/**
 * The core's options, after every check a request could otherwise trip over (the core checks
 * numbers, names and the secret). koa-session's stores take `(key, maxAge, opts)` and hold its
 * cookie format: they can't serve sess, so only sess stores pass.
 *
 * @throws SessConfigError
 */
function managerOptions(options: SessionOptions): SessionManagerOptions {
  checkOptions<SessionOptions>(options, OPTIONS, 'session() of @sess/koa', { hints: HINTS });
  const { key, name, maxAge, renew, rolling } = options;
  if (options.signed === false)
    throw new SessConfigError('signed: false is not supported: sess cookies always carry an HMAC of the id; remove the option');
  if (options.autoCommit === false)
    throw new SessConfigError(
      "autoCommit: false is not supported: the session always commits after `await next()`, before Koa responds (with ctx.respond = false, before ctx.res's headers leave); remove the option",
    );
  if (key !== undefined && name !== undefined && key !== name)
    throw new SessConfigError(`key ${JSON.stringify(key)} and name ${JSON.stringify(name)} disagree: give one`);
  // renew is "rolling, but only in the second half of the lifetime": a touch due after half of it
  // (a browser-session cookie still has the default lifetime on the server).
  const renewing = renew === true && rolling !== true;
  return {
    ...coreOptions(options, OPTIONS),
    // `maxAge: null` is the default lifetime, as `undefined` is.
    ...lifetimeOptions(maxAge ?? undefined, 1),
    // Without renew, coreOptions passed touchAfterMs on as it was.
    ...(renewing && { touchAfterMs: options.touchAfterMs ?? (typeof maxAge === 'number' ? maxAge : DEFAULT_MAX_AGE_MS) / 2 }),
    store: options.store ?? memoryStore(),
    rolling: rolling === true || renewing,
    cookie: cookieOptions(options),
  };
}

declare module 'koa' {
  interface ExtendableContext {
    /** The session. Assign `null` to destroy it, or an object to replace its data. */
    get session(): KoaSession;
    set session(value: KoaSession | Record<string, unknown> | null);
    /** The session id, once the session has one. */
    readonly sessionId: string | undefined;
  }
}

/** `ctx.onerror`'s shape: Koa's, or one an app puts on `app.context`. */
type OnError = (this: Context, error: Error) => unknown;

/** The handler's error, for a commit that must answer it. */
type Failed = { error: unknown } | undefined;

/** One request's session, kept on `ctx` under a symbol. */
interface RequestState extends SessionView<KoaSession> {
  /** A destroy started by `ctx.session = null`; the commit waits for it. */
  destroying: Promise<unknown> | undefined;
  /**
   * The hold on `ctx.res`'s output, made once `ctx.respond = false` says the app writes there
   * itself: the commit then happens before the first output leaves, or after `await next()`,
   * whichever comes first. `RELEASED` once the commit started without one (no output to hold).
   */
  response: DeferredResponse | undefined;
  /** The handler's error, for a commit through the hold: its answer is Koa's error response. */
  failed: Failed;
  /** What the commit put on the response, for an error Koa answers after it (`ctx.onerror` drops those headers). */
  committed: readonly HttpEffect[] | undefined;
  /** The commit in flight under a stream body, which may fail meanwhile (see `streamWaiting`). */
  committing: Promise<void> | undefined;
  /**
   * Holds the output of the response, for the session() that owns the request: the `ctx.respond`
   * setter an app runs may be another session()'s (they share the context prototype).
   */
  holdOutput(ctx: Context, state: RequestState): void;
}

const STATE = Symbol('@sess/koa');
const RAW = Symbol('@sess/koa respond');
const stateOf = (ctx: object) => (ctx as Record<symbol, RequestState | undefined>)[STATE];

/** The request's state, which only the session() middleware puts on `ctx`. */
function found(state: RequestState | undefined): RequestState {
  if (state === undefined) throw new SessUsageError('ctx.session is only there behind the session() middleware');
  return state;
}

const context = createSessionContext<RequestState>('@sess/koa');

/**
 * The current request's `ctx.session`, from any function the request calls, without passing
 * `ctx` down. Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export const getSession = (): KoaSession => context.get().view;

/**
 * What Koa's own `ctx.onerror` answers for `error`: a thrown non-Error (a string, a plain object)
 * becomes Koa's Error, made here as Koa makes it, so the session's headers ride on the Error Koa
 * answers rather than on the value it discards.
 */
function asKoaError(error: unknown): Error | null {
  if (error === null || error === undefined || Object.prototype.toString.call(error) === '[object Error]' || error instanceof Error)
    return error as Error | null;
  return new Error(format('non-error thrown: %j', error));
}

/** `onerror` (Koa's, or the app's own) answering `error` with the session's headers. */
function answerWithSession(ctx: Context, error: Error | null, onerror: OnError): unknown {
  const state = stateOf(ctx);
  // Koa 2 answers a stream body's failure from its 'error' event, which may come while the commit
  // is in flight: answered once the commit is done, with its headers, as after it.
  const committing = state?.committing;
  if (committing !== undefined && error !== null) {
    const answer = () => answerWithSession(ctx, error, onerror);
    return void committing.then(answer, answer);
  }
  const effects = state?.committed;
  if (typeof error !== 'object' || error === null || effects === undefined || effects.length === 0)
    return onerror.call(ctx, error as Error);
  // Once: Koa may call it again (the response's end) with the same error.
  (state as RequestState).committed = undefined;
  // The session's headers (Koa drops those set before it answers), on the error only while Koa answers it.
  return withErrorHeaders(error, errorHeaders(error, effects), () => onerror.call(ctx, error));
}

/**
 * An app's own `app.context.onerror` (koa-onerror sets one) sits in front of the layer, so it is
 * wrapped in place, once per function the app assigns, to answer with the session's headers too.
 * The mark is global, so a second `session()` on the app (or a second copy of this package, CJS
 * beside ESM) leaves a wrapper be instead of wrapping it again on every request.
 */
const WRAPPED = Symbol.for('@sess/koa onerror');
function coverOwnOnerror(proto: { onerror?: unknown }): void {
  const own = proto.onerror;
  if (typeof own !== 'function' || WRAPPED in own) return;
  function onerror(this: Context, error: Error | null) {
    try {
      return answerWithSession(this, error, own as OnError);
    } catch (failure) {
      // sess's own error (a store failure) is one the app never meets without sess: its onerror
      // throwing on it would leave the request unanswered and the rejection unhandled, so Koa's answers.
      if (httpFailure(error) === undefined) throw failure;
      return (Object.getPrototypeOf(proto) as Context).onerror.call(this, error as Error);
    }
  }
  // Reflect.set: an `onerror` the app made read-only stays as it is, rather than failing every request.
  Reflect.set(proto, 'onerror', Object.assign(onerror, { [WRAPPED]: true }));
}

/** With `ctx.respond = false`, a commit that output started fails into Koa's own answer: an error response, or past the headers, the 'error' event. */
const answer = (ctx: Context) => (error: unknown) => ctx.onerror(markHttpError(error) as Error);

/**
 * Throws `error`, unless sess raised it once Koa had answered already (a middleware ahead of
 * session() that did not await `next()` lets Koa respond when it returns): thrown then, it would
 * reach no one and end the process as an unhandled rejection, so it goes to Koa's 'error' event,
 * as an error after the headers does.
 */
function raise(ctx: Context, error: unknown): void {
  if (error instanceof SessError && headersLeft(ctx.res)) ctx.onerror(error);
  else throw error;
}

/** The message for a session that changed in a response written without Koa, which the commit came too late for. */
const BYPASSED =
  'the response was written to ctx.res before the session was committed, so the session was not saved: set ctx.respond = false before writing to ctx.res';

/** `session(...)`: the middleware, plus what WebSocket apps need (`socket`'s `secure` defaults to whether the socket is TLS). */
export interface SessionMiddleware extends Middleware, SocketRoutes<Middleware, [req: IncomingMessage, secure?: boolean], KoaSession> {}

/**
 * The session middleware. Validates `options` once (throwing `SessConfigError` for an unknown
 * or unsupported option, a short secret, a bad value or a store that is not a sess store), then
 * per request: verifies the cookie, loads the record it names (one store read, none without a
 * valid cookie), exposes `ctx.session`, and commits after `await next()`, before Koa writes the
 * response (with `ctx.respond = false`, before the app's own output leaves). A failed store call
 * is thrown as an HTTP error with status 503 (`SessStoreError` with `status` set), so Koa answers 503.
 *
 * `ctx.session`, `ctx.sessionId` and `ctx.respond` are accessors on a layer put once into the
 * app's context prototype (Koa's own is untouched): defined on each `ctx` instead, they turn
 * every context into a dictionary-mode object (~25 us a request on Koa 3). Setting
 * `ctx.respond = false` is how an app says it will write to `ctx.res` itself, possibly before
 * `await next()` returns, so that is when the response's output gets held.
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
  const manager = createManager(Object.freeze(managerOptions(options)), OPTIONS, { cookieAtTop: true });
  const view = koaView(options.maxAge ?? DEFAULT_MAX_AGE_MS);
  const output = createOutputHold();
  const { readOnly, asyncContext } = options;
  // The context prototype the layers were last put into: an app's contexts all share one.
  let layered: object | undefined;

  /**
   * Commits once: through the hold if there is one (its output may have started the commit
   * already), else at once (returning nothing) when nothing has to wait. For a request that
   * `failed`, it throws that error.
   */
  function settle(ctx: Context, state: RequestState, status: number, failed?: Failed): Promise<void> | undefined {
    if (state.response === undefined) {
      state.response = RELEASED;
      return commit(ctx, state, status, failed);
    }
    state.failed = failed;
    return state.response.settle(status);
  }

  /** The commit, once a destroy started by `ctx.session = null` is over: if it failed (and the handler did not), the answer is its error. */
  function commit(ctx: Context, state: RequestState, status: number, failed: Failed): Promise<void> | undefined {
    if (state.destroying === undefined) return commitResponse(ctx, state, status, failed);
    return afterSignOut(state.destroying, (ended) => commitResponse(ctx, state, status, failed ?? ended));
  }

  function commitResponse(ctx: Context, state: RequestState, status: number, failed: Failed): Promise<void> | undefined {
    // The app wrote to `ctx.res` without `ctx.respond = false`, and the headers left without the
    // cookie: the facts say so and nothing is saved; `applyCommitted` says why if the session had anything to send.
    const answered = failed === undefined ? status : failureStatus(failed.error);
    const committed = state.core.commit(nodeResponseFacts(ctx.res, answered, manager.name));
    if (committed instanceof Promise) return committed.then((effects) => applyCommitted(ctx, state, effects, failed));
    applyCommitted(ctx, state, committed, failed);
    return undefined;
  }

  function applyCommitted(ctx: Context, state: RequestState, effects: readonly HttpEffect[], failed: Failed): void {
    if (headersLeft(ctx.res) && effects.length > 0) throw new SessUsageError(BYPASSED);
    applyEffects(nodeHeaders(ctx.res), effects);
    // Koa's own error answer clears the response's headers first: `ctx.onerror` puts these back.
    state.committed = effects;
    if (failed !== undefined) throw failed.error;
  }

  // `ctx.respond = false` says the app writes to `ctx.res` itself, maybe before `await next()`
  // returns: its output is held from then on.
  const contexts = accessorLayer<Context & Record<symbol, unknown>>({
    session: {
      // Undefined where session() does not serve the request (a route without it, a middleware
      // ahead of it), as before the layer was in the app's prototype and as without sess.
      get: (ctx) => stateOf(ctx)?.view,
      set(ctx, value) {
        const state = found(stateOf(ctx));
        if (value === null) signOut(state);
        else if (typeof value === 'object') replaceData(state.core, value);
        else throw new TypeError('ctx.session can only be set to null or an object');
      },
    },
    sessionId: { get: (ctx) => stateOf(ctx)?.core.id },
    respond: {
      get: (ctx) => ctx[RAW],
      set(ctx, value) {
        if ((ctx[RAW] = value) !== false) return;
        const state = stateOf(ctx);
        state?.holdOutput(ctx, state);
      },
    },
  });

  // An error Koa answers after the commit (the handler's own, which committed as a 500; one a
  // middleware ahead of session() throws after `await next()`; a body stream failing before its
  // first chunk) is answered with the session's headers, which Koa drops: a cookie deletion, or
  // after a store write, the cookie the browser needs to name the record.
  const errors = prototypeLayer((base) => ({
    onerror: {
      value(this: Context, error: unknown) {
        return answerWithSession(this, asKoaError(error), (base as Context).onerror);
      },
      writable: true,
      configurable: true,
    },
  }));

  const handoff: Middleware = async (ctx) => {
    try {
      ctx.status = await handoffHeaders(manager, ctx.query.token, ctx.get('sec-fetch-site'), nodeHeaders(ctx.res));
    } catch (error) {
      throw markHttpError(error);
    }
  };

  const socket = (req: IncomingMessage, secure = isSecureRequest(req, false)) =>
    socketSession(manager, { cookieHeader: req.headers.cookie, secure }, (core) => view(core).view);

  /**
   * `ctx.session = null`. A second one while the first is running joins it (the core's
   * `joinSignOut`), and the commit waits for both: the first's failure decides the answer.
   */
  function signOut(state: RequestState): void {
    (state.destroying = Promise.all([state.destroying, state.core.destroy()])).catch(() => undefined);
  }

  // Most apps never set `ctx.respond = false`, so their requests make no hold at all.
  function holdOutput(ctx: Context, state: RequestState): void {
    state.response ??= output.defer(ctx.res, { commit: (status) => commit(ctx, state, status, state.failed), fail: answer(ctx) });
    state.response.gate();
  }

  const sessionMiddleware: Middleware = async (ctx, next) => {
    // Mounted twice (or a router re-entering): the first one owns the session.
    if (stateOf(ctx) !== undefined) return next();
    const proto = Object.getPrototypeOf(ctx) as object;
    if (proto !== layered) {
      contexts.insert(proto);
      errors.insert(proto);
      layered = proto;
    }
    if (Object.hasOwn(proto, 'onerror')) coverOwnOnerror(proto);
    // `ctx.req` and `ctx.request` rather than Koa's delegating getters (`ctx.get`, `ctx.secure`):
    // every delegated property shares one getter, whose property reads V8 cannot cache.
    const secure = ctx.request.secure;
    const core = manager.begin({ cookieHeader: ctx.req.headers.cookie || undefined, secure, readOnly: readOnly?.(ctx) ?? false });
    // One literal of a fixed shape: copying the view's fields onto it (a spread, Object.assign) costs more.
    const made = view(core, ctx);
    const state: RequestState = {
      core,
      view: made.view,
      destroying: undefined,
      response: undefined,
      failed: undefined,
      committed: undefined,
      committing: undefined,
      holdOutput,
    };
    (ctx as unknown as Record<symbol, RequestState>)[STATE] = state;
    // An earlier middleware may have bypassed Koa already.
    if (ctx.respond === false) holdOutput(ctx, state);
    try {
      await core.load();
      await (asyncContext === true ? context.run(state, next) : next());
    } catch (error) {
      // What Koa answers for an error the app threw: Koa clears the response's headers before it
      // answers, so the session commits as the server error it becomes (nothing saved) and
      // `ctx.onerror` puts its headers back (a failed `await ctx.session.destroy()` still deletes
      // the cookie, as a failed `ctx.session = null` does). A failed regenerate, destroy or
      // reload arrives here as the store's error.
      try {
        await settle(ctx, state, 500, { error });
      } catch {
        // The commit threw the app's error back, or failed itself: the app's error is the answer
        // either way (`markHttpError` gives back the error it is given).
      }
      return raise(ctx, markHttpError(error));
    }
    try {
      // No promise step when the commit was done at once.
      const settling = settle(ctx, state, ctx.response.status);
      if (settling !== undefined)
        await (state.response === RELEASED && pipedAsStream(ctx.response.body)
          ? streamWaiting(state, ctx.response.body, settling)
          : settling);
    } catch (error) {
      // Koa destroys a Node stream body itself, but leaves a web stream (Koa 3) unread.
      cancelUnread(ctx.body);
      raise(ctx, markHttpError(error));
    }
  };

  return Object.assign(sessionMiddleware, { handoff, socket });
}

/**
 * Whether Koa pipes `body` as a Node stream: Koa 3 takes any object of a stream's shape for one
 * (readable-stream 4's streams are not `instanceof Stream`), and `heedStreamErrors` looks closer.
 */
const pipedAsStream = (body: unknown): body is Stream => typeof (body as Partial<Stream> | null | undefined)?.pipe === 'function';

/**
 * Waits for the commit before Koa pipes the stream body, which may fail meanwhile (a missing file,
 * an upstream that drops). Koa 3 listens for that only once it pipes, so the stream's 'error'
 * would be thrown from an event nobody hears and take the process down: it is heard here, and
 * Koa's pipe then reports it as without sess. Koa 2 answers it at once, through `ctx.onerror`,
 * which waits for the commit (see `answerWithSession`).
 */
async function streamWaiting(state: RequestState, body: Stream, settling: Promise<void>): Promise<void> {
  const unheard = heedStreamErrors(body);
  state.committing = settling;
  try {
    await settling;
  } finally {
    state.committing = undefined;
  }
  // Only once committed: a failed commit's answer replaces the body, whose failure then goes
  // nowhere, as Koa does with a stream body it replaces.
  unheard?.();
  // A stream that is not `instanceof Stream` and failed meanwhile is no stream to Koa 3 any more
  // (its shape check asks for `readable`), which would answer it as JSON with a 200: its failure
  // is the answer, as on Koa 2.
  const { errored } = body as Partial<Readable>;
  if (!(body instanceof Stream) && errored instanceof Error) throw errored;
}
