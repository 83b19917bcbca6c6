import { expect } from 'vitest';
import type { SessionData } from '@sess/core';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { freshId, lacksDeltaWrites, makeRecord } from '../fixtures.js';

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'] as const;

/**
 * Data whose keys name Object.prototype members, built with JSON.parse so `__proto__` is an own
 * data property (an object literal would set the prototype instead). This is what a session
 * holds after `session.data['__proto__'] = ...` from user input.
 */
function hostileData(): SessionData {
  return JSON.parse(
    JSON.stringify({
      ...Object.fromEntries(HOSTILE_KEYS.map((key) => [key, { polluted: `via ${key}` }])),
      nested: { inner: 1 },
    }).replace('"nested":{', '"nested":{"__proto__":{"polluted":"via nested __proto__"},'),
  ) as SessionData;
}

/**
 * The returned data must hold each hostile key as an own property with its value, and have a
 * prototype of Object.prototype (what JSON.parse gives) or null (a dictionary object): both are
 * safe, so the suite accepts either. Any other prototype means a key became a prototype.
 */
function expectHostileKeysKept(data: SessionData | undefined, keys: readonly string[]): void {
  expect(data).toBeDefined();
  const got = data as SessionData;
  expect([Object.prototype, null]).toContain(Object.getPrototypeOf(got));
  for (const key of keys) {
    expect(Object.hasOwn(got, key), `own property ${key}`).toBe(true);
    expect(Object.getOwnPropertyDescriptor(got, key)?.value, `value of ${key}`).toEqual({ polluted: `via ${key}` });
  }
}

function expectNoPollution(): void {
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
  expect(Object.hasOwn(Function.prototype, 'polluted')).toBe(false);
}

/**
 * Keys that are not well-formed UTF-16 (lone surrogates, which UTF-8 cannot encode), U+FFFD (what
 * a UTF-8 encoder writes in their place), and characters a store might escape them with, alone
 * and in the escaped forms it might produce. Written as UTF-8 without care, the first ones all
 * become U+FFFD and collide.
 */
const ILL_FORMED_KEYS = [
  '\uD800',
  '\uDC00',
  '\uD800x',
  'x\uDC00',
  '\uDC00\uD800',
  '\uD800\uDC00',
  '\uDBFF',
  '\uFFFD',
  '\uFFFF',
  '\uFFFFD800',
  '\uFFFF\uFFFF',
  '\u0000',
  '\u0000D800',
  '\\',
  '\\uD800',
  '%',
  '%ED%A0%80',
  'plain',
] as const;

/** Each key with a value of its own, so two keys that land on one field show. */
function illFormedData(keys: readonly string[] = ILL_FORMED_KEYS): SessionData {
  return Object.fromEntries(keys.map((key, i) => [key, `value ${i} of ${JSON.stringify(key)}`]));
}

/** Exactly `expected`: same keys (no extra, none renamed) and same values. */
function expectExactData(got: SessionData | undefined, expected: SessionData): void {
  expect(got).toBeDefined();
  const described = (keys: string[]) => keys.map((key) => JSON.stringify(key)).sort();
  expect(described(Object.keys(got ?? {}))).toEqual(described(Object.keys(expected)));
  for (const key of Object.keys(expected)) {
    expect(Object.getOwnPropertyDescriptor(got, key)?.value, `value of ${JSON.stringify(key)}`).toBe(expected[key]);
  }
}

export const hostileKeysClause: Clause = {
  name: 'hostile keys',
  checks: [
    {
      title: 'data keys __proto__, constructor, prototype and hasOwnProperty round-trip as own data properties',
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord(hostileData(), Date.now()), 60_000);
        const got = await store.get(id);
        expectHostileKeysKept(got?.data, HOSTILE_KEYS);
        const nested = got?.data['nested'] as SessionData;
        expect(Object.hasOwn(nested, '__proto__')).toBe(true);
        expect(Object.getOwnPropertyDescriptor(nested, '__proto__')?.value).toEqual({ polluted: 'via nested __proto__' });
        expect([Object.prototype, null]).toContain(Object.getPrototypeOf(nested));
      },
    },
    {
      title: 'storing and loading hostile keys leaves Object.prototype untouched',
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord(hostileData(), Date.now()), 60_000);
        const got = await store.get(id);
        expectNoPollution();
        // A prototype-polluting copy shows on the returned object too: inherited, not own.
        expect((got!.data['nested'] as Record<string, unknown>)['polluted']).toBeUndefined();
      },
    },
    {
      title: 'a delta save of hostile keys stores them as own data properties and pollutes nothing',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ plain: 1 }, Date.now()), 60_000, { set: ['plain'], deleted: [], created: true });
        const data = { ...hostileData(), plain: 1 };
        // Spread copies own `__proto__` as a data property too, so `data` still holds it.
        expect(Object.hasOwn(data, '__proto__')).toBe(true);
        await store.set(id, makeRecord(data, Date.now()), 60_000, { set: [...HOSTILE_KEYS], deleted: [], created: false });
        const got = await store.get(id);
        expectHostileKeysKept(got?.data, HOSTILE_KEYS);
        expect(got?.data['plain']).toBe(1);
        expectNoPollution();
      },
    },
    {
      title: 'a delta save that deletes __proto__ removes only that own data property',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord(hostileData(), Date.now()), 60_000, {
          set: [...HOSTILE_KEYS, 'nested'],
          deleted: [],
          created: true,
        });
        await store.set(id, makeRecord({}, Date.now()), 60_000, { set: [], deleted: ['__proto__'], created: false });
        const got = await store.get(id);
        expect(got).toBeDefined();
        expect(Object.hasOwn(got?.data ?? {}, '__proto__')).toBe(false);
        expectHostileKeysKept(
          got?.data,
          HOSTILE_KEYS.filter((key) => key !== '__proto__'),
        );
        expectNoPollution();
      },
    },
    {
      title: 'data keys with lone surrogates, U+FFFD or escape characters are all distinct and round-trip exactly',
      async run({ store }) {
        const id = freshId();
        const data = illFormedData();
        await store.set(id, makeRecord(data, Date.now()), 60_000);
        expectExactData((await store.get(id))?.data, data);
      },
    },
    {
      title: 'a delta save sets and deletes keys with lone surrogates, U+FFFD or escape characters one by one',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ kept: 1 }, Date.now()), 60_000, { set: ['kept'], deleted: [], created: true });
        const data = { ...illFormedData(), kept: 1 };
        await store.set(id, makeRecord(data, Date.now()), 60_000, { set: [...ILL_FORMED_KEYS], deleted: [], created: false });
        expectExactData((await store.get(id))?.data, data);
        const deleted = ['\uD800', '\uFFFF', '\u0000'];
        const changed: SessionData = { ...data, '\uDC00': 'changed' };
        for (const key of deleted) delete changed[key];
        await store.set(id, makeRecord(changed, Date.now()), 60_000, { set: ['\uDC00'], deleted, created: false });
        expectExactData((await store.get(id))?.data, changed);
      },
    },
  ],
};

export function hostileKeysCases(env: CaseEnv): void {
  registerClause(hostileKeysClause, env);
}
