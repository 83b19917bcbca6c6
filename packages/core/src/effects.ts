/**
 * Effects: what the core asks the world to do, as plain readonly data (times in epoch ms, no
 * functions or class instances), so tests can `toEqual` them and logs can print them.
 * `StoreEffect`s are run by the runner; `HttpEffect`s are applied by the adapter. Each
 * interpreter ends its `switch` in `assertNever`, so a new effect breaks the build wherever
 * it is not handled yet.
 */
import type { CookieAttributes } from './cookie.js';
import { serializeCookie, serializeDeletion } from './cookie.js';
import type { SessionChanges, SessionMeta, SessionRecord } from './store.js';

export type StoreEffect =
  | { readonly type: 'store.load'; readonly id: string }
  | {
      readonly type: 'store.save';
      readonly id: string;
      readonly record: SessionRecord;
      readonly ttlMs: number;
      readonly changes: SessionChanges;
    }
  /** `record` lets the runner fall back to `set` for a store without `touch`. */
  | {
      readonly type: 'store.touch';
      readonly id: string;
      readonly meta: SessionMeta;
      readonly ttlMs: number;
      readonly record: SessionRecord;
    }
  | { readonly type: 'store.destroy'; readonly id: string };

export type HttpEffect =
  | { readonly type: 'cookie.set'; readonly name: string; readonly value: string; readonly attributes: CookieAttributes }
  | { readonly type: 'cookie.delete'; readonly name: string; readonly attributes: CookieAttributes }
  | { readonly type: 'header.vary'; readonly value: 'Cookie' }
  | { readonly type: 'header.cacheControl'; readonly value: 'private' };

export type Effect = StoreEffect | HttpEffect;

/** `Cache-Control: private`, on any answer that sets a session cookie: a shared cache must not hand it to others. */
export const MARK_PRIVATE: HttpEffect = Object.freeze({ type: 'header.cacheControl', value: 'private' });

export type CookieEffect = Extract<HttpEffect, { readonly type: 'cookie.set' | 'cookie.delete' }>;

/**
 * The `Set-Cookie` header line a cookie effect stands for: what every adapter appends.
 *
 * @throws SessConfigError (code `'cookie_invalid'`) as `serializeCookie` does.
 */
export function setCookieLine(effect: CookieEffect): string {
  return effect.type === 'cookie.set'
    ? serializeCookie(effect.name, effect.value, effect.attributes)
    : serializeDeletion(effect.name, effect.attributes);
}

/** Ends an exhaustive `switch (effect.type)`: a compile error names the case left out. */
export function assertNever(value: never): never {
  throw new TypeError(`unhandled: ${JSON.stringify(value)}`);
}
