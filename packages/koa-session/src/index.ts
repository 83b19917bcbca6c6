/**
 * @sess/koa-session: koa-session's API on the sess core, for Koa 2 and 3. The same options, the
 * same `ctx.session`, the same cookies (`koa.sess` and its `.sig`, signed with `app.keys`) and
 * the same external-store contract, so an app moves by pointing `koa-session` at this package,
 * and its users stay signed in; moving back works the same way.
 *
 * The middleware only translates: it reads the cookie as koa-session does, reports what the app
 * did with `ctx.session`, and writes the core's answer as koa-session's cookies. Every session
 * decision (what to save, extend, destroy, send) is in `@sess/core`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, randomUUID } from 'node:crypto';
import type { SessionEvent, SessionManagerOptions, StandardSchemaV1 } from '@sess/core';
import { SessUsageError, cookieSessions, createSessionManager, createSigner } from '@sess/core';
import { DEFAULT_MAX_AGE_MS, MAX_LIFETIME_MS, cancelUnread, defined, prototypeLayer } from '@sess/core/adapter';
import type { Context, Middleware } from 'koa';
import { sameSitePlan } from './cookies.js';
import { koaFormat } from './format.js';
import { keysReader } from './keys.js';
import { type KoaApp, type SessionOptions, checkedOptions, sameSiteOf } from './options.js';
import { RequestSession, type Shared, koaError } from './request.js';
import { cookieCodec, externalStore } from './storage.js';
import type { Session } from './view.js';
import { warnOnce } from './warnings.js';

export type { KoaApp, SessionOptions } from './options.js';
export type { ExternalKey } from './options.js';
export type { ExternalStore } from './storage.js';
export type { KoaSessionObject } from './format.js';
export type { Session } from './view.js';

/** koa-session's name for the options' type. */
export type CreateSessionOptions = SessionOptions;

declare module 'koa' {
  interface ExtendableContext {
    /** The session; `null` after the app assigned `null`. Assign an object to replace it, `null` to destroy it. */
    get session(): Session | null;
    set session(value: Record<string, unknown> | null);
    /** The options of this request's session; `maxAge` is this session's and may be set. */
    readonly sessionOptions: SessionOptions;
  }
}

/** The core's name for the cookie it plans, which only this package reads: the app's cookie is `key`. */
const CORE_NAME = 'koa-session';
/** With renew, the core's touch interval: any length above 0 and well under 400 days works, as the format places `touchedAt` by koa-session's rule. */
const RENEW_TOUCH_MS = 1_000;

/** Stands for a request's session in the core's callbacks (store calls, ids, events), which run inside the request. */
const requests = new AsyncLocalStorage<RequestSession>();
function current(): RequestSession {
  const request = requests.getStore();
  if (request === undefined) throw new SessUsageError('the session was used outside the request that owns it');
  return request;
}

const STATE = Symbol('@sess/koa-session');
const stateOf = (ctx: object) => (ctx as Record<symbol, RequestSession | undefined>)[STATE];
function owned(ctx: object): RequestSession {
  const state = stateOf(ctx);
  if (state !== undefined) return state;
  throw new SessUsageError('ctx.session is there once the session middleware has run for this request: use it in middleware after it');
}

/**
 * `ctx.session` and `ctx.sessionOptions`, put once into each app's context prototype chain, as
 * koa-session defines them on `app.context` (and, as there, not enumerable).
 */
const contextLayer = prototypeLayer(() => ({
  session: {
    get(this: Context) {
      return owned(this).session();
    },
    set(this: Context, value: unknown) {
      owned(this).replace(value);
    },
    configurable: true,
  },
  sessionOptions: {
    get(this: Context) {
      return owned(this).sessionOptions();
    },
    configurable: true,
  },
}));

/** koa-session's events on the app, from the core's reports. */
const EVENTS: Partial<Record<SessionEvent['type'], (event: SessionEvent) => 'missed' | 'expired' | 'invalid'>> = {
  expired: (event) => (event.type === 'expired' && event.reason === 'gone' ? 'missed' : 'expired'),
  invalid: () => 'invalid',
};

