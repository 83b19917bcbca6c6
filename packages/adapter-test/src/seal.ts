/**
 * Sealed session cookies as the suite reads and forges them, written from the format that core's
 * `seal.ts` documents rather than imported from it: core keeps its sealer internal, and reading
 * the cookies independently means a case checks what the adapter sent, not a typo both sides
 * share (as `macOf` does for signed ids in `cases/forgery.ts`).
 *
 * - keys: HKDF-SHA256(secret, salt `sess/cookie-sessions/v1`, info `sess cookie session <mode>`), 32 bytes;
 * - `encrypt`: base64url(iv[12] ‖ AES-256-GCM ciphertext ‖ tag[16]), the cookie name as AAD;
 * - `sign`: `base64url(json).base64url(HMAC-SHA256(key, "<name>=<body>"))`;
 * - the payload: `{ id, data, meta }`, the session's id and record.
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
  /** Seals `payload` as JSON for the cookie called `name` (default `sid`). */
  seal(payload: unknown, name?: string): string;
  /** Opens a value sealed with this sealer's one secret, or `undefined`; never throws. */
  open(value: string, name?: string): SealedPayload | undefined;
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
  const parse = (bytes: Buffer): SealedPayload | undefined => {
    const payload = JSON.parse(bytes.toString('utf8')) as unknown;
    return typeof payload === 'object' && payload !== null ? (payload as SealedPayload) : undefined;
  };
  return {
    mode,
    seal(payload, name = 'sid') {
      const json = Buffer.from(JSON.stringify(payload), 'utf8');
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
