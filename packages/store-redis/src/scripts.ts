/**
 * The Lua the store runs. Each script touches one slot (one key, or a user's index and generation,
 * which share a hash tag), so it runs on one node of a cluster and never needs a cross-slot
 * command; a script runs atomically, so a save is all or nothing.
 */
import { createHash } from 'node:crypto';
import { GEN_FIELD } from './layout.js';

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
 * '1' if that meta is retired (else '0'), the user-id field ('' without a user index), the user's
 * generation read for this save ('' if not read), n (pairs to set), then n field/value pairs, then
 * the fields to delete.
 *
 * Returns {1} if written; with a user-id field, {1, previous, user, stamp}: the user the session
 * named before if that changed (a sign-out or a switch: the caller takes it out of that user's
 * index), the user it names now, which a concurrent sign-out or switch may have made another than
 * the caller's record says (the caller then takes back the entry it sent), and the generation
 * stamp the session now carries (absent if none), which the caller checks its index write against
 * (see `set` in `index.ts`). Refuses, writing nothing, when the session it would continue is dead:
 * {0} when a delta finds no record (a save racing a destroy or an expiry must not revive it,
 * core's `SessionChanges.created`); {-1, pttl, user, stamp} when the stored record is retired and
 * the new meta is not (a request in flight on an id regenerate replaced must not make it a
 * session again), with the record's remaining PTTL, its user-id field and its stamp (each absent
 * if none), so the caller can put the user index back as it was. The check and the
 * write are one script, so nothing runs between them. A key of another type counts as no record
 * (or is replaced on a full save), so foreign data under the prefix cannot make a save throw.
 *
 * The generation stamp `g` (see `layout.ts`) follows the user the session names once written: a
 * session that keeps its user keeps its stamp (so a request that loaded it before a revocation
 * cannot renew it, and one stored before stamps existed stays without one); one that gains or
 * changes its user takes the generation read for this save; one without a user has none.
 */
export const SAVE = script(`
${IS_RETIRED}
local key = KEYS[1]
local userField = ARGV[5]
local isHash = redis.call('TYPE', key)['ok'] == 'hash'
if ARGV[1] == 'delta' and not isHash then return {0} end
if isHash and ARGV[4] ~= '1' and isRetired(key) then
  if userField == '' then return {-1, redis.call('PTTL', key)} end
  return {-1, redis.call('PTTL', key), redis.call('HGET', key, userField), redis.call('HGET', key, '${GEN_FIELD}')}
end
local oldUser, oldStamp = false, false
if isHash and userField ~= '' then
  oldUser = redis.call('HGET', key, userField)
  oldStamp = redis.call('HGET', key, '${GEN_FIELD}')
end
if ARGV[1] ~= 'delta' then redis.call('DEL', key) end
redis.call('HSET', key, 'm', ARGV[3])
local last = 7 + 2 * tonumber(ARGV[7])
-- Batches keep unpack() under Lua's C stack limit (LUAI_MAXCSTACK, 8000) for sessions with many
-- keys; a batch of 1000 holds 500 whole pairs.
for i = 8, last, 1000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, last)))
end
for i = last + 1, #ARGV, 1000 do
  redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if userField ~= '' then
  local user = redis.call('HGET', key, userField)
  if not user then
    redis.call('HDEL', key, '${GEN_FIELD}')
  elseif user == oldUser then
    -- Same user: no sign-in, so no fresh stamp. A session from before stamps keeps none (it
    -- counts as 0, live until its user's first revocation) rather than being signed out here.
    if oldStamp then redis.call('HSET', key, '${GEN_FIELD}', oldStamp) end
  elseif ARGV[6] ~= '' then
    redis.call('HSET', key, '${GEN_FIELD}', ARGV[6])
  else
    -- A user the caller did not read a generation for: fail closed, the session reads as revoked.
    redis.call('HSET', key, '${GEN_FIELD}', '-1')
  end
  redis.call('PEXPIRE', key, ARGV[2])
  return {1, oldUser ~= user and oldUser or false, user or false, redis.call('HGET', key, '${GEN_FIELD}')}
end
redis.call('PEXPIRE', key, ARGV[2])
return {1}
`);

/**
 * Whether the session hash at `key` holds a meta touched after `touchedAt` (a number as text): a
 * touch with that meta was computed before the save that wrote it and would put back the meta
 * that save replaced. A stored meta that is not JSON, or has no number there, is behind nothing.
 */
const IS_NEWER = `local function isNewer(key, touchedAt)
  local ok, meta = pcall(cjson.decode, redis.call('HGET', key, 'm') or '')
  local stored = ok and type(meta) == 'table' and meta['touchedAt']
  local touching = tonumber(touchedAt)
  return type(stored) == 'number' and touching ~= nil and stored > touching
end`;

