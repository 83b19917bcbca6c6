/**
 * A touch racing revokeUser. A request that loaded a signed-in session before its user was
 * revoked still sends its touch afterwards, as core sends it: `touch(id, meta, ttlMs)` with the
 * loaded meta moved on. That touch must not make the session load again, and must not put the
 * revoked id back in the user's index. The orderings are forced, not hoped for: a
 * `RedisCommands` in front of the real client holds revokeUser's DEL of the session until the
 * touch has run, which is the window between the generation rising and the delete.
 */
import { expect, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import type { SessionMeta, SessionRecord } from '@sess/core';
import { userIndexKey } from '../src/layout.js';
import { INDEX_ADD } from '../src/scripts.js';
import { describeOnEveryClient, runs } from './connect.js';
import { TTL_MS, signIn, signedInSessions } from './revoke.js';

/** The touch core sends at the end of a request that loaded `record`: its meta, touched now. */
function touchOf(record: SessionRecord): [SessionMeta, number] {
  const now = Date.now();
  return [{ ...record.meta, touchedAt: now, expiresAt: now + TTL_MS }, TTL_MS];
}

describeOnEveryClient('a touch racing revokeUser', (ctx) => {
  const { redis, prefix, store, holding } = ctx;
  const { scoreIn, signedIn } = signedInSessions(ctx);
  const pttl = async (id: string) => Number(await redis.command(prefix + id, ['PTTL', prefix + id]));

  /** A store whose DELs of `id` wait until `release`; everything else passes straight through. */
  const holdingDelOf = (id: string) => holding((key, args) => args[0] === 'DEL' && key === prefix + id);

  it('after revokeUser, the touch of a request that loaded the session before finds nothing and indexes nothing', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    expect(await store().revokeUser!(userId)).toBe(1);
    expect(await store().touch(id, ...touchOf(loaded))).toBe(false);
    expect(await store().get(id)).toBeUndefined();
    expect(await pttl(id)).toBe(-2);
    expect(await scoreIn(userId, id)).toBeNull();
  });

  it('a touch that lands after the generation rose but before revokeUser deletes the session: still revoked, not re-indexed', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    const held = holdingDelOf(id);
    const revoking = held.store.revokeUser!(userId);
    // The generation has risen and the index entry is gone; the session hash is not deleted yet.
    await held.atHold;
    expect(await scoreIn(userId, id)).toBeNull();
    expect(await store().touch(id, ...touchOf(loaded))).toBe(true);
    // The touch reached a revoked record: it must not load as signed in, even extended.
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
    held.release();
    expect(await revoking).toBe(1);
    expect(await store().get(id)).toBeUndefined();
    expect(await pttl(id)).toBe(-2);
    expect(await scoreIn(userId, id)).toBeNull();
    expect(await store().sessionsOf!(userId)).toEqual([]);
  });

  it('a session the index lost, touched after revokeUser: it stays revoked and is not put back in the index', async () => {
    const userId = freshId('user');
    const [id, loaded] = await signedIn(userId);
    // As if its sign-in's index write had failed: revokeUser cannot delete it, only revoke it.
    const indexKey = userIndexKey(prefix, userId);
    await redis.command(indexKey, ['ZREM', indexKey, id]);
    expect(await store().revokeUser!(userId)).toBe(0);
    expect(await store().touch(id, ...touchOf(loaded))).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
    // And a second touch (another request in flight) changes nothing either.
    expect(await store().touch(id, ...touchOf(loaded))).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
  });

  it('the session revokeUser keeps, and one signed in after it, are still re-indexed by their touches', async () => {
    const userId = freshId('user');
    const [kept, keptLoaded] = await signedIn(userId);
    const [revoked] = await signedIn(userId);
    expect(await store().revokeUser!(userId, { except: kept })).toBe(1);
    expect(await store().get(revoked)).toBeUndefined();
    const [later, laterLoaded] = await signedIn(userId);
    for (const [id, loaded] of [
      [kept, keptLoaded],
      [later, laterLoaded],
    ] as const) {
      const indexKey = userIndexKey(prefix, userId);
      // Out of the index, so only the touch can put it back.
      await redis.command(indexKey, ['ZREM', indexKey, id]);
      expect(await store().touch(id, ...touchOf(loaded))).toBe(true);
      expect(await scoreIn(userId, id)).not.toBeNull();
      expect((await store().get(id))?.data).toEqual({ userId, a: 1 });
    }
    expect((await store().sessionsOf!(userId)).map((session) => session.id).sort()).toEqual([kept, later].sort());
  });

  it("the kept session's entry is still extended by a touch that read its stamp before revokeUser raised it", async () => {
    const userId = freshId('user');
    const kept = freshId();
    // Listed until a minute from now; the touch extends the session to TTL_MS.
    expect(await store().set(kept, makeRecord({ userId, a: 1 }, Date.now()), 60_000, signIn)).toBe(true);
    const loaded = (await store().get(kept)) as SessionRecord;
    const indexKey = userIndexKey(prefix, userId);
    const held = holding((key, args) => key === indexKey && runs(INDEX_ADD, args));
    // The touch has run (it read the old stamp); its index write waits until revokeUser is done.
    const touching = held.store.touch(kept, ...touchOf(loaded));
    await held.atHold;
    expect(await store().revokeUser!(userId, { except: kept })).toBe(0);
    held.release();
    expect(await touching).toBe(true);
    expect((await store().get(kept))?.data).toEqual({ userId, a: 1 });
    expect(await pttl(kept)).toBeGreaterThan(TTL_MS - 60_000);
    // Listed as long as the session lives, not until its old expiry.
    expect(Number(await scoreIn(userId, kept))).toBeGreaterThan(Date.now() + TTL_MS - 60_000);
  });

  it('a session stored before generations (no stamp) is re-indexed by its touch until its user is revoked', async () => {
    const userId = freshId('user');
    const id = freshId();
    const key = prefix + id;
    const record = makeRecord({ userId }, Date.now());
    await redis.command(key, ['HSET', key, 'm', JSON.stringify(record.meta), 'd:userId', JSON.stringify(userId)]);
    await redis.command(key, ['PEXPIRE', key, String(TTL_MS)]);
    expect(await store().touch(id, ...touchOf(record))).toBe(true);
    expect(await scoreIn(userId, id)).not.toBeNull();
    const indexKey = userIndexKey(prefix, userId);
    await redis.command(indexKey, ['ZREM', indexKey, id]);
    expect(await store().revokeUser!(userId)).toBe(0);
    expect(await store().touch(id, ...touchOf(record))).toBe(true);
    expect(await store().get(id)).toBeUndefined();
    expect(await scoreIn(userId, id)).toBeNull();
  });
});
