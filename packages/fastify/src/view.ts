/**
 * `request.session` as @fastify/session users know it: the data as properties, `get`/`set`,
 * `sessionId`, and the operations with their promise or callback forms, on the kit's session view.
 */
import { SessUsageError, type Session, describeValue } from '@sess/core';
import {
  COOKIE_ATTRIBUTES,
  SESSION_ACCESSORS,
  SESSION_METHODS,
  assertAttributeKept,
  failureError,
  fixedAttributes,
  ownerOf,
  setLifetimeMs,
  setLifetimeUntil,
  viewOf,
  withCallbacks,
} from '@sess/core/adapter';
import type {
  AttributeWording,
  CallbackMethods,
  CookieAttribute,
  CookieOptions,
  FixedAttributes,
  SentCookieAttributes,
  SessionMethods as KitMethods,
} from '@sess/core/adapter';
import type { FastifyRequest } from 'fastify';
import { COOKIE_HINTS } from './options.js';

/** Declare your session's shape by merging into this interface: `declare module '@sess/fastify' { interface SessionData { user?: string } }`. */
export interface SessionData {}

/** What `regenerate` keeps: @fastify/session's list of fields to carry over, or sess's `{ keepData }` (default: nothing, as @fastify/session). */
export type RegenerateKeep = readonly string[] | { keepData?: boolean };

/**
 * What `request.session.options(opts)` takes: @fastify/session's cookie options for this one
 * session. Only the lifetime can change; the attributes are accepted as configured.
 */
export interface SessionCookieOverrides extends CookieOptions {
  /**
   * This session's lifetime in ms, kept with the session: `0`, `null` or `undefined` for a cookie
   * that ends with the browser, under a second (or negative) ends the session, capped at 400 days.
   */
  maxAge?: number | null | undefined;
  /** When this session ends, if `maxAge` gives no lifetime; `null` for the configured lifetime. */
  expires?: Date | null | undefined;
}

/** `regenerate`: a new id, empty unless told what to keep; the old record dies at commit (fixation defence). */
type Methods = Omit<KitMethods, 'regenerate'> & { regenerate(keep?: RegenerateKeep): Promise<void> };

/** What `request.session` offers beside the data: the kit's operations, @fastify/session's names, and callback forms. */
export interface SessionMethods extends CallbackMethods<Methods, 'regenerate' | 'destroy' | 'reload' | 'save'> {
  /** @fastify/session's name for `id`. */
  readonly sessionId: string | undefined;
  /**
   * The session cookie's remaining life in ms and its expiry, read-only: change them with
   * `options({ maxAge })` or `setExpiry`. Both are `null` for a cookie that ends with the browser,
   * as in @fastify/session. The attributes (`path`, `secure`, ...) read as the cookie is sent.
   */
  readonly cookie: SessionCookie;
  /** The value under `key`, as `request.session[key]` reads it (@fastify/session's and @fastify/secure-session's `get`). */
  get<K extends string>(key: K): K extends keyof SessionData ? SessionData[K] | undefined : unknown;
  /**
   * Sets `key` (values must survive JSON); the session is saved before the response headers leave.
   *
   * @throws SessUsageError for a member's name (`id`, `cookie`, `save`, ...): data can't shadow one.
   */
  set<K extends string>(key: K, value: K extends keyof SessionData ? SessionData[K] : unknown): void;
  /**
   * @fastify/session's per-session cookie options, for "remember me": `options({ maxAge })` (ms)
   * or `options({ expires })` sets this session's lifetime, as `setExpiry` does.
   *
   * @throws SessUsageError for an attribute (`domain`, `secure`, ...) other than the configured
   *   one (set it in the plugin's `cookie` option), or a value of the wrong type. Nothing changes then.
   */
  options(opts: SessionCookieOverrides): void;
}

/** `request.session.cookie`: the lifetime (what `JSON.stringify` and a spread show), and the attributes as sent. */
export interface SessionCookie extends SentCookieAttributes {
  /** The session's remaining life in ms; `null` for a cookie that ends with the browser. */
  readonly maxAge: number | null;
  /** When the session ends; `null` for a cookie that ends with the browser. */
  readonly expires: Date | null;
}

/** `request.session`: the data you declare in `SessionData`, as properties, with the operations beside them. */
export type FastifySession = SessionMethods & Partial<SessionData>;

