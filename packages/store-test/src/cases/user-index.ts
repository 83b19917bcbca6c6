import { randomInt } from 'node:crypto';
import { expect } from 'vitest';
import { type RevokeUserOptions, SessUsageError, type Store, type UserSession } from '@sess/core';
import { registerClause, type CaseEnv, type CheckContext, type Clause } from '../check.js';
import { expireAndExpectGone, freshId, lacksDeltaWrites, lacksUserIndex, makeRecord, ttls } from '../fixtures.js';

// These checks put the user id under `userId`, the default user-id key of sess stores.

function sessionsOf(store: Store, userId: string): Promise<UserSession[]> {
  return (store.sessionsOf as NonNullable<Store['sessionsOf']>).call(store, userId);
}

function revokeUser(store: Store, userId: string, except?: string): Promise<number> {
  return (store.revokeUser as NonNullable<Store['revokeUser']>).call(store, userId, except === undefined ? {} : { except });
}

/** `revokeUser` given `options` as they are, whatever they are; a synchronous throw becomes a rejection. */
async function revokeUserWith(store: Store, userId: unknown, options: unknown): Promise<number> {
  return (store.revokeUser as NonNullable<Store['revokeUser']>).call(store, userId as string, options as RevokeUserOptions);
}

/**
 * A store may list a session under a digest of its id (hashed ids at rest), so checks compare
 * listings by count and meta, and by id only after finding out which form the store uses.
 */
async function listedIds(t: CheckContext, userId: string): Promise<string[]> {
  return (await sessionsOf(t.store, userId)).map((entry) => entry.id);
}

async function signIn(store: Store, userId: string, createdAt = Date.now()): Promise<string> {
  const id = freshId('session');
  await store.set(id, makeRecord({ userId, other: 1 }, createdAt), 600_000, { set: ['userId', 'other'], deleted: [], created: true });
  return id;
}

