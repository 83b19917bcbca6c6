/**
 * Whether a `set` or `touch` with `ttlMs` gives the record any life. Only a number above zero
 * does: the contract ends the record for zero or less, and so for NaN and for anything else a
 * caller passes. Compared as is, `"60000" > 0` holds, and `now + "60000"` then joins the strings
 * into an expiry no clock reaches.
 */
export function hasLife(ttlMs: unknown): ttlMs is number {
  return typeof ttlMs === 'number' && ttlMs > 0;
}
