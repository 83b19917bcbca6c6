/**
 * The session as the app sees it, written once for every adapter: a Proxy over the core session
 * whose properties are the session's data, with the peer library's methods and accessors beside
 * them (express-session's `cookie`, koa-session's `maxAge`). Stored keys that collide with those
 * names never shadow them, `__proto__` stays data, and the view prints its data with
 * `util.inspect`, `String()` and `JSON.stringify` without writing anything.
 */
import { SessUsageError } from '../errors.js';
import type { Session } from '../session-api.js';

/** A property of the view that is not data: read (and, with `set`, written) through the core session. */
export interface ViewAccessor {
  get(core: Session): unknown;
  set?(core: Session, value: unknown): void;
}

/** A method of the view, called with the request's core session and the view before the app's arguments. */
export type ViewMethod<View> = (core: Session, view: View, ...args: never[]) => unknown;

export interface ViewSpec<View> {
  readonly accessors?: { readonly [name: string]: ViewAccessor };
  readonly methods?: { readonly [name: string]: ViewMethod<View> };
  /**
   * `'Session'` prints `Session { views: 1 }` and `[object Session]`, as express-session's
   * class does; without a name the view prints as a plain object (`{ views: 1 }`, `[object Object]`).
   */
  readonly name?: string;
}

export interface SessionView<View> {
  readonly core: Session;
  readonly view: View;
}

/** What a view's maker takes: the request's core session, and whoever `ownerOf(view)` names (the adapter's per-request state). */
export type ViewMaker<View> = (core: Session, owner?: unknown) => SessionView<View>;

/** The `id` every adapter's view has, in `ViewSpec` form. */
export const SESSION_ACCESSORS = Object.freeze({ id: { get: (core: Session) => core.id } });

/** The methods every adapter's view has, in `ViewSpec` form; TSDoc in `SessionMethods`. */
export const SESSION_METHODS = Object.freeze({
  regenerate: (core: Session, _view: unknown, options?: { keepData?: boolean } | null) => core.regenerate(options ?? {}),
  destroy: (core: Session) => core.destroy(),
  reload: (core: Session) => core.reload(),
  save: (core: Session) => void core.save(),
  touch: (core: Session) => core.touch(),
  setExpiry: (core: Session, _view: unknown, value: number | Date | null) => core.setExpiry(value),
  setTestCookie: (core: Session) => core.setTestCookie(),
  testCookieWorked: (core: Session) => core.testCookieWorked(),
  deleteTestCookie: (core: Session) => core.deleteTestCookie(),
  flash: (core: Session, _view: unknown, kind: string, message: unknown) => core.flash(kind, message),
  takeFlash: (core: Session, _view: unknown, kind?: string) => core.takeFlash(kind),
});

/**
 * `flash` as an accessor, for views whose apps may bring a peer's flash library (connect-flash,
 * koa-better-flash): those keep their messages in `session.flash`, often from sloppy-mode code,
 * where a refused assignment is dropped silently and the messages with it. Reading it gives
 * `SESSION_METHODS.flash`'s method; assigning it throws a `SessUsageError` with `message`, which
 * names what to use instead.
 */
export function flashAccessor(message: string): ViewAccessor {
  return {
    get: (core) => (kind: string, value: unknown) => core.flash(kind, value),
    set: () => {
      throw new SessUsageError(message);
    },
  };
}

/** The session operations every adapter's view offers, as `SESSION_METHODS` bound to one session, and its `id`. */
export interface SessionMethods {
  /** The session id, once the session has one (loaded, written, or regenerated). */
  readonly id: string | undefined;
  /** New id, data kept unless `keepData: false`; the old record dies at commit (fixation defence). */
  regenerate(options?: { keepData?: boolean }): Promise<void>;
  /** Deletes the record now; the cookie is deleted when the response goes out. */
  destroy(): Promise<void>;
  /** Re-reads the record, dropping unsaved changes. Rejects after `regenerate()`: nothing is saved under the new id yet. */
  reload(): Promise<void>;
  /** Saves when the response goes out even if nothing changed. */
  save(): void;
  /** Extends the session's life and re-sends its cookie. */
  touch(): void;
  /** Django's `set_expiry`: seconds, a Date, `0` until the browser closes, `null` for the default. */
  setExpiry(value: number | Date | null): void;
  /** Sets Django's test cookie, to learn on the next request whether the browser keeps cookies. */
  setTestCookie(): void;
  testCookieWorked(): boolean;
  deleteTestCookie(): void;
  /** Keeps a message for the next request that takes it (connect-flash's `req.flash(kind, message)`). */
  flash(kind: string, message: unknown): void;
  /** The flash messages of `kind` (or all), removed as they are read. */
  takeFlash(kind?: string): unknown[];
}