export const userIndexClause: Clause = {
  name: 'sessions of a user (capabilities.userIndex)',
  checks: [
    {
      title: 'sessionsOf lists every live session whose data names the user, with its meta times',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const now = Date.now();
        await signIn(t.store, userId, now);
        await signIn(t.store, userId, now + 1);
        await signIn(t.store, freshId('someone-else'));
        const listed = await sessionsOf(t.store, userId);
        expect(listed).toHaveLength(2);
        const record = makeRecord({}, now);
        for (const entry of listed) {
          expect(entry.touchedAt - entry.createdAt).toBe(0);
          expect(entry.expiresAt - entry.createdAt).toBe(record.meta.expiresAt - record.meta.createdAt);
        }
        expect(listed.map((entry) => entry.createdAt).sort()).toEqual([now, now + 1]);
      },
    },
    {
      title: 'sessionsOf of a user with no sessions is empty',
      skipReason: lacksUserIndex,
      async run(t) {
        expect(await sessionsOf(t.store, freshId('nobody'))).toEqual([]);
      },
    },
    {
      title: 'a destroyed session is no longer listed',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const [kept, destroyed] = [await signIn(t.store, userId), await signIn(t.store, userId)];
        await t.store.destroy(destroyed);
        expect(await listedIds(t, userId)).toHaveLength(1);
        expect(await t.store.get(kept)).toBeDefined();
      },
    },
    {
      title: 'an expired session is no longer listed',
      skipReason: lacksUserIndex,
      async run(t) {
        const { short } = ttls(t);
        const userId = freshId('user');
        const id = freshId('session');
        await t.store.set(id, makeRecord({ userId }, Date.now()), short);
        expect(await listedIds(t, userId)).toHaveLength(1);
        await expireAndExpectGone(t, id, short);
        expect(await sessionsOf(t.store, userId)).toEqual([]);
      },
    },
    {
      title: 'a session that signs out or switches user is listed only under its current user',
      skipReason: lacksUserIndex,
      async run(t) {
        const [alice, bob] = [freshId('alice'), freshId('bob')];
        const [leaves, switches] = [await signIn(t.store, alice), await signIn(t.store, alice)];
        await t.store.set(leaves, makeRecord({ other: 1 }, Date.now()), 600_000, { set: [], deleted: ['userId'], created: false });
        await t.store.set(switches, makeRecord({ userId: bob, other: 1 }, Date.now()), 600_000, {
          set: ['userId'],
          deleted: [],
          created: false,
        });
        expect(await sessionsOf(t.store, alice)).toEqual([]);
        expect(await listedIds(t, bob)).toHaveLength(1);
      },
    },
    {
      title: 'an expired session is neither listed nor counted by revokeUser, though never read since it expired',
      skipReason: lacksUserIndex,
      async run(t) {
        const { short } = ttls(t);
        const [listedUser, revokedUser] = [freshId('listed'), freshId('revoked')];
        const witness = freshId('witness');
        await t.store.set(freshId('session'), makeRecord({ userId: listedUser }, Date.now()), short);
        await t.store.set(freshId('session'), makeRecord({ userId: revokedUser }, Date.now()), short);
        await t.store.set(witness, makeRecord({}, Date.now()), short);
        // Only the witness is read while waiting, so a store that drops expired records lazily
        // cannot hide a listing or a count that still includes them. One user per question, so
        // neither answer is cleaned up by the other.
        await expireAndExpectGone(t, witness, short);
        expect(await sessionsOf(t.store, listedUser)).toEqual([]);
        expect(await revokeUser(t.store, revokedUser)).toBe(0);
      },
    },
    {
      title: 'a whole-record save that switches user or drops the user key moves the session: revoking the old user leaves it alone',
      skipReason: lacksUserIndex,
      async run(t) {
        const [alice, bob] = [freshId('alice'), freshId('bob')];
        const saves = [
          { label: 'a save without changes', changes: undefined },
          { label: 'a save with created: true', changes: { set: ['userId', 'other'], deleted: [], created: true } },
        ] as const;
        const moved: string[] = [];
        for (const { label, changes } of saves) {
          const [switches, leaves] = [await signIn(t.store, alice), await signIn(t.store, alice)];
          const switched = makeRecord({ userId: bob, other: 1 }, Date.now());
          const left = makeRecord({ other: 1 }, Date.now());
          await t.store.set(switches, switched, 600_000, changes);
          await t.store.set(leaves, left, 600_000, changes);
          expect(await sessionsOf(t.store, alice), `alice after ${label}`).toEqual([]);
          expect(await revokeUser(t.store, alice), `revokeUser(alice) after ${label}`).toBe(0);
          expect(await t.store.get(switches), `the switched session after ${label} and revokeUser(alice)`).toEqual(switched);
          expect(await t.store.get(leaves), `the signed-out session after ${label} and revokeUser(alice)`).toEqual(left);
          moved.push(switches);
        }
        expect(await listedIds(t, bob)).toHaveLength(moved.length);
        expect(await revokeUser(t.store, bob)).toBe(moved.length);
        for (const id of moved) expect(await t.store.get(id)).toBeUndefined();
      },
    },
    {
      title: 'a delta save that signs out or switches user moves the session: revoking the old user leaves it alone',
      skipReason: lacksUserIndex,
      async run(t) {
        const [alice, bob] = [freshId('alice'), freshId('bob')];
        const [leaves, switches] = [await signIn(t.store, alice), await signIn(t.store, alice)];
        const left = makeRecord({ other: 1 }, Date.now());
        const switched = makeRecord({ userId: bob, other: 1 }, Date.now());
        await t.store.set(leaves, left, 600_000, { set: [], deleted: ['userId'], created: false });
        await t.store.set(switches, switched, 600_000, { set: ['userId'], deleted: [], created: false });
        expect(await revokeUser(t.store, alice)).toBe(0);
        expect(await t.store.get(leaves)).toEqual(left);
        expect(await t.store.get(switches)).toEqual(switched);
        expect(await revokeUser(t.store, bob)).toBe(1);
        expect(await t.store.get(switches)).toBeUndefined();
        expect(await t.store.get(leaves)).toEqual(left);
      },
    },
    {
      // After regenerate the old id lives on for the grace window, still signed in: revoking the
      // user must end it too, or a stolen old id would outlive the revocation.
      title: 'sessionsOf lists and revokeUser destroys a retired session of the user',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const retiredBySet = freshId('retired-by-set');
        const record = makeRecord({ userId, other: 1 }, Date.now(), { retired: true });
        await t.store.set(retiredBySet, record, 600_000);
        const ids = [retiredBySet];
        if (t.store.touch !== undefined) {
          const retiredByTouch = await signIn(t.store, userId);
          const loaded = await t.store.get(retiredByTouch);
          if (loaded === undefined) throw new Error('the session just signed in is missing');
          await t.store.touch(retiredByTouch, { ...loaded.meta, retired: true }, 30_000);
          ids.push(retiredByTouch);
        }
        expect(await listedIds(t, userId)).toHaveLength(ids.length);
        expect(await revokeUser(t.store, userId)).toBe(ids.length);
        for (const id of ids) expect(await t.store.get(id)).toBeUndefined();
        expect(await sessionsOf(t.store, userId)).toEqual([]);
      },
    },
    {
      title: 'revokeUser with except naming a missing id or a session of another user destroys every session of the user',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const someoneElse = await signIn(t.store, freshId('someone-else'));
        for (const except of [freshId('missing'), someoneElse]) {
          const ids = [await signIn(t.store, userId), await signIn(t.store, userId)];
          expect(await revokeUser(t.store, userId, except), `except ${except === someoneElse ? 'another user' : 'a missing id'}`).toBe(2);
          for (const id of ids) expect(await t.store.get(id)).toBeUndefined();
        }
        expect(await t.store.get(someoneElse)).toBeDefined();
      },
    },
    {
      title: 'a session kept alive by touch stays listed after its first lifetime',
      skipReason: lacksUserIndex,
      async run(t) {
        const { short, long } = ttls(t);
        const userId = freshId('user');
        const id = freshId('session');
        const witness = freshId('witness');
        const record = makeRecord({ userId }, Date.now());
        await t.store.set(id, record, short);
        await t.store.set(witness, makeRecord({}, Date.now()), short);
        // Without touch(), core re-saves the record to extend it; either must extend the listing.
        if (t.store.touch === undefined) await t.store.set(id, record, long);
        else await t.store.touch(id, record.meta, long);
        await expireAndExpectGone(t, witness, short);
        expect(await listedIds(t, userId)).toHaveLength(1);
      },
    },
    {
      title: 'revokeUser destroys every session of the user, returns how many, and leaves other users alone',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const ids = [await signIn(t.store, userId), await signIn(t.store, userId), await signIn(t.store, userId)];
        const other = await signIn(t.store, freshId('someone-else'));
        expect(await revokeUser(t.store, userId)).toBe(3);
        for (const id of ids) expect(await t.store.get(id)).toBeUndefined();
        expect(await sessionsOf(t.store, userId)).toEqual([]);
        expect(await t.store.get(other)).toBeDefined();
        expect(await revokeUser(t.store, userId)).toBe(0);
      },
    },
    {
      title: 'revokeUser with except keeps that one session',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const [current, stolen] = [await signIn(t.store, userId), await signIn(t.store, userId)];
        expect(await revokeUser(t.store, userId, current)).toBe(1);
        expect(await t.store.get(current)).toBeDefined();
        expect(await t.store.get(stolen)).toBeUndefined();
        expect(await listedIds(t, userId)).toHaveLength(1);
      },
    },
    {
      // An id passed where `{ except: id }` belongs reads as no `except`: revoking would end the
      // very session meant to be kept. `revokeUserExcept` from `@sess/core/store` refuses so.
      title:
        'revokeUser refuses options it cannot read (an id in place of { except: id }, null, an array, an except that is not a string, a misspelt except) with SessUsageError usage_invalid, whatever the user id, and destroys nothing',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const ids = [await signIn(t.store, userId), await signIn(t.store, userId)];
        const kept = ids[0] as string;
        const unreadable: readonly (readonly [string, unknown])[] = [
          ['the id to keep', kept],
          ['null', null],
          ['a number', 42],
          ['an array', [kept]],
          ['except: a number', { except: 42 }],
          ['except: null', { except: null }],
          ['except: an array', { except: [kept] }],
          // Read as no `except`, a typo would revoke the very session it was meant to keep.
          ['a misspelt except', { exept: kept }],
        ];
        // A user with no sessions, or an id no session can name, must not hide the bug either.
        for (const user of [userId, freshId('nobody'), '']) {
          for (const [label, options] of unreadable) {
            const what = `revokeUser(${JSON.stringify(user)}, ${label})`;
            const error = await revokeUserWith(t.store, user, options).then(
              (count) => expect.unreachable(`${what} resolved ${count}`),
              (rejected: unknown) => rejected,
            );
            expect(error, what).toBeInstanceOf(SessUsageError);
            expect(error, what).toMatchObject({ code: 'usage_invalid' });
            // A session id is a secret: the message says what the options are, never what they hold.
            expect((error as Error).message, `${what}: the message echoes the id`).not.toContain(kept);
          }
        }
        for (const id of ids) expect(await t.store.get(id), 'a session of the user after the refusals').toBeDefined();
        expect(await listedIds(t, userId)).toHaveLength(ids.length);
      },
    },
    {
      title:
        "sessionsOf and revokeUser of a user id that is not a non-empty string ('', a number, undefined) answer [] and 0 without throwing",
      skipReason: lacksUserIndex,
      async run(t) {
        // Data naming such a user indexes the session under no user: none is listed or revoked.
        const [emptyUser, numberUser] = [freshId('empty-user'), freshId('number-user')];
        await t.store.set(emptyUser, makeRecord({ userId: '', other: 1 }, Date.now()), 600_000);
        await t.store.set(numberUser, makeRecord({ userId: 42, other: 1 }, Date.now()), 600_000);
        // A number is not the user its digits spell: a store that turned it into a string would list this one.
        const number = randomInt(2 ** 40, 2 ** 47);
        const signedIn = [await signIn(t.store, freshId('user')), await signIn(t.store, String(number))];
        for (const userId of ['', number, undefined]) {
          const who = String(JSON.stringify(userId));
          expect(await sessionsOf(t.store, userId as string), `sessionsOf(${who})`).toEqual([]);
          expect(await revokeUserWith(t.store, userId, {}), `revokeUser(${who}, {})`).toBe(0);
          expect(await revokeUserWith(t.store, userId, undefined), `revokeUser(${who})`).toBe(0);
        }
        for (const id of [emptyUser, numberUser, ...signedIn]) expect(await t.store.get(id), 'a session after the calls').toBeDefined();
      },
    },
    {
      title: 'a delta save after revokeUser does not bring the session back into the listing',
      skipReason: lacksUserIndex,
      async run(t) {
        const userId = freshId('user');
        const id = await signIn(t.store, userId);
        await revokeUser(t.store, userId);
        await t.store.set(id, makeRecord({ userId, other: 2 }, Date.now()), 600_000, { set: ['other'], deleted: [], created: false });
        expect(await t.store.get(id)).toBeUndefined();
        expect(await sessionsOf(t.store, userId)).toEqual([]);
      },
    },
    {
      title: 'a session whose save was refused is not listed under the user its data names',
      skipReason: (store) => lacksUserIndex(store) ?? lacksDeltaWrites(store),
      async run(t) {
        const userId = freshId('user');
        const signedIn = (now: number) => makeRecord({ userId, other: 1 }, now);
        const delta = { set: ['userId'], deleted: [], created: false } as const;
        // A delta save finds no record: never stored, or destroyed while the request ran.
        const never = freshId('never');
        expect(await t.store.set(never, signedIn(Date.now()), 600_000, delta)).toBe(false);
        const destroyed = await signIn(t.store, userId);
        await t.store.destroy(destroyed);
        expect(await t.store.set(destroyed, signedIn(Date.now()), 600_000, delta)).toBe(false);
        // A request in flight on an id that regenerate retired signs in: its save is refused.
        const retired = freshId('retired');
        await t.store.set(retired, makeRecord({ other: 1 }, Date.now(), { retired: true }), 600_000);
        expect(await t.store.set(retired, signedIn(Date.now()), 600_000, delta)).toBe(false);
        expect(await t.store.set(retired, signedIn(Date.now()), 600_000)).toBe(false);
        expect(await sessionsOf(t.store, userId)).toEqual([]);
        expect(await revokeUser(t.store, userId)).toBe(0);
        expect((await t.store.get(retired))?.data).toEqual({ other: 1 });
      },
    },
  ],
};

export function userIndexCases(env: CaseEnv): void {
  registerClause(userIndexClause, env);
}
