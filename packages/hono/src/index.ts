/**
 * @sess/hono: server-side sessions for Hono 4 on the sess core. The cookie carries a signed id,
 * the data lives in the store.
 *
 * The adapter only translates: it reads the request's facts, commits after `await next()` (by
 * then Hono holds the response it will send, an error answered by `app.onError` included) and
 * applies the effects the core returns to that response's headers.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { SessStoreError } from '@sess/core';
import type { HttpEffect } from '@sess/core';
import { CORE, SessionObject, applyEffects, cancelUnread, createSessionContext, failureError, handoffResponse } from '@sess/core/adapter';
import { commitFetch, isSecure, socketSession, upgradeSession, viewOf, withHeaders } from '@sess/core/adapter';
import type { SessionMethods, SocketRoutes, UpgradeRequest } from '@sess/core/adapter';
import { configure } from './options.js';
import type { SessionOptions } from './options.js';

export type { CookieOptions, SessionOptions } from './options.js';
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export type { UpgradeRequest } from '@sess/core/adapter';
export { memoryStore } from '@sess/store-memory';

/** Declare your session's shape by merging into this interface: `declare module '@sess/hono' { interface SessionData { user?: string } }`. */
export interface SessionData {}

/** The session of one request, as `c.get('session')` returns it. */
export interface HonoSession extends SessionMethods {
  /** The session's data: read and assign properties; the store is written when the response is ready. */
  readonly data: Partial<SessionData>;
  /**
   * Fetches the record the cookie names (once) and resolves to the session: reads and changes need it first.
   * A route that never calls it costs no store call. A failed store read rejects with an
   * `HTTPException` 503.
   */
  load(): Promise<HonoSession>;
  /** Empties the session; its record and cookie are deleted when the response is ready. */
  clear(): void;
}

/** The variables `session()` sets: `new Hono<{ Variables: SessionVariables }>()` types `c.get('session')`. */
export interface SessionVariables {
  /** The request's session: `await c.get('session').load()` before reading or changing it. */
  session: HonoSession;
}

/** The env `session()` declares: `new Hono<SessionEnv>()`, or chain `.use(session(...))` and the routes after it. */
export interface SessionEnv {
  /** What `c.get()` and `c.var` hold: the session. */
  Variables: SessionVariables;
}

type HttpStatus = ConstructorParameters<typeof HTTPException>[0];

/**
 * A store failure as the `HTTPException` 503 Hono answers; the cause keeps the details. A misuse
 * (`SessUsageError`) stays itself: Hono's default `onError` logs an Error, not an `HTTPException`.
 */
const asHttpException = (error: unknown): unknown =>
  error instanceof SessStoreError
    ? failureError(error, ({ status, message }) => new HTTPException(status as HttpStatus, { message, cause: error }))
    : error;
const rejected = (error: unknown) => Promise.reject(asHttpException(error));

type Data = Record<string, unknown>;
/** `data` is the kit's session view, so every read and write reaches the lifecycle and `__proto__` stays data. */
const dataView = viewOf<Data>({});

/**
 * The session of one request. Its store operations reject with an `HTTPException`: a handler's
 * errors reach `app.onError` before the middleware sees them, so it can't translate them there.
 */
class HonoView extends SessionObject {
  readonly data = dataView(this[CORE]).view;
  readonly load = (): Promise<this> => this[CORE].load().then(() => this, rejected);
  override readonly regenerate = (options?: { keepData?: boolean }): Promise<void> => this[CORE].regenerate(options ?? {}).catch(rejected);
  override readonly destroy = (): Promise<void> => this[CORE].destroy().catch(rejected);
  override readonly reload = (): Promise<void> => this[CORE].reload().catch(rejected);
  readonly clear = (): void => this[CORE].clear();
}

const context = createSessionContext<HonoSession>('@sess/hono');

/**
 * The current request's session, from any function the request calls, without passing `c`
 * down (`await getSession().load()` before the first read). Needs `session({ ..., asyncContext: true })`.
 *
 * @throws SessUsageError outside such a request.
 */