/**
 * Replaces the meta and extends an existing session; never creates one. KEYS[1] the session key.
 * ARGV: ttlMs, meta JSON, the user-id field, '1' if the meta is retired (else '0'), the meta's
 * touchedAt. Returns {1, user, stamp} when touched, with that field's value and the session's
 * generation stamp (each absent if none) so the caller can extend the user index, unless the
 * stamp shows the session revoked (see `INDEX_ADD`); {0} when there was no session to touch; {-1}
 * when the stored record is retired and the new meta is not. Retiring a live record (a retired
 * meta) is a touch like any other. A ttlMs of zero or less ends the session instead, once the same
 * checks pass (a retired record is not ended by a touch it refuses): {2, user}, with the user-id
 * field's value so the caller can take it out of that user's index. A touch whose meta is not
 * retired and older than the stored one (an earlier touchedAt: another request's save landed
 * first) changes nothing, neither the meta nor the TTL, and returns {3}: the session is live.
 *
 * The user's generation lives in another slot, so this script cannot see a revocation: a request
 * that loaded the session before one may still extend its record, which reads as missing all the
 * same (the stamp stays as it was), and dies with its TTL or revokeUser's delete.
 */
export const TOUCH = script(`
${IS_RETIRED}
${IS_NEWER}
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] ~= 'hash' then return {0} end
if ARGV[4] ~= '1' and isRetired(key) then return {-1} end
if tonumber(ARGV[1]) <= 0 then
  local user = ARGV[3] ~= '' and redis.call('HGET', key, ARGV[3])
  redis.call('DEL', key)
  return {2, user}
end
if ARGV[4] ~= '1' and isNewer(key, ARGV[5]) then return {3} end
redis.call('HSET', key, 'm', ARGV[2])
redis.call('PEXPIRE', key, ARGV[1])
return {1, redis.call('HGET', key, ARGV[3]), redis.call('HGET', key, '${GEN_FIELD}')}
`);

