import { expect } from 'vitest';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { collectIds, expireAndExpectGone, freshId, lacks, makeRecord, requireMethod, ttls } from '../fixtures.js';

// A store may share its backend with other tests (a Redis database, say), so these checks look
// only at their own ids: other live ids in the listing are not a failure.
export const adminClause: Clause = {
  name: 'ids and clear (optional methods)',
  checks: [
    {
      title: 'ids lists live ids and not destroyed or expired ones',
      skipReason: lacks('ids'),
      async run(t) {
        const { short } = ttls(t);
        const [live, destroyed, expired] = [freshId('live'), freshId('destroyed'), freshId('expired')];
        const witness = freshId('witness');
        const record = makeRecord({ a: 1 }, Date.now());
        // Only the witness is read while waiting, so a store that drops expired records lazily
        // on `get` cannot hide an `ids` that still lists them.
        await t.store.set(expired, record, short);
        await t.store.set(witness, record, short);
        await expireAndExpectGone(t, witness, short);
        await t.store.set(live, record, 600_000);
        await t.store.set(destroyed, record, 600_000);
        await t.store.destroy(destroyed);
        const ids = await collectIds(t.store);
        expect(ids).toContain(live);
        expect(ids).not.toContain(destroyed);
        expect(ids).not.toContain(expired);
      },
    },
    {
      // More than a page of any store that lists in pages (SCAN COUNT, LIMIT): each id must be
      // listed, not only those of the first page.
      title: 'ids lists every one of 2,500 live ids',
      skipReason: lacks('ids'),
      async run({ store }) {
        const label = freshId('many');
        const ids = Array.from({ length: 2_500 }, (_, i) => `${label}-${i}`);
        const record = makeRecord({ a: 1 }, Date.now());
        for (let i = 0; i < ids.length; i += 100) await Promise.all(ids.slice(i, i + 100).map((id) => store.set(id, record, 600_000)));
        const listed = new Set(await collectIds(store));
        expect(ids.filter((id) => !listed.has(id))).toEqual([]);
      },
    },
    {
      title: 'clear removes every record',
      skipReason: lacks('clear'),
      async run({ store }) {
        const ids = [freshId(), freshId(), freshId()];
        for (const id of ids) await store.set(id, makeRecord({ id }, Date.now()), 60_000);
        await requireMethod(store, 'clear')();
        for (const id of ids) expect(await store.get(id)).toBeUndefined();
        if (store.ids !== undefined) {
          const listed = await collectIds(store);
          for (const id of ids) expect(listed).not.toContain(id);
        }
      },
    },
    {
      title: 'a store keeps working after clear',
      skipReason: lacks('clear'),
      async run({ store }) {
        await requireMethod(store, 'clear')();
        const id = freshId();
        const record = makeRecord({ a: 1 }, Date.now());
        await store.set(id, record, 60_000);
        expect(await store.get(id)).toEqual(record);
      },
    },
  ],
};

export function adminCases(env: CaseEnv): void {
  registerClause(adminClause, env);
}
