/**
 * How a session is kept in its row, and what PostgreSQL cannot keep. Nothing here talks to the
 * database.
 *
 * `data` is a jsonb object, one member per session key, so a save can merge only the keys it
 * changed, and ordinary data reads in SQL as it does in the app (`data->>'userId'`). PostgreSQL's
 * text cannot hold U+0000, and its JSON parser refuses the `\u0000` escape in jsonb and a `\u`
 * escape of a lone surrogate (which is how `JSON.stringify` writes one); a lone surrogate sent
 * raw would arrive as U+FFFD through UTF-8. So:
 *
 * - a key (and the id, and the user id) goes through `escapeName` (`@sess/core/store`): each
 *   lone surrogate, U+0000 and U+FFFF (a noncharacter, the escape) is written as U+FFFF and four
 *   hex digits;
 * - a value whose JSON holds such a string, anywhere inside it, is stored as a jsonb string: U+FFFF
 *   followed by the value's JSON text (which `JSON.stringify` writes with `\u` escapes, so it is
 *   plain text). A string value that itself starts with U+FFFF is stored the same way, so nothing
 *   a user stores can pass for a wrapped value.
 *
 * Everything else is stored as it is.
 */
import type { SessionData } from '@sess/core';
import { NAME_ESCAPE, dataJson, escapeName, hashedId, ownValue, unescapeName } from '@sess/core/store';

/** Marks a wrapped value: the names' escape, which interchanged text never holds. */
const ESCAPE = NAME_ESCAPE;
/**
 * What jsonb refuses in JSON text from `JSON.stringify`: the `\u0000` escape and the escape of a
 * lone surrogate (pairs are written raw). An escaped backslash before `u0000` matches too; such a
 * value is wrapped when it need not be, which costs nothing but readability.
 */
const JSONB_REFUSES = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

/**
 * The id as the table keys it. With `hashIds` it is SHA-256 of the id in base64url (as
 * `@sess/store-redis` does): a dump of the table then holds no id a cookie could carry.
 */
export function storedId(id: string, hashIds: boolean): string {
  return hashIds ? hashedId(id) : escapeName(id);
}

/**
 * The JSON text of one value, stored under `key`, as the `data` column keeps it, or undefined when
 * JSON drops the value.
 *
 * @throws SessUsageError (`data_not_json`, from `dataJson`) for a value JSON cannot hold.
 */
export function encodeValue(value: unknown, key: string): string | undefined {
  // JSON.stringify(undefined) (or of a function) is undefined: such a key is dropped, as JSON would drop it.
  const json = dataJson(value, key);
  if (json === undefined) return undefined;
  const wrap = JSONB_REFUSES.test(json) || (typeof value === 'string' && value.startsWith(ESCAPE));
  return wrap ? JSON.stringify(ESCAPE + json) : json;
}

/** A value as `data` holds it, back to what the app stored. */
function decodeValue(stored: unknown): unknown {
  return typeof stored === 'string' && stored.startsWith(ESCAPE) ? JSON.parse(stored.slice(1)) : stored;
}

/**
 * The jsonb object text for `keys` of `data` (escaped names, encoded values), and the escaped
 * names of listed keys whose value JSON drops (undefined), which a delta save deletes.
 */
export function encodeData(data: SessionData, keys: readonly string[]): { json: string; dropped: string[] } {
  let json = '{';
  const dropped: string[] = [];
  for (const key of keys) {
    const value = encodeValue(ownValue(data, key), key);
    if (value === undefined) {
      dropped.push(escapeName(key));
      continue;
    }
    if (json.length > 1) json += ',';
    json += `${JSON.stringify(escapeName(key))}:${value}`;
  }
  return { json: `${json}}`, dropped };
}

/**
 * The session data in the text of a `data` column, or undefined when it is not a JSON object.
 * The parsed object is fresh, so it is returned as it is unless a key or value was escaped; then
 * it is rebuilt with `Object.fromEntries`, which defines own properties, so a `__proto__` key
 * stays data instead of becoming a prototype.
 */
export function decodeData(text: string): SessionData | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const entries = Object.entries(data);
  if (!entries.some(([key, value]) => key.includes(ESCAPE) || (typeof value === 'string' && value.startsWith(ESCAPE)))) {
    return data as SessionData;
  }
  try {
    return Object.fromEntries(entries.map(([key, value]) => [unescapeName(key), decodeValue(value)]));
  } catch {
    // A wrapped value that is not JSON: corruption, read as no session.
    return undefined;
  }
}

/**
 * The longest user id the store keeps, in bytes of UTF-8 after `escapeName`. The user index is a
 * btree, whose entries PostgreSQL caps at 2704 bytes (8 kB pages); it compresses a long entry
 * first, so only an id that compresses badly (random, or hashed) fails there, and then on every
 * save that writes it. A fixed limit well under that cap fails the same way for every id, before
 * any query, with a message that says why.
 */
export const MAX_USER_ID_BYTES = 2048;

/** PostgreSQL refuses identifiers with U+0000 and cuts them at 63 bytes; neither may happen silently. */
export const MAX_IDENTIFIER_BYTES = 63;

/** `name` as a quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
