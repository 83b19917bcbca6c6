/**
 * Whether a `set` or `touch` with `ttlMs` gives the record any life. Only a number above zero
 * does: the contract ends the record for zero or less, and so for NaN and for anything else a
 * caller passes. Compared as is, `"60000" > 0` holds, and `now + "60000"` then joins the strings
 * into an expiry no clock reaches.
 */
export function hasLife(ttlMs: unknown): ttlMs is number {
  return typeof ttlMs === 'number' && ttlMs > 0;
}

/** Past it a clock's reading is no epoch ms (microseconds, say): about the year 10889. */
const MAX_EPOCH_MS = 2 ** 48;

/**
 * Whether a store clock's reading is epoch ms a store can keep and compare: a number from 0 up
 * to 2^48. A clock that answers `Date` for `Date.now`, a `Date` object, NaN or microseconds would
 * write every record already dead, or never dead.
 */
export function isEpochMs(time: unknown): time is number {
  return typeof time === 'number' && time >= 0 && time < MAX_EPOCH_MS;
}
