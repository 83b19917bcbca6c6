/**
 * Sealed session cookies as the suite reads and forges them, written from the format that core's
 * `seal.ts` documents rather than imported from it: core keeps its sealer internal, and reading
 * the cookies independently means a case checks what the adapter sent, not a typo both sides
 * share (as `macOf` does for signed ids in `cases/forgery.ts`).
 *
 * - keys: HKDF-SHA256(secret, salt `sess/cookie-sessions/v1`, info `sess cookie session <mode>`), 32 bytes;
 * - `encrypt`: base64url(iv[12] ‖ AES-256-GCM ciphertext ‖ tag[16]), the cookie name as AAD;
 * - `sign`: `base64url(json).base64url(HMAC-SHA256(key, "<name>=<body>"))`;
 * - the payload: the list `[id, data, createdAt, touchedAt, expiresAt]`, then `expiry` and
 *   `retired` when the record has them (`null` holds an absent expiry's place); cookies sealed
 *   before the list hold the object `{ id, data, meta }`, which still opens.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SealMode } from '@sess/core';

/** What a session cookie carries once opened (fields unchecked: the suite may seal anything). */
export interface SealedPayload {
  readonly id?: unknown;
  readonly data?: unknown;
  readonly meta?: unknown;
}

export interface SuiteSealer {
  readonly mode: SealMode;
  /**
   * Seals `payload` for the cookie called `name` (default `sid`): an object of `id`, `data` and
   * a `meta` object as the list sess seals, anything else as JSON as it is (what a cookie made
   * by sess before the list, or by a forger, could hold).
   */
  seal(payload: unknown, name?: string): string;
  /** Opens a value sealed with this sealer's one secret, as `{ id, data, meta }`, or `undefined`; never throws. */
  open(value: string, name?: string): SealedPayload | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The list sess seals for an object of `id`, `data` and a `meta` object; anything else as it is. */
function listed(payload: unknown): unknown {
  if (!isObject(payload) || !isObject(payload.meta)) return payload;
  const { createdAt, touchedAt, expiresAt, expiry, retired } = payload.meta;
  const list = [payload.id, payload.data, createdAt, touchedAt, expiresAt];
  if (retired !== undefined) list.push(expiry ?? null, retired);
  else if (expiry !== undefined) list.push(expiry);
  return list;
}

/** `{ id, data, meta }` from what a cookie held: the list, or the object sealed before it. */
function named(payload: unknown): SealedPayload | undefined {
  if (!Array.isArray(payload)) return isObject(payload) ? payload : undefined;
  const [id, data, createdAt, touchedAt, expiresAt, expiry, retired] = payload as unknown[];
  const meta: Record<string, unknown> = { createdAt, touchedAt, expiresAt };
  if (expiry !== undefined && expiry !== null) meta.expiry = expiry;
  if (retired !== undefined) meta.retired = retired;
  return { id, data, meta };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

function keyOf(secret: string, mode: SealMode): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'sess/cookie-sessions/v1', `sess cookie session ${mode}`, 32));
}

/** A sealer on one secret: to open a value with the current key only, or seal with an old one. */
export function suiteSealer(secret: string, mode: SealMode): SuiteSealer {
  const key = keyOf(secret, mode);
  const mac = (name: string, body: string) => createHmac('sha256', key).update(`${name}=${body}`).digest();
  const parse = (bytes: Buffer): SealedPayload | undefined => named(JSON.parse(bytes.toString('utf8')));
  return {
    mode,
    seal(payload, name = 'sid') {
      const json = Buffer.from(JSON.stringify(listed(payload)), 'utf8');
      if (mode === 'sign') {
        const body = json.toString('base64url');
        return `${body}.${mac(name, body).toString('base64url')}`;
      }
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(name, 'utf8'));
      return Buffer.concat([iv, cipher.update(json), cipher.final(), cipher.getAuthTag()]).toString('base64url');
    },
    open(value, name = 'sid') {
      try {
        if (mode === 'sign') {
          const dot = value.lastIndexOf('.');
          const given = Buffer.from(value.slice(dot + 1), 'base64url');
          const expected = mac(name, value.slice(0, dot));
          if (dot < 1 || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
          return parse(Buffer.from(value.slice(0, dot), 'base64url'));
        }
        const sealed = Buffer.from(value, 'base64url');
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(name, 'utf8'));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        return parse(Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]));
      } catch {
        return undefined;
      }
    },
  };
}

/** A session cookie value of `mode`, as a regex source (no anchors). */
export function sealedValuePattern(mode: SealMode): string {
  return mode === 'sign' ? '[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}' : '[A-Za-z0-9_-]{60,}';
}
