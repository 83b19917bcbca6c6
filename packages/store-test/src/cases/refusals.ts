import { expect } from 'vitest';
import type { Awaitable, SessionChanges, SessionMeta, SessionRecord } from '@sess/core';
import { registerClause, type CaseEnv, type CheckContext, type Clause } from '../check.js';
import { NON_NUMBER_TTLS, expireAndExpectGone, freshId, lacks, lacksDeltaWrites, makeRecord, requireMethod, ttls } from '../fixtures.js';

const needsTouch = lacks('touch');

/** Far longer than any check waits: a refused write that extended a record would show. */
const LONG_LIFE_MS = 3_600_000;

/** What a write that was done may resolve to: `true` or nothing. */
function expectWritten(result: boolean | void, what: string): void {
  expect([true, undefined], `${what} resolves true or undefined`).toContain(result);
}

function expectRefused(result: boolean | void, what: string): void {
  expect(result, `${what} resolves false`).toBe(false);
}

/** A record whose meta is retired, as core leaves the old id after `regenerate` (`regenerateGraceMs`). */
function retiredRecord(data: Record<string, unknown>, now: number): SessionRecord {
  return makeRecord(data, now, { retired: true });
}

/**
 * The ways core saves a session, each not retired: a delta save continuing the stored record,
 * a save under `created: true`, and a whole-record save without `changes`.
 */
const SAVES: readonly { readonly label: string; readonly changes: SessionChanges | undefined }[] = [
  { label: 'a delta save (created: false)', changes: { set: ['a', 'added'], deleted: ['kept'], created: false } },
  { label: 'a save with created: true', changes: { set: ['a', 'added'], deleted: [], created: true } },
  { label: 'a save without changes', changes: undefined },
];

function liveRecord(now: number): SessionRecord {
  return makeRecord({ a: 2, added: 'from a request in flight' }, now + 1_000);
}

/**
 * Stores a retired record under a fresh id with `ttlMs` and tries `save` on it, in real time
 * checking that the record cannot have expired before the save arrived (the check is then
 * inconclusive: undefined is returned and the caller asserts nothing).
 */
async function saveOntoRetired(
  t: CheckContext,
  ttlMs: number,
  save: (id: string) => Awaitable<boolean | void>,
): Promise<{ id: string; retired: SessionRecord; result: boolean | void } | undefined> {
  const id = freshId('retired');
  const retired = retiredRecord({ a: 1, kept: 'yes' }, Date.now());
  const startedAt = Date.now();
  await t.store.set(id, retired, ttlMs);
  const result = await save(id);
  if (t.clock === undefined && Date.now() - startedAt >= ttlMs) return undefined;
  return { id, retired, result };
}

