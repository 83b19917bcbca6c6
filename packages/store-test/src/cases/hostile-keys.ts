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
        expect((got?.data['nested'] as Record<string, unknown>)['polluted']).toBeUndefined();
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
        await store.set(id, makeRecord(hostileData(), Date.now()), 60_000, { set: [...HOSTILE_KEYS, 'nested'], deleted: [], created: true });
        await store.set(id, makeRecord({}, Date.now()), 60_000, { set: [], deleted: ['__proto__'], created: false });
        const got = await store.get(id);
        expect(got).toBeDefined();
        expect(Object.hasOwn(got?.data ?? {}, '__proto__')).toBe(false);
        expectHostileKeysKept(got?.data, HOSTILE_KEYS.filter((key) => key !== '__proto__'));
        expectNoPollution();
      },
    },
  ],
};

export function hostileKeysCases(env: CaseEnv): void {
  registerClause(hostileKeysClause, env);
}
