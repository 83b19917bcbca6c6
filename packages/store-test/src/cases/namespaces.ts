import { expect } from 'vitest';
import type { Store } from '@sess/core';
import { registerClause, type CaseEnv, type CheckContext, type Clause } from '../check.js';
import { collectIds, freshId, lacks, lacksUserIndex, makeRecord, needsSibling, requireMethod } from '../fixtures.js';

/** The second store of a check: the suite cleans it up and closes it afterwards. */
function sibling(t: CheckContext): Promise<Store> {
  if (t.sibling === undefined) throw new Error('no sibling store (the check should have been skipped)');
  return t.sibling();
}

// Two stores over one backend, each in its own namespace (a Redis key prefix, a table), as two
// apps sharing a database run them: each store's contract is about its own records only.
export const namespacesClause: Clause = {
  name: 'two stores in different namespaces on one backend',
  checks: [
    {
      title: 'records under the same id in two namespaces are different records',
      skipReason: needsSibling,
      async run(t) {
        const other = await sibling(t);
        const id = freshId('shared');
        const mine = makeRecord({ who: 'this store' }, Date.now());
        const theirs = makeRecord({ who: 'the other store' }, Date.now());
        await t.store.set(id, mine, 60_000);
        expect(await other.get(id), 'the other store reads an id only this one wrote').toBeUndefined();
        await other.set(id, theirs, 60_000);
        expect(await t.store.get(id)).toEqual(mine);
        expect(await other.get(id)).toEqual(theirs);
        await t.store.destroy(id);
        expect(await t.store.get(id)).toBeUndefined();
        expect(await other.get(id), 'after this store destroyed its record').toEqual(theirs);
      },
    },
    {
      title: 'a delta save or touch in one namespace does not continue a record of the other',
      skipReason: needsSibling,
      async run(t) {
        const other = await sibling(t);
        const id = freshId('shared');
        const record = makeRecord({ a: 1 }, Date.now());
        await t.store.set(id, record, 60_000);
        // On the other store the id holds nothing: created: false must not write there, and a
        // store without delta writes that writes anyway must write in its own namespace only.
        const delta = await other.set(id, makeRecord({ a: 2 }, Date.now()), 60_000, { set: ['a'], deleted: [], created: false });
        if (other.capabilities.deltaWrites) {
          expect(delta, 'a delta save of an id the other store holds').toBe(false);
          expect(await other.get(id)).toBeUndefined();
        }
        if (other.touch !== undefined) {
          await other.touch(id, makeRecord({}, Date.now() + 1).meta, 60_000);
        }
        expect(await t.store.get(id)).toEqual(record);
      },
    },
    {
      title: 'clear of one store leaves the records of the other',
      skipReason: (store, t) => needsSibling(store, t) ?? lacks('clear')(store),
      async run(t) {
        const other = await sibling(t);
        const [mine, theirs] = [freshId('mine'), freshId('theirs')];
        const record = makeRecord({ a: 1 }, Date.now());
        await t.store.set(mine, record, 60_000);
        await other.set(theirs, record, 60_000);
        await requireMethod(t.store, 'clear')();
        expect(await t.store.get(mine)).toBeUndefined();
        expect(await other.get(theirs)).toEqual(record);
      },
    },
    {
      title: 'ids of one store lists none of the ids of the other',
      skipReason: (store, t) => needsSibling(store, t) ?? lacks('ids')(store),
      async run(t) {
        const other = await sibling(t);
        const [mine, theirs] = [freshId('mine'), freshId('theirs')];
        await t.store.set(mine, makeRecord({ a: 1 }, Date.now()), 60_000);
        await other.set(theirs, makeRecord({ a: 1 }, Date.now()), 60_000);
        const ids = await collectIds(t.store);
        expect(ids).toContain(mine);
        expect(ids).not.toContain(theirs);
      },
    },
    {
      title: 'sessionsOf and revokeUser of one store do not reach the sessions of the other',
      skipReason: (store, t) => needsSibling(store, t) ?? lacksUserIndex(store),
      async run(t) {
        const other = await sibling(t);
        const userId = freshId('user');
        const [mine, theirs] = [freshId('mine'), freshId('theirs')];
        const record = makeRecord({ userId }, Date.now());
        await t.store.set(mine, record, 600_000);
        await other.set(theirs, record, 600_000);
        const listed = await (t.store.sessionsOf as NonNullable<Store['sessionsOf']>).call(t.store, userId);
        expect(listed, 'sessionsOf lists the session of this store only').toHaveLength(1);
        expect(await (t.store.revokeUser as NonNullable<Store['revokeUser']>).call(t.store, userId, {})).toBe(1);
        expect(await t.store.get(mine)).toBeUndefined();
        expect(await other.get(theirs), 'the session of the same user in the other store').toEqual(record);
      },
    },
  ],
};

export function namespacesCases(env: CaseEnv): void {
  registerClause(namespacesClause, env);
}
