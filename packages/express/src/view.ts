/**
 * `req.session` as express-session users know it: a plain-looking object whose properties are
 * the session's data, with the methods beside them. It is a Proxy over the core session, so
 * every read and write reaches the lifecycle; stored keys that collide with a method name
 * (`save`, `destroy`, `cookie`, ...) never shadow it, and `__proto__` stays data.
 */
import type { Session as CoreSession } from '@sess/core';

/** Declare your session's shape by merging into this interface (see README). */
export interface SessionData {}

type Done = (error?: unknown) => void;

export interface SessionCookie {
  /** Remaining life in ms; set it to change this session's lifetime (`null`: until the browser closes). */
  maxAge: number | null | undefined;
  /** When the cookie expires; set a Date to end the session then (`null`: until the browser closes). */
  expires: Date | null | undefined;
  readonly originalMaxAge: number | undefined;
}

export interface SessionMethods {
  readonly id: string | undefined;
  readonly cookie: SessionCookie;
  /** New id (data kept unless `keepData: false`); the old record dies at commit. */
  regenerate(options?: { keepData?: boolean }): Promise<void>;
  regenerate(callback: Done): void;
  regenerate(options: { keepData?: boolean }, callback: Done): void;
  /** Deletes the record now; the cookie is deleted when the response goes out. */
  destroy(): Promise<void>;
  destroy(callback: Done): void;
  /** Re-reads the record, dropping unsaved changes. */
  reload(): Promise<void>;
  reload(callback: Done): void;
  /** Saves when the response goes out even if nothing changed (sess always saves before the headers leave). */
  save(): Promise<void>;
  save(callback: Done): void;
  /** Extends the session's life and re-sends its cookie. */
  touch(): this;
  /** Django's `set_expiry`: seconds, a Date, `0` until the browser closes, `null` for the default. */
  setExpiry(value: number | Date | null): void;
  setTestCookie(): void;
  testCookieWorked(): boolean;
  deleteTestCookie(): void;
  /** Keeps a message for the next request that takes it (connect-flash's `req.flash(kind, message)`). */
  flash(kind: string, message: unknown): void;
  /** The flash messages of `kind` (or all), removed as they are read. */
  takeFlash(kind?: string): unknown[];
}

export type RequestSession = SessionMethods & Partial<SessionData>;

function settle(work: Promise<void>, callback: Done | undefined): Promise<void> | undefined {
  if (callback === undefined) return work;
  work.then(
    () => process.nextTick(callback),
    (error: unknown) => process.nextTick(callback, error),
  );
  return undefined;
}

function cookieView(core: CoreSession, originalMaxAge: number | undefined): SessionCookie {
  return {
    get maxAge() {
      return core.maxAgeMs;
    },
    set maxAge(ms) {
      core.setExpiry(ms === null || ms === undefined ? 0 : ms / 1000);
    },
    get expires() {
      const at = core.expiresAt;
      return at === undefined ? undefined : new Date(at);
    },
    set expires(date) {
      core.setExpiry(date ?? 0);
    },
    get originalMaxAge() {
      return originalMaxAge;
    },
  };
}

/**
 * The Proxy's target inherits these, because Node's `util.inspect` looks past a Proxy's traps
 * to its target (and would print `{}`), and `String()` would otherwise find no `toString`.
 * Stored keys stay data: these are symbols.
 */
const printable = Object.freeze(
  Object.assign(Object.create(null) as object, {
    [Symbol.toStringTag]: 'Session',
    [Symbol.toPrimitive]: () => '[object Session]',
    [Symbol.for('nodejs.util.inspect.custom')](
      this: RequestSession,
      depth: number,
      options: object,
      inspect: (value: unknown, options: object) => string,
    ) {
      if (depth < 0) return '[Session]';
      try {
        return `Session ${inspect({ ...this }, { ...options, depth })}`;
      } catch {
        // Logging must not throw, and the data can't be read once the response is committed.
        return 'Session <committed>';
      }
    },
  }),
);

export function sessionView(core: CoreSession, originalMaxAge: number | undefined): RequestSession {
  // Made on first use: an object literal with accessors costs ~5 us a request in V8 (each gets a
  // hidden class of its own), and most requests never look at `req.session.cookie`.
  let cookie: SessionCookie | undefined;

  const methods: Omit<SessionMethods, 'id' | 'cookie'> = {
    regenerate(...args: unknown[]) {
      const callback = args.find((arg): arg is Done => typeof arg === 'function');
      const options = typeof args[0] === 'object' && args[0] !== null ? (args[0] as { keepData?: boolean }) : {};
      return settle(core.regenerate(options), callback);
    },
    destroy: (callback?: Done) => settle(core.destroy(), callback),
    reload: (callback?: Done) => settle(core.reload(), callback),
    save(callback?: Done) {
      core.save();
      return settle(Promise.resolve(), callback);
    },
    touch() {
      core.touch();
      return view;
    },
    setExpiry: (value) => core.setExpiry(value),
    setTestCookie: () => core.setTestCookie(),
    testCookieWorked: () => core.testCookieWorked(),
    deleteTestCookie: () => core.deleteTestCookie(),
    flash: (kind, message) => core.flash(kind, message),
    takeFlash: (kind) => core.takeFlash(kind),
  } as Omit<SessionMethods, 'id' | 'cookie'>;

  const reserved = (key: string) => key === 'id' || key === 'cookie' || Object.hasOwn(methods, key);

  const view = new Proxy(Object.create(printable) as RequestSession, {
    get(target, key) {
      if (typeof key === 'symbol') return Reflect.get(target, key);
      if (key === 'id') return core.id;
      if (key === 'cookie') return (cookie ??= cookieView(core, originalMaxAge));
      if (Object.hasOwn(methods, key)) return methods[key as keyof typeof methods];
      return core.get(key);
    },
    set(_, key, value) {
      if (typeof key === 'symbol' || reserved(key)) return false;
      core.set(key, value);
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
  return view;
}
