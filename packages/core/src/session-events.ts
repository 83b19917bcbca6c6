/**
 * What happened to sessions, for logs and metrics (`onEvent`). Ids never appear as they are: a
 * logged id would be a usable cookie for anyone who reads the logs, so each event carries a
 * digest that still lets lines about one session be matched up.
 */
import { createHash } from 'node:crypto';
import type { StoreEffect } from './effects.js';
import { SessStoreError } from './errors.js';
import type { StoreOperation } from './errors.js';
import type { StoreOutcome } from './runner.js';

export type SessionEvent =
  /** A new session was saved for the first time. */
  | { readonly type: 'created'; readonly idHash: string }
  /** The session moved to a new id (its data kept or dropped) and the old record is gone. */
  | { readonly type: 'regenerated'; readonly idHash: string; readonly previousIdHash: string }
  /** The session's record was deleted: `destroy()`, or emptied at commit. */
  | { readonly type: 'destroyed'; readonly idHash: string }
  /**
   * A validly signed cookie named a record that is dead: past its lifetime, idle or absolute
   * timeout, or `gone` (the store no longer has it: its TTL ran out, it was evicted, or another
   * request destroyed it). The request got a fresh session.
   */
  | { readonly type: 'expired'; readonly idHash: string; readonly reason: 'lifetime' | 'idle' | 'absolute' | 'gone' }
  /** The stored data failed the `schema` (or made `migrate` throw); the request got a fresh session. */
  | { readonly type: 'invalid'; readonly idHash: string }
  /**
   * The app changed the session after its commit had begun (in a timer, a stream's callback, a
   * `finish` listener): nothing could save the change, so it was dropped. `operation` names the
   * call (`set`, `delete`, `touch`, ...; `regenerate`, `reload` and `save` for `saveNow()`, which reject then);
   * `idHash` is absent for a session that never had an id.
   */
  | { readonly type: 'lateChange'; readonly idHash: string | undefined; readonly operation: string }
  /**
   * A custom `signer`'s `verify` threw. The cookie was taken for one that did not verify, so the
   * request got a fresh session: a signer that throws on every cookie signs every visitor out.
   */
  | { readonly type: 'signerError' }
  /** A store call failed or timed out; the request ends in an error. */
  | { readonly type: 'storeError'; readonly idHash: string; readonly op: StoreOperation; readonly code: 'store_failed' | 'store_timeout' };

/** Tells `event` to the app's `onEvent`, if any; an exception it throws is ignored (documented on `onEvent`). */
export function tell(onEvent: ((event: SessionEvent) => void) | undefined, event: SessionEvent): void {
  try {
    onEvent?.(event);
  } catch {
    // A failing logger must not fail the request.
  }
}

/** The lifecycle actions `onEvent` hears of: a session created, moved to a new id, or deleted. */
export type StoreReport = 'created' | 'regenerated' | 'destroyed';

/**
 * A digest of `id` for logs: the first 16 characters of base64url(SHA-256(id)), 96 bits, enough
 * to tell sessions apart and useless as a cookie.
 */
export function hashId(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 16);
}

/**
 * What a finished store call meant, for `onEvent`: it reports, the machine decides. `report` is
 * what the action that made the effect stands for (`SessionState.reportOf`), `previousId` the
 * client's id a regeneration moved away from; `expiredBecause` names why a loaded record is
 * dead, if it is.
 */
export function storeOutcomeEvent(
  effect: StoreEffect,
  outcome: StoreOutcome,
  report: StoreReport | undefined,
  previousId: string | undefined,
  expiredBecause: (record: unknown) => 'lifetime' | 'idle' | 'absolute' | 'gone' | undefined,
): SessionEvent | undefined {
  const idHash = hashId(effect.id);
  if (!outcome.ok) {
    // Data the store could not encode is the app's bug, not a store's failure: no `storeError`
    // for monitoring to page on. The commit's rejection (a 500) tells of it.
    if (!(outcome.error instanceof SessStoreError)) return undefined;
    return { type: 'storeError', idHash, op: outcome.error.op, code: outcome.error.code as 'store_failed' | 'store_timeout' };
  }
  if (report === 'regenerated') return { type: 'regenerated', idHash, previousIdHash: hashId(previousId as string) };
  if (report !== undefined) return { type: report, idHash };
  if (effect.type !== 'store.load') return undefined;
  const reason = expiredBecause(outcome.record);
  return reason === undefined ? undefined : { type: 'expired', idHash, reason };
}
