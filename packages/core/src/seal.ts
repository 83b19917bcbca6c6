/**
 * Sealed cookie values: a JSON payload made tamper-proof (`sign`) or also unreadable
 * (`encrypt`), bound to the cookie's name. Keys are derived once, at construction, with
 * HKDF-SHA256 (a few microseconds per seal or open; never PBKDF2, whose per-request cost is why
 * h3's sealed sessions run at 0.002 of a bare server, design §4). Secrets rotate as for ids: the
 * first seals, every one opens, and a value opened only by an older key is reported as rotated.
 *
 * Formats (all base64url, unpadded):
 * - `encrypt` (AES-256-GCM): `iv ‖ ciphertext ‖ tag` in one part; a fresh random 96-bit IV per
 *   seal; the cookie name is the additional authenticated data.
 * - `sign` (HMAC-SHA256): `payload.mac`, mac over `${name}=${payload}`; readable by the client.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomFillSync, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SessConfigError } from './errors.js';
import { VerifiedCache } from './verified-cache.js';

export type SealMode = 'sign' | 'encrypt';

/** What `open` found in a value that checked out. */
export interface Opened {
  /** The parsed JSON payload: not yet checked for shape. */
  readonly payload: unknown;
  /** Opened by an older key only: seal it again with the current one. */
  readonly rotated: boolean;
}

export interface Sealer {
  readonly mode: SealMode;
  /**
   * Seals `payload` (JSON) for the cookie called `name` with the current key.
   *
   * @throws TypeError when `payload` can't be serialised (a cycle, a BigInt).
   */
  seal(name: string, payload: unknown): string;
  /**
   * Opens a value received under `name`.
   *
   * @returns The payload and whether it needs re-sealing, or `undefined` for a value that is
   *   malformed, tampered with, sealed by an unknown key or sealed for another name.
   * @throws Never, whatever the value holds.
   */
  open(name: string, value: string): Opened | undefined;
}

const MIN_SECRET_BYTES = 32;
const IV_BYTES = 12; // GCM's native nonce size (NIST SP 800-38D §8.2): no GHASH of the IV.
const TAG_BYTES = 16;
const MAC_CHARS = 43; // base64url of 32 bytes, unpadded.
/** Browsers keep 4096 bytes per cookie (RFC 6265 §6.1): a longer value can only be forged. */
const MAX_VALUE_CHARS = 4096;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/**
 * Cookie values remembered once opened (see VerifiedCache), with their JSON: at most 4 KB each,
 * so at most about 8 MB; sessions of a few keys take a few hundred bytes each.
 */
const OPENED_CACHE_ENTRIES = 1_000;
const HKDF_SALT = 'sess/cookie-sessions/v1';
const HOW_TO_MAKE_A_SECRET = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

/** Decodes base64url, refusing any spelling but the canonical one (spare bits, stray characters). */
function decode(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function deriveKeys(secrets: string | readonly string[], mode: SealMode): KeyObject[] {
  const list: readonly unknown[] = typeof secrets === 'string' ? [secrets] : Array.isArray(secrets) ? secrets : [];
  if (list.length === 0) {
    throw new SessConfigError(
      `cookie sessions need a secret: a string or a non-empty array of strings; make one with ${HOW_TO_MAKE_A_SECRET}`,
    );
  }
  // `Array.from`, not `map`: a hole (`[, secret]`) is refused here, not skipped to fail every request.
  return Array.from(list, (secret, index) => {
    // Errors name the secret's position and size, never its text: messages end up in logs.
    if (typeof secret !== 'string') throw new SessConfigError(`cookie sessions: secret #${index} must be a string, got ${typeof secret}`);
    const bytes = Buffer.from(secret, 'utf8');
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new SessConfigError(
        `cookie sessions: secret #${index} is ${bytes.length} bytes; it must be at least ${MIN_SECRET_BYTES}. Make one with ${HOW_TO_MAKE_A_SECRET}`,
        'secret_too_short',
      );
    }
    // One key per mode from the same secret: a MAC key is never also an encryption key.
    const key = hkdfSync('sha256', bytes, HKDF_SALT, `sess cookie session ${mode}`, 32);
    return createSecretKey(Buffer.from(key));
  });
}

function parse(json: string): Opened['payload'] | undefined {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}

/** A sealer whose `open` stops at the payload's JSON text: `createSealer` parses it. */
interface TextSealer {
  readonly mode: SealMode;
  seal(name: string, payload: unknown): string;
  open(name: string, value: string): OpenedText | undefined;
}