/**
 * koa-session's middleware: `session(opts, app)`, `session(app, opts)` or `session(app)`.
 * Options are checked once, here (unknown ones are refused), and `ctx.session` is installed on
 * the app's context.
 *
 * Per request it reads the cookie (or the external key) as koa-session does, loads the session,
 * runs the rest of the app, and commits after `await next()` (also when it throws): the core
 * decides what to save, and its answer goes out as koa-session's cookies. A failed store call
 * reaches Koa as an error with status 503.
 *
 * @throws SessConfigError for an unknown option or a bad value.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import session from '@sess/koa-session';
 *
 * const app = new Koa();
 * app.keys = [process.env.SESSION_KEY!];
 * app.use(session(app));
 * app.use((ctx) => {
 *   ctx.session!.views = (ctx.session!.views ?? 0) + 1;
 *   ctx.body = `${ctx.session!.views} views`;
 * });
 * ```
 */
export function createSession(opts: SessionOptions | undefined, app: KoaApp): Middleware;
/** The same middleware, with the app first: `session(app)` or `session(app, opts)`. */
export function createSession(app: KoaApp, opts?: SessionOptions): Middleware;
export function createSession(first: unknown, second?: unknown): Middleware {
  const { app, options, maxAge } = checkedOptions(first, second);
  if (options.maxage !== undefined) {
    warnOnce('SESS_KOA_SESSION_MAXAGE', '`maxage` has been renamed to `maxAge` in koa-session; use maxAge');
  }
  const { key = 'koa.sess', signed = true, overwrite = true, autoCommit = true, rolling = false, renew = false } = options;
  const sameSite = sameSiteOf(options.sameSite);
  const storeMode = options.store !== undefined || options.ContextStore !== undefined;
  if (!signed)
    warnOnce(
      'SESS_KOA_SESSION_UNSIGNED',
      'signed: false: the session cookie carries no signature, so a client can forge any session; remove signed: false to sign it with app.keys',
    );
  const partitioned = options.partitioned === true;
  const sameSites = sameSitePlan(sameSite, partitioned, options.secure);
  if ((sameSite === 'none' || partitioned) && options.secure !== true) {
    warnOnce(
      'SESS_KOA_SESSION_NOT_SECURE',
      "sameSite: 'none' and partitioned need a Secure cookie, which browsers drop otherwise: the session cookie carries them on secure requests only (ctx.secure); set secure: true to send them on every request",
    );
  }
  if (sameSite === undefined) {
    warnOnce(
      'SESS_KOA_SESSION_SAMESITE',
      "the session cookie is sent without SameSite, as koa-session sends it; set sameSite: 'lax' so browsers keep it off cross-site requests",
    );
  }
  if (storeMode && options.genid === undefined) {
    warnOnce(
      'SESS_KOA_SESSION_GENID',
      "new session keys are UUIDs (122 random bits), as koa-session's; pass genid: () => randomBytes(24).toString('base64url') for 192",
    );
  }

  // A maxAge of 0 is koa-session's none (see checkedOptions); the app still reads it as given.
  const lifetime = maxAge === 0 ? undefined : maxAge;
  const maxAgeMs = typeof lifetime === 'number' ? lifetime : DEFAULT_MAX_AGE_MS;
  // koa-session renews by each session's own maxAge: the format places a loaded record's
  // touchedAt so the core's touch rule agrees (rolling touches every time, and wins).
  const format = koaFormat(maxAge === 'session', maxAgeMs, renew && !rolling ? { maxAge } : undefined);
  const clock = Date.now;
  const [currentSecret, olderSecret] = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];
  const codec = cookieCodec({
    format,
    current,
    clock,
    key,
    signed,
    encode: options.encode ?? encodeBase64,
    decode: options.decode ?? decodeBase64,
  });
  const { valid } = options;
  const managerOptions: SessionManagerOptions = {
    // The core signs only ids that stay in this process (store mode): the cookie is koa-session's, signed with app.keys.
    secret: [currentSecret, olderSecret],
    store: storeMode ? externalStore({ format, current, clock, maxAge, rolling }) : cookieSessions({ codec }),
    name: CORE_NAME,
    cookie: defined({
      httpOnly: options.httpOnly ?? true,
      secure: options.secure ?? 'auto',
      sameSite: sameSites.planned.sameSite,
      path: options.path ?? '/',
      domain: options.domain,
      partitioned: sameSites.planned.partitioned,
      priority: options.priority,
    }),
    maxAgeMs,
    // koa-session's first cookie has no expiry unless maxAge is set; the saved `_maxAge` gives later ones theirs.
    expireAtBrowserClose: typeof lifetime !== 'number',
    // Every save re-sends koa-session's cookie (rolling with no touch due); rolling and renew extend the session too.
    // Without either, no touch is ever due: sess keeps nothing past MAX_LIFETIME_MS.
    rolling: true,
    touchAfterMs: rolling ? 0 : renew ? RENEW_TOUCH_MS : MAX_LIFETIME_MS,
    // koa-session commits whatever the response, thrown errors included.
    saveOnServerError: true,
    // koa-session saves an emptied session as `{}` and keeps its cookie.
    keepEmptySessions: true,
    clock,
    ...(storeMode && { generateId: () => current().newId() }),
    onEvent(event) {
      const name = EVENTS[event.type]?.(event);
      if (name === undefined) return;
      const request = current();
      // A valid() that threw turned nothing away: its error answers the request instead.
      if (request.validFailed) return;
      const payload = { key: storeMode ? request.clientKey : undefined, value: request.loaded, ctx: request.ctx };
      setImmediate(() => app.emit(`session:${name}`, payload));
    },
    ...(valid !== undefined && { schema: validSchema(valid) }),
  };
  const shown = Object.freeze({
    ...options,
    key,
    autoCommit,
    overwrite,
    httpOnly: options.httpOnly ?? true,
    signed,
    rolling,
    renew,
    maxAge,
  });
  const shared: Shared = {
    options: shown,
    manager: createSessionManager(managerOptions),
    coreName: CORE_NAME,
    key,
    signed,
    overwrite,
    autoCommit,
    sameSite,
    partitioned,
    koaAttributes: sameSites.koaAttributes,
    storeMode,
    store: options.store,
    ContextStore: options.ContextStore,
    externalKey: options.externalKey,
    genid:
      options.genid ??
      (
        (prefix) => () =>
          `${prefix}${randomUUID()}`
      )(options.prefix ?? ''),
    beforeSave: options.beforeSave,
    maxAge,
    rolling,
    renew,
    clock,
    keys: keysReader(),
    signers: { current: createSigner(currentSecret), older: createSigner(olderSecret) },
  };
  // Rolling and renew extend a store session on every request, read or not, as koa-session loads it for every one.
  const extendsUnread = storeMode && (rolling || renew);
  contextLayer.insert(app.context);

  return async function session(ctx, next) {
    // Mounted twice (or a router re-entering): the first one owns the session.
    if (stateOf(ctx) !== undefined) return next();
    const state = new RequestSession(ctx, shared);
    (ctx as unknown as Record<symbol, RequestSession>)[STATE] = state;
    await requests.run(state, async () => {
      try {
        state.begin();
        await state.core.load();
        if (storeMode) state.throwIfValidThrew();
        if (extendsUnread) state.core.keys();
        await next();
      } catch (error) {
        // koa-session commits in `finally`: what the handler did before throwing is saved, and
        // the cookies ride on the error, since Koa drops the headers set before it.
        const lines = state.commitDue && state.core !== undefined ? await state.commitOnce(500, autoCommit).catch(() => []) : [];
        throw koaError(error, lines, ctx);
      }
      // With autoCommit: false, the commit owed after save() or regenerate(), or the one manuallyCommit()
      // began: the answer waits for it, awaited or not, so its cookie goes out and a failure is answered.
      if (state.commitDue) await state.commitOnce(undefined, autoCommit).catch((error: unknown) => failed(ctx, error));
    });
  };
}

