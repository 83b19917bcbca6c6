/**
 * koa-session's signature: the `.sig` cookie beside the session cookie holds HMAC-SHA1 of
 * `name=value` under the first of `app.keys`, in keygrip's URL-safe base64 (what Koa's own
 * `ctx.cookies` writes). Every key verifies; one that is not the first asks for a new signature.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SessConfigError } from '@sess/core';
import { warnOnce } from './warnings.js';

/** What `app.keys` does for cookies: Koa takes an array of secrets or a Keygrip instance. */
export interface Keys {
  sign(data: string): string;
  /** The index of the key that signed `data` as `digest`, or -1. */
  index(data: string, digest: string): number;
}

/** Keygrip's digest: base64 with `+/` made URL-safe and no padding. */
const DIGEST = /^[A-Za-z0-9_-]{1,128}$/;
const MIN_KEY_BYTES = 32;

function keyring(secrets: readonly (string | Buffer)[]): Keys {
  const keys: KeyObject[] = secrets.map((secret) => createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret));
  if (keys.some((key) => (key.symmetricKeySize ?? 0) < MIN_KEY_BYTES)) {
    warnOnce(
      'SESS_KOA_SESSION_SHORT_KEY',
      `an entry of app.keys is shorter than ${MIN_KEY_BYTES} bytes; it is used, as koa-session uses it, but a short key can be guessed offline from one signed cookie. Use keys of at least ${MIN_KEY_BYTES} random bytes, e.g. node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
    );
  }
  const sign = (key: KeyObject, data: string) => createHmac('sha1', key).update(data).digest('base64url');
  return {
    sign: (data) => sign(keys[0] as KeyObject, data),
    index(data, digest) {
      if (!DIGEST.test(digest)) return -1;
      const given = Buffer.from(digest, 'latin1');
      for (let index = 0; index < keys.length; index++) {
        const expected = Buffer.from(sign(keys[index] as KeyObject, data), 'latin1');
        if (expected.length === given.length && timingSafeEqual(expected, given)) return index;
      }
      return -1;
    },
  };
}

/**
 * The signing keys of `app.keys`, read per request as Koa does (an app may rotate them at any
 * time): an array of strings or Buffers is prepared once for each content it has (keys are
 * derived then, not per request); a Keygrip-like object is used as it is.
 */
export function keysReader(): (appKeys: unknown) => Keys {
  let cached: { readonly source: readonly unknown[]; readonly copy: readonly unknown[]; readonly keys: Keys } | undefined;
  /** @throws SessConfigError when there are none: koa-session's `signed: true` needs `app.keys`. */
  return (appKeys) => {
    if (Array.isArray(appKeys)) {
      const same = cached?.source === appKeys && cached.copy.length === appKeys.length && cached.copy.every((key, i) => key === appKeys[i]);
      if (same && cached !== undefined) return cached.keys;
      const valid = appKeys.length > 0 && appKeys.every((key) => (typeof key === 'string' && key !== '') || Buffer.isBuffer(key));
      if (!valid) throw new SessConfigError('app.keys must be a non-empty array of secrets (strings or Buffers) for signed sessions');
      cached = { source: appKeys, copy: [...appKeys], keys: keyring(appKeys as (string | Buffer)[]) };
      return cached.keys;
    }
    const grip = appKeys as Partial<Keys> | undefined;
    if (typeof grip?.sign === 'function' && typeof grip.index === 'function') return grip as Keys;
    throw new SessConfigError(
      'signed sessions need app.keys (an array of secrets, as koa-session does): set app.keys = [secret] before the first request, or pass signed: false',
    );
  };
}
