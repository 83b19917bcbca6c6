/**
 * What the conformance suite cannot see from outside the store: the keys, TTLs and types in
 * Redis itself, SCAN over every cluster master, hashed ids, corrupt data. Every library and
 * topology, against real servers.
 */
import { describe, expect, inject, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import { SessConfigError, SessUsageError, type SessionChanges } from '@sess/core';
import { Cluster as IoCluster } from 'ioredis';
import { createSentinel as createSentinel6 } from 'redis';
import { createSentinel as createSentinel5 } from 'redis5';
import { redisStore } from '../src/index.js';
import { encodeFields, replyFields, userIndexKey } from '../src/layout.js';
import { connect, describeOn, describeOnEveryClient, testPrefix, type Topology } from './connect.js';
import { REDIS_CLI } from './servers.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** redis-cli arguments that reach each node: the standalone server, or every cluster master. */
function nodeTargets(topology: Topology): string[][] {
  if (topology === 'standalone') {
    const service = inject('standalone');
    return service.ok ? [['-u', service.value]] : [];
  }
  const service = inject('cluster');
  return service.ok ? service.value.map((port) => ['-h', '127.0.0.1', '-p', String(port)]) : [];
}

async function onEachNode(topology: Topology, args: string[]): Promise<string[]> {
  return Promise.all(nodeTargets(topology).map(async (target) => (await run(REDIS_CLI, [...target, ...args])).stdout));
}

/** A hash as HGETALL answers it (a flat array, or with RESP3 a map), as field to value. */
function hashOf(reply: unknown): Record<string, string> {
  const fields = replyFields(reply);
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) hash[fields[i] as string] = fields[i + 1] as string;
  return hash;
}

const delta = (set: string[], deleted: string[] = []): SessionChanges => ({ set, deleted, created: false });
const created = (set: string[]): SessionChanges => ({ set, deleted: [], created: true });

/** The keys matching `pattern` on each node: one list for standalone, one per master on a cluster. */
async function keysPerNode(topology: Topology, pattern: string): Promise<string[][]> {
  const outputs = await onEachNode(topology, ['--scan', '--pattern', pattern]);
  return outputs.map((stdout) => stdout.split('\n').filter((line) => line !== ''));
}

/** Total calls of one command over every node, from INFO commandstats. */
async function callsOf(topology: Topology, command: string): Promise<number> {
  const outputs = await onEachNode(topology, ['INFO', 'commandstats']);
  return outputs.reduce((sum, text) => sum + Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(text)?.[1] ?? 0), 0);
}

