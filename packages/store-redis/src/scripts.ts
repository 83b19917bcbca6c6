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
 * Saves a session hash. KEYS[1] the session key. ARGV: mode ('full' | 'delta'), ttlMs, meta JSON,
 * n (pairs to set), then n field/value pairs, then the fields to delete. Returns 1 if written,
 * 0 if a delta found no record: a save racing a destroy or an expiry must not revive it (core's
 * `SessionChanges.created`). A key of another type counts as no record (or is replaced on a full
 * save), so foreign data under the prefix cannot make a save throw.
 */
export const SAVE = script(`
local key = KEYS[1]
if ARGV[1] == 'delta' then
  if redis.call('TYPE', key)['ok'] ~= 'hash' then return 0 end
else
  redis.call('DEL', key)
end
redis.call('HSET', key, 'm', ARGV[3])
local last = 4 + 2 * tonumber(ARGV[4])
-- Batches keep unpack() under Lua's C stack limit (LUAI_MAXCSTACK, 8000) for sessions with many
-- keys; a batch of 1000 holds 500 whole pairs.
for i = 5, last, 1000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, last)))
end
for i = last + 1, #ARGV, 1000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', key, ARGV[2])
return 1
`);

/**
 * Replaces the meta and extends an existing session; never creates one. KEYS[1] the session key.
 * ARGV: ttlMs, meta JSON, the user-id field. Returns that field's value (so the caller can extend
 * the user index) or nil; nil too when there was no session to touch.
 */
export const TOUCH = script(`
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] ~= 'hash' then return false end
redis.call('HSET', key, 'm', ARGV[2])
redis.call('PEXPIRE', key, ARGV[1])
return redis.call('HGET', key, ARGV[3])
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
