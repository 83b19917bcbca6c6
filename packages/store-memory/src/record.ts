/**
 * A stored record as one flat string, so a live session costs its id, a Map slot and one string:
 * no record object, no meta object, no boxed numbers. Measured on Node 20 for 100,000 five-key
 * sessions: ~170 bytes each against ~410 for `{ json, meta, expiresAt }` objects and ~394 for
 * express-session's MemoryStore.
 *
 * Layout (one character per byte of a time, so the string stays one byte per character unless
 * the data itself needs two):
 *
 *   [format 1][store expiry 6] then
 *   format 1..255, a shape:  [createdAt 6][touchedAt 6][meta.expiresAt 6][JSON array of the values]
 *   format 0, plain:         [JSON of [meta, data]]
 *
 * A shape is the list of a record's keys, kept once per store (sessions of one app share a few
 * shapes), so each record stores only its values: the key names were about half of each record.
 * Records that don't fit a shape (meta beyond the three times, a "__proto__" key, data or values
 * with a toJSON, a bigint, the shape table full) are stored plain, so every record round-trips
 * exactly as JSON. The store tells the codec which records it let go, so once the table is full the
 * shapes no stored record uses are reclaimed: keys that churn (user-chosen names, one session adding
 * a key per request) cannot fill it for good.
 */
import type { SessionData, SessionMeta, SessionRecord } from '@sess/core';
import { dataJson } from '@sess/core/store';

/** Times are stored as 6 bytes: epoch ms up to the year 10889. */
const TIME_LIMIT = 2 ** 48;
const TIME_CHARS = 6;
const PLAIN = 0;
/** Shape numbers are one character, 1..255, so the string stays one byte per character. */
const MAX_SHAPES = 255;
/**
 * Longest key list (joined) kept as a shape. Shapes outlive their records until the table fills: an
 * app that stores user-chosen keys would otherwise let one session pin 255 copies of its key names
 * (7 MB from 300 saves of 200-char keys, measured). Sessions' usual keys are far shorter.
 */
const MAX_SHAPE_NAME_CHARS = 2048;
/** Where the meta times start: after the format and the store's expiry. */
const META_AT = 1 + TIME_CHARS;
/** Where a shaped record's values start: after its three meta times. */
const VALUES_AT = META_AT + 3 * TIME_CHARS;

function timeChars(time: number): string {
  // Two 24-bit halves, so the byte split is integer arithmetic (time < 2^48).
  const low = time % 0x1000000;
  const high = (time - low) / 0x1000000;
  return String.fromCharCode(low & 255, (low >>> 8) & 255, low >>> 16, high & 255, (high >>> 8) & 255, high >>> 16);
}

function readTime(text: string, at: number): number {
  const low = text.charCodeAt(at) | (text.charCodeAt(at + 1) << 8) | (text.charCodeAt(at + 2) << 16);
  const high = text.charCodeAt(at + 3) | (text.charCodeAt(at + 4) << 8) | (text.charCodeAt(at + 5) << 16);
  return high * 0x1000000 + low;
}

function isStorableTime(time: number): boolean {
  return Number.isInteger(time) && time >= 0 && time < TIME_LIMIT;
}

/**
 * The store's own expiry is clamped into 0..2^48-1: an infinite TTL becomes the year 10889,
 * which is never in practice; a clock before 1970 is not a clock this store supports. Rounded up,
 * so a positive TTL under 1 ms still leaves the record live at the instant it was written.
 */
function expiryChars(expiresAt: number): string {
  return timeChars(Math.min(Math.max(Math.ceil(expiresAt), 0), TIME_LIMIT - 1));
}

/**
 * Whether `meta` is older than a stored meta touched at `storedTouchedAt`: it comes from a request
 * that loaded the record before another request's save wrote it, and would put back the meta that
 * save replaced. A retired meta is never behind: regenerate retires an id with the meta its request
 * loaded, and the retirement must land.
 */
function isBehind(meta: SessionMeta, storedTouchedAt: number): boolean {
  return meta.retired !== true && meta.touchedAt < storedTouchedAt;
}

