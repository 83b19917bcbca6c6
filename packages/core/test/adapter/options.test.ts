import { describe, expect, it } from 'vitest';
import { SessConfigError, SessUsageError } from '../../src/index.js';
import type { HttpEffect } from '../../src/index.js';
import {
  COOKIE_OPTIONS,
  SHARED_OPTIONS,
  WEB_HINTS,
  WEB_OPTIONS,
  checkObject,
  checkOptions,
  configureWeb,
  cookieOptions,
  coreOptions,
  defined,
  lifetimeExpiry,
  lifetimeMs,
  lifetimeOptions,
} from '../../src/adapter/index.js';
import type { OptionTable, SharedOptions, WebOptions } from '../../src/adapter/index.js';
import { SECRET, testStore } from '../fixtures.js';

interface Options extends SharedOptions<never> {
  mode?: 'a' | 'b';
  genid?: () => string;
  cookie?: { path?: string; secure?: boolean | 'auto' };
}

const TABLE: OptionTable<Options> = {
  ...SHARED_OPTIONS,
  mode: [['a', 'b']],
  genid: ['function', 'generateId'],
  cookie: [
    { table: { path: [], secure: COOKIE_OPTIONS.secure }, should: 'an object of cookie attributes', hints: { maxAge: 'use maxAge' } },
  ],
};
const check = (options: unknown) =>
  checkOptions<Options>(options, TABLE, 'session() of @sess/test', { hints: { password: 'call it secret' } });

describe('checkOptions', () => {
  it('takes every option of its table', () => {
    const store = testStore(Date.now);
    expect(() =>
      check({
        secret: SECRET,
        store,
        name: 'sid',
        rolling: true,
        readOnly: () => false,
        asyncContext: false,
        mode: 'a',
        cookie: { path: '/' },
      }),
    ).not.toThrow();
  });

  it('refuses unknown keys with a hint or the closest name, and checks flags, functions, words and stores', () => {
    const refuses = (options: Record<string, unknown>, message: RegExp) => {
      expect(() => check({ secret: SECRET, ...options })).toThrow(SessConfigError);
      expect(() => check({ secret: SECRET, ...options })).toThrow(message);
    };
    refuses({ password: 'x' }, /unknown option "password": call it secret/);
    refuses({ rollng: true }, /did you mean "rolling"/);
    refuses({ rolling: 'yes' }, /rolling must be one of true, false/);
    refuses({ clock: 1 }, /clock must be a function/);
    refuses({ mode: 'c' }, /mode must be one of "a", "b"/);
    refuses({ store: {} }, /store is not a sess store.*memoryStore\(\) \(the default\) or redisStore\(\)/);
    refuses({ cookie: false }, /cookie must be an object of cookie attributes, got false/);
    refuses({ cookie: { maxAge: 1 } }, /cookie: unknown option "maxAge": use maxAge/);
    refuses({ cookie: { secure: 'yes' } }, /cookie\.secure must be one of true, false, "auto"/);
    expect(() => check(undefined)).toThrow(/needs an options object, got undefined/);
  });

  it('checkObject passes undefined and objects only', () => {
    expect(() => checkObject(undefined, 'x', 'an object')).not.toThrow();
    expect(() => checkObject({}, 'x', 'an object')).not.toThrow();
    expect(() => checkObject([], 'x', 'an object')).toThrow(/x must be an object, got \[\]/);
    expect(() => checkObject(() => 1, 'x', 'an object')).toThrow(/got a function/);
  });

  it('checkObject refuses a BigInt with SessConfigError, not the TypeError of quoting it', () => {
    expect(() => checkObject(10n, 'cookie', 'an object')).toThrow(SessConfigError);
    expect(() => checkObject(10n, 'cookie', 'an object')).toThrow(/cookie must be an object, got 10n$/);
  });
});