export const refusalsClause: Clause = {
  name: 'refused writes: a dead session stays dead',
  checks: [
    {
      title: 'a set and a touch that write resolve true or undefined, never false',
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        expectWritten(await store.set(id, makeRecord({ a: 1 }, now), 60_000), 'a set of a new id');
        expectWritten(await store.set(id, makeRecord({ a: 2 }, now + 1), 60_000), 'a set over a live record');
        const created = freshId();
        expectWritten(
          await store.set(created, makeRecord({ a: 1 }, now), 60_000, { set: ['a'], deleted: [], created: true }),
          'a save with created: true',
        );
        expectWritten(
          await store.set(created, makeRecord({ a: 3 }, now + 1), 60_000, { set: ['a'], deleted: [], created: false }),
          'a delta save of a live record',
        );
        if (store.touch !== undefined)
          expectWritten(await store.touch(id, makeRecord({}, now + 2).meta, 60_000), 'a touch of a live record');
        expect((await store.get(created))?.data).toEqual({ a: 3 });
      },
    },
    {
      title: 'a delta save with created: false of an id never stored resolves false and creates nothing',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        expectRefused(
          await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000, { set: ['a'], deleted: [], created: false }),
          'the delta save',
        );
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'a delta save with created: false of a destroyed id resolves false and creates nothing',
      skipReason: lacksDeltaWrites,
      async run({ store }) {
        const id = freshId();
        await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000, { set: ['a'], deleted: [], created: true });
        await store.destroy(id);
        expectRefused(
          await store.set(id, makeRecord({ a: 2 }, Date.now()), 60_000, { set: ['a'], deleted: [], created: false }),
          'the delta save',
        );
        expect(await store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'a save of a non-retired meta onto a retired record resolves false and leaves its data and meta as they were',
      skipReason: lacksDeltaWrites,
      async run(t) {
        for (const { label, changes } of SAVES) {
          const done = await saveOntoRetired(t, 60_000, (id) => t.store.set(id, liveRecord(Date.now()), 60_000, changes));
          if (done === undefined) throw new Error('a retired record with a TTL of 60 s expired before the save');
          expectRefused(done.result, label);
          expect(await t.store.get(done.id), `after ${label}`).toEqual(done.retired);
        }
      },
    },
    {
      title: 'a save refused on a retired record does not extend its life',
      skipReason: lacksDeltaWrites,
      async run(t) {
        const { short } = ttls(t);
        for (const { label, changes } of SAVES) {
          const done = await saveOntoRetired(t, short, (id) => t.store.set(id, liveRecord(Date.now()), LONG_LIFE_MS, changes));
          // Real time only: the retired record outlived `short` before the save arrived, so a
          // save that wrote would have created a record rather than revived one: no verdict.
          if (done === undefined) continue;
          expectRefused(done.result, label);
          await expireAndExpectGone(t, done.id, short);
        }
      },
    },
    {
      title: 'a save whose meta is retired is written, onto a live record and onto a retired one',
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        await store.set(id, makeRecord({ a: 1 }, now), 60_000);
        const retired = retiredRecord({ a: 1 }, now + 1);
        expectWritten(await store.set(id, retired, 30_000), 'a retiring set of a live record');
        expect(await store.get(id)).toEqual(retired);
        const again = retiredRecord({ a: 1, b: 2 }, now + 2);
        expectWritten(await store.set(id, again, 20_000), 'a retired set of a retired record');
        expect(await store.get(id)).toEqual(again);
      },
    },
    {
      title: 'a delta save racing the touch that retires its record leaves it retired, whichever lands first',
      skipReason: (store) => needsTouch(store) ?? lacksDeltaWrites(store),
      async run({ store }) {
        const touch = requireMethod(store, 'touch');
        for (let round = 0; round < 10; round += 1) {
          const id = freshId(`race-${round}`);
          const now = Date.now();
          const record = makeRecord({ a: 1 }, now);
          await store.set(id, record, 60_000);
          const retired: SessionMeta = { ...record.meta, expiresAt: now + 30_000, retired: true };
          const save = () => store.set(id, makeRecord({ a: 2 }, now + 1), 60_000, { set: ['a'], deleted: [], created: false });
          // Sent in both orders: a store that serves calls in order would otherwise see one only.
          let saved: boolean | void;
          if (round % 2 === 0) [saved] = await Promise.all([save(), touch(id, retired, 30_000)]);
          else [, saved] = await Promise.all([touch(id, retired, 30_000), save()]);
          // Saved first, the save is kept and then retired; retired first, the save is refused.
          expect(await store.get(id)).toEqual({ data: { a: saved === false ? 1 : 2 }, meta: retired });
        }
      },
    },
    {
      title: 'touch with a retired meta retires a live record: it reads back retired, with its data',
      skipReason: needsTouch,
      async run({ store }) {
        const id = freshId();
        const now = Date.now();
        const record = makeRecord({ a: 1, nested: { b: [2] } }, now);
        await store.set(id, record, 60_000);
        const meta: SessionMeta = { ...record.meta, expiresAt: now + 30_000, retired: true };
        expectWritten(await requireMethod(store, 'touch')(id, meta, 30_000), 'the retiring touch');
        expect(await store.get(id)).toEqual({ data: record.data, meta });
        // Retired may be touched again with a retired meta (core never extends it, but may shorten it).
        const shorter: SessionMeta = { ...meta, expiresAt: now + 10_000 };
        expectWritten(await requireMethod(store, 'touch')(id, shorter, 10_000), 'a retired touch of a retired record');
        expect((await store.get(id))?.meta).toEqual(shorter);
      },
    },
    {
      title: 'touch of a missing or destroyed id resolves false and creates nothing',
      skipReason: needsTouch,
      async run({ store }) {
        const touch = requireMethod(store, 'touch');
        const missing = freshId('missing');
        expectRefused(await touch(missing, makeRecord({}, Date.now()).meta, 60_000), 'a touch of an id never stored');
        expect(await store.get(missing)).toBeUndefined();
        const destroyed = freshId('destroyed');
        await store.set(destroyed, makeRecord({ a: 1 }, Date.now()), 60_000);
        await store.destroy(destroyed);
        expectRefused(await touch(destroyed, makeRecord({}, Date.now()).meta, 60_000), 'a touch of a destroyed id');
        expect(await store.get(destroyed)).toBeUndefined();
      },
    },
    {
      title: 'touch of a retired record with a non-retired meta resolves false and leaves it as it was',
      skipReason: needsTouch,
      async run(t) {
        const done = await saveOntoRetired(t, 60_000, (id) => requireMethod(t.store, 'touch')(id, liveRecord(Date.now()).meta, 60_000));
        if (done === undefined) throw new Error('a retired record with a TTL of 60 s expired before the touch');
        expectRefused(done.result, 'the touch');
        expect(await t.store.get(done.id)).toEqual(done.retired);
      },
    },
    {
      // The touch rule has no exception for a lifetime of zero or less: a request in flight on a
      // retired id whose own lifetime ran out must not end the grace window of the others.
      title: 'touch with a TTL of zero or less of a retired record with a non-retired meta resolves false and leaves it as it was',
      skipReason: needsTouch,
      async run(t) {
        for (const ttlMs of [0, -1, Number.NaN]) {
          const done = await saveOntoRetired(t, 60_000, (id) => requireMethod(t.store, 'touch')(id, liveRecord(Date.now()).meta, ttlMs));
          if (done === undefined) throw new Error('a retired record with a TTL of 60 s expired before the touch');
          expectRefused(done.result, `the touch with ttlMs ${ttlMs}`);
          expect(await t.store.get(done.id), `after the touch with ttlMs ${ttlMs}`).toEqual(done.retired);
        }
      },
    },
    {
      title: 'touch with a TTL that is no number of a retired record with a non-retired meta resolves false and leaves it as it was',
      skipReason: needsTouch,
      async run(t) {
        for (const { label, ttlMs } of NON_NUMBER_TTLS) {
          const done = await saveOntoRetired(t, 60_000, (id) => requireMethod(t.store, 'touch')(id, liveRecord(Date.now()).meta, ttlMs));
          if (done === undefined) throw new Error('a retired record with a TTL of 60 s expired before the touch');
          expectRefused(done.result, `the touch with ttlMs ${label}`);
          expect(await t.store.get(done.id), `after the touch with ttlMs ${label}`).toEqual(done.retired);
        }
      },
    },
    {
      // Expired, the record is not stored: nothing is left to refuse for.
      title: 'a retired record that expired refuses nothing: a save of a non-retired meta under its id is written',
      async run(t) {
        const { short } = ttls(t);
        for (const { label, changes } of SAVES.filter((save) => save.changes?.created !== false)) {
          const id = freshId('expired-retired');
          const witness = freshId('witness');
          await t.store.set(id, retiredRecord({ a: 1 }, Date.now()), short);
          await t.store.set(witness, makeRecord({}, Date.now()), short);
          // Only the witness is read while waiting: a store that drops expired records lazily on
          // `get` would otherwise have dropped the retired one before the save looked at it.
          await expireAndExpectGone(t, witness, short);
          const next = liveRecord(Date.now());
          expectWritten(await t.store.set(id, next, 60_000, changes), label);
          expect(await t.store.get(id), `after ${label}`).toEqual(next);
        }
      },
    },
    {
      title: 'a delta save or a touch racing a destroy never brings the record back, whichever lands first',
      skipReason: (store) =>
        lacksDeltaWrites(store) === undefined || store.touch !== undefined ? undefined : 'store has neither delta writes nor touch()',
      async run({ store }) {
        for (let round = 0; round < 10; round += 1) {
          const id = freshId(`race-${round}`);
          const now = Date.now();
          await store.set(id, makeRecord({ a: 1 }, now), 60_000);
          const writes: (() => Awaitable<unknown>)[] = [() => store.destroy(id)];
          if (store.capabilities.deltaWrites) {
            writes.push(() => store.set(id, makeRecord({ a: 2 }, now + 1), 60_000, { set: ['a'], deleted: [], created: false }));
          }
          const touch = store.touch?.bind(store);
          if (touch !== undefined) writes.push(() => touch(id, makeRecord({}, now + 2).meta, 60_000));
          // Sent in both orders: a store that serves calls in order would otherwise see one only.
          if (round % 2 === 1) writes.reverse();
          await Promise.all(writes.map((write) => write()));
          expect(await store.get(id), `round ${round}`).toBeUndefined();
        }
      },
    },
    {
      title: 'a touch refused on a retired record does not extend its life',
      skipReason: needsTouch,
      async run(t) {
        const { short } = ttls(t);
        const done = await saveOntoRetired(t, short, (id) =>
          requireMethod(t.store, 'touch')(id, liveRecord(Date.now()).meta, LONG_LIFE_MS),
        );
        if (done === undefined) return;
        expectRefused(done.result, 'the touch');
        await expireAndExpectGone(t, done.id, short);
      },
    },
  ],
};

export function refusalsCases(env: CaseEnv): void {
  registerClause(refusalsClause, env);
}
