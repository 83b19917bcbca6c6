/**
 * Two revocations of one user that keep the same session, at once: "sign out other devices"
 * clicked twice, or in two tabs. Each stamps the kept session with the generation it is about to
 * set, then sets it; whichever order their commands reach Redis in, the session both keep must
 * stay signed in, and every other session must end. The orderings are forced, not hoped for: a
 * `RedisCommands` in front of the real client holds one revocation's command until the other
 * revocation has run to its end.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import type { SessionChanges } from '@sess/core';
import { redisStore } from '../src/index.js';
import { REVOKE, STAMP, type Script } from '../src/scripts.js';
import { LIBRARIES, TOPOLOGIES, connect, describeOn, holdingCommands, testPrefix, type Connected } from './connect.js';

const TTL_MS = 600_000;
const signIn: SessionChanges = { set: ['userId'], deleted: [], created: true };

const runs = (script: Script, args: readonly string[]) =>
  (args[0] === 'EVALSHA' && args[1] === script.sha1) || (args[0] === 'EVAL' && args[1] === script.source);

for (const topology of TOPOLOGIES) {
  for (const library of LIBRARIES) {
    describeOn(topology, `two revocations keeping the same session, ${library}, ${topology}`, () => {
      let redis: Connected;
      const prefix = testPrefix(`revoke-twice-${library}-${topology}`.replace(/\W+/g, '-'));
      beforeAll(async () => {
        redis = await connect(library, topology);
      });
      afterAll(async () => {
        await redisStore({ client: redis.client, prefix }).clear();
        await redis.quit();
      });
      const store = () => redisStore({ client: redis.client, prefix });

      /** The kept session and another one of a fresh user. */
      async function twoSessions(): Promise<[string, string, string]> {
        const userId = freshId('user');
        const [kept, other] = [freshId(), freshId()];
        for (const id of [kept, other]) expect(await store().set(id, makeRecord({ userId }, Date.now()), TTL_MS, signIn)).toBe(true);
        return [userId, kept, other];
      }

      /** Runs one revocation held at the first command `holds` picks, the other one whole meanwhile, then the first. */
      async function revokeTwice(userId: string, kept: string, holds: Script): Promise<void> {
        const held = holdingCommands(redis, topology, (_key, args) => runs(holds, args));
        const first = redisStore({ client: held.commands, prefix, timeoutMs: 10_000 }).revokeUser!(userId, { except: kept });
        await held.atHold;
        // The second revocation's clock must read later than the first's, as a later click's does:
        // each picks its generation from the clock (at least), and a lower one must not win.
        const heldAt = Date.now();
        while (Date.now() <= heldAt) await new Promise(setImmediate);
        expect(await store().revokeUser!(userId, { except: kept })).toBe(1);
        held.release();
        expect(await first).toBe(1);
      }

      async function expectKeptOnly(userId: string, kept: string, other: string): Promise<void> {
        expect(await store().get(other)).toBeUndefined();
        expect((await store().get(kept))?.data).toEqual({ userId });
        expect((await store().sessionsOf!(userId)).map((session) => session.id)).toEqual([kept]);
      }

      it('the second stamps and revokes between the first stamping and revoking: the kept session stays signed in', async () => {
        const [userId, kept, other] = await twoSessions();
        await revokeTwice(userId, kept, REVOKE);
        await expectKeptOnly(userId, kept, other);
      });

      it('the second runs whole between the first listing and stamping: the later stamp is not lowered', async () => {
        const [userId, kept, other] = await twoSessions();
        await revokeTwice(userId, kept, STAMP);
        await expectKeptOnly(userId, kept, other);
      });

      it('a session signed in before the second revocation lists the index still ends', async () => {
        const [userId, kept, other] = await twoSessions();
        await store().revokeUser!(userId, { except: kept });
        const later = freshId();
        expect(await store().set(later, makeRecord({ userId }, Date.now()), TTL_MS, signIn)).toBe(true);
        expect(await store().revokeUser!(userId, { except: kept })).toBe(1);
        expect(await store().get(later)).toBeUndefined();
        await expectKeptOnly(userId, kept, other);
      });
    });
  }
}