/**
 * A failed commit: Koa answers `error` with its own body, which leaves a web stream body (Koa 3:
 * a `ReadableStream`, or a `Response`'s) unread forever, its producer (a file, an upstream
 * `fetch`) open; cancelled as a closed connection would. Koa destroys a Node stream itself.
 */
function failed(ctx: Context, error: unknown): Promise<never> {
  cancelUnread(ctx.body);
  return Promise.reject(koaError(error));
}

/** koa-session's default cookie value: base64 of the session object's JSON. */
function encodeBase64(session: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(session)).toString('base64');
}

function decodeBase64(value: string): unknown {
  return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
}

/** `valid(ctx, session)` as the Standard Schema the core checks loaded data with: koa-session passes the object as read. */
function validSchema(valid: NonNullable<SessionOptions['valid']>): StandardSchemaV1 {
  return {
    '~standard': {
      version: 1,
      vendor: '@sess/koa-session',
      validate(value) {
        const request = current();
        let accepted: unknown;
        try {
          accepted = valid(request.ctx, (request.loaded ?? value) as Record<string, unknown>);
        } catch (error) {
          // The core would take a throw for "invalid" and start a new session: koa-session lets it reach Koa.
          request.validThrew(error);
          return { issues: [{ message: 'valid() threw' }] };
        }
        return accepted ? { value } : { issues: [{ message: 'valid() returned false' }] };
      },
    },
  };
}

export default createSession;
