/**
 * connect-redis's keys under the store's prefix (both default to 'sess:'): an app moving to sess
 * on the same Redis, perhaps with connect-redis still serving during the rollout. connect-redis 9
 * keeps each session as a JSON string, `SET <prefix><sid> <JSON> EX <seconds>`; the store keeps a
 * hash. A string must read as no session, and only a new session's save may replace it.
 */
import { expect, it } from 'vitest';
import { makeRecord } from '@sess/store-test';
import type { SessionChanges } from '@sess/core';
import { describeOnEveryClient } from './connect.js';

/** An id as express-session makes them (uid-safe, 24 bytes): base64url, so one sess would accept too. */
const SID = 'AbCdEfGhIjKlMnOpQrStUvWxYz01234_';

/** What connect-redis stores for an express-session session, and for a sess session written through it by @sess/express. */
function connectRedisValues(userId: string): string[] {
  const cookie = { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000).toISOString(), httpOnly: true, path: '/' };
  const now = Date.now();
  return [
    JSON.stringify({ cookie, userId }),
    JSON.stringify({ cookie, data: { userId }, meta: { createdAt: now, touchedAt: now, expiresAt: now + 86_400_000 } }),
  ];
}

const delta: SessionChanges = { set: ['a'], deleted: [], created: false };

describeOnEveryClient("connect-redis's string keys", ({ redis, prefix, store }) => {
  it('read as no session, and a touch, a delta save, ids() and the user index leave them as connect-redis wrote them', async () => {
    for (const [n, value] of connectRedisValues('u-connect-redis').entries()) {
      const id = `${SID.slice(0, -1)}${n}`;
      const key = prefix + id;
      await redis.command(key, ['SET', key, value, 'EX', '86400']);
      expect(await store().get(id)).toBeUndefined();
      const record = makeRecord({ a: 1, userId: 'u-connect-redis' }, Date.now());
      await expect(store().touch(id, record.meta, 60_000)).resolves.toBe(false);
      await expect(store().set(id, record, 60_000, delta)).resolves.toBe(false);
      const ids: string[] = [];
      for await (const listed of store().ids?.() ?? []) ids.push(listed);
      expect(ids).not.toContain(id);
      expect(await store().sessionsOf?.('u-connect-redis')).toEqual([]);
      await expect(store().revokeUser?.('u-connect-redis')).resolves.toBe(0);
      // Untouched: a connect-redis server still running reads its session as before.
      expect(await redis.command(key, ['GET', key])).toBe(value);
      expect(Number(await redis.command(key, ['TTL', key]))).toBeGreaterThan(86_000);
    }
  });

  it("is replaced by a new session's save under the same id", async () => {
    const id = SID;
    const key = prefix + id;
    await redis.command(key, ['SET', key, connectRedisValues('u1')[0] as string, 'EX', '86400']);
    const record = makeRecord({ a: 1 }, Date.now());
    await expect(store().set(id, record, 60_000)).resolves.toBe(true);
    expect(await store().get(id)).toEqual(record);
    expect(Number(await redis.command(key, ['PTTL', key]))).toBeLessThanOrEqual(60_000);
  });
});
