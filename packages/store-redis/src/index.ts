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
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SessConfigError, checkOptionKeys, describeValue, isWellFormedId } from '@sess/core';
import { deadlineSweep, hasLife, indexedUserId, ownValue, revokeUserExcept } from '@sess/core/store';
import type { Watched } from '@sess/core/store';
import type { RevokeUserOptions, SessionChanges, SessionMeta, SessionRecord, Store, UserSession } from '@sess/core';
import { clientKeyPrefix, notReadyDetail, toCommands, type NodeCommand, type RedisClientLike } from './clients.js';
import { RedisStoreError, describeError, failureKind, repliedWith, scriptRefused, type RedisStoreMethod } from './errors.js';
import {
  GEN_FIELD,
  META_FIELD,
  dataField,
  decodeRecord,
  encodeFields,
  genKey,
  generation,
  isMeta,
  isStoreKey,
  prefixPattern,
  replyFields,
  stampOf,
  storedId,
  userIndexKey,
} from './layout.js';
import { DESTROY, INDEX_ADD, INDEX_LIST, LOAD, REVOKE, SAVE, STAMP, TOUCH, type Script } from './scripts.js';

export { RedisStoreError, type RedisStoreErrorReason, type RedisStoreMethod } from './errors.js';
export type { NodeCommand, RedisClientLike, RedisCommands } from './clients.js';

export interface RedisStoreOptions {
  /** A connected client: node-redis `createClient()`/`createCluster()`, ioredis `Redis`/`Cluster`, or a `RedisCommands`. */
  readonly client: RedisClientLike;
  /** Put before every key. Default `'sess:'` (connect-redis's). Must not be empty, so `clear()` cannot wipe a whole database. */
  readonly prefix?: string;
  /** Key sessions by SHA-256 of the id, so a dump of Redis holds no usable cookie ids. Default `false`. `ids()` is then absent. */
  readonly hashIds?: boolean;
  /**
   * Longest wait for one store call (`get`, `set`...), in ms, however many commands and retries it
   * takes; one shared timer checks every pending call, so a call fails between `timeoutMs` and a
   * tenth more (10 ms more if that is longer). Default 2,000: under core's 5 s store timeout, so
   * the error names Redis. A client that is not connected fails at once, whatever this says.
   */
  readonly timeoutMs?: number;
  /** The data key whose string value is the user id for `sessionsOf`/`revokeUser`. Default `'userId'`; `false` turns the index off. */
  readonly userIdKey?: string | false;
}

