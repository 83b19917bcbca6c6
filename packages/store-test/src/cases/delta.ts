import { expect } from 'vitest';
import type { SessionChanges } from '@sess/core';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { expireAndExpectGone, freshId, lacksDeltaWrites, makeRecord, ttls } from '../fixtures.js';

function changes(set: string[], deleted: string[] = [], created = false): SessionChanges {
  return { set, deleted, created };
}

export const deltaClause: Clause = {
  name: 'delta writes (capabilities.deltaWrites)',
  checks: [
    {
      // Holds for every store, delta or not, so it runs everywhere: `changes` may be ignored,
      // but a save that lists every difference must leave exactly the record given.
      title: 'a save whose changes list every difference stores exactly the record given',
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1, b: 2 }, Date.now()), 60_000, changes(['a', 'b'], [], true));
        const next = makeRecord({ a: 1, b: 3, c: 4 }, Date.now() + 1_000);
        await store.set(id, next, 60_000, changes(['b', 'c']));
        expect(await store.get(id)).toEqual(next);
        const last = makeRecord({ c: 4 }, Date.now() + 2_000);
        await store.set(id, last, 60_000, changes([], ['a', 'b']));
        expect(await store.get(id)).toEqual(last);
      },
    },
    {
      title: 'two concurrent delta saves from the same loaded record that change different keys both survive',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        await store.set(id, makeRecord({ a: 0, b: 0, kept: 'yes' }, now), 60_000, changes(['a', 'b', 'kept'], [], true));
        const loaded = await store.get(id);
        if (loaded === undefined) throw new Error('the record just set is missing');
        const meta = { ...loaded.meta, touchedAt: now + 1 };
        await Promise.all([
          store.set(id, { data: { ...loaded.data, a: 1 }, meta }, 60_000, changes(['a'])),
          store.set(id, { data: { ...loaded.data, b: 2 }, meta }, 60_000, changes(['b'])),
        ]);
        expect(await store.get(id)).toEqual({ data: { a: 1, b: 2, kept: 'yes' }, meta });
      },
    },
    {
      title: 'a delta save writes only the keys it lists and keeps the other stored keys',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1, b: 1 }, Date.now()), 60_000, changes(['a', 'b'], [], true));
        // A stale `b` and a missing `c` in record.data: neither is listed, so neither is written.
        await store.set(id, makeRecord({ a: 2, b: 'stale', c: 'unlisted' }, Date.now()), 60_000, changes(['a']));
        expect((await store.get(id))?.data).toEqual({ a: 2, b: 1 });
      },
    },
    {
      title: 'a delta save with deleted keys removes them and keeps the others',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1, b: 2, c: 3 }, Date.now()), 60_000, changes(['a', 'b', 'c'], [], true));
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000, changes([], ['b']));
        expect((await store.get(id))?.data).toEqual({ a: 1, c: 3 });
      },
    },
    {
      title: 'a delta save replaces the meta',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        await store.set(id, makeRecord({ a: 1 }, now, { expiry: { kind: 'browser' } }), 60_000, changes(['a'], [], true));
        const next = makeRecord({ a: 2 }, now + 1_000);
        await store.set(id, next, 60_000, changes(['a']));
        expect(await store.get(id)).toEqual(next);
      },
    },
    {
      title: 'a delta save that sets 2,000 keys and deletes 1,500 others writes them all and keeps the rest',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        const keys = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `key-${from + i}`);
        const first = Object.fromEntries(keys(0, 2_000).map((key) => [key, 'first']));
        await store.set(id, makeRecord(first, Date.now()), 60_000, changes(Object.keys(first), [], true));
        const deleted = keys(0, 1_500);
        const added = keys(2_000, 4_000);
        const expected: Record<string, unknown> = Object.fromEntries(keys(1_500, 2_000).map((key) => [key, 'first']));
        for (const key of added) expected[key] = { second: key };
        await store.set(id, makeRecord(expected, Date.now()), 60_000, changes(added, deleted));
        const got = (await store.get(id))?.data;
        expect(Object.keys(got ?? {}).length).toBe(2_500);
        expect(got).toEqual(expected);
      },
    },
    {
      title: 'a delta save with created: false does not recreate a destroyed record',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000, changes(['a'], [], true));
        await store.destroy(id);
        await store.set(id, makeRecord({ a: 2 }, Date.now()), 60_000, changes(['a']));
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'a delta save with created: false does not recreate an expired record',
      skipReason: lacksDeltaWrites,
      async run(t) {
        const { short, long } = ttls(t);
        const id = freshId();
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), short, changes(['a'], [], true));
        await expireAndExpectGone(t, id, short);
        await t.store.set(id, makeRecord({ a: 2 }, Date.now()), long, changes(['a']));
        expect(await t.store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'a delta save with created: false for an id never stored stores nothing',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000, changes(['a']));
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'a save with created: true writes the full record, dropping stored keys it lacks',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        const first = makeRecord({ a: 1 }, Date.now());
        await store.set(id, first, 60_000, changes(['a'], [], true));
        expect(await store.get(id)).toEqual(first);
        // created: true under an id that holds a record (a regenerated id reused, say) still
        // writes the whole record: only `b` is listed, yet `c` is written and `a` is dropped.
        const second = makeRecord({ b: 2, c: 3 }, Date.now() + 1_000);
        await store.set(id, second, 60_000, changes(['b'], [], true));
        expect(await store.get(id)).toEqual(second);
      },
    },
    {
      title: 'a delta save with a TTL of zero or less deletes the record',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000, changes(['a'], [], true));
        await store.set(id, makeRecord({ a: 2 }, Date.now()), 0, changes(['a']));
        expect(await store.get(id)).toBeUndefined();
      },
    },
  ],
};

export function deltaCases(env: CaseEnv): void {
  registerClause(deltaClause, env);
}
