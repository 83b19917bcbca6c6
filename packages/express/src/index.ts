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
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RequestFacts, Session } from '@sess/core';
import {
  type SessionManagerOptions,
  type SessionStorage,
  type SocketSession,
  SessConfigError,
  SessUsageError,
  checkStorage,
} from '@sess/core';
import {
  COOKIE_OPTIONS,
  DEFAULT_MAX_AGE_MS,
  MAX_LIFETIME_MS,
  MIN_COOKIE_LIFETIME_MS,
  SHARED_OPTIONS,
  accessorLayer,
  checkOptions,
  cookieOptions,
  coreOptions,
  createManager,
} from '@sess/core/adapter';
import { createOutputHold, createSessionContext, defined, failureStatus, isSecureRequest, nodeHeaders } from '@sess/core/adapter';
import type { DeferredResponse, HoldHooks } from '@sess/core/adapter';
import { commitHeaders, commitNodeResponse, commitNodeResponseAfter, handoffHeaders } from '@sess/core/adapter';
import { socketSession, type CookieOptions, type OptionTable, type SharedOptions, type SocketRoutes } from '@sess/core/adapter';
import { memoryStore } from '@sess/store-memory';
import { type CallbackStore, isCallbackStore, wrapCallbackStore } from './callback-store.js';
import { type RequestSession, type ViewOwner, expressView } from './view.js';

export { type CallbackStore, callbackStore } from './callback-store.js';
export type { RequestSession, SessionCookie, SessionData, SessionMethods } from './view.js';
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
/** express-session's names, for a one-line move: `new MemoryStore()` works too. */
export { memoryStore, memoryStore as MemoryStore } from '@sess/store-memory';

const context = createSessionContext<Commit>('@sess/express');

/**
 * The current request's `req.session`, from any function the request calls (chirp's
 * `get_session()`). Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export const getSession = (): RequestSession => context.get().session;

declare global {
  namespace Express {
    interface Request {
      session: RequestSession;
      /** The session id, once the session has one. */
      sessionID: string | undefined;
    }
  }
}

/** The cookie's attributes, and `maxAge`: its lifetime in ms (default 24 hours; `null`: a cookie that ends with the browser). */
export type SessionCookieOptions = CookieOptions & { maxAge?: number | null };

/**
 * express-session's options, and the core's under their own names (see `SharedOptions`). `store`
 * takes a sess store or an express-session store (one extending its `Store`: connect-redis, ...).
 */
export interface SessionOptions extends SharedOptions<Request, SessionStorage | CallbackStore> {
  /** `secure: 'auto'` (the default) means Secure exactly when `req.secure` (Express's `trust proxy`) or `proxy` says so. */
  cookie?: SessionCookieOptions;
  /** Save every used session even when unchanged. Default `false`. */
  resave?: boolean;
  /**
   * Only `false`, express-session's advice for login sessions: sess never stores a session that
   * holds no data (`@sess/express-session` takes `true`).
   */
  saveUninitialized?: false;
  /** Makes new ids (22-128 characters of A-Z a-z 0-9 _ -). Called without the request. */
  genid?: () => string;
  /**
   * Trust `X-Forwarded-Proto` for `secure: 'auto'`. Default: follow Express's `trust proxy`
   * (`req.secure`); `true` trusts the header; `false` looks only at the connection.
   */
  proxy?: boolean;
  /** What `delete req.session` or `req.session = null` does. Default `'keep'`: the stored session stays as it was, this request's changes dropped. */
  unset?: 'keep' | 'destroy';
}

const WHERE = 'session() of @sess/express';
const STORE_ADVICE =
  "Pass a sess store, which declares its capabilities (memoryStore(), redisStore() from @sess/store-redis, ...), or an express-session store that extends express-session's Store (connect-redis, connect-pg-simple, ...); wrap other callback stores in callbackStore(store).";
/** express-session habits: cookie attributes at the top level, `cookie.expires`. */
const EXPIRES = 'use cookie.maxAge (ms)';
const HINTS = Object.fromEntries([...Object.keys(COOKIE_OPTIONS), 'maxAge'].map((key) => [key, `use cookie.${key}`]));
const COOKIE = { table: { ...COOKIE_OPTIONS, maxAge: [] }, should: 'an object of cookie attributes', hints: { expires: EXPIRES } } as const;
const OPTIONS: OptionTable<SessionOptions> = {
  ...SHARED_OPTIONS,
  store: [],
  cookie: [COOKIE],
  resave: ['flag', 'saveEveryRequest'],
  saveUninitialized: [[false]],
  genid: ['function', 'generateId'],
  proxy: ['flag'],
  unset: [['keep', 'destroy']],
};

