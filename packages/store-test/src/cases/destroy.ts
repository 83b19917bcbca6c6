import { expect } from 'vitest';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { freshId, makeRecord } from '../fixtures.js';

export const destroyClause: Clause = {
  name: 'destroy',
  checks: [
    {
      title: 'destroy removes the record',
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
        await store.destroy(id);
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'destroy of a missing id resolves',
      async run({ store }) {
        await expect(store.destroy(freshId())).resolves.toBeUndefined();
      },
    },
    {
      title: 'destroy twice resolves both times',
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
        await store.destroy(id);
        await expect(store.destroy(id)).resolves.toBeUndefined();
      },
    },
    {
      title: 'an id can be written again after destroy',
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
        await store.destroy(id);
        const again = makeRecord({ b: 2 }, Date.now());
        await store.set(id, again, 60_000);
        expect(await store.get(id)).toEqual(again);
      },
    },
  ],
};

export function destroyCases(env: CaseEnv): void {
  registerClause(destroyClause, env);
}