/** Where a `SessionObject` keeps its core session: for subclasses' own fields and methods. */
export const CORE = Symbol('sess core');

/** Where a `SessionObject` keeps the methods it has bound so far. */
const BOUND = Symbol('sess bound methods');

/** The session operations, as `SessionObject` calls them on its core session. */
const OPERATIONS: { readonly [Name in Exclude<keyof SessionMethods, 'id'>]: (core: Session, ...args: never[]) => unknown } = {
  regenerate: (core, options?: { keepData?: boolean }) => core.regenerate(options ?? {}),
  destroy: (core) => core.destroy(),
  reload: (core) => core.reload(),
  save: (core) => void core.save(),
  touch: (core) => core.touch(),
  setExpiry: (core, value: number | Date | null) => core.setExpiry(value),
  setTestCookie: (core) => core.setTestCookie(),
  testCookieWorked: (core) => core.testCookieWorked(),
  deleteTestCookie: (core) => core.deleteTestCookie(),
  flash: (core, kind: string, message: unknown) => core.flash(kind, message),
  takeFlash: (core, kind?: string) => core.takeFlash(kind),
};

/**
 * The session as an object rather than a Proxy (h3's `useSession` shape): the session operations
 * bound to the request's session (so `const { save } = session` works) and `id`, all accessors on
 * the prototype. An operation is bound the first time it is read, so a request that reads data
 * only makes no function. Every request's object has the same hidden class, where methods
 * assigned by name in a loop, or an accessor in an object literal, give each its own (~7 us a
 * request, measured on h3). Extend it for a framework's own fields and methods.
 */
export class SessionObject implements SessionMethods {
  readonly [CORE]: Session;
  private [BOUND]: Record<string, unknown> | undefined = undefined;
  constructor(core: Session) {
    this[CORE] = core;
  }
  get id(): string | undefined {
    return this[CORE].id;
  }
  declare readonly regenerate: SessionMethods['regenerate'];
  declare readonly destroy: SessionMethods['destroy'];
  declare readonly reload: SessionMethods['reload'];
  declare readonly save: SessionMethods['save'];
  declare readonly touch: SessionMethods['touch'];
  declare readonly setExpiry: SessionMethods['setExpiry'];
  declare readonly setTestCookie: SessionMethods['setTestCookie'];
  declare readonly testCookieWorked: SessionMethods['testCookieWorked'];
  declare readonly deleteTestCookie: SessionMethods['deleteTestCookie'];
  declare readonly flash: SessionMethods['flash'];
  declare readonly takeFlash: SessionMethods['takeFlash'];
}

for (const [name, operation] of Object.entries(OPERATIONS)) {
  Object.defineProperty(SessionObject.prototype, name, {
    get(this: SessionObject) {
      const bound = (this[BOUND] ??= Object.create(null) as Record<string, unknown>);
      return (bound[name] ??= (...args: never[]) => operation(this[CORE], ...args));
    },
    enumerable: false,
    configurable: true,
  });
}

/**
 * `found`, the session a middleware put on the request, loaded (`useSession`); `missing` is the
 * usage error's message when there is none. A failed load rejects with `mapError`'s error.
 */
export function loadedSession<T extends { load(): Promise<void> }>(
  found: T | undefined,
  missing: string,
  mapError?: (error: unknown) => unknown,
): Promise<T> {
  // Not `async`: every `useSession` call would pay for its frame and its promise steps.
  if (found === undefined) return Promise.reject(new SessUsageError(missing));
  return found.load().then(
    () => found,
    (error: unknown) => Promise.reject(mapError === undefined ? error : mapError(error)),
  );
}

type Done = (error?: unknown) => void;

const ignoreFailure = (): void => undefined;

