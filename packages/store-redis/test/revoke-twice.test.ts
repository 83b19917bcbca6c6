/**
 * Two revocations of one user that keep the same session, at once: "sign out other devices"
 * clicked twice, or in two tabs. Each stamps the kept session with the generation it is about to
 * set, then sets it; whichever order their commands reach Redis in, the session both keep must
 * stay signed in, and every other session must end. The orderings are forced, not hoped for: a
 * `RedisCommands` in front of the real client holds one revocation's command until the other
 * revocation has run to its end.
 */
import { expect, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import type { SessionChanges } from '@sess/core';
import { REVOKE, STAMP, type Script } from '../src/scripts.js';
import { describeOnEveryClient, runs } from './connect.js';
import { TTL_MS } from './revoke.js';

const signIn: SessionChanges = { set: ['userId'], deleted: [], created: true };

describeOnEveryClient('two revocations keeping the same session', ({ store, holding }) => {
  /** The kept session and another one of a fresh user. */
  async function twoSessions(): Promise<[string, string, string]> {
    const userId = freshId('user');
    const [kept, other] = [freshId(), freshId()];
    for (const id of [kept, other]) expect(await store().set(id, makeRecord({ userId }, Date.now()), TTL_MS, signIn)).toBe(true);
    return [userId, kept, other];
  }

  /** Runs one revocation held at the first command `holds` picks, the other one whole meanwhile, then the first. */
  async function revokeTwice(userId: string, kept: string, holds: Script): Promise<void> {
    const held = holding((_key, args) => runs(holds, args));
    const first = held.store.revokeUser!(userId, { except: kept });
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