export const getSession = (): HonoSession => context.get();

/**
 * The platform's own `Response.prototype`, where node-server's lighter class stands in for the
 * global `Response` (`Response.error()` makes a platform one either way).
 */
const PLATFORM_RESPONSE = Object.getPrototypeOf(Response.error()) as object;
const PlatformResponse = PLATFORM_RESPONSE.constructor as typeof Response;

/** What node-server's lighter response sends, as it holds it: status, body (not yet read) and headers. */
type Held = [status: number, body: ConstructorParameters<typeof Response>[0], headers: unknown];
/**
 * A lighter class (node-server 1 and 2 each have one), found once: the symbol it keeps `Held`
 * under, and whether headers changed in place survive its turning into a platform response (a
 * later `c.header()`, Hono's answer to a HEAD). node-server 1 rebuilds it from what it was made
 * with, so they don't.
 */
interface LighterClass {
  readonly key: symbol;
  readonly keepsHeaders: boolean;
}
const LIGHTER = new WeakMap<object, LighterClass>();

function lighterOf(res: Response): LighterClass | undefined {
  const proto = Object.getPrototypeOf(res) as object;
  if (proto === PLATFORM_RESPONSE) return undefined;
  let lighter = LIGHTER.get(proto);
  if (lighter === undefined) {
    const key = Object.getOwnPropertySymbols(res).find((symbol) => symbol.description === 'cache');
    if (key === undefined) return undefined;
    const probe = new (res.constructor as typeof Response)('', { headers: {} });
    probe.headers.set('x-sess-probe', '1');
    // Reading `bodyUsed` turns it into a platform response, as a later `c.header()` does.
    lighter = { key, keepsHeaders: !probe.bodyUsed && probe.headers.has('x-sess-probe') };
    LIGHTER.set(proto, lighter);
  }
  return lighter;
}

function held(res: Response, lighter: LighterClass | undefined): Held | undefined {
  const parts = lighter === undefined ? undefined : (res as unknown as Record<symbol, unknown>)[lighter.key];
  return Array.isArray(parts) ? (parts as Held) : undefined;
}

/**
 * Whether node-server can't send `res`: a status Node refuses (outside 100-999: `Response.error()`'s
 * 0, `c.text(..., 1000)`), or a body the app already read or locked (a `fetch()`ed response read
 * before it was returned). A lighter response's body is looked at as it holds it: its `bodyUsed`
 * would build a platform response.
 */
function unsendable(res: Response, parts: Held | undefined): boolean {
  if (res.status < 100 || res.status > 999) return true;
  if (parts !== undefined) return parts[1] instanceof ReadableStream && parts[1].locked;
  return res.bodyUsed || res.body?.locked === true;
}

/**
 * `res` with headers of its own. A lighter response is copied from what it holds, its body not
 * read: reading it would build a platform response (~17 us) and spend a body node-server can
 * otherwise send again. Its status text, never sent by node-server, can't be read without that
 * and is left out.
 */
function ownCopy(res: Response, parts: Held | undefined): Response {
  if (parts !== undefined) {
    const Lighter = res.constructor as typeof Response;
    return new Lighter(parts[1], { status: parts[0], headers: new Headers(res.headers) });
  }
  // Copied as Hono copies one, in the kind it came as: node-server sends a platform response, or
  // a lighter one around it, with a short body's Content-Length, but a lighter one made from a
  // platform one's stream chunked.
  const Copy = Object.getPrototypeOf(res) === PLATFORM_RESPONSE ? PlatformResponse : Response;
  return new Copy(res.body, res);
}

/**
 * Makes way for the error answer that replaces `res` (its commit failed). Its body, which nobody
 * will read, is cancelled as a closed connection would: a stream's producer (`stream()`,
 * `streamSSE()`) hears an abort rather than waiting forever on its next write. Only a stream the
 * app handed over is cancelled: a lighter response's string or bytes may be sent again (a shared
 * response), and reading `body` would turn it into a platform one. Its headers go too, since Hono
 * copies them onto the error answer, where its Content-Length would hold the client to a length
 * the answer doesn't have: what `c.header()` set before the answer stays, as when a handler throws.
 */
