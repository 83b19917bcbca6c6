/**
 * Session ids: what they are made of, and what shape a cookie's id must have before it is
 * worth an HMAC or a store lookup.
 */
import { randomFillSync } from 'node:crypto';
import { SessConfigError } from './errors.js';

const ID_BYTES = 24; // 192 bits: far past guessing, and a whole number of base64 groups (no padding).
// A whole number of ids, so no tail of random bytes is thrown away at each refill.
const POOL_BYTES = ID_BYTES * 170; // 4080 bytes: one CSPRNG call per 170 ids.

const MIN_ID_LENGTH = 22; // 128 bits in base64url: the shortest id a custom generator may use.
const MAX_ID_LENGTH = 128;

// Allocated on first use so importing the module costs nothing. `Buffer.alloc`, not
// `allocUnsafe`: a small unsafe buffer is a view into Node's shared slab, whose `.buffer`
// any other code holding a slab buffer could read the pool's ids back out of.
let pool: Buffer | undefined;
let offset = POOL_BYTES;

/**
 * Makes a new session id: 192 bits from the operating system's CSPRNG, as 32 base64url
 * characters. Bytes are drawn from a pool refilled once every 170 ids, and no byte is ever
 * handed out twice.
 *
 * @returns A fresh id that `isWellFormedId` accepts.
 * @throws Only if the CSPRNG itself fails, which Node reports as an error from `crypto`.
 */
export function generateId(): string {
  if (pool === undefined) pool = Buffer.alloc(POOL_BYTES);
  if (offset === POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}

function isIdCharacter(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x5f // _
  );
}

/**
 * Says whether a string could be a session id: 22 to 128 characters of `A-Z a-z 0-9 _ -`.
 * Ids from `generateId` pass, and so do ids from custom generators such as UUIDs. A cookie
 * whose id fails is rejected before it costs an HMAC, and a path-like or oversized id never
 * reaches a store's key space.
 *
 * @returns `true` for a well-formed id; `false` for anything else, including non-strings.
 * @throws Never.
 */
export function isWellFormedId(id: string): boolean {
  if (typeof id !== 'string' || id.length < MIN_ID_LENGTH || id.length > MAX_ID_LENGTH) return false;
  for (let index = 0; index < id.length; index++) {
    if (!isIdCharacter(id.charCodeAt(index))) return false;
  }
  return true;
}

/**
 * What a custom `generateId` returned, if a cookie could carry it back.
 *
 * @throws SessConfigError naming the value when it is not well formed (see `isWellFormedId`).
 */
export function checkGeneratedId(id: unknown): string {
  if (!isWellFormedId(id as string)) {
    // Only strings are quoted: JSON.stringify throws on a BigInt or a cycle.
    const shown =
      typeof id === 'string' ? JSON.stringify(id).slice(0, 40) : typeof id === 'object' && id !== null ? 'an object' : String(id);
    throw new SessConfigError(`generateId returned ${shown}: ids must be 22-128 characters of A-Z a-z 0-9 _ -`);
  }
  return id as string;
}
