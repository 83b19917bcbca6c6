/**
 * What a store call fails with when the database does: a `SessStoreError` (status hint 503),
 * `store_timeout` when a deadline passed (the store's `timeoutMs`, or the server's
 * `statement_timeout` or `lock_timeout`) and `store_failed` otherwise, with node-postgres's error
 * as `cause`. The same for a call sess makes and one the app makes (`sessionsOf`, `sweep()`...).
 */
import { SessStoreError, type StoreOperation } from '@sess/core';

/** The store method that failed. */
export type PostgresStoreMethod = 'get' | 'set' | 'touch' | 'destroy' | 'sessionsOf' | 'revokeUser' | 'ids' | 'clear' | 'sweep' | 'migrate';

/** The core operation each method counts as, for `SessStoreError.op`. */
const OPERATION: Readonly<Record<PostgresStoreMethod, StoreOperation>> = {
  get: 'get',
  set: 'set',
  touch: 'touch',
  destroy: 'destroy',
  sessionsOf: 'get',
  revokeUser: 'destroy',
  ids: 'get',
  clear: 'destroy',
  sweep: 'destroy',
  migrate: 'set',
};

/** SQLSTATE query_canceled: a cancel request, or `statement_timeout` (which the message tells apart). */
const QUERY_CANCELED = '57014';
/** SQLSTATE lock_not_available: `lock_timeout` (the store never locks with NOWAIT). */
const LOCK_NOT_AVAILABLE = '55P03';

export function storeError(method: PostgresStoreMethod, detail: string, cause: unknown, timedOut: boolean): SessStoreError {
  const error = new SessStoreError('postgres', OPERATION[method], cause, timedOut);
  // Core's message names only the operation: this one says what went wrong.
  error.message = `[sess] postgresStore: ${method}: ${detail}`;
  return error;
}

/** Whether the server ended the statement for running past its own `statement_timeout` or `lock_timeout`. */
function serverTimedOut(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === LOCK_NOT_AVAILABLE || (code === QUERY_CANCELED && typeof message === 'string' && message.includes('statement timeout'));
}

/** The first line of what the driver threw. */
function describe(error: unknown): string {
  try {
    return (error instanceof Error ? error.message : String(error)).split('\n')[0] as string;
  } catch {
    return 'the query threw';
  }
}

/** SQLSTATE undefined_table. */
const UNDEFINED_TABLE = '42P01';
/** SQLSTATE undefined_column: the store's statements name only its own columns, so the table is another's. */
const UNDEFINED_COLUMN = '42703';

const HINTS: Readonly<Record<string, string>> = {
  // The store never creates its table on its own, where connect-pg-simple's createTableIfMissing did.
  [UNDEFINED_TABLE]: ' (create it: await store.migrate() at start-up)',
  // Most likely connect-pg-simple's table, given as tableName; migrate() names it and refuses it.
  [UNDEFINED_COLUMN]: ' (the table is not a sess table: await store.migrate() says whose it is)',
};

/** `error`, which the driver or the pool threw for `method`, as a store error. */
export function storeFailure(method: PostgresStoreMethod, error: unknown): SessStoreError {
  const code = (error as { code?: unknown } | null)?.code;
  const hint = typeof code === 'string' && Object.hasOwn(HINTS, code) ? HINTS[code] : '';
  return storeError(method, describe(error) + hint, error, serverTimedOut(error));
}
