/**
 * `ctx.session` as koa-session users know it: the session's data as properties, with the methods,
 * `maxAge` and `toJSON` beside them, on the kit's session view.
 */
import type { Context } from 'koa';
import { SessUsageError, type Session } from '@sess/core';
import { SESSION_ACCESSORS, SESSION_METHODS, flashAccessor, lifetimeExpiry, ownerOf, viewOf, withCallbacks } from '@sess/core/adapter';
import type { CallbackMethods, SessionMethods as KitMethods } from '@sess/core/adapter';

/** Declare your session's shape by merging into this interface (see README). */
export interface SessionData {}

/**
 * The kit's methods, with koa-session's callback forms (`save(cb)`, `regenerate(cb)`), which
 * passport 0.6+ calls through koa-passport: a method given a callback calls it instead of returning a promise.
 */
export interface SessionMethods extends CallbackMethods<KitMethods, 'regenerate' | 'destroy' | 'reload' | 'save'> {
  /**
   * The session's lifetime in ms, what a cookie sent now would get (koa-session's `maxAge`), `'session'` for a cookie that ends with the
   * browser, or the configured `maxAge` while the session has no id. Assign ms to change this session's lifetime, `'session'` for a cookie that ends
   * with the browser, or `undefined` for the configured lifetime.
   */
  maxAge: number | 'session' | undefined;
  /** A plain copy of the data; after the commit, the data as committed. */
  toJSON(): Partial<SessionData>;
}

export type KoaSession = SessionMethods & Partial<SessionData>;

/** `setExpiry`'s argument for a `maxAge` the app assigns (ms, `'session'`, or `undefined` for the configured lifetime). */
const expiryOf = (maxAge: unknown) => lifetimeExpiry(maxAge, 1, 'ctx.session.maxAge', SessUsageError);

const LATE_SAVE =
  'ctx.session.save() came after the session was committed (in a middleware ahead of session(), after `await next()`, or once the response had gone), so the changes made since were dropped: make them, and save, behind session(), before the response';

/**
 * koa-session's `save()` writes at once, so its apps call it where sess has committed already:
 * after `await next()` in a middleware ahead of session(), or after the response. There it fails,
 * to the caller and on Koa's 'error' event (a bare `save()` hears nothing), instead of resolving
 * over changes that are dropped.
 */
function save(core: Session, view: object): Promise<never> | undefined {
  if (core.save()) return undefined;
  const error = new SessUsageError(LATE_SAVE);
  const ctx = ownerOf(view) as Context | undefined;
  // Emitted only to a listener: an 'error' event nobody hears throws, here maybe inside a timer.
  if (ctx !== undefined && ctx.app.listenerCount('error') > 0) ctx.app.emit('error', error, ctx);
  return Promise.reject(error);
}

const { flash: _, ...methods } = SESSION_METHODS;
const METHODS = {
  ...withCallbacks({ ...methods, save }, ['regenerate', 'destroy', 'reload', 'save']),
  toJSON: (_core: Session, view: object) => ({ ...view }),
};

const FLASH_TAKEN =
  "ctx.session.flash is sess's flash(kind, message) and holds no data: koa-better-flash, koa-connect-flash and helpers that keep their messages there cannot work with sess. Call ctx.session.flash(kind, message) and ctx.session.takeFlash(kind) instead, or keep your own messages under another key";

/** The view's accessors besides `maxAge`, which depends on the middleware's options. */
const ACCESSORS = { ...SESSION_ACCESSORS, flash: flashAccessor(FLASH_TAKEN) };

/** The view's members besides `maxAge`: data under these names would be stored, yet read as the member (`id` would print the session id). */
const MEMBERS = new Set([...Object.keys(ACCESSORS), ...Object.keys(METHODS)]);

/** The views of one middleware (each owned by its request's `ctx`); a session without an id reports the configured `maxAge`. */
export function koaView(defaultMaxAge: number | 'session') {
  return viewOf<KoaSession>({
    accessors: {
      ...ACCESSORS,
      maxAge: {
        get: (core) => (core.id === undefined ? defaultMaxAge : core.endsWithBrowser ? 'session' : core.maxAgeMs),
        set: (core, value) => core.setExpiry(expiryOf(value)),
      },
    },
    methods: METHODS,
  });
}

/**
 * `ctx.session = { ... }` (koa-session): the object's keys become the whole session, except
 * `maxAge`, which sets the session's lifetime as `ctx.session.maxAge = ...` does.
 */
export function replaceData(core: Session, value: object): void {
  // Read first: the object may be the view itself (`ctx.session = ctx.session`), which clear() empties.
  const { maxAge, ...data } = { ...value } as Record<string, unknown>;
  // Checked before anything changes, so a bad lifetime leaves the session as it was.
  const expiry = Object.hasOwn(value, 'maxAge') ? expiryOf(maxAge) : undefined;
  const member = Object.keys(data).find((key) => MEMBERS.has(key));
  if (member !== undefined)
    throw new SessUsageError(`ctx.session = { ${member}, ... }: ${member} is a member of ctx.session, not data; rename the key`);
  core.clear();
  for (const [key, item] of Object.entries(data)) core.set(key, item);
  if (expiry !== undefined) core.setExpiry(expiry);
}
