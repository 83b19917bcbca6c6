/**
 * @sess/express-session: express-session's API, exactly, on the sess core. Install it under
 * express-session's name and the app, its stores (connect-redis, connect-pg-simple, ...) and
 * their records and cookies carry on unchanged:
 *
 * ```json
 * { "dependencies": { "express-session": "npm:@sess/express-session@^1.0.0" } }
 * ```
 *
 * ```js
 * const session = require('express-session');
 * app.use(session({ secret: process.env.SESSION_SECRET, resave: false, saveUninitialized: false }));
 * ```
 *
 * What changes underneath: every session decision is sess's lifecycle machine, the store write
 * happens before the response's headers leave (a failed write is an error, never a 2xx), store
 * calls time out, and `Vary: Cookie` goes out with responses that use the session.
 * `@sess/express` is the same middleware with sess's secure defaults.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { SessConfigError, createSessionManager, generateId, isWellFormedId } from '@sess/core';
import type { SessionManager, SessionManagerOptions } from '@sess/core';
import { createOutputHold, isSecure } from '@sess/core/adapter';
import type { RequestHandler } from 'express';
import { RequestStore } from './callback-store.js';
import { SessionCookie } from './cookie.js';
import type { CookieJSON, CookieSettings } from './cookie.js';
import { lifetimeOf, resolveCookie, settingsOf } from './options.js';
import type { MiddlewareOptions, Settings } from './options.js';
import { RequestSession, requestSessionOf } from './request.js';
import type { MiddlewareRequest } from './request.js';
import { ExpressSession } from './session.js';
import { cookieSignatureSigner } from './signer.js';
import type { SigningSecret } from './signer.js';
import { MemoryStoreBase, StoreBase } from './store.js';
import type { CallbackStore as ExpressStore } from './session.js';
import type { MemoryStoreConstructor, MemoryStoreInstance, StoreConstructor, StoreInstance } from './store.js';

declare global {
  namespace Express {
    interface Request {
      /** The session; gone after `destroy()` (and with `unset`). */
      session: session.Session & Partial<session.SessionData>;
      /** The session's id; a new session has one from the start. */
      sessionID: string;
      /** The store the session lives in (`options.store`), with the `generate(req)` the middleware adds. */
      sessionStore: SessionStore;
    }
    /** `req.sessionStore`: the store, with the middleware's `generate(req)` (as in `@types/express-session`). */
    type SessionStore = session.Store & { generate(req: Request): void };
  }
}

type Request = MiddlewareRequest & IncomingMessage & { secure?: boolean; secret?: unknown; app?: App; session?: unknown };
type App = { readonly response: object; readonly parent?: App };
type Next = (error?: unknown) => void;