describeOnEveryClient('redisStore', ({ redis, topology, prefix, store }) => {
  const pttlOf = async (key: string) => Number(await redis.command(key, ['PTTL', key]));
  const pttl = (id: string) => pttlOf(prefix + id);

  it('sets the TTL with the write: PTTL is the ttlMs given, for set, delta set and touch', async () => {
    const id = freshId();
    await store().set(id, makeRecord({ a: 1 }, Date.now()), 60_000, created(['a']));
    expect(await pttl(id)).toBeGreaterThan(59_000);
    expect(await pttl(id)).toBeLessThanOrEqual(60_000);
    await store().set(id, makeRecord({ a: 2 }, Date.now()), 90_000, delta(['a']));
    expect(await pttl(id)).toBeGreaterThan(89_000);
    await store().touch(id, makeRecord({}, Date.now()).meta, 120_000);
    expect(await pttl(id)).toBeGreaterThan(119_000);
    expect(await pttl(id)).toBeLessThanOrEqual(120_000);
  });

  it('a TTL of zero or less deletes the key instead of writing one without expiry', async () => {
    for (const ttlMs of [0, -5, Number.NaN]) {
      const id = freshId();
      await store().set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
      await store().set(id, makeRecord({ a: 1 }, Date.now()), ttlMs);
      expect(await pttl(id)).toBe(-2);
      await store().set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
      await store().touch(id, makeRecord({}, Date.now()).meta, ttlMs);
      expect(await pttl(id)).toBe(-2);
    }
  });

  it('a TTL too long for PEXPIRE (Infinity, 1e20) still writes keys that expire, rather than failing half way', async () => {
    for (const ttlMs of [Number.POSITIVE_INFINITY, 1e20]) {
      const id = freshId();
      const userId = `u-${freshId()}`;
      const index = `${prefix}user:{${userId}}`;
      await store().set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
      await expect(store().set(id, makeRecord({ userId }, Date.now()), ttlMs)).resolves.toBe(true);
      expect(await pttl(id)).toBeGreaterThan(86_400_000);
      expect(await pttlOf(index)).toBeGreaterThan(86_400_000);
      await expect(store().touch(id, makeRecord({}, Date.now()).meta, ttlMs)).resolves.toBe(true);
      expect(await pttl(id)).toBeGreaterThan(86_400_000);
      await store().destroy(id);
    }
  });

  it("a user id starting with '}' (an empty hash tag) keeps its index and generation in one slot", async () => {
    const userId = `}${freshId()}`;
    const [kept, other, lost] = [freshId(), freshId(), freshId()];
    for (const id of [kept, other, lost]) await store().set(id, makeRecord({ userId }, Date.now()), 60_000, created(['userId']));
    // As if the index write of its sign-in had failed: only the generation can revoke it.
    const indexKey = userIndexKey(prefix, userId);
    await redis.command(indexKey, ['ZREM', indexKey, lost]);
    const listed = (await store().sessionsOf!(userId)).map((session) => session.id);
    expect(listed.sort()).toEqual([kept, other].sort());
    await expect(store().revokeUser!(userId, { except: kept })).resolves.toBe(1);
    expect(await store().get(other)).toBeUndefined();
    expect(await store().get(lost)).toBeUndefined();
    expect(await store().get(kept)).toBeDefined();
    expect((await store().sessionsOf!(userId)).map((session) => session.id)).toEqual([kept]);
  });

  it("an empty user id (which no session can name) lists and revokes nothing, on a cluster too: no empty '{}' hash tag", async () => {
    // A session whose user id is '' is not signed in, so nothing is indexed under it.
    const id = freshId();
    await store().set(id, makeRecord({ userId: '' }, Date.now()), 60_000, created(['userId']));
    await expect(store().sessionsOf!('')).resolves.toEqual([]);
    await expect(store().revokeUser!('')).resolves.toBe(0);
    expect(await store().get(id)).toBeDefined();
    // Nor is any key written for it (revokeUser wrote a generation key on a single server).
    expect((await keysPerNode(topology, `${prefix}user:\\{\\}*`)).flat()).toEqual([]);
  });

  it('touch and a delta save of a destroyed session leave no key behind', async () => {
    const id = freshId();
    await store().set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
    await store().destroy(id);
    await store().touch(id, makeRecord({}, Date.now()).meta, 60_000);
    await store().set(id, makeRecord({ a: 2 }, Date.now()), 60_000, delta(['a']));
    expect(await pttl(id)).toBe(-2);
  });

  it('lays a session out as one hash: meta field plus one JSON field per data key', async () => {
    const id = freshId();
    const record = makeRecord({ a: 1, b: { c: [2] } }, Date.now());
    await store().set(id, record, 60_000);
    // node-redis 6 speaks RESP3 and answers with a map, the others with a flat array.
    const fields = hashOf(await redis.command(prefix + id, ['HGETALL', prefix + id]));
    expect(fields).toEqual({
      m: JSON.stringify(record.meta),
      'd:a': '1',
      'd:b': '{"c":[2]}',
    });
  });

  it('ids() and clear() use SCAN within the prefix on every node, never KEYS, and escape glob characters', async () => {
    const root = `${prefix}scan:`;
    const globby = `${root}[g]*?\\:`;
    // Keys an unescaped pattern "<root>[g]*?\:*" would also match.
    const lookalike = `${root}g-lookalike:`;
    const ids = Array.from({ length: 60 }, (_, i) => `${freshId()}-${i}`);
    for (const id of ids) await store({ prefix: globby }).set(id, makeRecord({ id }, Date.now()), 60_000);
    const other = freshId('other');
    await store({ prefix: lookalike }).set(other, makeRecord({}, Date.now()), 60_000);
    const keysBefore = await callsOf(topology, 'keys');
    const listed: string[] = [];
    for await (const id of store({ prefix: globby }).ids!()) listed.push(id);
    expect(listed.sort()).toEqual([...ids].sort());
    const perNode = await keysPerNode(topology, `${root}*`);
    if (topology === 'cluster') expect(perNode.filter((keys) => keys.length > 0)).toHaveLength(3);
    await store({ prefix: globby }).clear();
    for await (const id of store({ prefix: globby }).ids!()) expect.unreachable(`listed ${id} after clear`);
    expect((await keysPerNode(topology, `${root}*`)).flat()).toEqual([`${lookalike}${other}`]);
    expect(await callsOf(topology, 'keys')).toBe(keysBefore);
    await store({ prefix: lookalike }).clear();
  });

  it("ids() and clear() leave the keys of another store whose prefix starts with this one's ('app:' and 'app:admin:')", async () => {
    // Two apps on one Redis: every key of the inner store also matches the outer store's SCAN pattern.
    const [outer, inner] = [store({ prefix: `${prefix}app:` }), store({ prefix: `${prefix}app:admin:` })];
    const userId = freshId('user');
    const [mine, theirs, theirsKept] = [freshId(), freshId(), freshId()];
    const record = makeRecord({ userId }, Date.now());
    await outer.set(mine, record, 60_000);
    for (const id of [theirs, theirsKept]) await inner.set(id, record, 60_000);
    // A generation key of each, as well as the index.
    await outer.revokeUser!(userId, { except: mine });
    await inner.revokeUser!(userId, { except: theirsKept });
    const innerKeys = async () => (await keysPerNode(topology, `${prefix}app:admin:*`)).flat().sort();
    const before = await innerKeys();
    // Its session, index and generation.
    expect(before).toHaveLength(3);
    const listed: string[] = [];
    for await (const id of outer.ids!()) listed.push(id);
    expect(listed).toEqual([mine]);
    await outer.clear();
    expect(await outer.get(mine)).toBeUndefined();
    expect((await keysPerNode(topology, `${prefix}app:user:*`)).flat()).toEqual([]);
    expect(await innerKeys()).toEqual(before);
    expect(await inner.get(theirsKept)).toEqual(record);
    expect((await inner.sessionsOf!(userId)).map((session) => session.id)).toEqual([theirsKept]);
    await inner.clear();
    expect((await keysPerNode(topology, `${prefix}app:*`)).flat()).toEqual([]);
  });

  it('hashIds keeps no raw id in Redis, and the store still reads, writes and clears', async () => {
    const hashed = store({ hashIds: true, prefix: `${prefix}h:` });
    const id = freshId('secret');
    const record = makeRecord({ a: 1 }, Date.now());
    await hashed.set(id, record, 60_000);
    expect(await hashed.get(id)).toEqual(record);
    const keys = (await keysPerNode(topology, `${prefix}h:*`)).flat();
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(id);
    expect(keys[0]).toMatch(/^.*h:[A-Za-z0-9_-]{43}$/);
    expect(await store({ prefix: `${prefix}h:` }).get(id)).toBeUndefined();
    expect(hashed.ids).toBeUndefined();
    await hashed.clear();
    expect(await hashed.get(id)).toBeUndefined();
  });

  it('corrupt or foreign data reads as missing and never throws', async () => {
    const cases: [string, string[][]][] = [
      ['meta not JSON', [['HSET', '@', 'm', '{nope', 'd:a', '1']]],
      ['meta missing', [['HSET', '@', 'd:a', '1']]],
      ['meta of the wrong shape', [['HSET', '@', 'm', '{"createdAt":"x"}']]],
      ['a data field not JSON', [['HSET', '@', 'm', JSON.stringify(makeRecord({}, 1).meta), 'd:a', 'undefined']]],
      ['a string, not a hash', [['SET', '@', 'hello']]],
      ['a list, not a hash', [['RPUSH', '@', 'x']]],
    ];
    for (const [label, commands] of cases) {
      const id = freshId();
      const key = prefix + id;
      for (const command of commands)
        await redis.command(
          key,
          command.map((arg) => (arg === '@' ? key : arg)),
        );
      expect(await store().get(id), label).toBeUndefined();
      // A hash, even a corrupt one, takes the touch and the delta; a key of another type is no session.
      const isHash = !label.includes('not a hash');
      await expect(store().touch(id, makeRecord({}, 1).meta, 60_000), label).resolves.toBe(isHash);
      await expect(store().set(id, makeRecord({ a: 2 }, 1), 60_000, delta(['a'])), label).resolves.toBe(isHash);
      // A full save replaces whatever was there.
      await store().set(id, makeRecord({ a: 3 }, 1), 60_000);
      expect((await store().get(id))?.data, label).toEqual({ a: 3 });
    }
  });

  it("keeps a user index (one sorted set in its user's slot) alive as long as the sessions it lists", async () => {
    const userId = freshId('user');
    const id = freshId();
    const indexKey = `${prefix}user:{${userId}}`;
    const record = makeRecord({ userId }, Date.now());
    await store().set(id, record, 10_000);
    expect(await redis.command(indexKey, ['TYPE', indexKey])).toBe('zset');
    expect(await pttlOf(indexKey)).toBeGreaterThan(9_000);
    await store().touch(id, record.meta, 120_000);
    expect(await pttlOf(indexKey)).toBeGreaterThan(119_000);
    // A shorter save later never shortens the index below a session that still needs it.
    await store().set(freshId(), record, 5_000);
    expect(await pttlOf(indexKey)).toBeGreaterThan(119_000);
    expect(await store().sessionsOf!(userId)).toHaveLength(2);
  });

  it('a save refused for want of a record leaves no entry for the dead id in the user index', async () => {
    const userId = freshId('user');
    const indexKey = `${prefix}user:{${userId}}`;
    const scoreOf = (id: string) => redis.command(indexKey, ['ZSCORE', indexKey, id]);
    const destroyed = freshId();
    await store().set(destroyed, makeRecord({ userId }, Date.now()), 60_000, created(['userId']));
    await store().destroy(destroyed);
    // The save and the index write are sent together; the refused save takes the entry back.
    expect(await store().set(destroyed, makeRecord({ userId, b: 1 }, Date.now()), 60_000, delta(['b']))).toBe(false);
    expect(await scoreOf(destroyed)).toBeNull();
    const never = freshId();
    expect(await store().set(never, makeRecord({ userId }, Date.now()), 60_000, delta(['userId']))).toBe(false);
    expect(await scoreOf(never)).toBeNull();
    expect(await pttl(destroyed)).toBe(-2);
    expect(await pttl(never)).toBe(-2);
  });

  it("destroy, sign-out and a switch of user take the session out of its user's index at once", async () => {
    const [alice, bob] = [freshId('alice'), freshId('bob')];
    const scoreIn = (userId: string, id: string) => {
      const indexKey = `${prefix}user:{${userId}}`;
      return redis.command(indexKey, ['ZSCORE', indexKey, id]);
    };
    const [destroyed, signsOut, switches] = [freshId(), freshId(), freshId()];
    for (const id of [destroyed, signsOut, switches])
      await store().set(id, makeRecord({ userId: alice }, Date.now()), 60_000, created(['userId']));
    for (const id of [destroyed, signsOut, switches]) expect(await scoreIn(alice, id)).not.toBeNull();
    await store().destroy(destroyed);
    await store().set(signsOut, makeRecord({}, Date.now()), 60_000, delta([], ['userId']));
    await store().set(switches, makeRecord({ userId: bob }, Date.now()), 60_000, delta(['userId']));
    // No read has pruned anything: the writes themselves kept the index exact.
    for (const id of [destroyed, signsOut, switches]) expect(await scoreIn(alice, id)).toBeNull();
    expect(await scoreIn(bob, switches)).not.toBeNull();
    expect((await store().sessionsOf!(bob)).map((session) => session.id)).toEqual([switches]);
  });

  it('a save from a request that loaded the session before a sign-out or switch leaves no entry under the old user', async () => {
    const [alice, bob] = [freshId('alice'), freshId('bob')];
    const scoreIn = (userId: string, id: string) => {
      const indexKey = `${prefix}user:{${userId}}`;
      return redis.command(indexKey, ['ZSCORE', indexKey, id]);
    };
    const [signsOut, switches] = [freshId(), freshId()];
    for (const id of [signsOut, switches]) await store().set(id, makeRecord({ userId: alice }, Date.now()), 60_000, created(['userId']));
    await store().set(signsOut, makeRecord({}, Date.now()), 60_000, delta([], ['userId']));
    await store().set(switches, makeRecord({ userId: bob }, Date.now()), 60_000, delta(['userId']));
    // Another request, still holding alice's data, changes another key of each.
    for (const id of [signsOut, switches])
      expect(await store().set(id, makeRecord({ userId: alice, a: 1 }, Date.now()), 60_000, delta(['a']))).toBe(true);
    for (const id of [signsOut, switches]) expect(await scoreIn(alice, id)).toBeNull();
    expect(await scoreIn(bob, switches)).not.toBeNull();
  });

  it("a signed-in session carries its user's generation; revokeUser raises it, so a session the index lost reads as missing", async () => {
    const userId = freshId('user');
    const indexKey = `${prefix}user:{${userId}}`;
    const [kept, lost] = [freshId(), freshId()];
    await store().set(kept, makeRecord({ userId }, Date.now()), 60_000, created(['userId']));
    await store().set(lost, makeRecord({ userId }, Date.now()), 60_000, created(['userId']));
    const stamp = (id: string) => redis.command(prefix + id, ['HGET', prefix + id, 'g']);
    expect(await stamp(lost)).toBe('0');
    // As if the index write of its sign-in had failed.
    await redis.command(indexKey, ['ZREM', indexKey, lost]);
    expect(await store().revokeUser!(userId, { except: kept })).toBe(0);
    expect(await store().get(lost)).toBeUndefined();
    expect(await store().get(kept)).toBeDefined();
    const genKey = `${indexKey}:gen`;
    const [generation] = String(await redis.command(genKey, ['GET', genKey])).split(' ');
    expect(await stamp(kept)).toBe(generation);
    expect(Number(generation)).toBeGreaterThan(Date.now() - 60_000);
    // The generation outlives any session core allows (400 days).
    expect(Number(await pttlOf(genKey))).toBeGreaterThan(400 * 24 * 3_600_000);
  });

  it('a signed-in session written before generations (no stamp) stays signed in through its saves until its user is revoked', async () => {
    const userId = freshId('user');
    const id = freshId();
    const key = prefix + id;
    const meta = makeRecord({}, Date.now()).meta;
    // As an older version wrote it: the user id, no `g` field.
    await redis.command(key, ['HSET', key, 'm', JSON.stringify(meta), 'd:userId', JSON.stringify(userId), 'd:a', '1']);
    await redis.command(key, ['PEXPIRE', key, '60000']);
    expect((await store().get(id))?.data).toEqual({ userId, a: 1 });
    expect(await store().set(id, makeRecord({ userId, a: 2 }, Date.now()), 60_000, delta(['a']))).toBe(true);
    expect((await store().get(id))?.data).toEqual({ userId, a: 2 });
    // Naming the same user again is no sign-in: it must not give the session a fresh stamp.
    expect(await store().set(id, makeRecord({ userId, a: 3 }, Date.now()), 60_000, delta(['userId', 'a']))).toBe(true);
    expect((await store().get(id))?.data).toEqual({ userId, a: 3 });
    // Unlisted (as if an index write had failed), so only the generation can end it.
    const indexKey = `${prefix}user:{${userId}}`;
    await redis.command(indexKey, ['ZREM', indexKey, id]);
    expect(await store().revokeUser!(userId)).toBe(0);
    expect(await store().get(id)).toBeUndefined();
    // A request that loaded it before the revocation cannot renew it by naming its user.
    expect(await store().set(id, makeRecord({ userId, a: 4 }, Date.now()), 60_000, delta(['userId', 'a']))).toBe(true);
    expect(await store().get(id)).toBeUndefined();
  });

  it('a save refused on a retired record leaves it and its index entry as they were', async () => {
    const [owner, other] = [freshId('owner'), freshId('other')];
    const [ownerKey, otherKey] = [`${prefix}user:{${owner}}`, `${prefix}user:{${other}}`];
    const id = freshId();
    const retired = makeRecord({ userId: owner, a: 1 }, Date.now(), { retired: true });
    await store().set(id, retired, 10_000);
    const before = Number(await redis.command(ownerKey, ['ZSCORE', ownerKey, id]));
    expect(await store().set(id, makeRecord({ userId: owner, a: 2 }, Date.now()), 600_000)).toBe(false);
    expect(await store().set(id, makeRecord({ userId: other }, Date.now()), 600_000, delta(['userId']))).toBe(false);
    expect(await store().get(id)).toEqual(retired);
    expect(await pttl(id)).toBeLessThanOrEqual(10_000);
    // Listed under its own user with its own expiry (server ms), not the refused save's.
    const after = Number(await redis.command(ownerKey, ['ZSCORE', ownerKey, id]));
    expect(Math.abs(after - before)).toBeLessThan(1_000);
    expect(await redis.command(otherKey, ['ZSCORE', otherKey, id])).toBeNull();
    // The retire itself: a touch with a retired meta goes through and resolves true.
    const live = freshId();
    await store().set(live, makeRecord({ userId: owner }, Date.now()), 600_000);
    expect(await store().touch(live, { ...retired.meta, retired: true }, 5_000)).toBe(true);
    expect(await pttl(live)).toBeLessThanOrEqual(5_000);
    expect(await store().touch(live, makeRecord({}, Date.now()).meta, 600_000)).toBe(false);
    expect(await pttl(live)).toBeLessThanOrEqual(5_000);
    // A touch that would end it is refused the same way: the key stays for its grace window.
    expect(await store().touch(live, makeRecord({}, Date.now()).meta, 0)).toBe(false);
    expect(await pttl(live)).toBeGreaterThan(0);
    expect((await store().get(live))?.meta.retired).toBe(true);
  });

  it('stores a data key with lone surrogates under an escaped field, ordinary keys as they are', async () => {
    const id = freshId();
    const data = { '\uD800': 1, plain: 2, '\uFFFF': 3, 'é😀': 4, '\uDC00x': 5 };
    await store().set(id, makeRecord(data, Date.now()), 60_000);
    const fields = Object.keys(hashOf(await redis.command(prefix + id, ['HGETALL', prefix + id])));
    expect(fields.sort()).toEqual(['d:\uFFFFD800', 'd:plain', 'd:\uFFFFFFFF', 'd:é😀', 'd:\uFFFFDC00x', 'm'].sort());
    expect((await store().get(id))?.data).toEqual(data);
  });

  it('reads records written before field names were escaped', async () => {
    const id = freshId();
    const key = prefix + id;
    const meta = makeRecord({}, Date.now()).meta;
    // A lone surrogate was written as U+FFFD then; U+FFFF not followed by an escape stays itself.
    await redis.command(key, ['HSET', key, 'm', JSON.stringify(meta), 'd:\uFFFD', '1', 'd:plain', '2', 'd:a\uFFFFb', '3', 'd:\uFFFF', '4']);
    expect(await store().get(id)).toEqual({ data: { '\uFFFD': 1, plain: 2, 'a\uFFFFb': 3, '\uFFFF': 4 }, meta });
  });

  it('keeps users whose ids differ only in lone surrogates in separate indexes', async () => {
    const base = freshId('user');
    const [high, low] = [`${base}\uD800`, `${base}\uDC00`];
    const [a, b] = [freshId(), freshId()];
    await store().set(a, makeRecord({ userId: high }, Date.now()), 60_000);
    await store().set(b, makeRecord({ userId: low }, Date.now()), 60_000);
    expect((await store().sessionsOf!(high)).map((session) => session.id)).toEqual([a]);
    expect((await store().sessionsOf!(low)).map((session) => session.id)).toEqual([b]);
    expect(await store().revokeUser!(high)).toBe(1);
    expect(await store().get(b)).toBeDefined();
    expect((await store().sessionsOf!(low)).map((session) => session.id)).toEqual([b]);
  });

  it('with hashIds, sessionsOf lists digests and revokeUser still keeps the session named by its raw id', async () => {
    const hashed = store({ hashIds: true, prefix: `${prefix}hu:` });
    const userId = freshId('user');
    const [current, other] = [freshId(), freshId()];
    await hashed.set(current, makeRecord({ userId }, Date.now()), 60_000);
    await hashed.set(other, makeRecord({ userId }, Date.now()), 60_000);
    const listed = (await hashed.sessionsOf!(userId)).map((session) => session.id);
    expect(listed).toHaveLength(2);
    expect(listed).not.toContain(current);
    expect(await hashed.revokeUser!(userId, { except: current })).toBe(1);
    expect(await hashed.get(current)).toBeDefined();
    expect(await hashed.get(other)).toBeUndefined();
    await hashed.clear();
  });

  // Cluster only: a standalone server has no other node to redirect to.
  if (topology === 'cluster')
    it('sends every command to the master that owns its key: no MOVED redirects', async () => {
      const movedCount = async () =>
        (await onEachNode(topology, ['INFO', 'errorstats'])).reduce(
          (sum, text) => sum + Number(/errorstat_MOVED:count=(\d+)/.exec(text)?.[1] ?? 0),
          0,
        );
      const before = await movedCount();
      for (let i = 0; i < 20; i += 1) {
        const [id, userId] = [freshId(), freshId('user')];
        await store().set(id, makeRecord({ a: 1, userId }, 1), 60_000);
        await store().get(id);
        await store().touch(id, makeRecord({}, 1).meta, 60_000);
        await store().sessionsOf!(userId);
        await store().revokeUser!(userId);
      }
      expect(await movedCount()).toBe(before);
    });

  it('a session with many keys saves and deletes them in batches', async () => {
    const id = freshId();
    const data = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
    await store().set(id, makeRecord(data, Date.now()), 60_000);
    expect((await store().get(id))?.data).toEqual(data);
    const keys = Object.keys(data);
    await store().set(id, makeRecord({}, Date.now()), 60_000, delta(['k0'], keys.slice(1)));
    expect((await store().get(id))?.data).toEqual({});
  });
});