function replace(c: Context, res: Response, parts: Held | undefined): void {
  cancelUnread(parts === undefined ? res.body : parts[1]);
  c.res = undefined;
  // Not left unset: `c.header()` in `onError` needs a response once Hono counts the context
  // finalized. This empty one goes out only if `onError` answers nothing.
  c.res = c.newResponse(null, 500);
}

/** An effect that differs between visitors: anything but `Vary: Cookie`. */
const personal = (effect: HttpEffect) => effect.type !== 'header.vary';

/** Puts the session's effects on the response Hono will send, `res` itself or a copy. */
function answer(
  c: Context,
  res: Response,
  lighter: LighterClass | undefined,
  parts: Held | undefined,
  effects: readonly HttpEffect[],
): void {
  // The app may return one Response to every request (made at module level, or once and kept):
  // a cookie set on it in place would reach the next visitor, and there is no telling it from
  // one made for this request. So a cookie (and the Cache-Control that comes with it) goes on a
  // copy. `Vary: Cookie` alone, the same for every visitor, goes on in place: a read then costs
  // no copy, but on node-server 1's lighter responses, which would lose it. An immutable
  // response is copied either way.
  const inPlace = !effects.some(personal) && (parts === undefined || lighter?.keepsHeaders === true);
  const target = inPlace ? res : ownCopy(res, parts);
  const response = withHeaders(target, (headers) => applyEffects(headers, effects));
  if (response !== res) {
    // Hono's `c.res` setter copies the old response's headers over the new one's, Set-Cookie
    // and Vary included, which would undo the session's: clear it first.
    c.res = undefined;
    c.res = response;
  }
}

/**
 * Whether node-server has sent the response's headers already (`c.env` is node-server's
 * `HttpBindings` there). Other runtimes give no such sign.
 */
const answered = (env: unknown): boolean => (env as { outgoing?: { headersSent?: boolean } } | undefined)?.outgoing?.headersSent === true;

/**
 * Whether the request came over TLS: node-server's socket says (`c.env.incoming`), not the URL,
 * whose scheme the client picks where it names one (an absolute request target such as
 * `GET https://host/ HTTP/1.1`, HTTP/2's `:scheme`). Elsewhere (`app.request()`) the URL is all there is.
 */
function encrypted(c: Context): boolean {
  const { incoming } = (c.env ?? {}) as { incoming?: { socket?: { encrypted?: boolean } | null } };
  return incoming === undefined ? c.req.url.startsWith('https:') : incoming.socket?.encrypted === true;
}

type Handoff = (c: Context) => Promise<Response>;
/**
 * `session(...)`: the middleware, plus what WebSocket apps need. `socket` takes the upgrade
 * route's Context, secure as the middleware decides (by the connection), or an upgrade `Request`
 * (`c.req.raw`, crossws's `peer.request`), secure by its URL's scheme.
 */
export interface SessionMiddleware
  extends MiddlewareHandler<SessionEnv>,
    SocketRoutes<Handoff, [upgrade: Context | UpgradeRequest], Partial<SessionData>> {}

/**
 * The session middleware for Hono 4. Validates `options` once (throwing `SessConfigError` for an
 * unknown option, a short secret or a bad number), then per request: verifies the cookie and
 * sets the session as `c.get('session')`; its `load()` reads the record the cookie names (one
 * store read, none without a valid cookie or a `load()`). It commits once the response is
 * known, before it leaves: a failed store write throws an `HTTPException` 503 to `app.onError`,
 * never a 2xx. A handler's thrown error reaches `app.onError` as without sess, and the session
 * commits with the status of the response `onError` answers, its headers on that response.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { session, type SessionEnv } from '@sess/hono';
 *
 * const app = new Hono<SessionEnv>();
 * app.use(session({ secret: process.env.SESSION_SECRET! }));
 * app.get('/', async (c) => {
 *   const s = await c.get('session').load();
 *   s.data.views = (s.data.views ?? 0) + 1;
 *   return c.text(`views: ${s.data.views}`);
 * });
 * ```
 */
