import { expect } from 'vitest';
import type { SessionMeta } from '@sess/core';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { freshId, makeRecord } from '../fixtures.js';

/** A record with nested data, so copying only the top level is caught. */
function nestedRecord(now: number) {
  return makeRecord({ user: { id: 'u1', roles: ['admin'] }, count: 1 }, now, { expiry: { kind: 'duration', ms: 1_000 } });
}

export const getSetClause: Clause = {
  name: 'get and set',
  checks: [
    {
      title: 'get of a missing id is undefined',
      async run({ store }) {
        expect(await store.get(freshId())).toBeUndefined();
      },
    },
    {
      title: 'set then get returns an equal record, data and meta alike',
      async run({ store }) {
        const now = Date.now();
        const expiries: (SessionMeta['expiry'] | undefined)[] = [
          undefined,
          { kind: 'browser' },
          { kind: 'duration', ms: 86_400_000 },
          { kind: 'at', at: now + 60_000 },
        ];
        for (const expiry of expiries) {
          const id = freshId();
          const record = makeRecord({ userId: 'u1', n: 2 }, now, expiry === undefined ? {} : { expiry });
          await store.set(id, record, 60_000);
          expect(await store.get(id)).toEqual(record);
        }
      },
    },
    {
      title: 'set overwrites the whole record: keys missing from the new record are gone',
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        await store.set(id, makeRecord({ a: 1, b: 2 }, now), 60_000);
        const second = makeRecord({ c: 3 }, now + 1_000);
        await store.set(id, second, 60_000);
        expect(await store.get(id)).toEqual(second);
      },
    },
    {
      title: 'get returns a copy: changing the returned record does not change what is stored',
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        await store.set(id, nestedRecord(now), 60_000);
        const first = await store.get(id);
        expect(first).toBeDefined();
        const data = first?.data as { user: { id: string; roles: string[] }; count: number; added?: boolean };
        data.count = 99;
        data.added = true;
        data.user.id = 'mallory';
        data.user.roles.push('root');
        const meta = first?.meta as { touchedAt: number; expiry: { ms: number } };
        meta.touchedAt = 0;
        meta.expiry.ms = 0;
        expect(await store.get(id)).toEqual(nestedRecord(now));
      },
    },
    {
      title: 'set copies its record: changing the record after set does not change what is stored',
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        const record = nestedRecord(now);
        await store.set(id, record, 60_000);
        const data = record.data as { user: { id: string; roles: string[] }; count: number };
        data.count = 99;
        data.user.roles.push('root');
        (record.meta as { touchedAt: number }).touchedAt = 0;
        (record.meta.expiry as { ms: number }).ms = 0;
        expect(await store.get(id)).toEqual(nestedRecord(now));
      },
    },
  ],
};

export function getSetCases(env: CaseEnv): void {
  registerClause(getSetClause, env);
}