/** The store; `ids` is absent with `hashIds`, `sessionsOf`/`revokeUser` with `userIdKey: false`. */
export interface RedisStore extends Store {
  get(id: string): Promise<SessionRecord | undefined>;
  set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean>;
  touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean>;
  destroy(id: string): Promise<void>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 2_000;
/** Keys per SCAN step: big enough to page quickly, small enough not to block Redis. */
const SCAN_COUNT = '1000';
/** Pauses between attempts of a command Redis refused or a connection lost, within the call's deadline. */
const RETRY_DELAYS_MS = [10, 25, 50, 100];
/** At most one topology refresh per this many ms, however many calls fail at once. */
const REFRESH_INTERVAL_MS = 100;
/**
 * How long a user's generation outlives their last revocation: longer than any session core
 * allows (400 days), so no session stamped before it can outlive it.
 */
const GENERATION_TTL_MS = 401 * 24 * 60 * 60 * 1000;
/**
 * The longest TTL sent, in ms. PEXPIRE takes an integer below 2^63 ms from now, and a longer TTL
 * (String(1e21) is '1e+21') fails the script after its writes: a key left without any TTL.
 */
const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;

const KNOWN_OPTIONS = ['client', 'prefix', 'hashIds', 'timeoutMs', 'userIdKey'] as const;

/** connect-redis's options, and what to do instead: silently ignored, each would change nothing. */
const HINTS: Readonly<Record<string, string>> = {
  ttl: 'the lifetime comes from the session options (maxAgeMs, idleTimeoutMs); the store keeps the TTL core passes',
  disableTouch: 'when to touch is a session option in sess (touchAfterMs)',
  disableTTL: 'every session key expires with its session; there is no key without a TTL',
  serializer: 'each data key is stored as JSON in its own hash field, so saves can write only what changed; there is no serializer',
  scanCount: 'ids() and clear() SCAN 1000 keys a step',
};

function checkOptions(prefix: unknown, timeoutMs: unknown, userIdKey: unknown, hashIds: unknown): void {
  // Each message shows the value as JSON would: a '100' read from the environment is not 100.
  if (typeof prefix !== 'string' || prefix === '')
    throw new SessConfigError(`redisStore: prefix must be a non-empty string, got ${describeValue(prefix)}`);
  // Keys are sent as UTF-8, which turns a lone surrogate into U+FFFD: two such prefixes would share keys.
  if (Buffer.from(prefix).toString() !== prefix) throw new SessConfigError('redisStore: prefix must not contain lone surrogates');
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new SessConfigError(`redisStore: timeoutMs must be a positive number, got ${describeValue(timeoutMs)}`);
  if (userIdKey !== false && (typeof userIdKey !== 'string' || userIdKey === '')) {
    throw new SessConfigError(`redisStore: userIdKey must be a non-empty string or false, got ${describeValue(userIdKey)}`);
  }
  if (typeof hashIds !== 'boolean') throw new SessConfigError(`redisStore: hashIds must be a boolean, got ${describeValue(hashIds)}`);
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
 * One store call in progress: its deadline, shared by every command it sends and every retry,
 * and the side writes (user index upkeep) it waits for only while the deadline allows.
 */
interface Call extends Watched {
  readonly method: RedisStoreMethod;
  /** Set once the caller has its answer: retries stop. */
  settled: boolean;
  /** The last error a retry swallowed, for the timeout's `cause`. */
  lastError: unknown;
  /** Made at the first side write: most calls have none. */
  background: Promise<unknown>[] | undefined;
}

/** A session hash's fields as loaded (`replyFields`), with its user's generation when the same round trip read it. */
interface Loaded {
  readonly fields: string[];
  readonly generation: number | undefined;
}

/** One listed session of a user, as `listUser` found it. */
type Listed =
  | { readonly member: string; readonly state: 'live'; readonly session: UserSession }
  | { readonly member: string; readonly state: 'stale' | 'unknown' };

/**
 * Makes a Redis session store. It never connects, quits or reconfigures `client`: the app owns
 * it. See the README for the client settings that make an outage fail fast and a cluster
 * failover short.
 *
 * @throws SessConfigError for unknown or bad options or an unrecognised client, at construction.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  checkOptionKeys(options, KNOWN_OPTIONS, 'redisStore()', HINTS);
  const { prefix = 'sess:', hashIds = false, timeoutMs = DEFAULT_TIMEOUT_MS, userIdKey = 'userId' } = options;
  checkOptions(prefix, timeoutMs, userIdKey, hashIds);
  const commands = toCommands(options.client);
  // A user's index and generation share a slot through the `{<userId>}` tag of their keys. Redis
  // hashes only what lies between a key's first `{` and the next `}`, and the whole key when that
  // is empty: a prefix with `{}` at its first `{` parts the two, and every script on both fails.
  // An ioredis `keyPrefix` goes before the store's prefix in every key, so it counts too.
  const keyStart = clientKeyPrefix(options.client) + prefix;
  if (userIdKey !== false && commands.cluster !== false && /^[^{]*\{\}/.test(keyStart)) {
    const what = keyStart === prefix ? 'prefix' : "the client's keyPrefix followed by prefix";
    throw new SessConfigError(`redisStore: on a cluster, ${what} must not start a hash tag with "{}", got ${JSON.stringify(keyStart)}`);
  }
  const keyOf = (id: string): string => prefix + storedId(id, hashIds);
  const userField = userIdKey === false ? '' : dataField(userIdKey);
  const deadlines = deadlineSweep(Math.max(10, Math.ceil(timeoutMs / 10)));

  let lastRefresh = Number.NEGATIVE_INFINITY;
  /** Asks a cluster client to re-read its slot map (a promoted replica), at most once per interval. */
  function refreshTopology(): void {
    if (commands.refresh === undefined) return;
    const now = deadlines.now();
    if (now - lastRefresh < REFRESH_INTERVAL_MS) return;
    lastRefresh = now;
    try {
      commands.refresh();
    } catch {
      // A refresh is a hint; the retry or the next call finds out whether it helped.
    }
  }

  function storeError(method: RedisStoreMethod, error: unknown): RedisStoreError {
    if (error instanceof RedisStoreError) return error;
    return new RedisStoreError(method, failureKind(error) === 'final' ? 'failed' : 'unavailable', describeError(error), error);
  }

  /**
   * Runs one store call under one deadline of `timeoutMs`, whatever it sends: fails at once when
   * the client is not connected, and every failure arrives as `RedisStoreError`. So the app's own
   * bugs (data JSON cannot hold, see `set`; options `revokeUser` cannot read) must be found before
   * it, and so must answers that need no Redis (a user id no session can name, see `sessionsOf`).
   * Once `work` has its answer (the write that matters landed), side writes it started get what is
   * left of the deadline and cannot fail the call.
   */
  function call<T>(method: RedisStoreMethod, work: (c: Call) => Promise<T>): Promise<T> {
    // The client's offline queue would hold the command until Redis is back: a request would
    // hang for the whole outage. Failing now lets the app answer 503 while the client reconnects.
    let ready: boolean;
    try {
      ready = commands.isReady();
    } catch (error) {
      return Promise.reject(storeError(method, error));
    }
    if (!ready) return Promise.reject(new RedisStoreError(method, 'unavailable', notReadyDetail(options.client)));
    // One promise per call, its deadline on the store's shared sweep: this runs on every request.
    return new Promise<T>((resolve, reject) => {
      let answer: T;
      let answered = false;
      const c: Call = {
        method,
        deadline: deadlines.now() + timeoutMs,
        settled: false,
        lastError: undefined,
        background: undefined,
        expire() {
          c.settled = true;
          if (answered) return resolve(answer);
          refreshTopology();
          const last = c.lastError === undefined ? '' : ` (last error: ${describeError(c.lastError)})`;
          reject(new RedisStoreError(method, 'timeout', `Redis did not answer in ${timeoutMs} ms${last}`, c.lastError));
        },
      };
      deadlines.watch(c);
      const finish = () => {
        c.settled = true;
        deadlines.release(c);
        resolve(answer);
      };
      let working: Promise<T>;
      try {
        working = work(c);
      } catch (error) {
        // A `RedisCommands` of the app's own may throw rather than reject: the same failure.
        working = Promise.reject(error);
      }
      working.then(
        (value) => {
          answer = value;
          answered = true;
          if (c.background === undefined) finish();
          else void Promise.allSettled(c.background).then(finish);
        },
        (error: unknown) => {
          c.settled = true;
          deadlines.release(c);
          reject(storeError(method, error));
        },
      );
    });
  }

  /** Lets `work` go on without failing the call: see `call`. */
  function background(c: Call, work: Promise<unknown>): void {
    (c.background ??= []).push(work.catch(() => undefined));
  }

  /**
   * Sends one command, again while Redis refuses it for a failover (CLUSTERDOWN, TRYAGAIN,
   * MOVED) or the connection fails, until the call's deadline; each such failure also asks the
   * client to refresh its view of the cluster. Every command the store sends may be sent twice:
   * each is idempotent, or (REVOKE) carries a token that makes it so. With `script`, the command
   * is its EVALSHA, sent again as EVAL if Redis lost the script (restart, SCRIPT FLUSH, failover).
   */
  function send(c: Call, key: string, args: readonly string[], script?: Script): Promise<unknown> {
    // The caller was already told this call failed (a 503): a write sent now, when a slow read
    // before it answers at last, would land behind the back of requests that came after.
    if (c.settled) return Promise.reject(new RedisStoreError(c.method, 'timeout', 'the call is past its deadline: nothing more is sent'));
    // Almost every command succeeds at once: only a failure takes the async path of `resend`.
    return attempt(key, args).catch((error: unknown) => resend(c, key, args, script, error));
  }

  function attempt(key: string, args: readonly string[]): Promise<unknown> {
    try {
      return commands.send(key, args);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async function resend(c: Call, key: string, args: readonly string[], script: Script | undefined, failure: unknown): Promise<unknown> {
    let error = failure;
    for (let retry = 0; ; retry += 1) {
      // Found however the client wraps it (ioredis: "Too many Cluster redirections. Last error: ...").
      if (script !== undefined && repliedWith(error, 'NOSCRIPT')) return send(c, key, ['EVAL', script.source, ...args.slice(2)]);
      if (failureKind(error) === 'final') throw error;
      c.lastError = error;
      refreshTopology();
      const delay = RETRY_DELAYS_MS[Math.min(retry, RETRY_DELAYS_MS.length - 1)] as number;
      if (c.settled || deadlines.now() + delay >= c.deadline) throw error;
      await sleep(delay);
      if (c.settled) throw error;
      if (!commands.isReady()) {
        throw new RedisStoreError(c.method, 'unavailable', `the Redis client lost its connection (${describeError(error)})`, error);
      }
      try {
        return await attempt(key, args);
      } catch (next) {
        error = next;
      }
    }
  }

  /** Runs a script by SHA-1, sending its source once if Redis lost it. */
  function evalScript(c: Call, script: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return send(c, keys[0] as string, ['EVALSHA', script.sha1, String(keys.length), ...keys, ...args], script);
  }

  /** Whether loads run `LOAD` (one round trip): on a standalone server, until it says it will not run it. */
  let loadScript = commands.cluster === false;

  /**
   * A session hash's fields, and its user's generation when the load could read it in the same
   * round trip; undefined for a key of another type (no session).
   */
  function load(c: Call, key: string): Promise<Loaded | undefined> {
    if (!loadScript) return loadHash(c, key);
    return evalScript(c, LOAD, [key], [userField, `${prefix}user:{`, key]).then(
      (reply) => {
        const [fields, gen] = reply as [unknown, unknown?];
        return { fields: replyFields(fields), generation: gen === null || gen === undefined ? undefined : generation(gen) };
      },
      (error: unknown) => {
        if (failureKind(error) !== 'final' || repliedWith(error, 'NOSCRIPT')) throw error;
        // A server that will not run it (a proxy that checks the keys a script touches, a
        // Redis-compatible server that refuses undeclared keys, scripting absent or forbidden):
        // loads read the session and the generation apart from now on. Any other answer (OOM, a
        // key of the wrong type, a killed script) fails this run only: this load reads apart, and
        // the next one tries the script again.
        if (scriptRefused(error)) loadScript = false;
        return loadHash(c, key);
      },
    );
  }

  function loadHash(c: Call, key: string): Promise<Loaded | undefined> {
    return send(c, key, ['HGETALL', key]).then(
      (reply) => ({ fields: replyFields(reply), generation: undefined }),
      (error: unknown) => {
        // A key of another type holds no session.
        if (repliedWith(error, 'WRONGTYPE')) return undefined;
        throw error;
      },
    );
  }

  /** The record `loaded` holds, unless it is signed in and its user's sessions were revoked since. */
  function liveRecord(c: Call, loaded: Loaded): SessionRecord | undefined | Promise<SessionRecord | undefined> {
    const record = decodeRecord(loaded.fields);
    const userId = record === undefined ? undefined : userIdOf(record);
    // A signed-in session is live only while the user's generation has not passed its stamp:
    // read in the same script on a standalone server, else one more read in the user's slot.
    if (userId === undefined) return record;
    const stamp = stampOf(loaded.fields);
    if (loaded.generation !== undefined) return stamp >= loaded.generation ? record : undefined;
    return readGeneration(c, userId).then((current) => (stamp >= current ? record : undefined));
  }

  async function readGeneration(c: Call, userId: string): Promise<number> {
    const key = genKey(prefix, userId);
    return generation(await send(c, key, ['GET', key]));
  }

  /**
   * Lists `id` under `userId` for `ttlMs` if the session's `stamp` shows it not revoked; with no
   * stamp, only extends an entry already listed (see `INDEX_ADD`). Resolves to 1 if listed, else 0.
   */
  function indexAdd(c: Call, userId: string, id: string, ttlMs: number, stamp: number | undefined): Promise<number> {
    const args = [storedId(id, hashIds), String(ttlMs), stamp === undefined ? '' : String(stamp)];
    return evalScript(c, INDEX_ADD, [userIndexKey(prefix, userId), genKey(prefix, userId)], args).then(Number);
  }

  function indexRemove(c: Call, userId: string, id: string): Promise<unknown> {
    const indexKey = userIndexKey(prefix, userId);
    return send(c, indexKey, ['ZREM', indexKey, storedId(id, hashIds)]);
  }

  /**
   * Undoes the index write sent alongside a save the script refused (see `set`): the index must
   * not name a dead id. `reply` is the script's: {0} no record, so the id leaves the index; {-1,
   * pttl, user, stamp} a retired record, which stays listed (with its own expiry) only under its
   * own user, and only unless revoked.
   */
  function unindexRefused(c: Call, userId: string, id: string, reply: readonly unknown[]): Promise<unknown> {
    const pttl = Number(reply[1]);
    const storedUser = Number(reply[0]) === -1 ? indexedUserId(parseJson(reply[2])) : undefined;
    return storedUser === userId && pttl > 0 ? indexAdd(c, userId, id, pttl, generation(reply[3])) : indexRemove(c, userId, id);
  }

  /**
   * Settles the index entry of a save that landed (see `set`), once both its index write (`added`:
   * 1 listed, 0 not, undefined failed) and the save (`kept`: the stamp the session carries now)
   * have answered. `claimed` is the generation a sign-in read and sent with its index write.
   */
  function reindexSaved(
    c: Call,
    userId: string,
    id: string,
    ttl: number,
    claimed: number | undefined,
    kept: number,
    added: number | undefined,
  ) {
    // The session kept a stamp below a generation read before the save ran: it was revoked before
    // the save, and no STAMP can make it live again, so it leaves the index the claim put it in.
    if (claimed !== undefined && kept < claimed) return indexRemove(c, userId, id);
    // Not listed, and the claim (if any) was not the stamp kept: list it if that stamp is live,
    // checked against the generation in the same script. Rare: an entry the index lost, or a
    // kept session whose STAMP landed between the sign-in's read and its save.
    if (added === 0 && (claimed === undefined || kept > claimed)) return indexAdd(c, userId, id, ttl, kept);
    return undefined;
  }

  function userIdOf(record: SessionRecord): string | undefined {
    return userIdKey === false ? undefined : indexedUserId(ownValue(record.data, userIdKey));
  }

  /** Deletes a session and takes it out of its user's index; resolves to whether there was one. */
  async function destroyKey(c: Call, id: string): Promise<boolean> {
    const key = keyOf(id);
    if (userIdKey === false) return Number(await send(c, key, ['DEL', key])) === 1;
    const [deleted, user] = (await evalScript(c, DESTROY, [key], [userField])) as unknown[];
    const userId = indexedUserId(parseJson(user));
    if (userId !== undefined) background(c, indexRemove(c, userId, id));
    return Number(deleted) === 1;
  }

  /**
   * A user's index, each entry checked against its session: `live` (names the user, not revoked),
   * `stale` (gone, signed out, switched, revoked) or, with `tolerant`, `unknown` (its node did not
   * answer). Also returns the user's generation, read in the same script as the index.
   */
  async function listUser(c: Call, userId: string, tolerant: boolean): Promise<{ gen: number; listed: Listed[] }> {
    const [genValue, ...members] = (await evalScript(
      c,
      INDEX_LIST,
      [userIndexKey(prefix, userId), genKey(prefix, userId)],
      [],
    )) as unknown[];
    const gen = generation(genValue);
    const listed = await Promise.all(
      members.map(String).map(async (member): Promise<Listed> => {
        const key = prefix + member;
        let reply: unknown[];
        try {
          reply = (await send(c, key, ['HMGET', key, META_FIELD, userField, GEN_FIELD])) as unknown[];
        } catch (error) {
          if (repliedWith(error, 'WRONGTYPE')) return { member, state: 'stale' };
          if (tolerant) return { member, state: 'unknown' };
          throw error;
        }
        const meta = parseJson(reply[0]);
        // The session may be gone, name another user (sign-out, switch) or be revoked: a stale entry.
        if (indexedUserId(parseJson(reply[1])) !== userId || !isMeta(meta) || generation(reply[2]) < gen) return { member, state: 'stale' };
        return {
          member,
          state: 'live',
          session: { id: member, createdAt: meta.createdAt, touchedAt: meta.touchedAt, expiresAt: meta.expiresAt },
        };
      }),
    );
    return { gen, listed };
  }

  function sessionsOf(userId: string): Promise<UserSession[]> {
    // No session names a user id that is not a non-empty string (see `userIdOf`), connected or
    // not; and '' would give the index an empty `{}` hash tag, which on a cluster parts it from
    // its generation.
    if (indexedUserId(userId) === undefined) return Promise.resolve([]);
    return call('sessionsOf', async (c) => {
      const { listed } = await listUser(c, userId, false);
      const stale = listed.filter((entry) => entry.state === 'stale').map((entry) => entry.member);
      const indexKey = userIndexKey(prefix, userId);
      if (stale.length > 0) background(c, send(c, indexKey, ['ZREM', indexKey, ...stale]));
      return listed.flatMap((entry) => (entry.state === 'live' ? [entry.session] : [])).sort((a, b) => a.createdAt - b.createdAt);
    });
  }

  /**
   * Raises the user's generation (every session stamped before reads as missing from then on,
   * listed or not) and empties the index but for the session kept, then deletes the sessions the
   * index listed. The session kept (`except`) is stamped with the new generation first, so no
   * request of it ever sees it revoked.
   */
  function revokeUser(userId: string, revoke?: RevokeUserOptions): Promise<number> {
    // Checked before the user id: a user with no sessions must not hide the app's bug.
    let except: string | undefined;
    try {
      except = revokeUserExcept(revoke, 'redisStore: revokeUser');
    } catch (error) {
      return Promise.reject(error);
    }
    // As in `sessionsOf`: such a user has no sessions, and no generation worth writing.
    if (indexedUserId(userId) === undefined) return Promise.resolve(0);
    const keep = except === undefined ? undefined : storedId(except, hashIds);
    return call('revokeUser', async (c) => {
      const { gen, listed } = await listUser(c, userId, true);
      // Above the current generation, and above any a generation key that expired once held.
      const next = Math.max(gen + 1, Date.now());
      if (keep !== undefined) {
        await evalScript(c, STAMP, [prefix + keep], [userField, JSON.stringify(userId), String(gen), String(next)]);
      }
      const doomed = listed.filter((entry) => entry.member !== keep);
      // REVOKE empties the index but for `keep`: an entry written since the listing names a
      // session it revokes too (only `keep` carries the new generation).
      const indexKey = userIndexKey(prefix, userId);
      await evalScript(c, REVOKE, [indexKey, genKey(prefix, userId)], [String(next), randomUUID(), String(GENERATION_TTL_MS), keep ?? '']);
      // Revoked already; deleting them only frees the memory sooner.
      for (const entry of doomed)
        if (entry.state !== 'stale') background(c, send(c, prefix + entry.member, ['DEL', prefix + entry.member]));
      return doomed.filter((entry) => entry.state === 'live').length;
    });
  }

  /**
   * Yields the keys under the prefix whose rest `keep` accepts (so not those of another store
   * under a longer prefix, see `isStoreKey`) on every node, optionally of one type, by SCAN (never KEYS).
   */
  async function* scan(method: 'ids' | 'clear', keep: (name: string) => boolean, type?: string): AsyncGenerator<[NodeCommand, string[]]> {
    const pattern = prefixPattern(prefix);
    for (const node of await call(method, () => commands.nodes())) {
      let cursor = '0';
      do {
        const args = ['SCAN', cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT, ...(type === undefined ? [] : ['TYPE', type])];
        const [next, keys] = (await call(method, () => node(args))) as [string, string[]];
        cursor = String(next);
        yield [node, keys.map(String).filter((key) => keep(key.slice(prefix.length)))];
      } while (cursor !== '0');
    }
  }

  const store: RedisStore = {
    name: 'redis',
    capabilities: { deltaWrites: true, userIndex: userIdKey !== false },

    get(id: string): Promise<SessionRecord | undefined> {
      return call('get', (c) => load(c, keyOf(id)).then((loaded) => (loaded === undefined ? undefined : liveRecord(c, loaded))));
    },

    set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean> {
      const delta = changes !== undefined && !changes.created;
      // Encoded before `call` checks the client: data JSON cannot hold is the app's bug whether
      // Redis is up or not, never reported as the store being unavailable.
      let fields: { set: string[]; deleted: string[] } | undefined;
      if (hasLife(ttlMs)) {
        try {
          fields = encodeFields(record.data, delta ? changes.set : Object.keys(record.data));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return call('set', async (c) => {
        if (fields === undefined) {
          await destroyKey(c, id);
          return true;
        }
        const key = keyOf(id);
        const ttl = Math.min(Math.ceil(ttlMs), MAX_TTL_MS);
        const deleted = delta ? [...fields.deleted, ...changes.deleted.map(dataField)] : [];
        const userId = userIdOf(record);
        // A save that may give the session its user stamps it with the user's generation, read
        // first: a second round trip, on sign-in only. Other saves keep the stamp they find.
        const signsIn = userId !== undefined && (!delta || changes.set.includes(userIdKey as string));
        const gen = signsIn ? await readGeneration(c, userId) : undefined;
        const args = [
          delta ? 'delta' : 'full',
          String(ttl),
          JSON.stringify(record.meta),
          record.meta.retired === true ? '1' : '0',
          userField,
          gen === undefined ? '' : String(gen),
          String(fields.set.length / 2),
          ...fields.set,
          ...deleted,
        ];
        // The index lives in its user's slot, the session anywhere: sent together, so a signed-in
        // save costs one round trip of latency. The index only lists; revocation rests on the
        // stamp, which is in the session's own hash. So a failed index write fails nothing, and
        // a refused save (rare: a destroy or a regenerate won a race) takes its entry back after.
        // Sent before the save's stamp is known, the index write must not list a revoked session
        // (a request that loaded it before revokeUser): a sign-in claims the generation it read,
        // which INDEX_ADD checks, and any other save only extends an entry already listed. The
        // save returns the stamp it kept; `reindexSaved` settles the rare cases where they differ.
        const indexed = userId === undefined ? undefined : indexAdd(c, userId, id, ttl, gen).catch(() => undefined);
        if (indexed !== undefined) background(c, indexed);
        const verdict = (await evalScript(c, SAVE, [key], args)) as unknown[];
        if (Number(verdict[0]) === 1) {
          const previous = indexedUserId(parseJson(verdict[1]));
          if (previous !== undefined && previous !== userId) background(c, indexRemove(c, previous, id));
          if (userId !== undefined && indexed !== undefined) {
            // A request that loaded the session before a sign-out or switch indexed it under a user
            // it no longer names: that entry must not outlive the save.
            if (indexedUserId(parseJson(verdict[2])) !== userId)
              background(
                c,
                indexed.then(() => indexRemove(c, userId, id)),
              );
            else {
              const kept = generation(verdict[3]);
              background(
                c,
                indexed.then((added) => reindexSaved(c, userId, id, ttl, gen, kept, added)),
              );
            }
          }
          return true;
        }
        if (userId !== undefined && indexed !== undefined) {
          background(
            c,
            indexed.then(() => unindexRefused(c, userId, id, verdict)),
          );
        }
        return false;
      });
    },

    destroy(id: string): Promise<void> {
      return call('destroy', async (c) => void (await destroyKey(c, id)));
    },

    touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean> {
      return call('touch', async (c) => {
        // A TTL without life (zero or less, NaN, no number) ends the record, as set does, in the
        // same script that checks it: a retired record touched with a live meta is refused and stays.
        const key = keyOf(id);
        const ttl = hasLife(ttlMs) ? Math.min(Math.ceil(ttlMs), MAX_TTL_MS) : 0;
        const args = [String(ttl), JSON.stringify(meta), userField, meta.retired === true ? '1' : '0', String(meta.touchedAt)];
        const reply = (await evalScript(c, TOUCH, [key], args)) as unknown[];
        // Behind a save that landed first, the touch left the session as that save wrote it: live,
        // and no longer-lived than its index entry already is.
        if (Number(reply[0]) === 3) return true;
        const userId = userIdKey === false ? undefined : indexedUserId(parseJson(reply[1]));
        if (Number(reply[0]) === 2) {
          if (userId !== undefined) background(c, indexRemove(c, userId, id));
          return true;
        }
        if (Number(reply[0]) !== 1) return false;
        // The session now lives longer: so must its entry in the user index, unless its stamp
        // shows it revoked (a request that loaded it before revokeUser): that id stays out.
        if (userId !== undefined) background(c, indexAdd(c, userId, id, ttl, generation(reply[2])));
        return true;
      });
    },

    async clear(): Promise<void> {
      // One UNLINK per key, routed by its key like every other command (so a client's own key
      // prefix applies to it as to the rest): no multi-key command can cross slots.
      for await (const [, keys] of scan('clear', isStoreKey))
        await call('clear', (c) => Promise.all(keys.map((key) => send(c, key, ['UNLINK', key]))));
    },

    // The store does not own the client: the app quits it after the server stops.
    close: async () => undefined,
  };

  if (!hashIds) {
    // A digest cannot be turned back into an id, so a hashing store has no ids() to offer.
    store.ids = async function* ids(): AsyncGenerator<string> {
      // SCAN returns a key again when Redis shrinks its table between two steps: each id is
      // listed once, at the cost of remembering every id listed so far (as connect-redis does).
      const listed = new Set<string>();
      for await (const [, keys] of scan('ids', isWellFormedId, 'hash')) {
        for (const key of keys) {
          const id = key.slice(prefix.length);
          if (listed.has(id)) continue;
          listed.add(id);
          yield id;
        }
      }
    };
  }
  if (userIdKey !== false) Object.assign(store, { sessionsOf, revokeUser });
  return store;
}
