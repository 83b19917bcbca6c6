/**
 * Saves, sign-ins and touches racing revokeUser, and what they leave in the user's index. A save
 * sends its index write alongside its session write, before it knows the stamp the session
 * keeps; none of them may put a revoked id back in the index revokeUser emptied, and none may
 * keep the session revokeUser keeps, or one signed in after it, out of the index. The orderings
 * are forced, not hoped for: a `RedisCommands` in front of the real client holds a chosen command
 * until the test releases it.
 */
import { expect, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import type { SessionChanges, SessionRecord } from '@sess/core';
import { userIndexKey } from '../src/layout.js';
import { INDEX_ADD, REVOKE } from '../src/scripts.js';
import { describeOnEveryClient, runs } from './connect.js';
import { TTL_MS, signIn, signedInSessions } from './revoke.js';

/** A later request's save: it changed `a` only, so it keeps the stamp it finds. */
const changesA: SessionChanges = { set: ['a'], deleted: [], created: false };
/** A later request's save that names the user again (an app that sets it on every request). */
const renamesUser: SessionChanges = { set: ['userId', 'a'], deleted: [], created: false };

describeOnEveryClient('saves racing revokeUser', (ctx) => {
  const { redis, prefix, store, holding } = ctx;
  const { scoreIn, signedIn } = signedInSessions(ctx);
  /** As if the index write of its sign-in had failed. */
  const unlist = async (userId: string, id: string) => {
    const indexKey = userIndexKey(prefix, userId);
    await redis.command(indexKey, ['ZREM', indexKey, id]);
  };
  const listed = async (userId: string) => (await store().sessionsOf!(userId)).map((session) => session.id).sort();

  /** The save a request that loaded `record` sends at its end, with `a` changed. */
  function saveOf(id: string, record: SessionRecord, changes = changesA, via = store()): Promise<boolean> {
    return via.set(id, { data: { ...record.data, a: 2 }, meta: { ...record.meta, touchedAt: Date.now() } }, TTL_MS, changes);
  }

  it('a save after revokeUser, of a session the index lost, leaves it revoked and out of the index', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    await unlist(userId, id);
    expect(await store().revokeUser!(userId)).toBe(0);
    // The session is still there (unlisted, so not deleted): the save lands, and must change nothing.
    expect(await saveOf(id, loaded)).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
    expect(await listed(userId)).toEqual([]);
  });

  it('a save that names the user again, after revokeUser, of a session the index lost: revoked and out of the index', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    await unlist(userId, id);
    expect(await store().revokeUser!(userId)).toBe(0);
    // It reads the new generation, as a sign-in does, but keeps the old stamp: it is no sign-in.
    expect(await saveOf(id, loaded, renamesUser)).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
  });

  it('a save that lands after the generation rose but before revokeUser deletes the session: still revoked, not re-indexed', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    const held = holding((key, args) => args[0] === 'DEL' && key === prefix + id);
    const revoking = held.store.revokeUser!(userId);
    // The generation has risen and the index entry is gone; the session hash is not deleted yet.
    await held.atHold;
    expect(await scoreIn(userId, id)).toBeNull();
    expect(await saveOf(id, loaded)).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
    held.release();
    expect(await revoking).toBe(1);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
  });

  it('a sign-in that read the generation before revokeUser, its index write landing after: revoked, not indexed', async () => {
    const userId = freshId('user');
    const indexKey = userIndexKey(prefix, userId);
    const held = holding((key, args) => key === indexKey && runs(INDEX_ADD, args));
    const id = freshId();
    const signing = held.store.set(id, makeRecord({ userId, a: 1 }, Date.now()), TTL_MS, signIn);
    // It has read the generation and sent its save; its index write waits.
    await held.atHold;
    expect(await store().revokeUser!(userId)).toBe(0);
    held.release();
    expect(await signing).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
    // One that signs in now is live and listed.
    const [later] = await signedIn(userId);
    expect(await listed(userId)).toEqual([later]);
  });

  it('a save refused on the retired record of a revoked session does not put it back in the index', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    // regenerate retires the old id: a touch with a retired meta.
    expect(await store().touch(id, { ...loaded.meta, retired: true }, 60_000)).toBe(true);
    await unlist(userId, id);
    expect(await store().revokeUser!(userId)).toBe(0);
    // A request still on the old id saves with a live meta: refused, and the index left as it was.
    expect(await saveOf(id, loaded)).toBe(false);
    expect(await scoreIn(userId, id)).toBeNull();
  });

  it('a live session the index lost is listed again by its next save; so are the kept session and a later sign-in', async () => {
    const userId = freshId('user');
    const [lost, lostLoaded] = await signedIn(userId);
    await unlist(userId, lost);
    expect(await saveOf(lost, lostLoaded)).toBe(true);
    expect(await scoreIn(userId, lost)).not.toBeNull();
    expect(await store().revokeUser!(userId, { except: lost })).toBe(0);
    const [later, laterLoaded] = await signedIn(userId);
    for (const [id, loaded] of [
      [lost, lostLoaded],
      [later, laterLoaded],
    ] as const) {
      for (const changes of [changesA, renamesUser]) {
        await unlist(userId, id);
        expect(await saveOf(id, loaded, changes)).toBe(true);
        expect(await scoreIn(userId, id)).not.toBeNull();
        expect((await store().get(id))?.data).toEqual({ userId, a: 2 });
      }
    }
    expect(await listed(userId)).toEqual([lost, later].sort());
  });

  it('the kept session, saved by a request that read the generation before revokeUser stamped it, is still listed', async () => {
    const userId = freshId('user');
    const [kept, loaded] = await signedIn(userId);
    await unlist(userId, kept);
    // The save reads the generation, then its session and index writes both wait.
    const held = holding((_key, args) => args[0] === 'EVALSHA' || args[0] === 'EVAL');
    const saving = saveOf(kept, loaded, renamesUser, held.store);
    await held.atHold;
    expect(await store().revokeUser!(userId, { except: kept })).toBe(0);
    held.release();
    // The save keeps the new stamp STAMP gave it; its index write claimed the old generation.
    expect(await saving).toBe(true);
    expect((await store().get(kept))?.data).toEqual({ userId, a: 2 });
    expect(await scoreIn(userId, kept)).not.toBeNull();
    expect(await listed(userId)).toEqual([kept]);
  });

  it('revokeUser leaves no entry but the kept one, even those written between its listing and the revocation', async () => {
    const userId = freshId('user');
    const [kept] = await signedIn(userId);
    const [doomed] = await signedIn(userId);
    // Two sessions the index lost: a touch and a save in the window list them again.
    const [touched, touchedLoaded] = await signedIn(userId);
    const [saved, savedLoaded] = await signedIn(userId);
    await unlist(userId, touched);
    await unlist(userId, saved);
    const indexKey = userIndexKey(prefix, userId);
    const held = holding((key, args) => key === indexKey && runs(REVOKE, args));
    const revoking = held.store.revokeUser!(userId, { except: kept });
    // revokeUser has listed the index and stamped the kept session; the generation has not risen yet.
    await held.atHold;
    const now = Date.now();
    expect(await store().touch(touched, { ...touchedLoaded.meta, touchedAt: now, expiresAt: now + TTL_MS }, TTL_MS)).toBe(true);
    expect(await saveOf(saved, savedLoaded)).toBe(true);
    // And a sign-in in the window reads the old generation.
    const [signedInWindow] = await signedIn(userId);
    for (const id of [touched, saved, signedInWindow]) expect(await scoreIn(userId, id)).not.toBeNull();
    held.release();
    expect(await revoking).toBe(1);
    for (const id of [doomed, touched, saved, signedInWindow]) {
      expect(await store().get(id)).toBeUndefined();
      expect(await scoreIn(userId, id)).toBeNull();
    }
    expect(await scoreIn(userId, kept)).not.toBeNull();
    expect((await store().get(kept))?.data).toEqual({ userId, a: 1 });
    // A sign-in after the revocation is live and listed.
    const [later] = await signedIn(userId);
    expect(await listed(userId)).toEqual([kept, later].sort());
  });

  it('revokeUser without except, with entries written between its listing and the revocation, empties the index', async () => {
    const userId = freshId('user');
    const [listedBefore] = await signedIn(userId);
    const indexKey = userIndexKey(prefix, userId);
    const held = holding((key, args) => key === indexKey && runs(REVOKE, args));
    const revoking = held.store.revokeUser!(userId);
    await held.atHold;
    const [signedInWindow] = await signedIn(userId);
    held.release();
    expect(await revoking).toBe(1);
    for (const id of [listedBefore, signedInWindow]) {
      expect(await store().get(id)).toBeUndefined();
      expect(await scoreIn(userId, id)).toBeNull();
    }
    expect(Number(await redis.command(indexKey, ['EXISTS', indexKey]))).toBe(0);
  });
});