function managerOptions(options: SessionOptions): SessionManagerOptions {
  checkOptions<SessionOptions>(options, OPTIONS, WHERE, { hints: { ...HINTS, expires: EXPIRES } });
  const cookie: SessionCookieOptions = options.cookie ?? {};
  checkMaxAge(cookie.maxAge);
  return {
    ...coreOptions(options, OPTIONS),
    ...defined({ maxAgeMs: cookie.maxAge ?? undefined }),
    store: storage(options.store),
    expireAtBrowserClose: cookie.maxAge === null,
    cookie: cookieOptions(cookie),
  };
}

/** The store as the core takes it: the default, an express-session store wrapped, or a sess store checked. */
function storage(store: unknown): SessionStorage {
  if (store === undefined) return memoryStore();
  // `store: redisUrl ? redisStore(...) : null` would otherwise get a memory store of this process only.
  if (store === null)
    throw new SessConfigError(`${WHERE}: store is null: omit store (or pass undefined) for the default memoryStore(). ${STORE_ADVICE}`);
  if (isCallbackStore(store)) return wrapCallbackStore(store, WHERE);
  checkStorage(store, WHERE, STORE_ADVICE);
  return store as SessionStorage;
}

/** Checked here, not left to the core, whose refusal would name its own `maxAgeMs` (and print a string as a number). */
function checkMaxAge(maxAge: unknown): void {
  if (maxAge === undefined || maxAge === null) return;
  if (typeof maxAge === 'number' && maxAge >= MIN_COOKIE_LIFETIME_MS && maxAge <= MAX_LIFETIME_MS) return;
  const got = typeof maxAge === 'string' ? JSON.stringify(maxAge) : String(maxAge);
  throw new SessConfigError(
    `cookie.maxAge must be a number of ms from ${MIN_COOKIE_LIFETIME_MS} to ${MAX_LIFETIME_MS} (400 days), or null for a cookie that ends with the browser, got ${got}`,
  );
}

/** `session(...)`: the middleware, plus what WebSocket apps need (`handoff` also reads `token` from a parsed body). */
export interface SessionMiddleware extends RequestHandler, SocketRoutes<RequestHandler, [req: IncomingMessage], RequestSession> {}

/**
 * The request as the core sees it. `secure` is read only when a cookie is written (most requests
 * write none): `req.secure` is a getter that runs Express's `trust proxy` check. Without Express
 * (a bare `http` or connect request) there is no `req.secure`, so the socket is asked.
 */
class ExpressRequestFacts implements RequestFacts {
  readonly cookieHeader: string | undefined;
  constructor(
    private readonly req: Request,
    private readonly proxy: boolean | undefined,
    readonly readOnly: boolean,
  ) {
    this.cookieHeader = req.headers.cookie;
  }
  get secure(): boolean {
    const expressSecure: unknown = this.proxy === undefined ? this.req.secure : undefined;
    return typeof expressSecure === 'boolean' ? expressSecure : isSecureRequest(this.req, this.proxy === true);
  }
}

/**
 * The layers, shared by every `session()`: a response held by one is released through the layer
 * put into any app's prototypes by another (an app called unmounted, as vhost does, takes the
 * request into prototypes the first middleware never saw).
 */
const output = createOutputHold();
const sessionIdOf = (req: Request): string | undefined => (req.session as RequestSession | null | undefined)?.id;
// Assigning it (express-session in the same app) makes it the request's own data property.
const requests = accessorLayer<Request>({ sessionID: { get: sessionIdOf } });
/**
 * `req.sessionID` on a request no Express app serves (bare `http`, connect): the layer's accessor,
 * defined on the request itself. Putting the layer into each such request's prototype chain
 * gives every request a hidden class of its own and slows everything Node then does with it
 * (~+25 us a request measured on a bare server); one shared descriptor, whose getter and setter
 * are the same functions for every request, leaves all requests with one shape.
 */
const OWN_SESSION_ID: PropertyDescriptor = Object.freeze({
  get(this: Request) {
    return sessionIdOf(this);
  },
  set(this: Request, value: unknown) {
    Object.defineProperty(this, 'sessionID', { value, writable: true, configurable: true, enumerable: true });
  },
  configurable: true,
  enumerable: true,
});

const REPLACED =
  'req.session was replaced by another object, so nothing was saved: change keys on req.session itself, sign out with req.session.destroy() (or req.session = null, see the unset option), or start over with req.session.regenerate()';