/**
 * `table` with express-session's Node-style callbacks on the methods `named`: a trailing function
 * is called on a later tick with the outcome, and the method returns nothing; without one it
 * returns a promise. A method that throws at once still throws at once.
 */
export function withCallbacks<Table extends { readonly [name: string]: ViewMethod<never> }>(
  table: Table,
  named: readonly (keyof Table & string)[],
): Table {
  const wrapped: Record<string, ViewMethod<never>> = { ...table };
  for (const name of named) {
    const method = table[name] as (...args: unknown[]) => unknown;
    wrapped[name] = (core: Session, view: never, ...args: unknown[]) => {
      const callback = typeof args.at(-1) === 'function' ? (args.pop() as Done) : undefined;
      const work = Promise.resolve(method(core, view, ...args));
      if (callback === undefined) {
        // Marked handled: express-session's users drop these calls (its sign-out idiom is
        // `res.redirect('/'); req.session.destroy()`), and a dropped rejection ends the process.
        // Whoever awaits the promise still gets the failure.
        work.catch(ignoreFailure);
        return work;
      }
      work.then(
        () => process.nextTick(callback),
        (error: unknown) => process.nextTick(callback, error),
      );
      return undefined;
    };
  }
  return wrapped as Table;
}

/** A method of `SessionMethods` with the callback forms `withCallbacks` gives it. */
export type WithCallback<Method> = Method extends (...args: infer A) => infer R
  ? { (...args: A): Promise<Awaited<R>>; (callback: Done): void; (...args: [...A, Done]): void }
  : never;

/** `Methods` with express-session's callback forms on the methods `Named`. */
export type CallbackMethods<Methods, Named extends keyof Methods> = Omit<Methods, Named> & { [K in Named]: WithCallback<Methods[K]> };

/**
 * What every object answers (`req.session.hasOwnProperty(key)`, as on express-session's
 * session), where the data holds no key of that name: called on the view, they see its data.
 */
const OBJECT_METHODS: Readonly<Record<string, unknown>> = Object.freeze(
  Object.fromEntries(
    Object.getOwnPropertyNames(Object.prototype)
      .filter((name) => name !== 'constructor' && !name.startsWith('__') && typeof Object.prototype[name as keyof object] === 'function')
      .map((name) => [name, Object.prototype[name as keyof object]]),
  ),
);

/** One view's state, and the Proxy's target: util.inspect looks past a Proxy at its target, so the printing hooks live on its prototype. */
interface Target {
  readonly core: Session;
  readonly owner: unknown;
  /** The methods bound so far (the same function on every read). */
  bound: Record<string, unknown> | undefined;
  /** Set by `detach`: the data the view held then, and the message its refusals carry. */
  detached: { readonly data: Map<string, unknown>; readonly message: string } | undefined;
}

/** A view's target, as its prototype's getter answers it to the Proxy's `get` (which reads symbols from the target). */
const TARGET = Symbol('sess view target');

function targetOf(view: object): Target {
  const target = (view as { [TARGET]?: Target })[TARGET];
  if (target === undefined) throw new TypeError('not a session view made by viewOf()');
  return target;
}

/** The `owner` `view` was made with (see `ViewMaker`). */
export const ownerOf = (view: object): unknown => targetOf(view).owner;

/**
 * Parts `view` from its session, as express-session's `regenerate` leaves the old session object
 * behind (passport merges it into the new one for `keepSessionInfo`): from now on it reads as a
 * copy of the data it holds now, and refuses writes, and reads of the view's own members, with a
 * `SessUsageError` carrying `message`. Call it before the session changes.
 */
export function detach(view: object, message: string): void {
  const target = targetOf(view);
  const { core } = target;
  target.detached = { data: new Map(core.keys().map((key) => [key, core.get(key)])), message };
}

/**
 * Views of one shape: `viewOf(spec)` once per middleware, then `(core, owner) => { core, view }` per
 * request. The Proxy handler is shared; each request allocates only its view and target.
 */