describeOn('standalone', 'a RedisCommands shim', () => {
  it('drives the store through send/nodes/isReady, so any client can be adapted', async () => {
    const redis = await connect('ioredis 6', 'standalone');
    const sent: string[] = [];
    const client = {
      send: (key: string, args: readonly string[]) => (sent.push(args[0] as string), redis.command(key, args)),
      nodes: async () => [(args: readonly string[]) => redis.command('', args)],
      isReady: () => true,
    };
    const store = redisStore({ client, prefix: testPrefix('shim') });
    const id = freshId();
    await store.set(id, makeRecord({ a: 1 }, 1), 60_000);
    expect((await store.get(id))?.data).toEqual({ a: 1 });
    const ids: string[] = [];
    for await (const listed of store.ids!()) ids.push(listed);
    expect(ids).toEqual([id]);
    // Without `cluster: false` the shim counts as a cluster: a load is HGETALL, not the script.
    expect(sent.at(-1)).toBe('HGETALL');
    await store.clear();
    expect(sent.at(-1)).toBe('UNLINK');
    expect(await store.get(id)).toBeUndefined();
    await redis.quit();
  });
});

describe('encodeFields', () => {
  it('fails a value JSON cannot hold as SessUsageError data_not_json naming its key', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    expect(() => encodeFields({ ok: 1, n: 10n }, ['ok', 'n'])).toThrow(SessUsageError);
    expect(() => encodeFields({ ok: 1, n: 10n }, ['ok', 'n'])).toThrow('[sess] session data is not JSON: key "n" holds a BigInt');
    expect(() => encodeFields({ loop }, ['loop'])).toThrow('[sess] session data is not JSON: key "loop" holds a circular reference');
  });
});

