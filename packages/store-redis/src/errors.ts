/** Why a Redis call failed before Redis answered. Errors Redis returns pass through unchanged. */
export type RedisStoreErrorCode = 'unavailable' | 'timeout';

/**
 * Thrown by the store when the client is not connected (`unavailable`, at once) or Redis did not
 * answer within `timeoutMs` (`timeout`). Through sess's runner it arrives as the `cause` of a
 * `SessStoreError` (status hint 503).
 */
export class RedisStoreError extends Error {
  readonly code: RedisStoreErrorCode;

  constructor(code: RedisStoreErrorCode, message: string) {
    super(`[sess] redisStore: ${message}`);
    this.name = 'RedisStoreError';
    this.code = code;
  }
}
