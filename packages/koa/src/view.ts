/**
 * `ctx.session` as koa-session users know it: a plain-looking object whose properties are the
 * session's data, with the methods and `maxAge` beside them. It is a Proxy over the core
 * session, so every read and write reaches the lifecycle; stored keys that collide with a
 * method name never shadow it, and `__proto__` stays data.
 */
import { inspect } from 'node:util';
import { SessUsageError } from '@sess/core';
import type { Session as CoreSession } from '@sess/core';

/** Declare your session's shape by merging into this interface (see README). */
export interface SessionData {}

export interface SessionMethods {
  /** The session id, once the session has one. */
  readonly id: string | undefined;
  /**
   * Remaining life in ms (koa-session's `maxAge`), or the configured `maxAge` while the session
   * has no id. Assign ms to change this session's lifetime, `'session'` for a cookie that ends
   * with the browser, or `undefined` for the configured lifetime.
   */
  maxAge: number | 'session' | undefined;
  /** New id, data kept unless `keepData: false`; the old record dies at commit (fixation defence). */
  regenerate(options?: { keepData?: boolean }): Promise<void>;
  /** Deletes the record now; the cookie is deleted when the response goes out. */
  destroy(): Promise<void>;
  /** Re-reads the record, dropping unsaved changes. */
  reload(): Promise<void>;
  /** Saves when the response goes out even if nothing changed. */
  save(): void;
  /** Extends the session's life and re-sends its cookie. */
  touch(): void;
  /** Django's `set_expiry`: seconds, a Date, `0` until the browser closes, `null` for the default. */
  setExpiry(value: number | Date | null): void;
  setTestCookie(): void;
  testCookieWorked(): boolean;
  deleteTestCookie(): void;
  /** Keeps a message for the next request that takes it. */
  flash(kind: string, message: unknown): void;
  /** The flash messages of `kind` (or all), removed as they are read. */
  takeFlash(kind?: string): unknown[];
  /** A plain copy of the data; after the commit, the data as committed. */
  toJSON(): Partial<SessionData>;
}

export type KoaSession = SessionMethods & Partial<SessionData>;

/** A view, and the switch that pins its data once the session is committed. */
export interface SessionView {
  readonly view: KoaSession;
  /**
   * Copies the data for reads after the commit, when the core refuses them: Koa serializes
   * `ctx.body = ctx.session` after the middleware committed, and logging may run later still.
   */
  close(): void;
}

const MAX_AGE_MS = { min: 1_000, max: 400 * 86_400_000 } as const;

/** A lifetime the cookie can carry: what `maxAge` accepts as an option and on the view. */
export function isMaxAge(value: unknown): value is number | 'session' {
  return value === 'session' || (typeof value === 'number' && value >= MAX_AGE_MS.min && value <= MAX_AGE_MS.max);
}

export const MAX_AGE_RULE = `a number of ms from ${MAX_AGE_MS.min} to ${MAX_AGE_MS.max} (400 days), or 'session'`;

/** `setExpiry`'s argument for a `maxAge` the app assigns; `undefined` (or `null`) is the configured lifetime. */
function expiryOf(maxAge: unknown): number | null {
  if (maxAge === null || maxAge === undefined) return null;
  if (!isMaxAge(maxAge)) throw new SessUsageError(`ctx.session.maxAge must be ${MAX_AGE_RULE}, got ${String(maxAge)}`);
  // koa-session's `maxAge = 'session'` is a cookie that ends with the browser.
  return maxAge === 'session' ? 0 : maxAge / 1000;
}

/**
 * What each view's Proxy wraps. util.inspect looks past a Proxy at its target, so the hook that
 * makes `console.log(ctx.session)` show the data lives here, and `String(ctx.session)` finds a
 * primitive here instead of throwing on a session with no `toString`.
 */