describe('options', () => {
  it.each([
    [{ prefix: '' }, /prefix/],
    [{ timeoutMs: 0 }, /timeoutMs/],
    [{ timeoutMs: Number.NaN }, /timeoutMs/],
    [{ timeoutMs: '100' }, /timeoutMs/],
    [{ userIdKey: '' }, /userIdKey/],
    [{ hashIds: 'yes' }, /hashIds/],
  ])('rejects %o at construction with SessConfigError', (options, message) => {
    const client = { send: async () => null, nodes: async () => [], isReady: () => true };
    const error = catchError(() => redisStore({ client, ...(options as object) }));
    expect(error).toBeInstanceOf(SessConfigError);
    expect(error).toMatchObject({ code: 'config_invalid', message: expect.stringMatching(message) });
  });

  it.each([
    [{ prefix: 42 }, 'redisStore: prefix must be a non-empty string, got 42'],
    [{ timeoutMs: '100' }, 'redisStore: timeoutMs must be a positive number, got "100"'],
    [{ userIdKey: true }, 'redisStore: userIdKey must be a non-empty string or false, got true'],
    [{ hashIds: 'false' }, 'redisStore: hashIds must be a boolean, got "false"'],
  ])('says what it got for %o, so a string that looks like a number or a boolean is told apart', (options, message) => {
    const client = { send: async () => null, nodes: async () => [], isReady: () => true };
    expect(catchError(() => redisStore({ client, ...(options as object) }))).toMatchObject({ message: `[sess] ${message}` });
  });

  it('refuses a prefix with a lone surrogate, which Redis would store as U+FFFD: two such prefixes would share their keys', () => {
    const client = { send: async () => null, nodes: async () => [], isReady: () => true };
    for (const prefix of ['sess\uD800:', 'sess\uDC00:', '\uDBFFsess:']) {
      expect(catchError(() => redisStore({ client, prefix }))).toMatchObject({
        code: 'config_invalid',
        message: expect.stringMatching(/prefix must not contain lone surrogates/),
      });
    }
    // A pair is a character like any other.
    expect(() => redisStore({ client, prefix: 'sess\uD83D\uDE00:' })).not.toThrow();
  });

  it('refuses unknown options, with a hint for typos and for connect-redis options', () => {
    const client = { send: async () => null, nodes: async () => [], isReady: () => true };
    const refusal = (options: object) => catchError(() => redisStore({ client, ...options } as never));
    expect(refusal({ timeout: 100 })).toBeInstanceOf(SessConfigError);
    expect(refusal({ timeoutMS: 100 })).toMatchObject({
      message: expect.stringMatching(/unknown option "timeoutMS": did you mean "timeoutMs"\?/),
    });
    expect(refusal({ ttl: 86_400 })).toMatchObject({ message: expect.stringMatching(/unknown option "ttl": .*maxAgeMs/) });
    expect(refusal({ disableTouch: true })).toMatchObject({
      message: expect.stringMatching(/unknown option "disableTouch": .*touchAfterMs/),
    });
    expect(refusal({ disableTTL: true })).toMatchObject({ message: expect.stringMatching(/unknown option "disableTTL"/) });
    expect(refusal({ serializer: JSON })).toMatchObject({ message: expect.stringMatching(/unknown option "serializer": .*JSON/) });
    expect(refusal({ scanCount: 10 })).toMatchObject({ message: expect.stringMatching(/unknown option "scanCount"/) });
    for (const options of [undefined, null, 'redis://localhost']) {
      expect(catchError(() => redisStore(options as never))).toBeInstanceOf(SessConfigError);
    }
  });

  it("refuses for a cluster a prefix whose first hash tag is empty ('{}'), which parts a user's index from its generation", () => {
    const cluster = { send: async () => null, nodes: async () => [], isReady: () => true };
    for (const prefix of ['{}sess:', 'sess:{}:', 'a{}{b}:', 'a}{}:']) {
      expect(catchError(() => redisStore({ client: cluster, prefix }))).toMatchObject({
        code: 'config_invalid',
        message: expect.stringMatching(/prefix/),
      });
      // A single server has no slots, and without a user index there are no user keys.
      expect(() => redisStore({ client: { ...cluster, cluster: false }, prefix })).not.toThrow();
      expect(() => redisStore({ client: cluster, prefix, userIdKey: false })).not.toThrow();
    }
    for (const prefix of ['{sess}:', 'sess:{', 'a}{b}:', 'sess:']) expect(() => redisStore({ client: cluster, prefix })).not.toThrow();
  });

  it("refuses the same empty hash tag made by an ioredis Cluster's own keyPrefix, which goes before every key", () => {
    // Never connected (lazyConnect): construction alone decides.
    const clusterWith = (keyPrefix: string) => new IoCluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, keyPrefix });
    for (const [keyPrefix, prefix] of [
      ['app{}:', 'sess:'],
      ['app{', '}sess:'],
    ] as const) {
      expect(catchError(() => redisStore({ client: clusterWith(keyPrefix), prefix }))).toMatchObject({ code: 'config_invalid' });
    }
    expect(() => redisStore({ client: clusterWith('{app}:'), prefix: 'sess:' })).not.toThrow();
    expect(() => redisStore({ client: clusterWith('app{}:'), prefix: 'sess:', userIdKey: false })).not.toThrow();
  });

  it('rejects a node-redis Sentinel (a shape the store does not recognise) at construction, rather than failing every call', () => {
    // Never connected: construction alone decides. Its sendCommand takes (isReadonly, args), not
    // a client's (args): accepted as a client, every call failed with a TypeError.
    const options = { name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] };
    for (const sentinel of [createSentinel6(options), createSentinel5(options)]) {
      const error = catchError(() => redisStore({ client: sentinel }));
      expect(error).toBeInstanceOf(SessConfigError);
      expect((error as Error).message).toMatch(/Sentinel.*RedisCommands/);
    }
  });

  it('rejects an object that is no Redis client with SessConfigError', () => {
    const error = catchError(() => redisStore({ client: {} }));
    expect(error).toBeInstanceOf(SessConfigError);
    expect((error as Error).message).toMatch(/not a node-redis or ioredis client/);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return expect.unreachable('did not throw');
}