interface OpenedText {
  readonly json: string;
  readonly rotated: boolean;
}

function signer(keys: readonly KeyObject[]): TextSealer {
  const mac = (key: KeyObject, name: string, body: string) => createHmac('sha256', key).update(`${name}=${body}`).digest();
  return Object.freeze({
    mode: 'sign' as const,
    seal(name: string, payload: unknown): string {
      const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
      return `${body}.${mac(keys[0] as KeyObject, name, body).toString('base64url')}`;
    },
    open(name: string, value: string): OpenedText | undefined {
      if (value.length > MAX_VALUE_CHARS) return undefined;
      const dot = value.length - MAC_CHARS - 1;
      if (dot < 1 || value.charCodeAt(dot) !== 0x2e) return undefined;
      const body = value.slice(0, dot);
      const given = decode(value.slice(dot + 1));
      const json = decode(body);
      if (given === undefined || json === undefined) return undefined;
      for (let index = 0; index < keys.length; index++) {
        if (timingSafeEqual(mac(keys[index] as KeyObject, name, body), given)) return { json: json.toString('utf8'), rotated: index > 0 };
      }
      return undefined;
    },
  });
}

function encrypter(keys: readonly KeyObject[]): TextSealer {
  const iv = Buffer.allocUnsafe(IV_BYTES);
  return Object.freeze({
    mode: 'encrypt' as const,
    seal(name: string, payload: unknown): string {
      const plain = Buffer.from(JSON.stringify(payload), 'utf8');
      randomFillSync(iv);
      const cipher = createCipheriv('aes-256-gcm', keys[0] as KeyObject, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(name, 'utf8'));
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return sealed.toString('base64url');
    },
    open(name: string, value: string): OpenedText | undefined {
      if (value.length > MAX_VALUE_CHARS) return undefined;
      const sealed = decode(value);
      if (sealed === undefined || sealed.length < IV_BYTES + TAG_BYTES + 2) return undefined;
      const nonce = sealed.subarray(0, IV_BYTES);
      const body = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
      const tag = sealed.subarray(sealed.length - TAG_BYTES);
      const aad = Buffer.from(name, 'utf8');
      for (let index = 0; index < keys.length; index++) {
        let plain: Buffer;
        try {
          const decipher = createDecipheriv('aes-256-gcm', keys[index] as KeyObject, nonce, { authTagLength: TAG_BYTES });
          decipher.setAAD(aad);
          decipher.setAuthTag(tag);
          plain = Buffer.concat([decipher.update(body), decipher.final()]);
        } catch {
          continue; // wrong key or tampered: the tag did not check out
        }
        return { json: plain.toString('utf8'), rotated: index > 0 };
      }
      return undefined;
    },
  });
}

/**
 * Derives the keys once and returns a sealer.
 *
 * @param secrets - One secret, or several for rotation: the first seals, all open. Each at least
 *   32 bytes of UTF-8.
 * @param mode - `'encrypt'` (AES-256-GCM) or `'sign'` (HMAC-SHA256, payload readable).
 * @throws SessConfigError with code `'secret_too_short'` for a short secret, `'config_invalid'`
 *   for an empty list, a non-string secret or an unknown mode.
 */
export function createSealer(secrets: string | readonly string[], mode: SealMode = 'encrypt'): Sealer {
  if (mode !== 'sign' && mode !== 'encrypt') {
    throw new SessConfigError(`cookie sessions: mode must be 'encrypt' or 'sign', got ${JSON.stringify(mode)}`);
  }
  const keys = deriveKeys(secrets, mode);
  const sealer = mode === 'sign' ? signer(keys) : encrypter(keys);
  // The JSON text is what is remembered, not the parsed payload: each open parses its own copy,
  // which the caller may change.
  const opened = new VerifiedCache<OpenedText>(OPENED_CACHE_ENTRIES);
  return Object.freeze({
    mode,
    seal: sealer.seal,
    open(name: string, value: string): Opened | undefined {
      if (typeof value !== 'string') return undefined;
      const known = opened.get(name, value);
      const text = known ?? sealer.open(name, value);
      if (text === undefined) return undefined;
      const payload = parse(text.json);
      if (payload === undefined) return undefined;
      if (known === undefined) opened.add(name, value, text);
      return { payload, rotated: text.rotated };
    },
  });
}
