import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SessUsageError } from '../../src/index.js';
import type { Session } from '../../src/index.js';
import type { SessionMethods } from '../../src/adapter/index.js';
import { SESSION_ACCESSORS, SESSION_METHODS, SessionObject, loadedSession, viewOf, withCallbacks } from '../../src/adapter/index.js';
import { setup } from '../fixtures.js';

interface TestView {
  [key: string]: unknown;
  readonly id: string | undefined;
  lifetime: number | undefined;
  save(): void;
  touch(): TestView;
  regenerate(callback: (error?: unknown) => void): void;
  destroy(): Promise<void>;
}

const named = viewOf<TestView>({
  name: 'Session',
  accessors: { ...SESSION_ACCESSORS, lifetime: { get: (core) => core.maxAgeMs, set: (core, value) => core.setExpiry(value as number) } },
  methods: { ...withCallbacks(SESSION_METHODS, ['regenerate', 'destroy']), touch: (core, view) => (core.touch(), view) },
});
const plain = viewOf<Record<string, unknown>>({});

describe('the session view', () => {
  it('reads and writes the data, keeps methods and accessors from being shadowed, and stays data for __proto__', async () => {
    const { request } = setup();
    await request((core) => {
      const { view } = named(core);
      view.views = 1;
      Reflect.set(view, '__proto__', 'data');
      expect([view.views, Reflect.get(view, '__proto__'), Object.keys(view), 'views' in view, 'save' in view, 'missing' in view]).toEqual([
        1,
        'data',
        ['views', '__proto__'],
        true,
        true,
        false,
      ]);
      // Thrown, not refused: sloppy-mode code would drop a refused assignment without a word.
      expect(() => Reflect.set(view, 'save', 1)).toThrow(SessUsageError);
      expect(() => Reflect.set(view, 'id', 'x')).toThrow(/id is a member of the session, not data/);
      expect(Reflect.set(view, Symbol('s'), 1)).toBe(false);
      // Defined as data, a value is stored as an assignment stores it; anything data can't be is refused aloud.
      Object.defineProperty(view, 'defined', { value: 2, writable: true, enumerable: true, configurable: true });
      expect(core.get('defined')).toBe(2);
      core.delete('defined');
      for (const descriptor of [{ get: () => 1 }, { value: 1, configurable: false }, { value: 1, writable: false }] as PropertyDescriptor[])
        expect(() => Object.defineProperty(view, 'fixed', descriptor)).toThrow(/can only be plain values/);
      expect(() => Object.defineProperty(view, 'save', { value: 1, writable: true, enumerable: true, configurable: true })).toThrow(
        SessUsageError,
      );
      expect(core.has('fixed')).toBe(false);
      expect(Reflect.deleteProperty(view, 'save')).toBe(false);
      expect(Reflect.deleteProperty(view, Symbol('s'))).toBe(false);
      expect(Object.getOwnPropertyDescriptor(view, Symbol('s'))).toBeUndefined();
      expect(view.save).toBe(view.save);
      expect(view.touch()).toBe(view);
      view.lifetime = 60;
      expect(view.lifetime).toBe(60_000);
      expect(view.id).toBe(core.id);
      expect(delete view.views).toBe(true);
      expect(JSON.stringify(view)).toBe('{"__proto__":"data"}');
    });
  });

  it("answers Object.prototype's methods on its data, as any object does (req.session.hasOwnProperty(key), as on express-session's), unless the data holds that key", async () => {
    const { request } = setup();
    await request((core) => {
      const { view } = named(core);
      view.user = 'ada';
      // Read off the view, as `req.session.hasOwnProperty(key)` reads it, and called on it.
      const { hasOwnProperty: owns, propertyIsEnumerable: enumerates } = view as unknown as Record<string, (key: string) => boolean>;
      expect([owns?.call(view, 'user'), owns?.call(view, 'cart'), enumerates?.call(view, 'user')]).toEqual([true, false, true]);
      expect((view as unknown as { toString(): string }).toString()).toBe('[object Session]');
      expect((view as unknown as { valueOf(): unknown }).valueOf()).toBe(view);
      // Stored data of that name is the data.
      Reflect.set(view, 'valueOf', 'stored');
      expect(Reflect.get(view, 'valueOf')).toBe('stored');
      expect(Object.keys(view)).toEqual(['user', 'valueOf']);
      expect('hasOwnProperty' in view).toBe(false);
    });
  });

  it('prints its data with util.inspect, String() and the tag of its name, and a plain one as an object', async () => {
    const { request } = setup();
    await request((core) => {
      const { view } = named(core);
      view.user = 'ada';
      expect([inspect(view), String(view), `${view}`, Object.prototype.toString.call(view)]).toEqual([
        "Session { user: 'ada' }",
        '[object Session]',
        '[object Session]',
        '[object Session]',
      ]);
      expect(inspect({ nested: view }, { depth: 0 })).toBe('{ nested: [Session] }');
      const other = plain(core).view;
      expect([inspect(other), String(other), inspect({ nested: other }, { depth: 0 })]).toEqual([
        "{ user: 'ada' }",
        '[object Object]',
        '{ nested: [Object] }',
      ]);
    });
  });

  it('after the commit, the view reads the data it committed, and drops writes', async () => {
    const { request } = setup();
    let view!: TestView;
    await request((core) => {
      view = named(core).view;
      view.n = 1;
    });
    expect([view.n, Object.keys(view), 'n' in view, JSON.stringify(view), inspect(view)]).toEqual([
      1,
      ['n'],
      true,
      '{"n":1}',
      'Session { n: 1 }',
    ]);
    view.n = 2;
    delete view.n;
    expect([view.n, Object.keys(view)]).toEqual([1, ['n']]);
  });

  it('a view read while its load runs prints <not loaded> instead of throwing', async () => {
    const { request, store } = setup();
    await request((core) => core.set('n', 1));
    store.hold = true;
    await request(async (core) => {
      const { view } = named(core);
      const loading = core.load();
      expect(inspect(view)).toBe('Session <not loaded>');
      store.hold = false;
      for (const call of store.held.splice(0)) call.release();
      await loading;
      expect(inspect(view)).toBe('Session { n: 1 }');
    });
  });

  it('withCallbacks calls back on a later tick with the outcome, or returns the promise', async () => {
    const { request, store } = setup();
    await request((core) => core.set('n', 1));
    await request(async (core) => {
      await core.load();
      const { view } = named(core);
      const outcome = await new Promise<unknown>((resolve) => view.regenerate((error) => resolve(error ?? 'ok')));
      expect(outcome).toBe('ok');
      store.failing.add('destroy');
      const failed = await new Promise<unknown>((resolve) =>
        (view.destroy as unknown as (done: (error?: unknown) => void) => void)(resolve),
      );
      expect(failed).toBeInstanceOf(Error);
      store.failing.clear();
    });
    await request(async (core) => {
      await core.load();
      await expect(named(core).view.destroy()).resolves.toBeUndefined();
    });
  });

  it("withCallbacks' promise form, dropped by the app, takes nothing down when it fails; awaited, it still rejects", async () => {
    const { request, store } = setup();
    await request((core) => core.set('n', 1));
    const unhandled: unknown[] = [];
    const listen = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', listen);
    try {
      store.failing.add('destroy');
      await request(async (core) => {
        await core.load();
        void named(core).view.destroy();
        // Node reports an unhandled rejection once the microtask queue drains.
        await new Promise((resolve) => setImmediate(resolve));
      });
      // The failed sign-out still cleared the cookie: sign in again to have a record to fail on.
      store.failing.clear();
      await request((core) => core.set('n', 2));
      store.failing.add('destroy');
      await request(async (core) => {
        await core.load();
        await expect(named(core).view.destroy()).rejects.toBeInstanceOf(Error);
      });
    } finally {
      process.off('unhandledRejection', listen);
    }
    expect(unhandled).toEqual([]);
  });

  it('a SessionObject binds each operation when it is first read and has one id accessor; loadedSession loads what the middleware put there', async () => {
    const { request } = setup();
    await request(async (core: Session) => {
      const view = new (class extends SessionObject {
        readonly extra = 1;
        readonly load = () => core.load();
      })(core);
      const { flash, takeFlash } = view;
      flash('info', 'hi');
      expect(takeFlash('info')).toEqual(['hi']);
      expect([view.extra, view.id]).toEqual([1, core.id]);
      // Bound once per object: the same function on every read, and nothing of the operations in its own keys.
      expect(view.flash).toBe(flash);
      expect(new SessionObject(core).flash).not.toBe(flash);
      expect(Object.keys(view)).toEqual(['extra', 'load']);
      expect(await loadedSession(view, 'missing')).toBe(view);
    });
    await expect(loadedSession(undefined, 'no session here')).rejects.toThrow(SessUsageError);
    const failing = { load: () => Promise.reject(new Error('down')) };
    await expect(loadedSession(failing, 'x', () => new RangeError('mapped'))).rejects.toThrow(RangeError);
  });

  it('SESSION_METHODS and SessionObject are the core session operations', async () => {
    const { request } = setup();
    await request(async (core: Session) => {
      await core.load();
      for (const view of [new SessionObject(core), named(core).view as unknown as SessionMethods]) {
        view.setTestCookie();
        view.deleteTestCookie();
        expect(view.testCookieWorked()).toBe(false);
        view.save();
        view.setExpiry(60);
        view.flash('info', 'x');
        expect(view.takeFlash('info')).toEqual(['x']);
        view.touch();
        await view.regenerate();
        await view.reload();
      }
      await new SessionObject(core).destroy();
    });
    await expect(loadedSession({ load: () => Promise.reject(new Error('down')) }, 'x')).rejects.toThrow('down');
  });
});
