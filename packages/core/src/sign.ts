/**
 * Signed cookie values, `${id}.${mac}`, with mac = base64url(HMAC-SHA256(secret, `${name}=${id}`)).
 * The cookie's name is inside the MAC, so a value signed for one cookie is worthless in another.
 * Secrets rotate: the first signs, every one verifies, and a value that verified only under an
 * older secret is reported so the caller re-signs it.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SessConfigError } from './errors.js';
import { isWellFormedId } from './ids.js';
import { checkOptionKeys, describeValue } from './options-check.js';
import { VerifiedCache, detached } from './verified-cache.js';

/** A cookie value whose MAC checked out. */
export interface VerifiedCookie {
  readonly id: string;
  /** It verified under an older secret only: send it again, signed with the current one. */
  readonly rotated: boolean;
}

export interface Signer {
  /**
   * Signs `id` for the cookie called `name`.
   *
   * @returns The cookie value, `${id}.${mac}`.
   * @throws SessConfigError (code `'config_invalid'`) when `id` is not well formed (see
   *   `isWellFormedId`): `verify` would reject the cookie, so the session would be lost on
   *   every request. The usual cause is a custom `generateId`.
   */
  sign(name: string, id: string): string;
  /**
   * Checks a cookie value received under `name`.
   *
   * @returns The id and whether it needs re-signing, or `undefined` for a value that is
   *   malformed, tampered with, signed by an unknown secret or signed for another name.
   * @throws Never, whatever the value holds.
   */
  verify(name: string, value: string): VerifiedCookie | undefined;
}

const MIN_SECRET_BYTES = 32; // HMAC-SHA256's own strength: a shorter secret is the weak link.
const MAC_LENGTH = 43; // base64url of 32 bytes, unpadded.
const MAC = /^[A-Za-z0-9_-]{43}$/; // A fixed count of one class: nothing to backtrack over.
/** Verified values remembered per signer (see VerifiedCache): 10,000 of ~100 bytes hold about 2 MB. */
const VERIFIED_CACHE_ENTRIES = 10_000;
const SIGNER_OPTIONS: readonly string[] = ['cacheEntries'];
const HOW_TO_MAKE_A_SECRET = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

function mac(key: KeyObject, name: string, id: string): string {
  return createHmac('sha256', key).update(`${name}=${id}`).digest('base64url');
}

/**
 * Prepares the secrets once, so no request re-derives a key.
 *
 * @param secrets - One secret, or several for rotation: the first signs, all verify. Each must be
 *   at least 32 bytes of UTF-8; make one with
 *   `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`.
 * @param options.cacheEntries - How many verified values to remember (default 10,000; 0 turns
 *   the cache off).
 * @returns A signer for cookie values.
 * @throws SessConfigError with code `'secret_too_short'` for a secret under 32 bytes, and with
 *   code `'config_invalid'` for an empty list, a secret that is not a string, options that are
 *   not an object or hold an unknown key, or a bad `cacheEntries`.
 */
export function createSigner(secrets: string | readonly string[], options?: { cacheEntries?: number }): Signer {
  if (options !== undefined) checkOptionKeys(options, SIGNER_OPTIONS, 'createSigner()');
  const list: readonly unknown[] = typeof secrets === 'string' ? [secrets] : Array.isArray(secrets) ? secrets : [];
  if (list.length === 0) {
    throw new SessConfigError(`secret must be a string or a non-empty array of strings; make one with ${HOW_TO_MAKE_A_SECRET}`);
  }
  // `Array.from`, not `map`: a hole (`[, secret]`) is refused here, not skipped to fail every request.
  const keys = Array.from(list, (secret, index) => {
    // Errors name the secret's position and size, never its text: messages end up in logs.
    if (typeof secret !== 'string') throw new SessConfigError(`secret #${index} must be a string, got ${typeof secret}`);
    const bytes = Buffer.from(secret, 'utf8');
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new SessConfigError(
        `secret #${index} is ${bytes.length} bytes; it must be at least ${MIN_SECRET_BYTES}. Make one with ${HOW_TO_MAKE_A_SECRET}`,
        'secret_too_short',
      );
    }
    return createSecretKey(bytes);
  });
  const signingKey = keys[0] as KeyObject;
  // Only undefined means "not given", as for every numeric option: a null is refused below.
  const cacheEntries: unknown = options?.cacheEntries === undefined ? VERIFIED_CACHE_ENTRIES : options.cacheEntries;
  if (typeof cacheEntries !== 'number' || !Number.isSafeInteger(cacheEntries) || cacheEntries < 0) {
    throw new SessConfigError(`createSigner(): cacheEntries must be an integer >= 0, got ${describeValue(cacheEntries)}`);
  }
  const verified = new VerifiedCache<VerifiedCookie>(cacheEntries);

  function check(name: string, value: string): VerifiedCookie | undefined {
    const dot = value.length - MAC_LENGTH - 1;
    if (dot < 0 || value.charCodeAt(dot) !== 0x2e) return undefined;
    const id = value.slice(0, dot);
    const given = value.slice(dot + 1);
    // Neither part may hold a `.`, so the value has exactly one. The mac is compared as text,
    // not decoded: decoding ignores the last character's spare bits, so four spellings would pass.
    if (!isWellFormedId(id) || !MAC.test(given)) return undefined;
    const givenBytes = Buffer.from(given, 'latin1'); // ASCII: one byte per character.
    for (let index = 0; index < keys.length; index++) {
      const expected = Buffer.from(mac(keys[index] as KeyObject, name, id), 'latin1');
      // The id is cached: a string of its own, not a slice of the header (see `detached`).
      if (timingSafeEqual(expected, givenBytes)) return Object.freeze({ id: detached(id), rotated: index > 0 });
    }
    return undefined;
  }

  return Object.freeze({
    sign(name: string, id: string): string {
      if (!isWellFormedId(id)) {
        throw new SessConfigError(
          `cannot sign an id of ${typeof id === 'string' ? `${id.length} characters` : typeof id}: ids must be 22-128 characters of A-Z a-z 0-9 _ - (check the generateId option)`,
        );
      }
      return `${id}.${mac(signingKey, name, id)}`;
    },

    verify(name: string, value: string): VerifiedCookie | undefined {
      // Malformed values are turned away in `check`, before they cost an HMAC.
      if (typeof value !== 'string') return undefined;
      const known = verified.get(name, value);
      if (known !== undefined) return known;
      const result = check(name, value);
      if (result !== undefined) verified.add(name, value, result);
      return result;
    },
  });
}
