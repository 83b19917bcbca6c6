import { expect } from 'vitest';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { freshId, makeRecord } from '../fixtures.js';

export const isolationClause: Clause = {
  name: 'isolation and ids',
  checks: [
    {
      title: 'records under different ids do not affect each other',
      async run({ store }) {
        const [a, b] = [freshId('a'), freshId('b')];
        const recordB = makeRecord({ who: 'b' }, Date.now());
        await store.set(a, makeRecord({ who: 'a' }, Date.now()), 60_000);
        await store.set(b, recordB, 60_000);
        const recordA = makeRecord({ who: 'a', again: true }, Date.now());
        await store.set(a, recordA, 60_000);
        expect(await store.get(a)).toEqual(recordA);
        expect(await store.get(b)).toEqual(recordB);
        await store.destroy(a);
        expect(await store.get(b)).toEqual(recordB);
      },
    },
    {
      title: 'ids that are prefixes of each other or differ only in letter case are different records',
      async run({ store }) {
        const base = freshId('Case');
        // Session ids are base64url, which is case-sensitive; a store that folds case or
        // matches by prefix (a glob, a LIKE) would mix these up.
        const ids = [base, `${base}x`, base.toLowerCase(), base.toUpperCase()];
        for (const id of ids) await store.set(id, makeRecord({ id }, Date.now()), 60_000);
        for (const id of ids) expect((await store.get(id))?.data).toEqual({ id });
        await store.destroy(base);
        for (const id of ids.slice(1)) expect((await store.get(id))?.data).toEqual({ id });
      },
    },
    {
      title: 'ids with "-" and "_" and ids of 128 characters work',
      async run({ store }) {
        const unique = freshId().replaceAll('-', '');
        const ids = [`-_-_${unique}`, `${unique}__--`, `${unique}${'-_aZ09'.repeat(40)}`.slice(0, 128)];
        expect(ids[2]).toHaveLength(128);
        for (const id of ids) {
          const record = makeRecord({ id }, Date.now());
          await store.set(id, record, 60_000);
          expect(await store.get(id)).toEqual(record);
          await store.destroy(id);
          expect(await store.get(id)).toBeUndefined();
        }
      },
    },
  ],
};

export function isolationCases(env: CaseEnv): void {
  registerClause(isolationClause, env);
}
