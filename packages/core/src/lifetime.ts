/**
 * A session's lifetime, in milliseconds throughout: the app's own setting (`setExpiry`) checked
 * where it enters, and the arithmetic that turns it, the defaults and the timeouts into a
 * record's `expiresAt`, the store's TTL and the cookie's expiry, measured from the request's now.
 */
import { SessUsageError } from './errors.js';
import type { Config } from './options.js';
import { MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS } from './options.js';
import type { ExpirySetting, SessionMeta } from './store.js';

/**
 * A request's own default lifetime (`RequestFacts.maxAgeMs`), checked as `maxAgeMs` is.
 *
 * @throws SessUsageError for anything but `undefined`, `null` or a number of ms within 400 days.
 */
export function checkRequestLifetime(maxAgeMs: number | null | undefined): void {
  // The typeof too: a string of digits passes the comparisons, and `lifetime` would then ignore it.
  if (
    maxAgeMs !== undefined &&
    maxAgeMs !== null &&
    !(typeof maxAgeMs === 'number' && maxAgeMs >= MIN_COOKIE_LIFETIME_MS && maxAgeMs <= MAX_LIFETIME_MS)
  ) {
    throw new SessUsageError(
      `maxAgeMs must be a number of ms from ${MIN_COOKIE_LIFETIME_MS} to ${MAX_LIFETIME_MS} (400 days) or null, got ${String(maxAgeMs)}`,
    );
  }
}

/**
 * `setExpiry`'s value as the setting a record keeps: seconds, a `Date`, `0` for "when the browser
 * closes", `null` for the default. Checked here, where app input enters, so a bad lifetime fails
 * the handler's own call and never reaches the commit after a store write.
 *
 * @throws SessUsageError for a Date more than 400 days from now, or seconds outside 1..400 days.
 */
export function expirySetting(value: number | Date | null, now: number): ExpirySetting | undefined {
  if (value === null) return undefined;
  if (value instanceof Date) {
    const at = value.getTime();
    if (!(Math.abs(at - now) <= MAX_LIFETIME_MS))
      throw new SessUsageError(`setExpiry: the Date must be a valid time within 400 days of now, got ${String(value)}`);
    return { kind: 'at', at };
  }
  if (value === 0) return { kind: 'browser' };
  const ms = value * 1000;
  if (!(typeof value === 'number' && ms >= MIN_COOKIE_LIFETIME_MS && ms <= MAX_LIFETIME_MS)) {
    throw new SessUsageError(
      `setExpiry: seconds must be 0 (browser session) or from 1 to ${MAX_LIFETIME_MS / 1000} (400 days), got ${String(value)}`,
    );
  }
  return { kind: 'duration', ms };
}

/** What a lifetime is measured from: the manager's limits, the request's own default, and now. */
export interface LifetimeBasis {
  readonly config: Config;
  /** The request's default lifetime (`RequestFacts.maxAgeMs`), if it has one. */
  readonly requestMaxAgeMs: number | null | undefined;
  readonly now: number;
}

/** Whether the cookie ends with the browser: a per-session setting wins, then the request's default, then the manager's. */
export function endsWithBrowser({ config, requestMaxAgeMs }: LifetimeBasis, expiry: ExpirySetting | undefined): boolean {
  if (expiry !== undefined) return expiry.kind === 'browser';
  return requestMaxAgeMs === undefined ? config.expireAtBrowserClose : requestMaxAgeMs === null;
}

/** The store's TTL and the cookie's expiry for a session created at `createdAt` with `expiry`, from now. */
export function lifetime(
  { config, requestMaxAgeMs, now }: LifetimeBasis,
  expiry: ExpirySetting | undefined,
  createdAt: number,
): { ttlMs: number; cookieExpiresAt: number } {
  const { idleTimeoutMs, absoluteTimeoutMs } = config;
  const maxAgeMs = typeof requestMaxAgeMs === 'number' ? requestMaxAgeMs : config.maxAgeMs;
  let cookieLifeMs = expiry?.kind === 'duration' ? expiry.ms : expiry?.kind === 'at' ? expiry.at - now : maxAgeMs;
  if (absoluteTimeoutMs !== undefined) cookieLifeMs = Math.min(cookieLifeMs, createdAt + absoluteTimeoutMs - now);
  const ttlMs = idleTimeoutMs === undefined ? cookieLifeMs : Math.min(cookieLifeMs, idleTimeoutMs);
  return { ttlMs, cookieExpiresAt: now + cookieLifeMs };
}

/** The meta a save or touch writes now, and the TTL it gets. */
export function nextMeta(basis: LifetimeBasis, expiry: ExpirySetting | undefined, createdAt: number): { meta: SessionMeta; ttlMs: number } {
  const { ttlMs } = lifetime(basis, expiry, createdAt);
  const { now } = basis;
  const meta: SessionMeta = { createdAt, touchedAt: now, expiresAt: now + ttlMs, ...(expiry === undefined ? {} : { expiry }) };
  return { meta, ttlMs };
}