/** Values JSON writes the same inside an array as inside an object. */
function isPlainJsonValue(value: unknown): boolean {
  // A bigint is written only through a toJSON on BigInt.prototype, which may return undefined.
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return false;
  // A toJSON may return undefined, which an object drops but an array writes as null.
  return typeof value !== 'object' || value === null || typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Turns records into strings and back for one store; holds that store's shapes. Every string
 * `encode` and `withMeta` return counts as stored until it is passed to `release`.
 */
export interface RecordCodec {
  encode(data: SessionData, meta: SessionMeta, expiresAt: number): string;
  /** The store no longer holds `encoded`: its shape may be reused once no stored record has it. */
  release(encoded: string): void;
  /** The store's expiry of an encoded record, without decoding the rest. */
  expiresAt(encoded: string): number;
  meta(encoded: string): SessionMeta;
  /** Whether the record's meta is retired, without decoding a shaped record (it never is). */
  retired(encoded: string): boolean;
  data(encoded: string): SessionData;
  /** Data and meta together: a plain record's one JSON text holds both, so it is parsed once. */
  record(encoded: string): SessionRecord;
  /**
   * The same record with a new meta and store expiry; the data is not re-serialised. Undefined,
   * holding nothing, when `meta` is older than the stored one (see `isBehind`).
   */
  withMeta(encoded: string, meta: SessionMeta, expiresAt: number): string | undefined;
  /** Forgets every shape; only for a store that holds no records. */
  reset(): void;
}

export function recordCodec(): RecordCodec {
  const shapes: Array<readonly string[]> = [];
  const shapeNumbers = new Map<string, number>();
  // Stored records per shape (index shape - 1), shape numbers free to reuse, and how many shapes
  // no stored record uses: reclaimed only when the table is full, so a shape that is briefly
  // unused (a session's only record of it replaced) is not registered again and again.
  const uses: number[] = [];
  const free: number[] = [];
  let unused = 0;
  // Most saves repeat the shape of the save before; comparing keys costs less than joining them.
  let lastShape = PLAIN;

  function hold(shape: number): void {
    const held = uses[shape - 1] as number;
    uses[shape - 1] = held + 1;
    if (held === 0) unused--;
  }

  function release(encoded: string): void {
    const shape = encoded.charCodeAt(0);
    if (shape === PLAIN) return;
    const held = (uses[shape - 1] as number) - 1;
    uses[shape - 1] = held;
    if (held === 0) unused++;
  }

  /** Frees the numbers of the shapes no stored record uses. */
  function reclaim(): void {
    for (let shape = 1; shape <= shapes.length; shape++) {
      if (uses[shape - 1] !== 0) continue;
      shapeNumbers.delete((shapes[shape - 1] as readonly string[]).join('\u0000'));
      free.push(shape);
    }
    unused = 0;
    lastShape = PLAIN;
  }

  /** A number for a new shape of `keys`, or PLAIN when every number is in use. */
  function register(keys: readonly string[], name: string): number {
    let shape: number;
    if (shapes.length < MAX_SHAPES) shape = shapes.push(keys);
    else {
      if (free.length === 0 && unused > 0) reclaim();
      const reused = free.pop();
      if (reused === undefined) return PLAIN;
      shape = reused;
      shapes[shape - 1] = keys;
    }
    uses[shape - 1] = 0;
    unused++;
    shapeNumbers.set(name, shape);
    return (lastShape = shape);
  }

  /** The shape number for `data`'s keys (registering it if there is room), or PLAIN. */
  function shapeOf(data: SessionData): number {
    // JSON writes an object with a toJSON (a class instance's, say) as what it returns, not by its keys.
    if (typeof (data as { toJSON?: unknown }).toJSON === 'function') return PLAIN;
    const keys = Object.keys(data);
    for (const key of keys) if (key === '__proto__' || !isPlainJsonValue(data[key])) return PLAIN;
    if (lastShape !== PLAIN && sameKeys(shapes[lastShape - 1]!, keys)) return lastShape;
    // Keys may hold any character, so the joined name can collide: the found shape is compared.
    const name = keys.join('\u0000');
    if (name.length > MAX_SHAPE_NAME_CHARS) return PLAIN;
    const found = shapeNumbers.get(name);
    if (found !== undefined) return sameKeys(shapes[found - 1]!, keys) ? (lastShape = found) : PLAIN;
    return register(keys, name);
  }

  function isCompactMeta(meta: SessionMeta): boolean {
    let fields = 0;
    for (const _ in meta) fields++;
    return fields === 3 && isStorableTime(meta.createdAt) && isStorableTime(meta.touchedAt) && isStorableTime(meta.expiresAt);
  }

  /**
   * `[...].join('')`, not `+`: concatenation makes a rope of string pieces that costs more heap than the text.
   *
   * @throws SessUsageError (`data_not_json`, from `dataJson`) for data JSON cannot hold.
   */
  function encode(data: SessionData, meta: SessionMeta, expiresAt: number): string {
    const shape = isCompactMeta(meta) ? shapeOf(data) : PLAIN;
    if (shape === PLAIN) return [String.fromCharCode(PLAIN), expiryChars(expiresAt), dataJson([meta, data], data)].join('');
    const values = (shapes[shape - 1] as readonly string[]).map((key) => data[key]);
    const encoded = [String.fromCharCode(shape), expiryChars(expiresAt), metaChars(meta), dataJson(values, data)].join('');
    // Held once written: data JSON cannot hold throws above and stores nothing.
    hold(shape);
    return encoded;
  }

  function metaChars(meta: SessionMeta): string {
    return timeChars(meta.createdAt) + timeChars(meta.touchedAt) + timeChars(meta.expiresAt);
  }

  function plainRecord(encoded: string): [SessionMeta, SessionData] {
    return JSON.parse(encoded.slice(META_AT)) as [SessionMeta, SessionData];
  }

  function meta(encoded: string): SessionMeta {
    return encoded.charCodeAt(0) === PLAIN ? plainRecord(encoded)[0] : shapedMeta(encoded);
  }

  function shapedMeta(encoded: string): SessionMeta {
    return {
      createdAt: readTime(encoded, META_AT),
      touchedAt: readTime(encoded, META_AT + TIME_CHARS),
      expiresAt: readTime(encoded, META_AT + 2 * TIME_CHARS),
    };
  }

  function retired(encoded: string): boolean {
    // A retired meta has a fourth field, so its record is plain. The substring test spares the
    // parse for plain records that are not retired (a per-session expiry, a "__proto__" key).
    if (encoded.charCodeAt(0) !== PLAIN || !encoded.includes('"retired"')) return false;
    return meta(encoded).retired === true;
  }

  function data(encoded: string): SessionData {
    const shape = encoded.charCodeAt(0);
    return shape === PLAIN ? plainRecord(encoded)[1] : shapedData(encoded, shape);
  }

  function record(encoded: string): SessionRecord {
    const shape = encoded.charCodeAt(0);
    if (shape !== PLAIN) return { data: shapedData(encoded, shape), meta: shapedMeta(encoded) };
    const [storedMeta, storedData] = plainRecord(encoded);
    return { data: storedData, meta: storedMeta };
  }

  function shapedData(encoded: string, shape: number): SessionData {
    const keys = shapes[shape - 1] as readonly string[];
    const flat = flatValues(encoded, keys);
    if (flat !== undefined) return flat;
    const values = JSON.parse(encoded.slice(VALUES_AT)) as unknown[];
    const result: SessionData = {};
    // Shapes never hold "__proto__", so assignment only ever creates own properties.
    for (let i = 0; i < keys.length; i++) result[keys[i] as string] = values[i];
    return result;
  }

  function withMeta(encoded: string, next: SessionMeta, expiresAt: number): string | undefined {
    const shape = encoded.charCodeAt(0);
    if (shape === PLAIN) {
      // One parse gives both the stored touchedAt and the data to write again.
      const [storedMeta, storedData] = plainRecord(encoded);
      return isBehind(next, storedMeta.touchedAt) ? undefined : encode(storedData, next, expiresAt);
    }
    if (isBehind(next, readTime(encoded, META_AT + TIME_CHARS))) return undefined;
    if (!isCompactMeta(next)) return encode(shapedData(encoded, shape), next, expiresAt);
    hold(shape);
    return [encoded[0], expiryChars(expiresAt), metaChars(next), encoded.slice(VALUES_AT)].join('');
  }

  return {
    encode,
    release,
    expiresAt: (encoded) => readTime(encoded, 1),
    meta,
    retired,
    data,
    record,
    withMeta,
    reset() {
      shapes.length = 0;
      shapeNumbers.clear();
      uses.length = 0;
      free.length = 0;
      unused = 0;
      lastShape = PLAIN;
    },
  };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE = 0x5d;
/**
 * Records longer than this are parsed: a string value read by `flatValues` may be a slice that
 * keeps the whole record text alive for as long as the app holds it.
 */
const FLAT_READ_MAX_CHARS = 1024;

/** Whether `code` can start a JSON number or true, false or null. */
function startsBareValue(code: number): boolean {
  return code === 0x2d || (code >= 0x30 && code <= 0x39) || code === 0x74 || code === 0x66 || code === 0x6e;
}

/**
 * A shaped record's data read straight from its values' JSON when every value is flat: a number,
 * true, false, null, or a string with no escape. That is most session data, and JSON.parse of
 * even a short array costs more than the rest of the store's read. The text is JSON.stringify's
 * output, so it has no whitespace, and the first quote with no backslash before it ends a string.
 * Anything else (an object, an array, an escape) is `undefined`, and the caller parses it.
 */
function flatValues(encoded: string, keys: readonly string[]): SessionData | undefined {
  if (encoded.length > FLAT_READ_MAX_CHARS) return undefined;
  const result: SessionData = {};
  let at = VALUES_AT + 1;
  for (let i = 0; i < keys.length; i++) {
    const first = encoded.charCodeAt(at);
    let end: number;
    let value: unknown;
    if (first === QUOTE) {
      end = encoded.indexOf('"', at + 1);
      const text = encoded.slice(at + 1, end);
      // An escaped quote has its backslash before it, inside what was read.
      if (text.includes('\\')) return undefined;
      value = text;
      end += 1;
    } else if (startsBareValue(first)) {
      // The array's closing bracket ends the scan at the latest.
      end = at + 1;
      for (let code = encoded.charCodeAt(end); code !== COMMA && code !== CLOSE; code = encoded.charCodeAt(end)) end++;
      const text = encoded.slice(at, end);
      value = text === 'true' ? true : text === 'false' ? false : text === 'null' ? null : Number(text);
    } else {
      return undefined;
    }
    if (encoded.charCodeAt(end) !== (i === keys.length - 1 ? CLOSE : COMMA)) return undefined;
    result[keys[i] as string] = value;
    at = end + 1;
  }
  return result;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
