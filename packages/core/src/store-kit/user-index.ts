/**
 * What a store's `revokeUser` accepts. Options it cannot read are the app's bug, found before the
 * store does anything: an id passed where `{ except: id }` belongs, or a misspelt `except`, reads
 * as no `except`, and would revoke the very session it was meant to keep.
 */
import { SessUsageError } from '../errors.js';
import { kindOf } from '../options-check.js';
import type { RevokeUserOptions } from '../store.js';

/**
 * `value` as a user id the user index keeps: a non-empty string, else undefined. A session whose
 * data names no such id is indexed under no user, and `sessionsOf`/`revokeUser` find none for it
 * (the number 42 is not the user '42').
 */
export function indexedUserId(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The session id `revokeUser` is to keep (`options.except`), or undefined to keep none. Call it
 * first, before any I/O and before looking at the user id: a user with no sessions must not hide
 * the bug.
 *
 * @param options - What `revokeUser` was given as its options; undefined when it was given none.
 * @param where - Who asks, to begin the message, e.g. `'redisStore: revokeUser'`.
 * @throws SessUsageError (`usage_invalid`) for options that are not a plain object (a string, an
 *   array, null...), a key other than `except` (a typo such as `exept` would keep no session), or
 *   an `except` that is not a string. The message names what it got, never the value: a misplaced
 *   session id is a secret.
 */
export function revokeUserExcept(options: unknown, where: string): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SessUsageError(`${where}: options must be an object such as { except: id }, got ${kindOf(options)}`);
  }
  // Inherited keys too: `except` is read by name, so an inherited one is taken like an own one.
  for (const key in options) {
    if (key !== 'except')
      throw new SessUsageError(`${where}: unknown option ${JSON.stringify(key)}: did you mean "except", as in { except: id }?`);
  }
  const except: unknown = (options as RevokeUserOptions).except;
  if (except !== undefined && typeof except !== 'string') {
    throw new SessUsageError(`${where}: except must be a session id (a string), got ${kindOf(except)}`);
  }
  return except;
}
