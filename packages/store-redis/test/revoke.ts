/** What the revoke-save and revoke-touch files share: a signed-in session as a request loads it, and its entry in the user's index. */
import { expect } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import type { SessionChanges, SessionRecord } from '@sess/core';
import { userIndexKey } from '../src/layout.js';
import type { ClientContext } from './connect.js';

export const TTL_MS = 600_000;
export const signIn: SessionChanges = { set: ['userId', 'a'], deleted: [], created: true };

export function signedInSessions({ redis, prefix, store }: ClientContext) {
  return {
    /** The score of `id` in the index of `userId`, or null when it is not listed. */
    scoreIn(userId: string, id: string): Promise<unknown> {
      const indexKey = userIndexKey(prefix, userId);
      return redis.command(indexKey, ['ZSCORE', indexKey, id]);
    },
    /** A request's load of a fresh signed-in session of `userId`: what its save or touch will carry. */
    async signedIn(userId: string): Promise<[string, SessionRecord]> {
      const id = freshId();
      expect(await store().set(id, makeRecord({ userId, a: 1 }, Date.now()), TTL_MS, signIn)).toBe(true);
      const loaded = await store().get(id);
      expect(loaded?.data).toEqual({ userId, a: 1 });
      return [id, loaded as SessionRecord];
    },
  };
}
