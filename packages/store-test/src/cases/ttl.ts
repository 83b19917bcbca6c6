import { expect } from 'vitest';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { NON_NUMBER_TTLS, advance, expireAndExpectGone, freshId, makeRecord, needsClock, ttls } from '../fixtures.js';

/** Far longer than any check waits: a store that kept it would show. */
const LONG_LIFE_MS = 3_600_000;

/** A whole save, a first save and a delta save: a TTL check holds for each kind of `set`. */
const SAVES = [
  { label: 'a save without changes', changes: undefined },
  { label: 'a save with created: true', changes: { set: ['a'], deleted: [], created: true } },
  { label: 'a delta save', changes: { set: ['a'], deleted: [], created: false } },
] as const;

export const ttlClause: Clause = {
  name: 'ttl',
  checks: [
    {
      title: 'a record is returned until its TTL has passed',
      async run(t) {
        const id = freshId();
        const record = makeRecord({ a: 1 }, Date.now());
        if (t.clock !== undefined) {
          const { short } = ttls(t);
          await t.store.set(id, record, short);
          await advance(t, short - 1);
          expect(await t.store.get(id)).toEqual(record);
          return;
        }
        // Real time cannot be held still: a miss only counts as a failure if the TTL had not
        // yet run out when `get` answered.
        const { long } = ttls(t);
        const startedAt = Date.now();
        await t.store.set(id, record, long);
        const got = await t.store.get(id);
        if (got === undefined) expect(Date.now() - startedAt).toBeGreaterThanOrEqual(long);
        else expect(got).toEqual(record);
      },
    },
    {
      title: 'a record expires after its TTL and is never returned after it',
      async run(t) {
        const id = freshId();
        const { short, long } = ttls(t);
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), short);
        await expireAndExpectGone(t, id, short);
        await advance(t, long);
        expect(await t.store.get(id)).toBeUndefined();
        expect(await t.store.get(id)).toBeUndefined();
      },
    },
    {
      // "Living ttlMs from now": alive while less than ttlMs has passed, dead once it has, as
      // core itself reads meta.expiresAt (dead when expiresAt <= now).
      title: 'a record is gone once exactly its TTL has passed, before any sweep',
      skipReason: needsClock,
      async run(t) {
        const { short } = ttls(t);
        const id = freshId();
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), short);
        await advance(t, short);
        expect(await t.store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'set with a NaN TTL deletes instead of storing a record that never expires',
      async run({ store }) {
        for (const { label, changes } of SAVES) {
          const existing = freshId('existing');
          await store.set(existing, makeRecord({ a: 1 }, Date.now()), 60_000);
          await store.set(existing, makeRecord({ a: 2 }, Date.now()), Number.NaN, changes);
          expect(await store.get(existing), `an existing record after ${label} with ttlMs NaN`).toBeUndefined();
          if (changes?.created === false) continue;
          const fresh = freshId('new');
          await store.set(fresh, makeRecord({ a: 1 }, Date.now()), Number.NaN, changes);
          expect(await store.get(fresh), `a new id after ${label} with ttlMs NaN`).toBeUndefined();
        }
      },
    },
    {
      title: 'set with a TTL that is no number (a string, undefined, a bigint, an object) deletes, as a TTL of zero does',
      async run({ store }) {
        for (const { label: ttl, ttlMs } of NON_NUMBER_TTLS) {
          for (const { label, changes } of SAVES) {
            const existing = freshId('existing');
            await store.set(existing, makeRecord({ a: 1 }, Date.now()), 60_000);
            const result = await store.set(existing, makeRecord({ a: 2 }, Date.now()), ttlMs, changes);
            expect([true, undefined], `${label} with ttlMs ${ttl} is not refused`).toContain(result);
            expect(await store.get(existing), `an existing record after ${label} with ttlMs ${ttl}`).toBeUndefined();
            if (changes?.created === false) continue;
            const fresh = freshId('new');
            expect([true, undefined], `${label} of a new id with ttlMs ${ttl} is not refused`).toContain(
              await store.set(fresh, makeRecord({ a: 1 }, Date.now()), ttlMs, changes),
            );
            expect(await store.get(fresh), `a new id after ${label} with ttlMs ${ttl}`).toBeUndefined();
          }
        }
      },
    },
    {
      title: 'set with a shorter TTL shortens the life of a record',
      async run(t) {
        const { short } = ttls(t);
        const id = freshId();
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), LONG_LIFE_MS);
        await t.store.set(id, makeRecord({ a: 2 }, Date.now()), short);
        await expireAndExpectGone(t, id, short);
      },
    },
    {
      title: 'set with a TTL of zero or less deletes an existing record',
      async run({ store }) {
        for (const ttlMs of [0, -1, -60_000]) {
          const id = freshId();
          await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
          await store.set(id, makeRecord({ a: 2 }, Date.now()), ttlMs);
          expect(await store.get(id), `after set with ttlMs ${ttlMs}`).toBeUndefined();
        }
      },
    },
    {
      title: 'set with a TTL of zero or less stores nothing for a new id',
      async run({ store }) {
        for (const ttlMs of [0, -1, -60_000]) {
          const id = freshId();
          await store.set(id, makeRecord({ a: 1 }, Date.now()), ttlMs);
          expect(await store.get(id), `after set with ttlMs ${ttlMs}`).toBeUndefined();
        }
      },
    },
    {
      title: 'set replaces the TTL: the record lives ttlMs from its latest set',
      async run(t) {
        const { short, long } = ttls(t);
        const id = freshId();
        // Set at the same moment with the same TTL, the witness shows when the first TTL is over.
        const witness = freshId('witness');
        const record = makeRecord({ a: 1 }, Date.now());
        await t.store.set(id, record, short);
        await t.store.set(witness, record, short);
        await t.store.set(id, record, long);
        await expireAndExpectGone(t, witness, short);
        expect(await t.store.get(id)).toEqual(record);
        if (t.clock !== undefined) {
          await advance(t, long - short);
          expect(await t.store.get(id)).toBeUndefined();
        }
      },
    },
    {
      title: 'an id can be written again after its record expired',
      async run(t) {
        const { short } = ttls(t);
        const id = freshId();
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), short);
        await expireAndExpectGone(t, id, short);
        const again = makeRecord({ b: 2 }, Date.now());
        await t.store.set(id, again, 60_000);
        expect(await t.store.get(id)).toEqual(again);
      },
    },
  ],
};

export function ttlCases(env: CaseEnv): void {
  registerClause(ttlClause, env);
}
