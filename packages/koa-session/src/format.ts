/**
 * koa-session's session object, as it sits in its cookie and in its external stores: the data,
 * plus `_expire` (epoch ms) and `_maxAge` (ms) written at each save, or `_session: true` for a
 * lifetime that ends with the browser (read from any `_session` key, as koa-session reads it).
 * Translated here to and from sess's record, whose times the core judges; keys starting with `_`
 * are koa-session's own and are never saved as data.
 */
import type { SessionData, SessionMeta, SessionRecord } from '@sess/core';
import { MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS } from '@sess/core/adapter';

/** koa-session's object: data and its `_` fields. */
export type KoaSessionObject = Record<string, unknown>;

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isLifetime = (value: unknown): value is number =>
  isFiniteNumber(value) && value >= MIN_COOKIE_LIFETIME_MS && value <= MAX_LIFETIME_MS;

/** What koa-session saves of a session's data: every key but its own `_` fields (its `toJSON`). */
export function savedData(data: SessionData): SessionData {
  const saved: SessionData = {};
  // Defined, not assigned: a key named `__proto__` stays data.
  for (const key of Object.keys(data)) if (!key.startsWith('_')) define(saved, key, data[key]);
  return saved;
}

/** Sets `key` as an own, plain data property. */
export function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

export interface KoaFormat {
  /** The object koa-session would save for `record`. */
  toKoa(record: SessionRecord): KoaSessionObject;
  /**
   * The record in an object koa-session saved, or `undefined` for anything else. Its times come
   * from `_expire` and `_maxAge`; where koa-session keeps none (`_session`, or no `_expire`),
   * the session never expires, as with koa-session, and is read as living from `now`.
   */
  fromKoa(value: unknown, now: number): SessionRecord | undefined;
}

/**
 * koa-session's `renew`: a session is saved again once less than half of its own `maxAge` is
 * left (the `_maxAge` it was saved with, else the `maxAge` option; none, no renewal).
 */
export interface Renew {
  /** The `maxAge` option, for a session object without `_maxAge`. */
  readonly maxAge: number | 'session' | undefined;
}

/**
 * koa-session's renewal test (in its `_shouldSaveSession`): less than half of the session's own
 * lifetime (`maxAge`, in ms) is left before `expire`. No lifetime or no expiry: no renewal.
 */
export function renewDue(expire: unknown, maxAge: unknown, now: number): boolean {
  return isFiniteNumber(expire) && expire !== 0 && isFiniteNumber(maxAge) && maxAge !== 0 && expire - now < maxAge / 2;
}

/** `renewDue` for a loaded session object: its own `_maxAge`, else the `maxAge` option. */
function renewDueFor(object: KoaSessionObject, renew: Renew, now: number): boolean {
  return renewDue(object._expire, '_maxAge' in object ? object._maxAge : renew.maxAge, now);
}

/**
 * @param browserByDefault - koa-session's `maxAge: 'session'`: a session without a lifetime of
 *   its own is saved with `_session: true`.
 * @param defaultMaxAgeMs - the lifetime a session has when its object names none.
 * @param renew - koa-session's `renew: true`.
 */
export function koaFormat(browserByDefault: boolean, defaultMaxAgeMs: number, renew?: Renew): KoaFormat {
  return {
    toKoa({ data, meta }) {
      const saved: KoaSessionObject = savedData(data);
      const browser = meta.expiry === undefined ? browserByDefault : meta.expiry.kind === 'browser';
      if (browser) saved._session = true;
      else Object.assign(saved, { _expire: meta.expiresAt, _maxAge: meta.expiresAt - meta.touchedAt });
      return saved;
    },
    fromKoa(value, now) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      const { _expire: expire, _maxAge: maxAge } = value as KoaSessionObject;
      const data = savedData(value as KoaSessionObject);
      let meta: SessionMeta;
      // koa-session takes any `_session` key, whatever its value, as a browser session.
      if (Object.hasOwn(value, '_session')) {
        meta = { createdAt: now, touchedAt: now, expiresAt: now + defaultMaxAgeMs, expiry: { kind: 'browser' } };
      } else {
        // koa-session restores the lifetime a session was saved with (`_maxAge`); a value no
        // cookie could carry is left out, and the configured lifetime applies.
        const lifetimeMs = isLifetime(maxAge) ? maxAge : defaultMaxAgeMs;
        // koa-session takes any lifetime (2 years, say), and the core would take a record whose
        // times lie that far ahead for one written by a clock running ahead, and end it: the user
        // would be signed out by the move. Read as living at most the 400 days sess keeps.
        const expiresAt = isFiniteNumber(expire) ? Math.min(expire, now + MAX_LIFETIME_MS) : now + lifetimeMs;
        const savedAt = Math.min(expiresAt - lifetimeMs, now);
        // With renew, the core extends a record once its touch interval (more than 0, less than
        // 400 days) has passed since `touchedAt`: so `touchedAt` says when koa-session would renew
        // it, long ago, else now. (The core's clock read this request began, a little before `now`.)
        const touchedAt = renew === undefined ? savedAt : renewDueFor(value as KoaSessionObject, renew, now) ? now - MAX_LIFETIME_MS : now;
        meta = {
          createdAt: savedAt,
          touchedAt,
          expiresAt,
          ...(isLifetime(maxAge) && { expiry: { kind: 'duration', ms: maxAge } }),
        };
      }
      return { data, meta };
    },
  };
}