describe('mapping to the core', () => {
  it('coreOptions passes the options that have a core name, under it, leaving out those not given', () => {
    const clock = () => 1;
    expect(
      coreOptions<Options>(
        { secret: SECRET, genid: undefined, mode: 'a', clock, rolling: false, readOnly: () => true } as unknown as Options,
        TABLE,
      ),
    ).toEqual({
      secret: SECRET,
      clock,
      rolling: false,
    });
  });

  it('cookieOptions fills the defaults and maps the boolean sameSite', () => {
    expect(cookieOptions()).toEqual({ httpOnly: true, secure: 'auto', sameSite: 'lax', path: '/' });
    expect(cookieOptions({ sameSite: true, domain: 'example.com', httpOnly: false, secure: true, path: '/a', priority: 'high' })).toEqual({
      domain: 'example.com',
      priority: 'high',
      httpOnly: false,
      secure: true,
      sameSite: 'strict',
      path: '/a',
    });
    expect(cookieOptions({ sameSite: false }).sameSite).toBe('lax');
    expect(cookieOptions({ sameSite: 'none' }).sameSite).toBe('none');
  });

  it('defined drops undefined properties only', () => {
    expect(defined({ a: 1, b: undefined, c: null, d: false })).toEqual({ a: 1, c: null, d: false });
  });

  it('lifetimeMs takes 1 s to 400 days in its unit, or session, and names the option otherwise', () => {
    expect(lifetimeMs(60, 1000, 'maxAge')).toBe(60_000);
    expect(lifetimeMs(1000, 1, 'maxAge')).toBe(1000);
    expect(lifetimeMs('session', 1, 'maxAge')).toBe('session');
    expect(() => lifetimeMs(0.5, 1000, 'maxAge')).toThrow(
      /maxAge must be a number of seconds from 1 to 34560000 \(400 days\) or 'session', got 0.5/,
    );
    expect(() => lifetimeMs('1d', 1, 'maxAge')).toThrow(SessConfigError);
    expect(() => lifetimeMs(Number.NaN, 1, 'ctx.session.maxAge', SessUsageError)).toThrow(SessUsageError);
    // JSON writes both as null, which named a value nobody passed.
    expect(() => lifetimeMs(Number.POSITIVE_INFINITY, 1, 'maxAge')).toThrow(/got Infinity$/);
    expect(() => lifetimeMs(Number.NaN, 1, 'maxAge')).toThrow(/got NaN$/);
    expect(() => lifetimeMs('1d', 1, 'maxAge')).toThrow(/got "1d"$/);
    expect(() => lifetimeMs(401 * 86_400_000, 1, 'maxAge')).toThrow(/a number of ms from 1000 to 34560000000/);
  });

  it("lifetimeExpiry is setExpiry's argument for a lifetime assigned to one session: seconds, 0 for session, null for none", () => {
    expect(lifetimeExpiry(60_000, 1, 'ctx.session.maxAge')).toBe(60);
    expect(lifetimeExpiry(60, 1000, 'maxAge')).toBe(60);
    expect(lifetimeExpiry('session', 1, 'maxAge')).toBe(0);
    expect(lifetimeExpiry(undefined, 1, 'maxAge')).toBeNull();
    expect(lifetimeExpiry(null, 1, 'maxAge')).toBeNull();
    expect(() => lifetimeExpiry(0, 1, 'ctx.session.maxAge', SessUsageError)).toThrow(SessUsageError);
    expect(() => lifetimeExpiry('1d', 1, 'maxAge')).toThrow(/^\[sess\] maxAge must be a number of ms/);
  });

  it('lifetimeMs refuses a BigInt or a cycle with its own error, not the TypeError of quoting it', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => lifetimeMs(3600n, 1000, 'maxAge')).toThrow(SessConfigError);
    expect(() => lifetimeMs(3600n, 1000, 'maxAge')).toThrow(/maxAge must be a number of seconds .*, got 3600n$/);
    expect(() => lifetimeMs(3600n, 1, 'ctx.session.maxAge', SessUsageError)).toThrow(SessUsageError);
    expect(() => lifetimeMs(cycle, 1000, 'maxAge')).toThrow(SessConfigError);
    expect(() => lifetimeMs(cycle, 1000, 'maxAge')).toThrow(/got an object$/);
  });

  it('lifetimeOptions is the core lifetime of a maxAge option', () => {
    expect(lifetimeOptions(undefined, 1000)).toEqual({ expireAtBrowserClose: false });
    expect(lifetimeOptions(60, 1000)).toEqual({ maxAgeMs: 60_000, expireAtBrowserClose: false });
    expect(lifetimeOptions('session', 1)).toEqual({ expireAtBrowserClose: true });
  });
});

describe('configureWeb', () => {
  type Cookie = { path?: string; sameSite?: 'Lax' | 'Strict' };
  const WEB: OptionTable<WebOptions<never, Cookie>> = {
    ...SHARED_OPTIONS,
    ...WEB_OPTIONS,
    cookie: [{ table: { path: [], sameSite: [['Lax', 'Strict']] }, should: 'an object of cookie attributes', hints: WEB_HINTS.cookie }],
  };
  const made: unknown[] = [];
  const defaultStore = () => {
    const store = testStore(Date.now, { synchronous: true });
    made.push(store);
    return store;
  };
  const configure = (options: WebOptions<string, Cookie>) =>
    configureWeb(options, WEB, 'session() of @sess/web', {
      hints: WEB_HINTS.options,
      defaultStore,
      cookie: (cookie) => (cookie === undefined ? undefined : { ...cookie, sameSite: cookie.sameSite === 'Strict' }),
    });

  it('checks the options, naming the entry, with the web hints', () => {
    expect(() => configure({ secret: SECRET, trustProxy: true } as never)).toThrow(
      /session\(\) of @sess\/web: unknown option "trustProxy": use "proxy: true"/,
    );
    expect(() => configure({ secret: SECRET, cookie: { maxAge: 1 } } as never)).toThrow(/top-level "maxAge" option, in seconds/);
    expect(() => configure({ secret: SECRET, proxy: 'yes' } as never)).toThrow(/proxy must be one of true, false/);
    expect(() => configure({ secret: SECRET, maxAge: 0.5 })).toThrow(/maxAge must be a number of seconds/);
    expect(() => configure({ secret: SECRET, maxAge: 3600n as never })).toThrow(SessConfigError);
    expect(() => configure({ secret: SECRET, cookie: 1n as never })).toThrow(SessConfigError);
  });

  it('reads what a request needs once, makes the default store only when none is given, and maps the cookie', () => {
    made.length = 0;
    const readOnly = (request: string) => request === 'api';
    const configured = configure({ secret: SECRET, maxAge: 60, proxy: true, readOnly, cookie: { path: '/app', sameSite: 'Strict' } });
    expect(Object.isFrozen(configured)).toBe(true);
    expect([configured.proxy, configured.readOnly, configured.asyncContext, made.length]).toEqual([true, readOnly, false, 1]);
    const session = configured.manager.begin({ cookieHeader: undefined, secure: false, readOnly: false });
    session.set('n', 1);
    const [cookie] = session.commit({ status: 200 }) as HttpEffect[];
    expect(cookie).toMatchObject({
      type: 'cookie.set',
      attributes: { maxAgeMs: 60_000, path: '/app', sameSite: 'strict', httpOnly: true },
    });
    const given = configure({ secret: SECRET, store: testStore(Date.now) });
    expect([given.proxy, given.readOnly, given.asyncContext, made.length]).toEqual([false, undefined, false, 1]);
  });
});
