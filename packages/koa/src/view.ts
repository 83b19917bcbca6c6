/**
 * `ctx.session` as koa-session users know it: a plain-looking object whose properties are the
 * session's data, with the methods and `maxAge` beside them. It is a Proxy over the core
 * session, so every read and write reaches the lifecycle; stored keys that collide with a
 * method name never shadow it, and `__proto__` stays data.
 */
import type { Session as CoreSession } from '@sess/core';

/** Declare your session's shape by merging into this interface (see README). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionData {}

export interface SessionMethods {
  /** The session id, once the session has one. */
  readonly id: string | undefined;
  /**
   * Remaining life in ms (koa-session's `maxAge`). Assign ms to change this session's lifetime,
   * or `'session'` for a cookie that ends with the browser.
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
  /** The data as a plain object. */
  toJSON(): Partial<SessionData>;
}

export type KoaSession = SessionMethods & Partial<SessionData>;

export function sessionView(core: CoreSession): KoaSession {
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
    toJSON: () => Object.fromEntries(core.keys().map((key) => [key, core.get(key)])),
  } satisfies Omit<SessionMethods, 'id' | 'maxAge'>;

  const reserved = (key: string) => key === 'id' || key === 'maxAge' || Object.hasOwn(methods, key);

  return new Proxy(Object.create(null) as KoaSession, {
    get(_, key) {
      if (typeof key === 'symbol') return undefined;
      if (key === 'id') return core.id;
      if (key === 'maxAge') return core.maxAgeMs;
      if (Object.hasOwn(methods, key)) return methods[key as keyof typeof methods];
      return core.get(key);
    },
    set(_, key, value) {
      if (typeof key === 'symbol') return false;
      // koa-session's `maxAge = 'session'` is a cookie that ends with the browser.
      if (key === 'maxAge') core.setExpiry(value === 'session' ? 0 : (value as number) / 1000);
      else if (reserved(key)) return false;
      else core.set(key, value);
      return true;
    },
    deleteProperty(_, key) {
      if (typeof key === 'symbol' || reserved(key)) return false;
      core.delete(key);
      return true;
    },
    has: (_, key) => typeof key === 'string' && (reserved(key) || core.has(key)),
    ownKeys: () => core.keys(),
    getOwnPropertyDescriptor(_, key) {
      if (typeof key === 'symbol' || !core.has(key)) return undefined;
      return { value: core.get(key), writable: true, enumerable: true, configurable: true };
    },
  });
}

/** `ctx.session = { ... }` (koa-session): the object's keys become the whole session. */
export function replaceData(core: CoreSession, value: object): void {
  core.clear();
  for (const [key, item] of Object.entries(value)) core.set(key, item);
}
