/**
 * `@sess/store-redis`: sessions in Redis or Valkey, standalone or Cluster, through a client you
 * create (node-redis 5/6 or ioredis 5/6). One hash per session, so saves write only the keys
 * they changed (concurrent requests that change different keys merge), in one round trip; the
 * TTL is set in the same script, and a save that would continue a dead session is refused
 * there. Optionally hashes ids at rest and indexes sessions by user.
 *
 * ```ts
 * import { createClient } from 'redis';
 * import { redisStore } from '@sess/store-redis';
 *
 * const client = await createClient({ url: process.env.REDIS_URL, disableOfflineQueue: true }).connect();
 * app.use(session({ secret, store: redisStore({ client }) }));
 * ```
 */
import type { RevokeUserOptions, SessionChanges, SessionMeta, SessionRecord, Store, UserSession } from '@sess/core';
import { toCommands, type NodeCommand, type RedisClientLike } from './clients.js';
import { RedisStoreError } from './errors.js';
import { META_FIELD, dataField, decodeRecord, encodeFields, isMeta, prefixPattern, replyPairs, storedId, userIndexKey } from './layout.js';
import { INDEX_ADD, INDEX_LIST, SAVE, TOUCH, type Script } from './scripts.js';

export { RedisStoreError, type RedisStoreErrorCode } from './errors.js';
export type { NodeCommand, RedisClientLike, RedisCommands } from './clients.js';

export interface RedisStoreOptions {
  /** A connected client: node-redis `createClient()`/`createCluster()`, ioredis `Redis`/`Cluster`, or a `RedisCommands`. */
  readonly client: RedisClientLike;
  /** Put before every key. Default `'sess:'` (connect-redis's). Must not be empty, so `clear()` cannot wipe a whole database. */
  readonly prefix?: string;
  /** Key sessions by SHA-256 of the id, so a dump of Redis holds no usable cookie ids. Default `false`. `ids()` is then absent. */
  readonly hashIds?: boolean;
  /**
   * Longest wait for one Redis call, in ms. Default 2,000: under core's 5 s store timeout, so the
   * error names Redis. A client that is not connected fails at once, whatever this says.
   */
  readonly timeoutMs?: number;
  /** The data key whose string value is the user id for `sessionsOf`/`revokeUser`. Default `'userId'`; `false` turns the index off. */
  readonly userIdKey?: string | false;
}

