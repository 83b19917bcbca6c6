/** The stored record's shape and the checks a loaded record must pass before it is trusted. */
import { MAX_LIFETIME_MS } from './options.js';
import type { SessionData, SessionMeta, SessionRecord } from './store.js';

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A stored value is trusted only if it has the shape we write; anything else is "missing". */
export function isSessionRecord(value: unknown): value is SessionRecord {
  if (!isPlainObject(value) || !isPlainObject(value.data) || !isPlainObject(value.meta)) return false;
  const { createdAt, touchedAt, expiresAt, expiry, retired } = value.meta;
  if (!isFiniteNumber(createdAt) || !isFiniteNumber(touchedAt) || !isFiniteNumber(expiresAt)) return false;
  if (retired !== undefined && retired !== true) return false;
  if (expiry === undefined) return true;
  if (!isPlainObject(expiry)) return false;
  return (
    expiry.kind === 'browser' ||
    (expiry.kind === 'duration' && isFiniteNumber(expiry.ms)) ||
    (expiry.kind === 'at' && isFiniteNumber(expiry.at))
  );
}

/** How far a record's times may lie ahead of this server's clock (clocks of several servers drift). */
const CLOCK_SKEW_TOLERANCE_MS = 60_000;

/**
 * A record written while some clock ran ahead: its times lie in the future. Its limits (idle,
 * absolute, lifetime) can't be trusted to end it, so it counts as expired: skew fails closed.
 */
export function timesAhead(meta: SessionMeta, now: number): boolean {
  const latest = now + CLOCK_SKEW_TOLERANCE_MS;
  return meta.createdAt > latest || meta.touchedAt > latest || meta.expiresAt > latest + MAX_LIFETIME_MS;
}

/**
 * The prototype of session data: empty and without one of its own, so no key the data holds can
 * reach `Object.prototype` (`__proto__` stays plain data). An object made with
 * `Object.create(null)` would do the same, but V8 keeps those in its slow dictionary mode.
 */
const DATA_PROTOTYPE: object = Object.freeze(Object.create(null) as object);

/** Session data in an object that inherits nothing: keys such as `__proto__` stay plain data. */
export function dataFrom(source: SessionData | undefined): SessionData {
  const data: SessionData = Object.create(DATA_PROTOTYPE) as SessionData;
  // `for...in` walks V8's cached key list where `Object.keys` would make a new array each time.
  for (const key in source) if (Object.hasOwn(source, key)) data[key] = source[key];
  return data;
}
