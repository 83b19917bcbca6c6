import { expect } from 'vitest';
import type { SessionMeta } from '@sess/core';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { NON_NUMBER_TTLS, advance, expireAndExpectGone, freshId, lacks, makeRecord, requireMethod, ttls } from '../fixtures.js';

const needsTouch = lacks('touch');

function laterMeta(now: number): SessionMeta {
  return { createdAt: now - 5_000, touchedAt: now, expiresAt: now + 120_000 };
}

/** Far longer than any check waits: a touch that shortened a record's life would show. */
const LONG_LIFE_MS = 3_600_000;

/**
 * A touch computed before a save that reached the store first: its meta is the one its request
 * loaded, touched a second before the save. One pair each way round, with and without a
 * per-session expiry, so a store that keeps metas in two forms is checked in both.
 */
function staleTouches(now: number): readonly { readonly label: string; readonly stored: SessionMeta; readonly stale: SessionMeta }[] {
  const saved = { createdAt: now - 5_000, touchedAt: now, expiresAt: now + 120_000 };
  const loaded = { createdAt: now - 5_000, touchedAt: now - 1_000, expiresAt: now + 119_000 };
  return [
    {
      label: 'a stale touch without the expiry the save set',
      stored: { ...saved, expiry: { kind: 'duration', ms: 120_000 } },
      stale: loaded,
    },
    {
      label: 'a stale touch with an expiry the save removed',
      stored: saved,
      stale: { ...loaded, expiry: { kind: 'at', at: now + 119_000 } },
    },
  ];
}

/** A touch that is not refused: the record is live, so it resolves `true` or nothing, never `false`. */
function expectNotRefused(result: boolean | void, what: string): void {
  expect([true, undefined], `${what} resolves true or undefined (false would tell core the session is dead)`).toContain(result);
}

