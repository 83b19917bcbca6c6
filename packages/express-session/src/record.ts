/**
 * The record as express-session stores keep it, `{ cookie: { originalMaxAge, expires, ... },
 * ...data }`, and as sess's core works with it, `{ data, meta }`. The lifetime travels in the
 * cookie: `originalMaxAge` is the session's own lifetime in ms (each request renews it), and
 * `expires` its end, `null` for a cookie that ends with the browser. Records keep exactly
 * express-session's shape, so express-session reads what sess writes (a rollback) and the other way.
 */
import type { ExpirySetting, SessionMeta, SessionRecord } from '@sess/core';
import { MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS } from '@sess/core/adapter';
import { SessionCookie } from './cookie.js';

export const clampLifetime = (ms: number): number => Math.min(MAX_LIFETIME_MS, Math.max(MIN_COOKIE_LIFETIME_MS, ms));

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function timeOf(value: unknown): number | undefined {
  // A Date, its JSON text, or ms since the epoch (as a store of another app may keep it).
  const time =
    typeof value === 'string' ? Date.parse(value) : value instanceof Date || typeof value === 'number' ? Number(value) : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}

/** A stored session, read: the sess record and the stored cookie it came with. */
export interface LoadedRecord {
  readonly record: SessionRecord;
  readonly cookie: Record<string, unknown>;
}

/**
 * A stored session as the core's record, read by a request that began at `now`. The lifetime is
 * the session's own, as express-session renews it: `originalMaxAge` if it is a number, else a
 * cookie that ends with the browser. The last extension is when `expires` was set
 * (`expires - originalMaxAge`), and no later than `now`. A record that is not an object is no session.
 *
 * With `rolling`, the browser's cookie is renewed on every response while a store's `touch` may
 * renew only the record's TTL (connect-redis, connect-pg-simple), leaving `expires` where the last
 * write put it: a record the store still answers with is then live, as express-session takes it.
 * Without `rolling` the cookie ends when the record's `expires` says, so a record past it can
 * only come with a replayed cookie, and is a new session.
 */
export function fromStored(stored: unknown, now: number, rolling = false): LoadedRecord | undefined {
  if (!isObject(stored)) return undefined;
  const { cookie: storedCookie, ...data } = stored;
  const cookie = isObject(storedCookie) ? storedCookie : {};
  const end = timeOf(cookie.expires);
  const lifetime = typeof cookie.originalMaxAge === 'number' && cookie.originalMaxAge > 0 ? cookie.originalMaxAge : undefined;
  const expiry: ExpirySetting = lifetime === undefined ? { kind: 'browser' } : { kind: 'duration', ms: clampLifetime(lifetime) };
  const touchedAt = end !== undefined && lifetime !== undefined ? Math.min(now, end - lifetime) : now;
  const meta: SessionMeta = {
    createdAt: touchedAt,
    touchedAt,
    // Without an end of its own, or (rolling) one a TTL-only touch left behind, the store's TTL decides when the session goes.
    expiresAt: end === undefined || (rolling && end <= now) ? now + MAX_LIFETIME_MS : Math.min(end, now + MAX_LIFETIME_MS),
    expiry,
  };
  return { record: { data, meta }, cookie };
}

/** The cookie's attributes a record keeps (all but its lifetime), from a `Cookie` or a stored cookie. */
export function attributesOf(cookie: Record<string, unknown>): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const name of ATTRIBUTES) if (cookie[name] !== undefined) attributes[name] = cookie[name];
  return attributes;
}

const ATTRIBUTES = ['path', 'httpOnly', 'secure', 'domain', 'sameSite', 'partitioned', 'priority'] as const;

/**
 * The `Cookie` a record is written with: the request's attributes, and the lifetime the core
 * gave the record (`defaultMs` for a session on the configured lifetime).
 */
export function cookieFor(meta: SessionMeta, attributes: Record<string, unknown>, defaultMs: number | null): SessionCookie {
  const cookie = new SessionCookie(attributes);
  const { expiry } = meta;
  const lifetime =
    expiry === undefined ? defaultMs : expiry.kind === 'duration' ? expiry.ms : expiry.kind === 'at' ? expiry.at - meta.touchedAt : null;
  cookie._expires = lifetime === null ? null : new Date(meta.expiresAt);
  cookie.originalMaxAge = lifetime;
  return cookie;
}