export function viewOf<View extends object>(spec: ViewSpec<View>): ViewMaker<View> {
  const accessors = new Map(Object.entries(spec.accessors ?? {}));
  const methods = new Map(Object.entries(spec.methods ?? {}));
  const reserved = (key: string) => accessors.has(key) || methods.has(key);
  const label = spec.name ?? 'Object';
  // A class per shape: each target has the same hidden class, with the printing hooks (symbols
  // only, so stored keys stay data) on its prototype. `this` in them is the view.
  class ViewTarget implements Target {
    bound: Record<string, unknown> | undefined = undefined;
    detached: Target['detached'] = undefined;
    constructor(
      readonly core: Session,
      readonly owner: unknown,
    ) {}
    get [TARGET](): Target {
      return this;
    }
    get [Symbol.toStringTag](): string | undefined {
      return spec.name;
    }
    [Symbol.toPrimitive](): string {
      return `[object ${label}]`;
    }
    [Symbol.for('nodejs.util.inspect.custom')](
      this: object,
      depth: number,
      options: object,
      inspect: (value: unknown, options: object) => string,
    ) {
      if (depth < 0) return `[${label}]`;
      try {
        const shown = inspect({ ...this }, { ...options, depth });
        return spec.name === undefined ? shown : `${spec.name} ${shown}`;
      } catch {
        // Logging must not throw, and the data can't be read before it is loaded or while a store call runs.
        return `${label} <not loaded>`;
      }
    }
  }

  const handler: ProxyHandler<Target> = {
    get(target, key, view) {
      if (typeof key === 'symbol') return Reflect.get(target, key);
      if (target.detached !== undefined) return readDetached(target.detached, key);
      const accessor = accessors.get(key);
      if (accessor !== undefined) return accessor.get(target.core);
      const method = methods.get(key);
      if (method === undefined) {
        const value = target.core.get(key);
        return value === undefined && Object.hasOwn(OBJECT_METHODS, key) ? OBJECT_METHODS[key] : value;
      }
      target.bound ??= Object.create(null) as Record<string, unknown>;
      return (target.bound[key] ??= (...args: never[]) => method(target.core, view as View, ...args));
    },
    set: (target, key, value) => typeof key === 'string' && assign(target, key, value),
    // `Object.defineProperty(view, key, { value })` stores the value, as an assignment does; what
    // data can't be (an accessor, a fixed property, a member's name) is refused aloud, not dropped.
    defineProperty(target, key, descriptor) {
      if (typeof key === 'symbol') return false;
      if (!('value' in descriptor) || descriptor.configurable === false || descriptor.writable === false || descriptor.enumerable === false)
        throw new SessUsageError(`session data can only be plain values: ${key} can't be defined as an accessor or a fixed property`);
      return assign(target, key, descriptor.value);
    },
    deleteProperty(target, key) {
      if (typeof key === 'symbol' || reserved(key)) return false;
      if (target.detached !== undefined) throw new SessUsageError(target.detached.message);
      target.core.delete(key);
      return true;
    },
    has: (target, key) => typeof key === 'string' && (reserved(key) || (target.detached?.data ?? target.core).has(key)),
    ownKeys: (target) => (target.detached === undefined ? target.core.keys() : [...target.detached.data.keys()]),
    getOwnPropertyDescriptor(target, key) {
      const data = target.detached?.data ?? target.core;
      if (typeof key === 'symbol' || !data.has(key)) return undefined;
      return { value: data.get(key), writable: true, enumerable: true, configurable: true };
    },
  };

  /** An assignment to the view: to an accessor's setter, else to the data. */
  function assign(target: Target, key: string, value: unknown): true {
    if (target.detached !== undefined) throw new SessUsageError(target.detached.message);
    const setter = accessors.get(key)?.set;
    if (setter !== undefined) setter(target.core, value);
    // Thrown rather than refused: a refusal is silent in sloppy-mode code, and the value would be lost.
    else if (reserved(key))
      throw new SessUsageError(`${key} is a member of the session, not data, so it can't be assigned: store the value under another key`);
    else target.core.set(key, value);
    return true;
  }

  /** A detached view's read: its copy's data, and never a member of the session it left. */
  function readDetached({ data, message }: NonNullable<Target['detached']>, key: string): unknown {
    if (reserved(key)) throw new SessUsageError(message);
    return data.has(key) ? data.get(key) : Object.hasOwn(OBJECT_METHODS, key) ? OBJECT_METHODS[key] : undefined;
  }

  return (core, owner) => {
    const target = new ViewTarget(core, owner);
    return { core, view: new Proxy(target, handler) as unknown as View };
  };
}