export function session(options: SessionOptions): SessionMiddleware {
  const { manager, proxy, readOnly, asyncContext } = configure(options);
  const { name } = manager;

  const handoff: Handoff = (c) => handoffResponse(manager, c.req.query('token'), c.req.header('sec-fetch-site')).catch(rejected);
  const socketView = (core: Parameters<typeof dataView>[0]) => dataView(core).view as Partial<SessionData>;
  const secureOf = (c: Context) => isSecure(encrypted(c), c.req.raw.headers.get('x-forwarded-proto'), proxy);
  const socket = (upgrade: Context | UpgradeRequest) => {
    // A Context has no `url` of its own; a Request (or crossws's peer.request) has no `req`.
    if (!('req' in upgrade)) return upgradeSession(manager, upgrade, proxy, socketView);
    const { headers } = upgrade.req.raw;
    return socketSession(manager, { cookieHeader: headers.get('cookie') ?? undefined, secure: secureOf(upgrade) }, socketView);
  };

  const sessionMiddleware: MiddlewareHandler<SessionEnv> = async function sessionMiddleware(c, next) {
    // Mounted twice: the first one owns the session.
    if (c.get('session') !== undefined) return next();
    const core = manager.begin({
      cookieHeader: c.req.raw.headers.get('cookie') ?? undefined,
      secure: secureOf(c),
      readOnly: readOnly?.(c) ?? false,
    });
    // Lazy (design §2.2): nothing is read until the handler calls `load()`.
    const view = new HonoView(core) as HonoSession;
    c.set('session', view);
    // Hono's compose hands an Error thrown below to `app.onError` before `next()` returns, so
    // `c.res` is then the response Hono will send, error responses included. What still throws
    // here (a thrown non-Error, an `onError` that throws) goes on as it would without sess,
    // uncommitted: nothing is saved, as for any 5xx.
    await (asyncContext ? context.run(view, next) : next());
    // A handler that returned no Response at all (a string) is node-server's to refuse with its
    // 500, as without sess, unseen by `app.onError`: it counts as no response here.
    const res = c.finalized && c.res.headers !== undefined ? c.res : undefined;
    const lighter = res && lighterOf(res);
    const parts = res && held(res, lighter);
    // A response node-server can't send gets its 500, as without sess, and stays as it is (a copy
    // would change its status, or fail on its spent body).
    const refused = res !== undefined && unsendable(res, parts);
    // The answer left before the session's headers could join it: either the app wrote to
    // `c.env.outgoing` itself (node-server's shared RESPONSE_ALREADY_SENT), or a middleware ahead
    // of this one let Hono answer without awaiting `next()` (Hono's 500 "Context is not
    // finalized", its own response, `hono/timeout`'s): Hono drops the handler's response then,
    // and its session changes go with it.
    const bypassed = answered(c.env) || res?.headers.has('x-hono-already-sent') === true;
    // Whether the session's headers have a response to go on. Without one (none, so Hono answers
    // its 500; a refused one; a bypassed one) no cookie reaches the browser, so the commit saves
    // nothing (`saveOnServerError` or not): a new id saved there (a regenerate, a new session)
    // would leave the browser on a cookie the store no longer honours as it did.
    const carried = res !== undefined && !refused && !bypassed;
    try {
      // `headers` is missing where the handler returned no Response at all (a string). Awaited only
      // when it is a promise: a step on every request otherwise.
      const committed = commitFetch(core, carried ? res.status : 500, name, c.res.headers as Headers | undefined, undefined, !carried);
      const effects = committed instanceof Promise ? await committed.catch(rejected) : committed;
      if (carried && effects.length > 0) answer(c, res, lighter, parts, effects);
    } catch (error) {
      // The error answer (a failed store write's 503, or a throw while committing) replaces this response.
      if (res !== undefined && !bypassed) replace(c, res, parts);
      throw error;
    }
  };

  return Object.assign(sessionMiddleware, { handoff, socket });
}
