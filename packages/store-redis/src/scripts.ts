/**
 * The Lua the store runs. Each script touches one key, so it runs on one node of a cluster and
 * never needs a cross-slot command; a script runs atomically, so a save is all or nothing.
 */
import { createHash } from 'node:crypto';

/** A script and its SHA-1, for EVALSHA with an EVAL fallback on NOSCRIPT. */
export interface Script {
  readonly source: string;
  readonly sha1: string;
}

function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

/**
 * Whether the session hash at `key` (known to be a hash) holds a retired meta: the id was replaced
 * by regenerate and lives on read-only for its grace window. The substring test spares decoding
 * the meta of every session that is not retired; a meta that is not JSON is not retired.
 */
const IS_RETIRED = `local function isRetired(key)
  local stored = redis.call('HGET', key, 'm')
  if not stored or not string.find(stored, '"retired"', 1, true) then return false end
  local ok, meta = pcall(cjson.decode, stored)
  return ok and type(meta) == 'table' and meta['retired'] == true
end`;

/**
 * Saves a session hash. KEYS[1] the session key. ARGV: mode ('full' | 'delta'), ttlMs, meta JSON,
 * '1' if that meta is retired (else '0'), the user-id field, n (pairs to set), then n field/value
 * pairs, then the fields to delete.
 *
 * Returns {1} if written. Refuses, writing nothing, when the session it would continue is dead:
 * {0} when a delta finds no record (a save racing a destroy or an expiry must not revive it, core's
 * `SessionChanges.created`); {-1, pttl, user} when the stored record is retired and the new meta is
 * not (a request in flight on an id regenerate replaced must not make it a session again), with
 * the record's remaining PTTL and its user-id field (absent if none), so the caller can put the
 * user index back as it was. The check and the write are one script, so nothing runs between
 * them. A key of another type counts as no record (or is replaced on a full save), so foreign
 * data under the prefix cannot make a save throw.
 */
export const SAVE = script(`
${IS_RETIRED}
local key = KEYS[1]
local isHash = redis.call('TYPE', key)['ok'] == 'hash'
if ARGV[1] == 'delta' and not isHash then return {0} end
if isHash and ARGV[4] ~= '1' and isRetired(key) then
  return {-1, redis.call('PTTL', key), redis.call('HGET', key, ARGV[5])}
end
if ARGV[1] ~= 'delta' then redis.call('DEL', key) end
redis.call('HSET', key, 'm', ARGV[3])
local last = 6 + 2 * tonumber(ARGV[6])
-- Batches keep unpack() under Lua's C stack limit (LUAI_MAXCSTACK, 8000) for sessions with many
-- keys; a batch of 1000 holds 500 whole pairs.
for i = 7, last, 1000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, last)))
end
for i = last + 1, #ARGV, 1000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', key, ARGV[2])
return {1}
`);

/**
 * Replaces the meta and extends an existing session; never creates one. KEYS[1] the session key.
 * ARGV: ttlMs, meta JSON, the user-id field, '1' if the meta is retired (else '0'). Returns {1,
 * user} when touched, with that field's value (absent if none) so the caller can extend the user
 * index; {0} when there was no session to touch; {-1} when the stored record is retired and the
 * new meta is not. Retiring a live record (a retired meta) is a touch like any other.
 */
export const TOUCH = script(`
${IS_RETIRED}
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] ~= 'hash' then return {0} end
if ARGV[4] ~= '1' and isRetired(key) then return {-1} end
redis.call('HSET', key, 'm', ARGV[2])
redis.call('PEXPIRE', key, ARGV[1])
return {1, redis.call('HGET', key, ARGV[3])}
`);

/** Server time in ms, so every app server prunes the user index by the same clock. */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Adds a session to a user's index (a sorted set scored by the session's expiry in server ms).
 * KEYS[1] the index key. ARGV: member, ttlMs. Drops entries already past their expiry and keeps
 * the index alive at least as long as this session, so it never expires before a live session.
 */
export const INDEX_ADD = script(`
${NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`);

/** Drops expired entries of a user's index and returns the rest. KEYS[1] the index key. */
export const INDEX_LIST = script(`
${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);
