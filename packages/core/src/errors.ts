/**
 * Errors sess throws, by who is at fault: the configuration, the app's use, or the store. Bad client input is never an
 * error: a forged, malformed or expired cookie is an event that ends in a fresh session.
 */

export type SessErrorCode =
  | 'config_invalid'
  | 'secret_too_short'
  | 'cookie_invalid'
  | 'usage_invalid'
  /** A cookie session's Set-Cookie would exceed the 4096 bytes browsers keep. */
  | 'session_too_large'
  /** Session data JSON cannot hold (a BigInt, a cycle, a toJSON that throws): the store could not encode it. */
  | 'data_not_json'
  | 'store_failed'
  | 'store_timeout';

export class SessError extends Error {
  readonly code: SessErrorCode;
  /** The HTTP status a framework should answer with if this error reaches it. */
  readonly statusHint: number;

  constructor(code: SessErrorCode, message: string, options?: { cause?: unknown; statusHint?: number }) {
    super(`[sess] ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusHint = options?.statusHint ?? 500;
  }
}

/**
 * Bad options: thrown by factories at construction, and while serving a request only for what
 * construction cannot see, an app-supplied function's answer (`generateId`, `clock`, `readOnly`,
 * a custom signer, an asynchronous `schema`).
 */
export class SessConfigError extends SessError {
  constructor(message: string, code: 'config_invalid' | 'secret_too_short' | 'cookie_invalid' = 'config_invalid') {
    super(code, message);
  }
}

/**
 * The app used the session API out of order (e.g. wrote to it after the response was committed),
 * or gave it data no store can keep. A store throws it too, for data it cannot encode (see
 * `dataJson` in `@sess/core/store`): the app's bug, so a 500, never the 503 of a store outage.
 */
export class SessUsageError extends SessError {
  constructor(
    message: string,
    code: 'usage_invalid' | 'session_too_large' | 'data_not_json' = 'usage_invalid',
    options?: { readonly cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export type StoreOperation = 'get' | 'set' | 'destroy' | 'touch';

/** A store call failed or timed out. Reaches the framework as a 5xx; a failed write never ends in a 2xx. */
export class SessStoreError extends SessError {
  readonly op: StoreOperation;
  readonly store: string;

  constructor(store: string, op: StoreOperation, cause: unknown, timedOut = false) {
    super(
      timedOut ? 'store_timeout' : 'store_failed',
      timedOut ? `store "${store}" did not answer ${op} in time` : `store "${store}" failed to ${op}`,
      { cause, statusHint: 503 },
    );
    this.op = op;
    this.store = store;
  }
}

/**
 * What a failed store call fails with: a `SessUsageError` the store threw passes as it is (it was
 * handed data it cannot keep, the app's bug, and a 503 would have clients retry it and page whoever
 * runs the store); anything else is the store's failure, a timeout when the store's own error says
 * one of its deadlines passed.
 */
export function storeCallError(store: string, op: StoreOperation, cause: unknown, timedOut = false): SessStoreError | SessUsageError {
  if (cause instanceof SessUsageError) return cause;
  return new SessStoreError(store, op, cause, timedOut || (cause instanceof SessError && cause.code === 'store_timeout'));
}
