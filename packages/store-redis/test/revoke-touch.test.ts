/**
 * A touch racing revokeUser. A request that loaded a signed-in session before its user was
 * revoked still sends its touch afterwards, as core sends it: `touch(id, meta, ttlMs)` with the
 * loaded meta moved on. That touch must not make the session load again, and must not put the
 * revoked id back in the user's index. The orderings are forced, not hoped for: a
 * `RedisCommands` in front of the real client holds revokeUser's DEL of the session until the
 * touch has run, which is the window between the generation rising and the delete.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import type { SessionChanges, SessionMeta, SessionRecord } from '@sess/core';
import { redisStore } from '../src/index.js';
import { userIndexKey } from '../src/layout.js';
import { INDEX_ADD } from '../src/scripts.js';
import { LIBRARIES, TOPOLOGIES, connect, describeOn, holdingCommands, testPrefix, type Connected } from './connect.js';

const TTL_MS = 600_000;
const signIn: SessionChanges = { set: ['userId', 'a'], deleted: [], created: true };

/** The touch core sends at the end of a request that loaded `record`: its meta, touched now. */
function touchOf(record: SessionRecord): [SessionMeta, number] {
  const now = Date.now();
  return [{ ...record.meta, touchedAt: now, expiresAt: now + TTL_MS }, TTL_MS];
}

for (const topology of TOPOLOGIES) {
  for (const library of LIBRARIES) {
    describeOn(topology, `a touch racing revokeUser, ${library}, ${topology}`, () => {
      let redis: Connected;
      const prefix = testPrefix(`revoke-touch-${library}-${topology}`.replace(/\W+/g, '-'));
      beforeAll(async () => {
        redis = await connect(library, topology);
      });
      afterAll(async () => {
        await redisStore({ client: redis.client, prefix }).clear();
        await redis.quit();
      });
      const store = () => redisStore({ client: redis.client, prefix });
      const scoreIn = (userId: string, id: string) => {
        const indexKey = userIndexKey(prefix, userId);
        return redis.command(indexKey, ['ZSCORE', indexKey, id]);
      };
      const pttl = async (id: string) => Number(await redis.command(prefix + id, ['PTTL', prefix + id]));

      /** A request's load of a fresh signed-in session of `userId`: what its touch will carry. */
      async function signedIn(userId: string): Promise<[string, SessionRecord]> {
        const id = freshId();
        expect(await store().set(id, makeRecord({ userId, a: 1 }, Date.now()), TTL_MS, signIn)).toBe(true);
        const loaded = await store().get(id);
        expect(loaded?.data).toEqual({ userId, a: 1 });
        return [id, loaded as SessionRecord];
      }

      /**
       * A store whose DELs of `id` wait: `reached` resolves when revokeUser sends it, and the DEL
       * goes on to Redis only once `release` is called. Everything else passes straight through.
       */
      function holdingDelOf(id: string) {
        const { commands, atHold, release } = holdingCommands(redis, topology, (key, args) => args[0] === 'DEL' && key === prefix + id);
        return { store: redisStore({ client: commands, prefix, timeoutMs: 10_000 }), atDel: atHold, release };
      }

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
        await held.atDel;
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
        const {
          commands,
          atHold: atIndex,
          release,
        } = holdingCommands(
          redis,
          topology,
          (key, args) =>
            key === indexKey &&
            (args[0] === 'EVALSHA' || args[0] === 'EVAL') &&
            (args[1] === INDEX_ADD.sha1 || args[1] === INDEX_ADD.source),
        );
        // The touch has run (it read the old stamp); its index write waits until revokeUser is done.
        const touching = redisStore({ client: commands, prefix, timeoutMs: 10_000 }).touch(kept, ...touchOf(loaded));
        await atIndex;
        expect(await store().revokeUser!(userId, { except: kept })).toBe(0);
        release();
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
  }
}
