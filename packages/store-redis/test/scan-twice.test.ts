/**
 * SCAN may return a key more than once: when the keyspace's hash table shrinks between two of its
 * calls, the bucket its cursor points at gathers buckets it visited already. A private server, so
 * the test decides what the keyspace holds, and sees its table size (`DEBUG HTSTATS`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeRecord } from '@sess/store-test';
import { redisStore } from '../src/index.js';
import { connectUrl, describeOn, type Connected } from './connect.js';
import { cli, freePort, startServer, waitFor, type RedisServer } from './servers.js';

/** Writes sessions `<prefix>id-<i, 20 digits>` for i = 1..n, all with `meta`. */
const FILL = `for i = 1, tonumber(ARGV[2]) do
  redis.call('HSET', ARGV[1] .. string.format('id-%020d', i), 'm', ARGV[3])
end`;

/** Deletes the sessions FILL wrote but those named after ARGV[2]. */
const EMPTY_BUT = `local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
for i = 1, tonumber(ARGV[2]) do
  local id = string.format('id-%020d', i)
  if not keep[id] then redis.call('DEL', ARGV[1] .. id) end
end`;

describeOn('binaries', 'ids() while the keyspace shrinks', () => {
  let dir: string;
  let server: RedisServer;
  let redis: Connected;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sess-redis-scan-'));
    server = await startServer(await freePort(), dir, ['--enable-debug-command', 'yes']);
    redis = await connectUrl('ioredis 6', `redis://127.0.0.1:${server.port}`);
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists each id once, though SCAN returns some of them twice', async () => {
    const prefix = 'sess:';
    const count = '20000';
    const store = redisStore({ client: redis.client, prefix });
    await redis.command('', ['EVAL', FILL, '0', prefix, count, JSON.stringify(makeRecord({}, Date.now()).meta)]);
    // The first SCAN (1,000 keys a step) covers under an eighth of the table's 32,768 buckets.
    const iterator = store.ids!()[Symbol.asyncIterator]();
    const listed: string[] = [];
    for (let i = 0; i < 5; i += 1) listed.push((await iterator.next()).value as string);
    const kept = [...listed];
    // Every other session ends, so Redis shrinks the table to 8 buckets. The cursor's bucket then
    // holds every bucket the first step visited: SCAN returns the kept sessions again.
    await redis.command('', ['EVAL', EMPTY_BUT, '0', prefix, count, ...kept]);
    await waitFor('the table to shrink', async () => /table size: 8\b/.test(await cli(server.port, 'DEBUG', 'HTSTATS', '0')));
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) listed.push(next.value);
    expect(listed.filter((id) => kept.includes(id)).sort()).toEqual([...kept].sort());
  });
});