/** The headers that describe a response's body (RFC 9110's representation metadata, and Content-Disposition). */
const BODY_HEADERS = [
  'content-type',
  'content-encoding',
  'content-language',
  'content-length',
  'content-range',
  'content-location',
  'content-disposition',
  'etag',
  'last-modified',
];

/**
 * engine.io (Socket.IO's `io.engine.use(sessions)`) runs its middleware on a WebSocket upgrade
 * with a stand-in for the response: it has no status and sends nothing, and `ws` answers the
 * upgrade as soon as the middleware is done, so its output can't be held for a commit (holding
 * its `writeHead()` rejected unheard, and the handshake hung).
 */
const answersNothing = (res: Response): boolean => typeof (res as Partial<Response>).headersSent !== 'boolean';

/** A response with compression's `flush()`, which sends what its gzip stream holds so far. */
type Flushable = Response & { flush?: () => void };

/** One response's commit, for the output hold: a class, so a request allocates no closures for it. */
class Commit implements HoldHooks, ViewOwner {
  /** The hold of the response, once made. */
  deferred: DeferredResponse | undefined = undefined;
  /** The response's commit was asked for: a new id could no longer reach the browser on it. */
  committed = false;
  /** The session object handed out last (`getSession()`'s); `view` too until a failed load takes it away. */
  session!: RequestSession;
  private view: RequestSession | undefined;
  constructor(
    private readonly req: Request,
    private readonly res: Response,
    private readonly next: NextFunction,
    private readonly core: Session,
    private readonly name: string,
    private readonly unset: 'keep' | 'destroy',
  ) {}
  handOver(fresh: RequestSession): void {
    this.req.session = this.view = this.session = fresh;
  }
  /**
   * The store failed to load the session: `req.session` goes, as express-session leaves it, so an
   * error handler's `req.session?.user` reads nothing instead of throwing the failed session's
   * refusal (which replaced the app's error page with Express's).
   */
  unloaded(error: unknown): void {
    this.view = undefined;
    this.req.session = undefined as unknown as RequestSession;
    this.next(error);
  }
  commit(status: number): Promise<void> | undefined {
    this.committed = true;
    const { req, res, core, name } = this;
    const current = req.session as RequestSession | null | undefined;
    if (current !== this.view) {
      // Nothing was loaded, so there is nothing to keep or destroy, whatever the app set since.
      if (this.view === undefined) return commitNodeResponse(res, core, status, name);
      // express-session's `unset`: 'keep' leaves the stored session as it was, dropping this request's changes.
      if (current == null)
        return commitNodeResponseAfter(this.unset === 'destroy' ? core.destroy() : core.discard(), res, core, status, name);
      // Saving the session the app let go of would keep a user it meant to sign out (`req.session = {}`) signed in.
      return Promise.reject(new SessUsageError(REPLACED));
    }
    return commitNodeResponse(res, core, status, name);
  }
  /**
   * The session of a request no response answers (see `answersNothing`), loaded read-only: it is
   * committed now, for the handshake's checks (`io.use`) to read, as a long-polling handshake's
   * is by the time they run. A socket's writes go through `socket(req).use(...)`. The commit's
   * effects go nowhere: a read-only commit writes nothing, and a socket can't set cookies.
   */
  committedUnanswered(): void {
    this.committed = true;
    Promise.resolve(commitHeaders(new Headers(), this.core, 200, this.name)).then(() => this.next(), this.next);
  }
  /**
   * A compression mounted before the session starts its gzip stream only when the held output is
   * replayed, so a `res.flush()` made meanwhile (an event stream's) found no stream and the flushed
   * event waited in gzip for the next one: it is owed, and made once the held output is out.
   */
  onHold(): void {
    const res = this.res as Flushable;
    const { flush } = res;
    if (typeof flush !== 'function' || !Object.hasOwn(res, 'flush')) return;
    let owed = false;
    res.flush = () => void (owed = true);
    const replayed = () => {
      res.flush = flush;
      if (owed) flush.call(res);
    };
    // A commit that output started resolves once its held output is replayed, or answered as failed.
    this.deferred?.settle(res.statusCode).then(replayed, replayed);
  }
  fail(error: unknown): void {
    const { res } = this;
    // The held body is dropped, so the headers that described it (set before it or by its
    // writeHead) would describe the error answer: a 503 marked gzip that no client can decode, or
    // saved as the attachment. Express's finalhandler drops some of them for the same reason.
    // (The hold has closed the connection with the answer: what the handler started is cut off
    // too, and Express's sendFile and download take that for a client gone, ECONNABORTED, which
    // has Express destroy the socket a few turns after the answer left.)
    if (!res.headersSent) for (const name of BODY_HEADERS) res.removeHeader(name);
    // The handler does not know its output was dropped: what it still sends (a stream it piped in)
    // before an error handler that answers later would go out under its own 2xx. It goes out as
    // the failure instead; the error handler still sets the status it chooses.
    res.statusCode = failureStatus(error);
    this.next(error);
  }
}

