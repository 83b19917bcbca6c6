/**
 * express-session's cookie value, `s:<id>.<mac>`: the mac is cookie-signature's, base64
 * HMAC-SHA256 of the id alone, its `=` padding stripped. Secrets rotate as express-session's do:
 * the first signs, every one verifies (a value that verified under an older one is re-signed).
 * Unlike sess's own signer, the cookie's name is not inside the mac and secrets may be short:
 * that is the format running deployments hold, so it is kept, and a short secret is warned about.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SessConfigError, isWellFormedId } from '@sess/core';
import type { Signer, VerifiedCookie } from '@sess/core';
import { warnOnce } from './warnings.js';

/** A secret as express-session takes it: anything `crypto.createHmac` does, in practice a string or bytes. */
export type SigningSecret = string | Uint8Array;

const PREFIX = 's:';
const MAC = /^[A-Za-z0-9+/]{43}$/; // base64 of 32 bytes, unpadded: a fixed count of one class.
const SAFE_SECRET_BYTES = 32; // HMAC-SHA256's own strength.
const HOW_TO_MAKE_A_SECRET = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

function keyOf(secret: unknown, index: number): KeyObject {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret instanceof Uint8Array ? Buffer.from(secret) : undefined;
  // Errors name the secret's position, never its text: messages end up in logs.
  if (bytes === undefined || bytes.length === 0) throw new SessConfigError(`secret #${index} must be a non-empty string or Buffer`);
  if (bytes.length < SAFE_SECRET_BYTES) {
    warnOnce(
      'SESS_EXPRESS_SESSION_SHORT_SECRET',
      `a session secret is ${bytes.length} bytes: express-session accepts it, so @sess/express-session does too, but a secret of at least ${SAFE_SECRET_BYTES} random bytes is the safe choice (make one with ${HOW_TO_MAKE_A_SECRET}; put it first in the secret array, keep the old one after it so signed-in users stay signed in).`,
    );
  }
  return createSecretKey(bytes);
}

const macOf = (key: KeyObject, id: string): string => createHmac('sha256', key).update(id).digest('base64').replace(/=+$/, '');

/**
 * The signer for express-session's cookie values.
 *
 * @param secrets - One secret or several; the first signs, all verify.
 * @throws SessConfigError for an empty list or a secret that is not a non-empty string or Buffer.
 */
export function cookieSignatureSigner(secrets: SigningSecret | readonly SigningSecret[]): Signer {
  const list: readonly unknown[] = Array.isArray(secrets) ? secrets : [secrets];
  if (list.length === 0) throw new SessConfigError('secret option array must contain one or more strings');
  const keys = list.map(keyOf);
  const signingKey = keys[0] as KeyObject;
  return Object.freeze({
    sign: (_name: string, id: string): string => `${PREFIX}${id}.${macOf(signingKey, id)}`,
    verify(_name: string, value: string): VerifiedCookie | undefined {
      if (typeof value !== 'string' || !value.startsWith(PREFIX)) return undefined;
      const dot = value.lastIndexOf('.');
      const id = value.slice(PREFIX.length, dot);
      const given = value.slice(dot + 1);
      // Shape first, so malformed values cost no HMAC and odd ids never reach a store's key space.
      if (dot < PREFIX.length || !isWellFormedId(id) || !MAC.test(given)) return undefined;
      const givenBytes = Buffer.from(given, 'latin1');
      for (let index = 0; index < keys.length; index++) {
        const expected = Buffer.from(macOf(keys[index] as KeyObject, id), 'latin1');
        if (timingSafeEqual(expected, givenBytes)) return { id, rotated: index > 0 };
      }
      return undefined;
    },
  });
}