/** Server time in ms, so every app server prunes the user index by the same clock. */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lists a session in a user's index (a sorted set scored by the session's expiry in server ms).
 * KEYS[1] the index key, KEYS[2] the user's generation key (same hash tag, same slot). ARGV:
 * member, ttlMs, and the session's generation stamp as a number (see `generation` in `layout.ts`)
 * or '' when the caller does not know it. Drops entries already past their expiry and keeps the
 * index alive at least as long as this session, so it never expires before a live session.
 * Returns 1 if the entry was added or extended, else 0.
 *
 * An entry already listed is extended. A new one is added only with a stamp no older than the
 * user's generation: a touch or save sent by a request that loaded the session before
 * revokeUser must not put the id back in the index that revokeUser emptied, and one without a
 * stamp (a save's, sent alongside its session write before the stamp it keeps is known) adds
 * nothing. The check and the add are one script, in the slot REVOKE writes, so a revocation lands
 * wholly before or wholly after it; and since REVOKE leaves no entry but the kept session's, an
 * entry listed after it is that one or one that passed this check, which is why an entry listed
 * is extended without one (the kept session's, touched by a request that read its stamp before
 * revokeUser raised it, must not expire from the index before the session).
 */
export const INDEX_ADD = script(`
${NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if ARGV[3] == '' then return 0 end
  -- As generation() in layout.ts reads it: absent is 0, "<generation> <token>..." its number, anything else -1.
  local stored = redis.call('GET', KEYS[2])
  local gen = 0
  if stored then gen = tonumber(string.match(stored, '^(-?%d+) ') or string.match(stored, '^(-?%d+)$')) or -1 end
  if tonumber(ARGV[3]) < gen then return 0 end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`);

/**
 * Drops expired entries of a user's index and returns the user's generation (0 if none) followed
 * by the rest. KEYS[1] the index key, KEYS[2] the generation key (same hash tag, same slot).
 */
export const INDEX_LIST = script(`
${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.insert(members, 1, redis.call('GET', KEYS[2]) or '0')
return members
`);

/**
 * Deletes a session and returns {deleted (0 or 1), user} with its user-id field (absent if none),
 * so the caller can take it out of that user's index. KEYS[1] the session key. ARGV: the user-id
 * field.
 */
export const DESTROY = script(`
local key = KEYS[1]
local user = false
if redis.call('TYPE', key)['ok'] == 'hash' then user = redis.call('HGET', key, ARGV[1]) end
return {redis.call('DEL', key), user}
`);

/**
 * Revokes every session of a user at once: raises the user's generation, so every session stamped
 * with an older one reads as missing, wherever it lives and whether or not the index lists it.
 * KEYS[1] the index key, KEYS[2] the generation key. ARGV: the least new generation, a token
 * unique to this revocation, the generation key's least TTL in ms, and the index member of the
 * session kept ('' if none).
 *
 * Empties the index but for the kept session, whether or not the caller listed an entry: only the
 * kept session carries the new generation (STAMP gave it), so every other entry names a session
 * this revocation ends, including one a touch, save or sign-in indexed after the caller listed
 * the index. A sign-in that reads the generation after this script is stamped with the new one
 * and indexes itself afterwards.
 *
 * The new generation is the old one plus one, or the given least value if higher (the caller
 * passes the clock, so a generation key that expired and comes back still rises). The key holds
 * "<generation> <token> <kept member>" (no member when none is kept): sent again with the same
 * token (a client retrying after a lost connection), the script changes nothing, so a retry
 * cannot revoke the session the caller kept. Nor does it change anything when a revocation that
 * kept the same session set a generation at least the given one since the caller listed the
 * index (two clicks on "sign out other devices"): that one ended every session this one would,
 * and stamped the kept session with that generation (if it was still live), so rising past it
 * would revoke the session both keep. Returns the generation.
 */
export const REVOKE = script(`
local stored = redis.call('GET', KEYS[2])
local gen = 0
if stored then
  local value, token, kept = string.match(stored, '^(%d+) (%S*) ?(.*)$')
  if token == ARGV[2] then return value end
  gen = tonumber(value) or 0
  if ARGV[4] ~= '' and kept == ARGV[4] and gen >= tonumber(ARGV[1]) then return value end
end
local next = math.max(gen + 1, tonumber(ARGV[1]))
local value = string.format('%.0f', next)
local record = value .. ' ' .. ARGV[2]
if ARGV[4] ~= '' then record = record .. ' ' .. ARGV[4] end
redis.call('SET', KEYS[2], record, 'KEEPTTL')
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
local rank = ARGV[4] ~= '' and redis.call('ZRANK', KEYS[1], ARGV[4])
if rank then
  redis.call('ZREMRANGEBYRANK', KEYS[1], rank + 1, -1)
  if rank > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, rank - 1) end
else
  redis.call('DEL', KEYS[1])
end
return value
`);

/**
 * Gives the session revokeUser keeps (its `except`) the generation the revocation is about to
 * set, before it is set, so it never reads as revoked. KEYS[1] the session key. ARGV: the user-id
 * field, the user's JSON, the current generation, the new one. Only a session that names that
 * user and is not already revoked is stamped; returns 1 if stamped, else 0. A stamp is never
 * lowered: a concurrent revocation keeping the same session may have stamped it with a later
 * generation, which REVOKE then leaves in place (see there).
 */
export const STAMP = script(`
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] ~= 'hash' then return 0 end
if redis.call('HGET', key, ARGV[1]) ~= ARGV[2] then return 0 end
local stamp = tonumber(redis.call('HGET', key, '${GEN_FIELD}') or '0') or -1
if stamp < tonumber(ARGV[3]) then return 0 end
if stamp < tonumber(ARGV[4]) then redis.call('HSET', key, '${GEN_FIELD}', ARGV[4]) end
return 1
`);

/**
 * A load in one round trip, for a standalone server only: the session hash, and for a session
 * that names a user, that user's generation. KEYS[1] the session key. ARGV: the user-id field,
 * the start of the user's keys (`<prefix>user:{`), the session key as the store named it. Returns
 * {pairs} when the session names no user, {pairs, generation} when it does, and {pairs, false}
 * when the user id holds a JSON escape or U+FFFF, or starts with `}` (its key is escaped, see
 * `escapeName` and `userIndexKey`): the caller then reads the generation itself.
 *
 * The generation key is not declared in KEYS (its name is in the session), which a standalone
 * server allows and a cluster does not: the store uses this script only for standalone clients,
 * and goes back to two reads for good if a server refuses it. A client that puts a prefix of its
 * own before declared keys (ioredis `keyPrefix`) would not put it before this one, so the script
 * finds that prefix as what KEYS[1] has before the key the store named, and uses it too.
 */
export const LOAD = script(`
local key = KEYS[1]
local own = ARGV[3]
if #key < #own or string.sub(key, #key - #own + 1) ~= own then return redis.error_reply('ERR sess LOAD: unexpected key') end
local clientPrefix = string.sub(key, 1, #key - #own)
if redis.call('TYPE', key)['ok'] ~= 'hash' then return {{}} end
local pairs = redis.call('HGETALL', key)
local user = ARGV[1] ~= '' and redis.call('HGET', key, ARGV[1])
if not user then return {pairs} end
local ok, id = pcall(cjson.decode, user)
if not ok or type(id) ~= 'string' or id == '' then return {pairs} end
if string.find(user, '\\\\u', 1, true) or string.find(id, '\\239\\191\\191', 1, true) or string.sub(id, 1, 1) == '}' then
  return {pairs, false}
end
return {pairs, redis.call('GET', clientPrefix .. ARGV[2] .. id .. '}:gen') or '0'}
`);
