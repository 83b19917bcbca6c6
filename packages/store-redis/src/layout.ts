/**
 * How sessions are laid out in Redis: one hash per session, one JSON value per data key plus one
 * meta field, so a save can write only the keys it changed. Nothing here talks to Redis.
 *
 *   <prefix><id>                 hash   m -> meta JSON, d:<key> -> JSON of data[key],
 *                                       g -> the user's generation when the session signed in
 *   <prefix>user:{<userId>}      zset   member <id> scored by that session's expiry (server ms)
 *   <prefix>user:{<userId>}:gen  string "<generation> <token of the revocation that set it> <kept member>"
 *
 * A session that names a user is live only while its `g` is at least the user's generation
 * (absent counts as 0): revokeUser raises the generation, which ends every older session at once,
 * listed in the index or not. The generation key shares the index's hash tag, so one script
 * updates both.
 *
 * Field names and the user id in the index key go through `escapeName` (`@sess/core/store`):
 * Redis stores bytes and clients send strings as UTF-8, which cannot hold a lone surrogate.
 */
import { type SessionData, type SessionMeta, type SessionRecord, isWellFormedId } from '@sess/core';
import { dataJson, escapeName, hashedId, ownValue, setOwnValue, unescapeName } from '@sess/core/store';

export const META_FIELD = 'm';
/** The generation stamp of a signed-in session. Data fields all start with `d:`, so none is `g`. */
export const GEN_FIELD = 'g';
/** Data fields carry a prefix so no data key can land on the meta field. */
const DATA_FIELD_PREFIX = 'd:';

export function dataField(key: string): string {
  return DATA_FIELD_PREFIX + escapeName(key);
}

/** The id as it appears in Redis keys: itself, or with `hashIds` its digest (`hashedId`). */
export function storedId(id: string, hashIds: boolean): string {
  return hashIds ? hashedId(id) : id;
}

/**
 * The user index key. The `{...}` hash tag puts a user's whole index in one cluster slot; the
 * sessions themselves spread over every slot. A user id starting with `}` would make the tag
 * empty, and Redis then hashes each whole key, parting the index from its generation: that `}` is
 * written as U+FFFF and `007D`, an escape `escapeName` never writes, so no other id shares the key.
 */
export function userIndexKey(prefix: string, userId: string): string {
  const name = escapeName(userId);
  return `${prefix}user:{${name.startsWith('}') ? `\uFFFF007D${name.slice(1)}` : name}}`;
}

/** The key of a user's generation: next to the index, in the same slot. */
export function genKey(prefix: string, userId: string): string {
  return `${userIndexKey(prefix, userId)}:gen`;
}

/**
 * A generation as stored: the number a generation key starts with, or a session's stamp. Absent
 * is 0 (no revocation yet, or a session saved before stamps existed); anything unreadable is -1,
 * older than every generation, so a damaged stamp fails closed.
 */
export function generation(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const match = /^(-?\d+)(?: |$)/.exec(String(value));
  return match === null ? -1 : Number(match[1]);
}

/** The generation stamp among a session hash's fields (see `generation`). */
export function stampOf(fields: readonly string[]): number {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === GEN_FIELD) return generation(fields[i + 1]);
  return generation(undefined);
}

/**
 * Whether `name`, a key found under the prefix with the prefix taken off, is one the store
 * writes: a session's (its id or digest, both base64url as core's ids) or a user's index or
 * generation. A SCAN of the prefix also finds the keys of another store whose prefix starts with
 * this one's ('sess:' and 'sess:admin:', two apps on one Redis); the rest of such a key holds the
 * end of that prefix, and a separator such as ':' that no id holds, so it is never one of these.
 */
export function isStoreKey(name: string): boolean {
  return isWellFormedId(name) || name.startsWith('user:{');
}

/** `text` with its glob characters escaped, to match itself in a SCAN MATCH pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** A SCAN MATCH pattern for every key under `prefix`, its glob characters escaped. */
export function prefixPattern(prefix: string): string {
  return `${escapeGlob(prefix)}*`;
}

/**
 * The hash fields and values to write for `keys` of `data`; a key absent from `data` is a delete.
 *
 * @throws SessUsageError (`data_not_json`, from `dataJson`) for a value JSON cannot hold, before
 *   anything is sent.
 */
export function encodeFields(data: SessionData, keys: readonly string[]): { set: string[]; deleted: string[] } {
  const set: string[] = [];
  const deleted: string[] = [];
  for (const key of keys) {
    const value = ownValue(data, key);
    // JSON.stringify(undefined) is undefined: such a key is dropped, as JSON would drop it.
    const json = value === undefined ? undefined : dataJson(value, key);
    if (json === undefined) deleted.push(dataField(key));
    else set.push(dataField(key), json);
  }
  return { set, deleted };
}

/** A meta as the store writes it; anything else in the meta field is corruption. */
export function isMeta(value: unknown): value is SessionMeta {
  if (typeof value !== 'object' || value === null) return false;
  const meta = value as Record<string, unknown>;
  return typeof meta['createdAt'] === 'number' && typeof meta['touchedAt'] === 'number' && typeof meta['expiresAt'] === 'number';
}

/**
 * HGETALL's reply as one flat list, each field followed by its value: RESP2's array itself when
 * it holds only strings (it is only read, never changed), or a Map or an object (RESP3, ioredis)
 * flattened.
 */
export function replyFields(reply: unknown): string[] {
  if (Array.isArray(reply)) return reply.every((item) => typeof item === 'string') ? reply : reply.map(String);
  const entries = reply instanceof Map ? reply : typeof reply === 'object' && reply !== null ? Object.entries(reply) : [];
  const fields: string[] = [];
  for (const [field, value] of entries) fields.push(String(field), String(value));
  return fields;
}

/**
 * The record a session hash holds, or undefined when it holds none or is corrupt (no meta, a
 * value that is not JSON): a broken record reads as missing, so the user gets a fresh session
 * instead of an error.
 */
export function decodeRecord(fields: readonly string[]): SessionRecord | undefined {
  let meta: unknown;
  const data: SessionData = {};
  try {
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const field = fields[i] as string;
      const value = fields[i + 1] as string;
      if (field === META_FIELD) meta = JSON.parse(value);
      else if (field.startsWith(DATA_FIELD_PREFIX))
        setOwnValue(data, unescapeName(field.slice(DATA_FIELD_PREFIX.length)), JSON.parse(value));
    }
  } catch {
    return undefined;
  }
  if (!isMeta(meta)) return undefined;
  return { data, meta };
}