/** Rejects with a store failure as the error Fastify answers with: status 503, the cause kept. */
export const rejected = (error: unknown) => Promise.reject(failureError(error) ?? error);

/** Whether `keep` is nothing, or a plain `{ keepData? }` with a boolean (a Set, say, has no own keys either). */
const keepsOption = (keep: unknown): keep is { keepData?: boolean } | null | undefined =>
  keep == null ||
  (typeof keep === 'object' &&
    [Object.prototype, null].includes(Object.getPrototypeOf(keep)) &&
    Object.keys(keep).every((key) => key === 'keepData') &&
    [undefined, true, false].includes((keep as { keepData?: unknown }).keepData as boolean | undefined));

async function regenerate(core: Session, keep: unknown): Promise<void> {
  // Empty by default, as @fastify/session: @fastify/passport's logOut() relies on it to sign out.
  if (keepsOption(keep)) return core.regenerate({ keepData: keep?.keepData ?? false });
  // Anything else would keep every field (a string, a Set, keepData: 'no'), where @fastify/session keeps none.
  if (!Array.isArray(keep) || !keep.every((key) => typeof key === 'string'))
    throw new SessUsageError("request.session.regenerate(keep): keep must be a list of field names (['user']) or { keepData: boolean }");
  const kept = keep.filter((key) => core.has(key)).map((key) => [key, core.get(key)] as const);
  await core.regenerate({ keepData: false });
  for (const [key, value] of kept) core.set(key, value);
}

/** What to do instead, for a plugin of the ecosystem that keeps its data under a member's name. */
const RENAME: ReadonlyMap<string, string> = new Map([
  [
    'flash',
    '@fastify/flash keeps its messages there and cannot work with sess: use request.session.flash(kind, message) and takeFlash(kind) instead',
  ],
]);

const UPGRADE_SAVE =
  "request.session.save() can't save on a WebSocket's upgrade request: no HTTP response will commit its session. Make the change in app.sessions.socket(request).use(...), which saves it to the store";
const LATE_SAVE =
  "request.session.save() can't save once the response has gone (the session was committed with it), and changes made to request.session since were dropped: make them before the reply is sent";

/**
 * @fastify/session's `save()` writes the store at once, so its apps call it where no response
 * follows: after the reply (an `onResponse` hook), or in a @fastify/websocket handler, whose
 * upgrade request it marks with `request.ws` and whose reply never goes out. There the save
 * fails, to the caller and in the request's log (a bare `save()` hears nothing), instead of
 * resolving over changes that are dropped.
 */
function save(core: Session, view: object): Promise<never> | undefined {
  const request = ownerOf(view) as (FastifyRequest & { ws?: unknown }) | undefined;
  const why = request?.ws === true ? UPGRADE_SAVE : core.save() ? undefined : LATE_SAVE;
  if (why === undefined) return undefined;
  request?.log.warn(why);
  return Promise.reject(new SessUsageError(why));
}

const METHODS = withCallbacks(
  {
    ...SESSION_METHODS,
    regenerate: (core: Session, _view: unknown, keep?: RegenerateKeep | null) => regenerate(core, keep).catch(rejected),
    destroy: (core: Session) => core.destroy().catch(rejected),
    reload: (core: Session) => core.reload().catch(rejected),
    save,
    // The same as reading and assigning the property (as @fastify/session's `this[key]`): a
    // member's name reads the member, and can't be set, so stored data never shadows one.
    get: (_core: Session, view: object, key: string) => Reflect.get(view, key) as unknown,
    set: (_core: Session, view: object, key: string, value: unknown) => {
      if (MEMBERS.has(key))
        throw new SessUsageError(
          `request.session.set('${key}', ...): ${key} is a member of request.session, not data; ${RENAME.get(key) ?? 'rename the key'}`,
        );
      Reflect.set(view, key, value);
    },
  },
  ['regenerate', 'destroy', 'reload', 'save'],
);

/** The view's members (see `fastifyView`): data under these names would be stored, yet read as the member. */
const MEMBERS: ReadonlySet<string> = new Set([
  ...Object.keys(SESSION_ACCESSORS),
  'sessionId',
  'cookie',
  ...Object.keys(METHODS),
  'options',
]);