/** The store; `ids` is absent with `hashIds`, `sessionsOf`/`revokeUser` with `userIdKey: false`. */
export interface RedisStore extends Store {
  set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean>;
  touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 2_000;
/** Keys per SCAN step: big enough to page quickly, small enough not to block Redis. */
const SCAN_COUNT = '1000';

function checkOptions(prefix: unknown, timeoutMs: number, userIdKey: unknown): void {
  if (typeof prefix !== 'string' || prefix === '') throw new TypeError('[sess] redisStore: prefix must be a non-empty string');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new RangeError(`[sess] redisStore: timeoutMs must be a positive number, got ${timeoutMs}`);
  if (userIdKey !== false && (typeof userIdKey !== 'string' || userIdKey === '')) {
    throw new TypeError('[sess] redisStore: userIdKey must be a non-empty string or false');
  }
}

/** Redis refuses a command on a key of another type; for the store that key holds no session. */
function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** A string user id from a JSON value, or undefined. */
function userIdFrom(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Makes a Redis session store. It never connects, quits or reconfigures `client`: the app owns
 * it. See the README for the client settings that make an outage fail fast.
 *
 * @throws TypeError or RangeError for bad options or an unrecognised client, at construction.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const { prefix = 'sess:', hashIds = false, timeoutMs = DEFAULT_TIMEOUT_MS, userIdKey = 'userId' } = options;
  checkOptions(prefix, timeoutMs, userIdKey);
  const commands = toCommands(options.client);
  const keyOf = (id: string): string => prefix + storedId(id, hashIds);

  /** Runs one store operation: fails at once when disconnected, and after `timeoutMs` at most. */
  async function run<T>(op: string, work: () => Promise<T>): Promise<T> {
    // The client's offline queue would hold the command until Redis is back: a request would
    // hang for the whole outage. Failing now lets the app answer 503 while the client reconnects.
    if (!commands.isReady())
      throw new RedisStoreError('unavailable', `${op}: the Redis client is not connected (connecting or reconnecting)`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisStoreError('timeout', `${op}: Redis did not answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([work(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function evalScript(script: Script, key: string, args: readonly string[]): Promise<unknown> {
    try {
      return await commands.send(key, ['EVALSHA', script.sha1, '1', key, ...args]);
    } catch (error) {
      // Scripts leave the cache on restart, SCRIPT FLUSH or failover: send the source once.
      if (!isNoScript(error)) throw error;
      return commands.send(key, ['EVAL', script.source, '1', key, ...args]);
    }
  }

  function indexAdd(userId: string, id: string, ttlMs: number): Promise<unknown> {
    return evalScript(INDEX_ADD, userIndexKey(prefix, userId), [storedId(id, hashIds), String(ttlMs)]);
  }

  function indexRemove(userId: string, id: string): Promise<unknown> {
    const indexKey = userIndexKey(prefix, userId);
    return commands.send(indexKey, ['ZREM', indexKey, storedId(id, hashIds)]);
  }

  /**
   * Undoes the index write sent alongside a save the script refused (see `set`): the index must
   * not name a dead id. `reply` is the script's: {0} no record, so the id leaves the index; {-1,
   * pttl, user} a retired record, which stays listed (with its own expiry) only under its own user.
   */
  function unindexRefused(userId: string, id: string, reply: readonly unknown[]): Promise<unknown> {
    const pttl = Number(reply[1]);
    const storedUser = Number(reply[0]) === -1 ? userIdFrom(parseJson(reply[2])) : undefined;
    return storedUser === userId && pttl > 0 ? indexAdd(userId, id, pttl) : indexRemove(userId, id);
  }

  function userIdOf(record: SessionRecord): string | undefined {
    return userIdKey === false ? undefined : userIdFrom(Object.getOwnPropertyDescriptor(record.data, userIdKey)?.value);
  }

  async function deleteKey(op: string, key: string): Promise<void> {
    await run(op, () => commands.send(key, ['DEL', key]));
  }

  /** Yields every key under the prefix on every node, optionally of one type, by SCAN (never KEYS). */
  async function* scan(op: string, type?: string): AsyncGenerator<[NodeCommand, string[]]> {
    const pattern = prefixPattern(prefix);
    for (const node of await run(op, () => commands.nodes())) {
      let cursor = '0';
      do {
        const args = ['SCAN', cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT, ...(type === undefined ? [] : ['TYPE', type])];
        const [next, keys] = (await run(op, () => node(args))) as [string, string[]];
        cursor = String(next);
        yield [node, keys.map(String)];
      } while (cursor !== '0');
    }
  }

  async function sessionsOf(userId: string): Promise<UserSession[]> {
    const indexKey = userIndexKey(prefix, userId);
    const members = ((await run('sessionsOf', () => evalScript(INDEX_LIST, indexKey, []))) as unknown[]).map(String);
    const field = dataField(userIdKey as string);
    const found = await Promise.all(
      members.map(async (member) => {
        const key = prefix + member;
        const reply = (await run('sessionsOf', () =>
          commands.send(key, ['HMGET', key, META_FIELD, field]).catch((e: unknown) => {
            if (isWrongType(e)) return [null, null];
            throw e;
          }),
        )) as unknown[];
        const meta = parseJson(reply[0]);
        // The session may be gone or now name another user (sign-out, switch): a stale entry.
        const live = userIdFrom(parseJson(reply[1])) === userId && isMeta(meta);
        return live ? { id: member, createdAt: meta.createdAt, touchedAt: meta.touchedAt, expiresAt: meta.expiresAt } : member;
      }),
    );
    const stale = found.filter((entry): entry is string => typeof entry === 'string');
    if (stale.length > 0) await run('sessionsOf', () => commands.send(indexKey, ['ZREM', indexKey, ...stale]));
    return found.filter((entry): entry is UserSession => typeof entry !== 'string').sort((a, b) => a.createdAt - b.createdAt);
  }

  async function revokeUser(userId: string, revoke: RevokeUserOptions = {}): Promise<number> {
    const keep = revoke.except === undefined ? undefined : storedId(revoke.except, hashIds);
    const doomed = (await sessionsOf(userId)).filter((entry) => entry.id !== keep).map((entry) => entry.id);
    const deleted = await Promise.all(
      doomed.map((member) => run('revokeUser', () => commands.send(prefix + member, ['DEL', prefix + member]))),
    );
    const indexKey = userIndexKey(prefix, userId);
    if (doomed.length > 0) await run('revokeUser', () => commands.send(indexKey, ['ZREM', indexKey, ...doomed]));
    return deleted.filter((count) => Number(count) === 1).length;
  }

  const store: RedisStore = {
    name: 'redis',
    capabilities: { deltaWrites: true, userIndex: userIdKey !== false },

    async get(id: string): Promise<SessionRecord | undefined> {
      const key = keyOf(id);
      try {
        return decodeRecord(replyPairs(await run('get', () => commands.send(key, ['HGETALL', key]))));
      } catch (error) {
        if (isWrongType(error)) return undefined;
        throw error;
      }
    },

    async set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean> {
      const key = keyOf(id);
      // `!(ttlMs > 0)` so a NaN TTL deletes too, rather than writing a key that never expires.
      if (!(ttlMs > 0)) {
        await deleteKey('set', key);
        return true;
      }
      const ttl = Math.ceil(ttlMs);
      const delta = changes !== undefined && !changes.created;
      const fields = encodeFields(record.data, delta ? changes.set : Object.keys(record.data));
      const deleted = delta ? [...fields.deleted, ...changes.deleted.map(dataField)] : [];
      const userId = userIdOf(record);
      const args = [
        delta ? 'delta' : 'full',
        String(ttl),
        JSON.stringify(record.meta),
        record.meta.retired === true ? '1' : '0',
        userId === undefined ? '' : dataField(userIdKey as string),
        String(fields.set.length / 2),
        ...fields.set,
        ...deleted,
      ];
      // The index lives in its user's slot, the session anywhere: two single-key commands, sent
      // together so a signed-in save still costs one round trip of latency. The index write cannot
      // wait for the script's verdict without a second round trip, so a refused save (rare: a
      // destroy or a regenerate won a race) takes its index entry back afterwards.
      const [reply] = await run('set', () =>
        Promise.all([evalScript(SAVE, key, args), userId === undefined ? undefined : indexAdd(userId, id, ttl)]),
      );
      const verdict = reply as unknown[];
      if (Number(verdict[0]) === 1) return true;
      if (userId !== undefined) {
        // Best effort: an entry left behind names a dead or retired session, which sessionsOf
        // checks and prunes anyway; the refusal is the answer either way.
        await run('set', () => unindexRefused(userId, id, verdict)).catch(() => undefined);
      }
      return false;
    },

    destroy: (id: string) => deleteKey('destroy', keyOf(id)),

    async touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean> {
      const key = keyOf(id);
      // A lifetime of zero or less ends the record, as set does; touched if there was one.
      if (!(ttlMs > 0)) return Number(await run('touch', () => commands.send(key, ['DEL', key]))) === 1;
      const ttl = Math.ceil(ttlMs);
      const field = dataField(userIdKey === false ? '' : userIdKey);
      const args = [String(ttl), JSON.stringify(meta), field, meta.retired === true ? '1' : '0'];
      const reply = (await run('touch', () => evalScript(TOUCH, key, args))) as unknown[];
      if (Number(reply[0]) !== 1) return false;
      const userId = userIdKey === false ? undefined : userIdFrom(parseJson(reply[1]));
      // The session now lives longer: so must its entry in the user index.
      if (userId !== undefined) await run('touch', () => indexAdd(userId, id, ttl));
      return true;
    },

    async clear(): Promise<void> {
      // One UNLINK per key, on the node that holds it: no multi-key command can cross slots.
      for await (const [node, keys] of scan('clear')) await run('clear', () => Promise.all(keys.map((key) => node(['UNLINK', key]))));
    },

    // The store does not own the client: the app quits it after the server stops.
    close: async () => undefined,
  };

  if (!hashIds) {
    // A digest cannot be turned back into an id, so a hashing store has no ids() to offer.
    store.ids = async function* ids(): AsyncGenerator<string> {
      for await (const [, keys] of scan('ids', 'hash')) for (const key of keys) yield key.slice(prefix.length);
    };
  }
  if (userIdKey !== false) Object.assign(store, { sessionsOf, revokeUser });
  return store;
}