/** The Set-Cookie path covers the request (express-session leaves requests outside it alone). */
function pathname(req: Request): string {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  if (url.startsWith('/')) return url.slice(0, url.search(/[?#]|$/));
  try {
    return new URL(url).pathname;
  } catch {
    return '/';
  }
}

/** express-session's rule: TLS, else `proxy: true` reads X-Forwarded-Proto, `false` nothing more, unset Express's `req.secure`. */
function isSecureRequest(req: Request, proxy: boolean | undefined): boolean {
  if ((req.socket as Partial<TLSSocket> | undefined)?.encrypted === true) return true;
  if (proxy === undefined) return req.secure === true;
  // `headers` may be missing: `store.generate` takes any request, as `Store.prototype.load`'s `{ sessionID, sessionStore }`.
  return proxy && isSecure(false, req.headers?.['x-forwarded-proto'], true);
}

/** The core's options for these settings; each request brings its store, lifetime and id maker. */
function managerOptions(settings: Settings<Request>, storeName: string): Omit<SessionManagerOptions, 'signer'> {
  const nothing = { reading: () => {}, attributes: () => ({}), data: () => ({}), loaded: () => {} };
  return {
    name: settings.name,
    store: new RequestStore(storeName, settings.store, nothing, null, 0),
    rolling: settings.rolling,
    // express-session's `resave`: the session the store gave is written again, changed or not,
    // unless `save(cb)` wrote it and nothing changed since.
    saveEveryRequest: settings.resave,
    // express-session's lifecycle, rule by rule (but a response >= 500 saves nothing, as in sess):
    saveUninitialized: settings.saveUninitialized,
    keepEmptySessions: true,
    touchEveryRequest: true,
    resendCookieOnChange: true,
    idAtStart: true,
  };
}

/**
 * The session middleware, as express-session's `session(options)`. Options are checked once
 * (throwing `SessConfigError` for an unknown option or a bad value); then per request it loads
 * the session the cookie names into `req.session` (a new one when there is none) and commits
 * it before the response's headers leave. A store failure reaches Express's error handling.
 */
function session(options?: session.SessionOptions): RequestHandler {
  const settings = settingsOf<Request>(options as unknown as MiddlewareOptions<Request>);
  const { store } = settings;
  const storeName = (store as { constructor?: { name?: string } }).constructor?.name || 'express-session store';
  const base = managerOptions(settings, storeName);
  const managers = new Map<unknown, SessionManager>();
  const managerFor = (secret: unknown): SessionManager | undefined => {
    if (!secret) return undefined;
    let manager = managers.get(secret);
    if (manager === undefined) {
      manager = createSessionManager({ ...base, signer: cookieSignatureSigner(secret as string) });
      managers.set(secret, manager);
    }
    return manager;
  };
  const configured =
    settings.secret === undefined ? undefined : createSessionManager({ ...base, signer: cookieSignatureSigner(settings.secret) });
  const output = createOutputHold();

  /**
   * express-session's `store.generate(req)`, which it adds to the store: a new, empty session
   * under a new id at `req.session`, with the configured cookie. Apps call it after `destroy()`
   * to start over, and `Store.prototype.regenerate` after deleting the old session. On a request
   * the middleware started a session for, the new session is saved at commit and its cookie sent
   * once the store holds it; the session it replaces is not written again (its record stays as it
   * is, or gone after `destroy()`). As in express-session, the last middleware made on a store
   * sets its `generate`.
   * @throws what `cookie(req)` or `genid(req)` throws, and SessConfigError for a malformed id.
   */
  (store as ExpressStore & { generate?: (req: Request) => void }).generate = function generate(req: Request): void {
    const request = requestSessionOf(req);
    if (request !== undefined) {
      request.generate();
      return;
    }
    // A request the middleware let pass (path, disconnected store) or never saw: a `Session` as
    // express-session makes it, which nothing saves unless the app calls its `save`.
    const id = settings.genid === undefined ? generateId() : settings.genid(req);
    if (!isWellFormedId(id)) {
      throw new SessConfigError(
        `genid returned ${String(JSON.stringify(id)).slice(0, 40)}: ids must be 22-128 characters of A-Z a-z 0-9 _ -`,
      );
    }
    req.sessionID = id;
    const generated = new ExpressSession(req, undefined);
    generated.cookie = new SessionCookie(resolveCookie(settings.cookie(req), isSecureRequest(req, settings.proxy)));
    req.session = generated;
  };

  // Requests pass without a session while the store says it is disconnected, as in express-session.
  let storeReady = true;
  store.on('disconnect', () => {
    storeReady = false;
  });
  store.on('connect', () => {
    storeReady = true;
  });

  /**
   * The request's session, or `undefined` where express-session lets a request pass without one:
   * a session already there, a disconnected store, a path outside the cookie's.
   * @throws what `cookie(req)` or `genid(req)` throws, and without any secret express-session's error.
   */
  const begin = (req: Request, next: Next): RequestSession<Request> | undefined => {
    if (req.session || !storeReady) return undefined;
    const cookie = settings.cookie(req);
    if (!pathname(req).startsWith(typeof cookie.path === 'string' && cookie.path !== '' ? cookie.path : '/')) return undefined;
    // Without `secret`, cookie-parser's (express-session's fallback, deprecated there).
    const manager = configured ?? managerFor(req.secret);
    if (manager === undefined) throw new Error('secret option required for sessions');
    const secure = isSecureRequest(req, settings.proxy);
    const resolved = resolveCookie(cookie, secure);
    return new RequestSession(req, {
      settings,
      manager,
      storeName,
      cookie: resolved,
      lifetimeMs: lifetimeOf(resolved, Date.now()),
      secure,
      fail: next,
    });
  };

  const middleware = (req: Request, res: ServerResponse, next: Next): void => {
    let request: RequestSession<Request> | undefined;
    try {
      request = begin(req, next);
    } catch (error) {
      next(error);
      return;
    }
    if (request === undefined) {
      next();
      return;
    }
    const session = request;
    // A WebSocket upgrade may hand in a stand-in response (`{}`): nothing to hold, `save()` writes.
    if (typeof res.writeHead === 'function') {
      let app = req.app;
      while (app?.parent !== undefined) app = app.parent;
      if (app !== undefined) output.gates.insert(app.response);
      output.hold(res, { commit: (status) => session.commit(res, status), fail: next });
    }
    session.open().then(() => next(), next);
  };
  return middleware as unknown as RequestHandler;
}

/** express-session's constructors and types, under the middleware's name as in `@types/express-session`. */
namespace session {
  export type SessionOptions = MiddlewareOptions<import('express').Request>;
  /**
   * A session's data as the store keeps it. Declare yours by merging into it:
   * `declare module 'express-session' { interface SessionData { views: number } }`.
   */
  export interface SessionData {
    cookie: Cookie;
  }
  export type CookieOptions = CookieSettings;
  export type CookieData = CookieJSON;
  export type Secret = SigningSecret;
  /** The callback methods the middleware calls on an express-session store. */
  export type CallbackStore = ExpressStore<SessionData>;
  export const Store = StoreBase as StoreConstructor<SessionData>;
  export type Store = StoreInstance<SessionData>;
  export const MemoryStore = MemoryStoreBase as MemoryStoreConstructor<SessionData>;
  export type MemoryStore = MemoryStoreInstance<SessionData>;
  export const Cookie = SessionCookie;
  export type Cookie = SessionCookie;
  export const Session = ExpressSession;
  export type Session = ExpressSession;
}

export default session;