const REFUSED: AttributeWording = {
  refused: (attribute) => `request.session.options({ ${attribute} }) can't change the cookie's ${attribute} for one session`,
  setInstead: (setting) => `register(session, { cookie: ${setting} })`,
  secureRequests: 'Fastify calls secure (request.protocol: see its trustProxy)',
};
const COOKIE_REFUSED: AttributeWording = {
  ...REFUSED,
  refused: (attribute) => `request.session.cookie.${attribute} can't be set for one session`,
};

/**
 * A setter that throws, since a frozen object's property ignores an assignment without a word in
 * sloppy-mode code (CommonJS without 'use strict'), where @fastify/session apps assign these.
 */
const lifetimeRefused = (key: 'maxAge' | 'expires') => () => {
  throw new SessUsageError(
    `request.session.cookie.${key} can't be assigned: sess keeps the lifetime with the session. Call request.session.options({ ${key} }) instead`,
  );
};

/**
 * `request.session.cookie` of one registration: the lifetime as own properties, read when read,
 * on a prototype (made once) whose attributes read as sent and accept only the configured value.
 */
function cookieMaker(attributes: FixedAttributes): (core: Session) => SessionCookie {
  const prototype = Object.freeze(
    Object.defineProperties(
      {},
      Object.fromEntries(
        COOKIE_ATTRIBUTES.map((key) => [
          key,
          { get: () => attributes.sent[key], set: (value: unknown) => assertAttributeKept(attributes, key, value, COOKIE_REFUSED) },
        ]),
      ),
    ),
  );
  return (core) =>
    Object.freeze(
      Object.create(prototype, {
        maxAge: { get: () => (core.endsWithBrowser ? null : core.maxAgeMs), set: lifetimeRefused('maxAge'), enumerable: true },
        expires: { get: () => (core.endsWithBrowser ? null : new Date(core.expiresAt)), set: lifetimeRefused('expires'), enumerable: true },
      }) as SessionCookie,
    );
}

const usage = (message: string) => new SessUsageError(`request.session.options(opts): ${message}`);

/**
 * @fastify/session's `options(opts)`, checked whole before anything changes. Its lifetime rule:
 * a `maxAge` other than 0 wins, then `expires`; a `maxAge` of 0, null or undefined given without
 * an `expires` makes a cookie that ends with the browser; an `expires` of null alone restores the
 * configured lifetime (@fastify/session rebuilds the cookie from the configured options).
 */
function setOptions(core: Session, attributes: FixedAttributes, opts: unknown): void {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw usage(`opts must be an object of cookie options, such as { maxAge: ms }, got ${describeValue(opts)}`);
  const given = opts as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (key === 'maxAge' || key === 'expires') continue;
    const value = given[key];
    if ((COOKIE_ATTRIBUTES as readonly string[]).includes(key)) assertAttributeKept(attributes, key as CookieAttribute, value, REFUSED);
    else if (value !== undefined) throw usage(`${key}: ${COOKIE_HINTS[key] ?? 'not a cookie option sess knows; remove it'}`);
  }
  const { maxAge, expires } = given;
  if (maxAge != null && (typeof maxAge !== 'number' || Number.isNaN(maxAge)))
    throw usage(`maxAge must be a number of ms (0 or null: until the browser closes), got ${describeValue(maxAge)}`);
  if (expires != null && !(expires instanceof Date && !Number.isNaN(expires.getTime())))
    throw usage(`expires must be a valid Date (null: the configured lifetime), got ${describeValue(expires)}`);
  if (typeof maxAge === 'number' && maxAge !== 0) setLifetimeMs(core, maxAge);
  else if (expires instanceof Date) setLifetimeUntil(core, expires);
  else if (Object.hasOwn(given, 'maxAge')) core.setExpiry(0);
  else if (Object.hasOwn(given, 'expires')) core.setExpiry(null);
}

/**
 * The views of one registration: a Proxy per request, over the request's core session. `cookie`
 * is the plugin's `cookie` option and `name` its cookie's name, which `options()` checks against.
 */
export function fastifyView(cookie: CookieOptions = {}, name = '') {
  const attributes = fixedAttributes(cookie, name);
  return viewOf<FastifySession>({
    accessors: {
      ...SESSION_ACCESSORS,
      sessionId: SESSION_ACCESSORS.id,
      cookie: { get: cookieMaker(attributes) },
    },
    methods: { ...METHODS, options: (core: Session, _view: unknown, opts: unknown) => setOptions(core, attributes, opts) },
  });
}
