import { describe, expect, it } from 'vitest';
import { SessConfigError, SessUsageError } from '../../src/index.js';
import {
  COOKIE_OPTIONS,
  SHARED_OPTIONS,
  checkObject,
  checkOptions,
  cookieOptions,
  coreOptions,
  defined,
  lifetimeMs,
  lifetimeOptions,
} from '../../src/adapter/index.js';
import type { OptionTable, SharedOptions } from '../../src/adapter/index.js';
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
    expect(() => checkObject(() => 1, 'x', 'an object')).toThrow(/got function/);
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

  it('lifetimeOptions is the core lifetime of a maxAge option', () => {
    expect(lifetimeOptions(undefined, 1000)).toEqual({ expireAtBrowserClose: false });
    expect(lifetimeOptions(60, 1000)).toEqual({ maxAgeMs: 60_000, expireAtBrowserClose: false });
    expect(lifetimeOptions('session', 1)).toEqual({ expireAtBrowserClose: true });
  });
});