/** What the middleware needs of an Express app: its own prototypes, and the app it is mounted in. */
type App = { readonly request: object; readonly response: object; readonly parent?: App };

/**
 * The session middleware. Validates `options` once (throwing `SessConfigError` for a short
 * secret, bad numbers or unsupported options), then per request: reads the cookie, loads the
 * record it names (one store read, none without a valid cookie), exposes `req.session`, and
 * commits before the response headers leave. A failed store call reaches Express's error
 * handling as a `SessStoreError` (status hint 503).
 *
 * The commit waits in gates on `writeHead`, `write` and `end`, and `req.sessionID` is an
 * accessor: both sit on prototype layers put once into the prototypes of the Express app (the
 * outermost one, which its sub-apps inherit) that runs this middleware, never on Express's own
 * shared prototypes, so other apps in the process (with express-session, or with no session at
 * all) never pass through them. A bare `http` or connect request, which no app's prototypes
 * cover, gets both on the instance instead (the accessor, and the gates wrapping its response's
 * methods), so Node's prototypes and the request's shape stay as they are.
 */
export function session(options: SessionOptions): SessionMiddleware {
  const manager = createManager(managerOptions(options), OPTIONS);
  const { proxy, unset = 'keep', readOnly, asyncContext } = options;
  // `cookie.originalMaxAge`: the lifetime a session starts with (the core's is 24 h unless set), so
  // `cookie.maxAge = cookie.originalMaxAge` puts it back, as in express-session.
  const maxAge = options.cookie?.maxAge;
  const view = expressView(maxAge === undefined ? DEFAULT_MAX_AGE_MS : maxAge, options.name, options.cookie);

  const handoff: RequestHandler = (req, res, next) => {
    const token = typeof req.query.token === 'string' ? req.query.token : (req.body as { token?: unknown } | undefined)?.token;
    // The answer can come after the response left (an app's timeout answered a slow store read):
    // that throws here, and goes to Express rather than the process.
    handoffHeaders(manager, token, req.headers['sec-fetch-site'], nodeHeaders(res))
      .then((status) => res.status(status).end())
      .catch(next);
  };

  // An upgrade request never went through Express, so `req.secure` is unknown: ask the socket
  // (or X-Forwarded-Proto, with `proxy: true`).
  const socket = (req: IncomingMessage): SocketSession<RequestSession> =>
    socketSession(manager, { cookieHeader: req.headers.cookie, secure: isSecureRequest(req, proxy === true) }, (core) => view(core).view);

  // The app whose prototypes the layers were last put into: most servers run one.
  let layered: App | undefined;
  const sessionMiddleware: RequestHandler = (req, res, next) => {
    let app = (req as unknown as { app?: App }).app;
    while (app?.parent !== undefined) app = app.parent;
    if (app !== undefined) {
      if (app !== layered) {
        requests.insert(app.request);
        output.gates.insert(app.response);
        layered = app;
      }
    } else if (!Object.hasOwn(req, 'sessionID')) {
      // Bare `http` or connect: Node's prototypes stay as they are (the hold wraps such a response
      // on the instance too). An own `sessionID` is an earlier session middleware's: it stays.
      Object.defineProperty(req, 'sessionID', OWN_SESSION_ID);
    }
    // Mounted twice, a router re-entering, or an app that the first one's app calls unmounted
    // (vhost), whose own prototypes it has just covered: the first one owns the session.
    if (req.session !== undefined) return next();
    const unanswered = answersNothing(res);
    const core = manager.begin(new ExpressRequestFacts(req, proxy, unanswered || (readOnly?.(req) ?? false)));
    const commit = new Commit(req, res, next, core, manager.name, unset);
    commit.handOver(view(core, commit).view);
    if (!unanswered) commit.deferred = output.hold(res, commit);
    const loaded = unanswered ? () => commit.committedUnanswered() : next;
    // `next` itself on success (a load resolves to nothing): the failure path's closure is the only one a request makes.
    const proceed = () => core.load().then(loaded, (error: unknown) => commit.unloaded(error));
    void (asyncContext === true ? context.run(commit, proceed) : proceed());
  };

  return Object.assign(sessionMiddleware, { handoff, socket });
}