const targetPrototype: object = Object.create(null, {
  [inspect.custom]: {
    value(this: KoaSession) {
      return this.toJSON();
    },
  },
  [Symbol.toPrimitive]: { value: () => '[object Object]' },
});

/** @param defaultMaxAge - the configured `maxAge`, which a session without an id reports. */
export function sessionView(core: CoreSession, defaultMaxAge: number | 'session'): SessionView {
  // Set by `close()`: the data as committed (no prototype), read without asking the core, which would refuse.
  let final: Record<string, unknown> | undefined;
  const read = (key: string): unknown => (final === undefined ? core.get(key) : final[key]);
  const has = (key: string): boolean => (final === undefined ? core.has(key) : Object.hasOwn(final, key));
  const keys = (): string[] => (final === undefined ? core.keys() : Object.keys(final));

  const methods = {
    regenerate: (options: { keepData?: boolean } = {}) => core.regenerate(options),
    destroy: () => core.destroy(),
    reload: () => core.reload(),
    save: () => core.save(),
    touch: () => core.touch(),
    setExpiry: (value: number | Date | null) => core.setExpiry(value),
    setTestCookie: () => core.setTestCookie(),
    testCookieWorked: () => core.testCookieWorked(),
    deleteTestCookie: () => core.deleteTestCookie(),
    flash: (kind: string, message: unknown) => core.flash(kind, message),
    takeFlash: (kind?: string) => core.takeFlash(kind),
    toJSON: () => Object.fromEntries(keys().map((key) => [key, read(key)])),
  } satisfies Omit<SessionMethods, 'id' | 'maxAge'>;

  const reserved = (key: string) => key === 'id' || key === 'maxAge' || Object.hasOwn(methods, key);

  const view = new Proxy(Object.create(targetPrototype) as KoaSession, {
    get(target, key) {
      if (typeof key === 'symbol') return Reflect.get(target, key);
      if (key === 'id') return core.id;
      if (key === 'maxAge') return core.maxAgeMs ?? defaultMaxAge;
      if (Object.hasOwn(methods, key)) return methods[key as keyof typeof methods];
      return read(key);
    },
    set(_, key, value) {
      if (typeof key === 'symbol') return false;
      if (key === 'maxAge') core.setExpiry(expiryOf(value));
      else if (reserved(key)) return false;
      else core.set(key, value);
      return true;
    },
    deleteProperty(_, key) {
      if (typeof key === 'symbol' || reserved(key)) return false;
      core.delete(key);
      return true;
    },
    has: (_, key) => typeof key === 'string' && (reserved(key) || has(key)),
    ownKeys: () => keys(),
    getOwnPropertyDescriptor(_, key) {
      if (typeof key === 'symbol' || !has(key)) return undefined;
      return { value: read(key), writable: true, enumerable: true, configurable: true };
    },
  });

  return {
    view,
    close() {
      if (final !== undefined) return;
      const data = Object.create(null) as Record<string, unknown>;
      // A commit that finds an operation still running (an un-awaited reload) has nothing to show yet.
      try {
        for (const key of core.keys()) data[key] = core.get(key);
      } catch {
        // left empty
      }
      final = data;
    },
  };
}

/**
 * `ctx.session = { ... }` (koa-session): the object's keys become the whole session, except
 * `maxAge`, which sets the session's lifetime as `ctx.session.maxAge = ...` does.
 */
export function replaceData(core: CoreSession, value: object): void {
  // Read first: the object may be the view itself (`ctx.session = ctx.session`), which clear() empties.
  const entries = Object.entries(value);
  const maxAge = entries.find(([key]) => key === 'maxAge');
  // Checked before anything changes, so a bad lifetime leaves the session as it was.
  const expiry = maxAge === undefined ? undefined : expiryOf(maxAge[1]);
  core.clear();
  for (const [key, item] of entries) if (key !== 'maxAge') core.set(key, item);
  if (expiry !== undefined) core.setExpiry(expiry);
}