export const touchClause: Clause = {
  name: 'touch (optional method)',
  checks: [
    {
      title: 'touch replaces the meta and keeps the data',
      skipReason: needsTouch,
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        // The old meta has an expiry and the new one none: a store that merges metas keeps it.
        const record = makeRecord({ a: 1, nested: { b: [2] } }, now - 5_000, { expiry: { kind: 'browser' } });
        await store.set(id, record, 60_000);
        const meta = laterMeta(now);
        await requireMethod(store, 'touch')(id, meta, 60_000);
        expect(await store.get(id)).toEqual({ data: record.data, meta });
      },
    },
    {
      title: 'touch extends the life of an existing record to ttlMs from the touch',
      skipReason: needsTouch,
      async run(t) {
        const { short, long } = ttls(t);
        const id = freshId();
        // Set at the same moment with the same TTL, the witness shows when the first TTL is over.
        const witness = freshId('witness');
        const record = makeRecord({ a: 1 }, Date.now());
        await t.store.set(id, record, short);
        await t.store.set(witness, record, short);
        const meta = laterMeta(Date.now());
        await requireMethod(t.store, 'touch')(id, meta, long);
        await expireAndExpectGone(t, witness, short);
        expect(await t.store.get(id)).toEqual({ data: record.data, meta });
        if (t.clock !== undefined) {
          await advance(t, long - short);
          expect(await t.store.get(id)).toBeUndefined();
        }
      },
    },
    {
      title: 'touch of a missing id does not create it',
      skipReason: needsTouch,
      async run({ store }) {
        const id = freshId();
        await requireMethod(store, 'touch')(id, laterMeta(Date.now()), 60_000);
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'touch of a destroyed id does not recreate it',
      skipReason: needsTouch,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
        await store.destroy(id);
        await requireMethod(store, 'touch')(id, laterMeta(Date.now()), 60_000);
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'touch of an expired id does not revive it',
      skipReason: needsTouch,
      async run(t) {
        const { short, long } = ttls(t);
        const id = freshId();
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), short);
        await expireAndExpectGone(t, id, short);
        await requireMethod(t.store, 'touch')(id, laterMeta(Date.now()), long);
        expect(await t.store.get(id)).toBeUndefined();
      },
    },
    {
      // Core retires an id by touching it with the grace window, shorter than its lifetime.
      title: 'touch with a shorter TTL shortens the life of a record',
      skipReason: needsTouch,
      async run(t) {
        const { short } = ttls(t);
        const id = freshId();
        await t.store.set(id, makeRecord({ a: 1 }, Date.now()), 3_600_000);
        await requireMethod(t.store, 'touch')(id, laterMeta(Date.now()), short);
        await expireAndExpectGone(t, id, short);
      },
    },
    {
      // Living ttlMs from the touch, a record touched with zero or less is dead at once.
      title: 'touch with a TTL of zero, less or NaN ends a live record and creates none for a missing id',
      skipReason: needsTouch,
      async run({ store }) {
        const touch = requireMethod(store, 'touch');
        for (const ttlMs of [0, -1, Number.NaN]) {
          const id = freshId();
          await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
          const result = await touch(id, laterMeta(Date.now()), ttlMs);
          expect([true, undefined], `touch of a live record with ttlMs ${ttlMs} is not refused`).toContain(result);
          expect(await store.get(id), `after touch with ttlMs ${ttlMs}`).toBeUndefined();
          const missing = freshId('missing');
          expect(await touch(missing, laterMeta(Date.now()), ttlMs), `touch of a missing id with ttlMs ${ttlMs}`).toBe(false);
          expect(await store.get(missing)).toBeUndefined();
        }
      },
    },
    {
      title:
        'touch with a TTL that is no number (a string, undefined, a bigint, an object) ends a live record and creates none, as a TTL of zero does',
      skipReason: needsTouch,
      async run({ store }) {
        const touch = requireMethod(store, 'touch');
        for (const { label, ttlMs } of NON_NUMBER_TTLS) {
          const id = freshId();
          await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
          const result = await touch(id, laterMeta(Date.now()), ttlMs);
          expect([true, undefined], `touch of a live record with ttlMs ${label} is not refused`).toContain(result);
          expect(await store.get(id), `after touch with ttlMs ${label}`).toBeUndefined();
          const missing = freshId('missing');
          expect(await touch(missing, laterMeta(Date.now()), ttlMs), `touch of a missing id with ttlMs ${label}`).toBe(false);
          expect(await store.get(missing)).toBeUndefined();
        }
      },
    },
    {
      // Two requests on one session: one loaded it and touches it late, after the other saved a
      // newer meta (setExpiry, or just a later save). Writing the loaded meta would undo the save.
      title: 'touch whose meta is older than the stored one (an earlier touchedAt) leaves the meta as it was, and is not refused',
      skipReason: needsTouch,
      async run({ store }) {
        const touch = requireMethod(store, 'touch');
        for (const { label, stored, stale } of staleTouches(Date.now())) {
          const id = freshId();
          const record = makeRecord({ a: 1 }, 0, stored);
          await store.set(id, record, 60_000);
          expectNotRefused(await touch(id, stale, 120_000), label);
          expect(await store.get(id), `after ${label}`).toEqual(record);
        }
      },
    },
    {
      title: 'touch whose meta is older than the stored one does not extend the life of the record',
      skipReason: needsTouch,
      async run(t) {
        const { short } = ttls(t);
        const touch = requireMethod(t.store, 'touch');
        for (const { label, stored, stale } of staleTouches(Date.now())) {
          const id = freshId();
          const startedAt = Date.now();
          await t.store.set(id, makeRecord({ a: 1 }, 0, stored), short);
          expectNotRefused(await touch(id, stale, LONG_LIFE_MS), label);
          // Real time only: the record may have expired before the touch arrived, and then a
          // touch that wrote would have found nothing to extend: no verdict.
          if (t.clock === undefined && Date.now() - startedAt >= short) continue;
          await expireAndExpectGone(t, id, short);
        }
      },
    },
    {
      title: 'touch whose meta is older than the stored one does not shorten the life of the record',
      skipReason: needsTouch,
      async run(t) {
        const { short } = ttls(t);
        const touch = requireMethod(t.store, 'touch');
        for (const { label, stored, stale } of staleTouches(Date.now())) {
          const id = freshId();
          const witness = freshId('witness');
          const record = makeRecord({ a: 1 }, 0, stored);
          await t.store.set(id, record, LONG_LIFE_MS);
          // Set at the touch with its TTL, the witness shows when a life the touch gave is over.
          await t.store.set(witness, record, short);
          expectNotRefused(await touch(id, stale, short), label);
          await expireAndExpectGone(t, witness, short);
          expect(await t.store.get(id), `after ${label}`).toEqual(record);
        }
      },
    },
    {
      title: 'touch whose meta has the same touchedAt as the stored one replaces the meta and the life',
      skipReason: needsTouch,
      async run(t) {
        const { short, long } = ttls(t);
        const id = freshId();
        const witness = freshId('witness');
        const now = Date.now();
        const record = makeRecord({ a: 1 }, now, { expiry: { kind: 'browser' } });
        await t.store.set(id, record, short);
        await t.store.set(witness, record, short);
        const meta: SessionMeta = { createdAt: now, touchedAt: now, expiresAt: now + 90_000 };
        expectNotRefused(await requireMethod(t.store, 'touch')(id, meta, long), 'the touch');
        await expireAndExpectGone(t, witness, short);
        expect(await t.store.get(id)).toEqual({ data: record.data, meta });
      },
    },
    {
      // regenerate retires the old id with the meta its request loaded, which a later save may
      // have overtaken: the retirement must land all the same, or the old id stays a session.
      title: 'touch with a retired meta older than the stored one retires the record and sets its life all the same',
      skipReason: needsTouch,
      async run(t) {
        const { short } = ttls(t);
        const touch = requireMethod(t.store, 'touch');
        for (const { label, stored, stale } of staleTouches(Date.now())) {
          const retired: SessionMeta = { ...stale, retired: true };
          const record = makeRecord({ a: 1 }, 0, stored);
          const id = freshId();
          await t.store.set(id, record, LONG_LIFE_MS);
          expectNotRefused(await touch(id, retired, 60_000), `${label}, retired`);
          expect(await t.store.get(id), `after ${label}, retired`).toEqual({ data: record.data, meta: retired });
          // Its life too: unless the touch applied, the record would live for an hour.
          const shortened = freshId();
          await t.store.set(shortened, record, LONG_LIFE_MS);
          expectNotRefused(await touch(shortened, retired, short), `${label}, retired with a short TTL`);
          await expireAndExpectGone(t, shortened, short);
        }
      },
    },
    {
      title: 'touch copies its meta: changing the meta after touch does not change what is stored',
      skipReason: needsTouch,
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        await store.set(id, makeRecord({ a: 1 }, now), 60_000);
        const meta = { ...laterMeta(now), expiry: { kind: 'duration', ms: 5_000 } } satisfies SessionMeta;
        await requireMethod(store, 'touch')(id, meta, 60_000);
        (meta as { touchedAt: number }).touchedAt = 0;
        (meta.expiry as { ms: number }).ms = 0;
        expect((await store.get(id))?.meta).toEqual({ ...laterMeta(now), expiry: { kind: 'duration', ms: 5_000 } });
      },
    },
  ],
};

export function touchCases(env: CaseEnv): void {
  registerClause(touchClause, env);
}
