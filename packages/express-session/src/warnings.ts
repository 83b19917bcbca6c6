/**
 * Where express-session's behaviour is kept although sess's default is safer, the app hears of it
 * once per process, as a process warning with a code it can filter on (`--no-warnings`, or
 * `process.on('warning')`), naming the safer choice; so it does where sess refuses a call that
 * express-session carries out, and nothing else would tell it.
 */

export type WarningCode =
  | 'SESS_EXPRESS_SESSION_RESAVE'
  | 'SESS_EXPRESS_SESSION_SAVE_UNINITIALIZED'
  | 'SESS_EXPRESS_SESSION_REQ_SECRET'
  | 'SESS_EXPRESS_SESSION_SHORT_SECRET'
  | 'SESS_EXPRESS_SESSION_COOKIE_DEFAULTS'
  | 'SESS_EXPRESS_SESSION_MEMORY_STORE'
  | 'SESS_EXPRESS_SESSION_LONG_MAX_AGE'
  | 'SESS_EXPRESS_SESSION_LATE_SAVE';

/** Warnings given so far: once each per process, as depd gives express-session's deprecations. */
const given = new Set<WarningCode>();

export function warnOnce(code: WarningCode, message: string, type: 'Warning' | 'DeprecationWarning' = 'Warning'): void {
  if (given.has(code)) return;
  given.add(code);
  process.emitWarning(message, { type, code });
}
