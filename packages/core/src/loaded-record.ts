/**
 * A record the store handed back, measured against the configured limits and checked by the
 * app's `migrate` and `schema`: the facts the machine decides on (`store.loaded`), and the reason
 * `onEvent` gives for a record that died. Times come from the store, never the client.
 */
import { SessConfigError } from './errors.js';
import type { Config } from './options.js';
import { dataFrom, isPlainObject, timesAhead } from './record.js';
import { loadedKey } from './runtime.js';
import { ASYNC_SCHEMA, isAsyncResult } from './schema.js';
import type { SessionMeta, SessionRecord } from './store.js';

/** The `store.loaded` of a record that is missing, corrupt or turned away by the schema: it says nothing. */
export const MISSING_RECORD: number = loadedKey(false, false, false, false, false, false, false);

/**
 * The `store.loaded` of a live record, as its key: the facts the machine decides on
 * (`LoadedFacts`); `browserSession` is what the record's own lifetime setting says.
 */
export function liveRecord(config: Config, meta: SessionMeta, now: number, browserSession: boolean): number {
  const { idleTimeoutMs, absoluteTimeoutMs, touchAfterMs } = config;
  return loadedKey(
    true,
    meta.expiresAt <= now || timesAhead(meta, now),
    idleTimeoutMs !== undefined && now - meta.touchedAt >= idleTimeoutMs,
    absoluteTimeoutMs !== undefined && now - meta.createdAt >= absoluteTimeoutMs,
    // With no interval every use is due, even when the record's touchedAt lies a little ahead of
    // this clock (another server's ran fast, or this one stepped back): elapsed time is then negative.
    touchAfterMs === 0 || now - meta.touchedAt >= touchAfterMs,
    browserSession,
    meta.retired === true,
  );
}

/** Why a record is dead, most specific first (a timeout also caps `expiresAt`, so both can have passed); `undefined` while it lives. */
export function expiryReason(config: Config, meta: SessionMeta, now: number): 'lifetime' | 'idle' | 'absolute' | undefined {
  const { idleTimeoutMs, absoluteTimeoutMs } = config;
  if (timesAhead(meta, now)) return 'lifetime';
  if (absoluteTimeoutMs !== undefined && now - meta.createdAt >= absoluteTimeoutMs) return 'absolute';
  if (idleTimeoutMs !== undefined && now - meta.touchedAt >= idleTimeoutMs) return 'idle';
  if (meta.expiresAt <= now) return 'lifetime';
  return undefined;
}

/**
 * Stored data through `migrate` and `schema`; `undefined` when it doesn't pass (the request then
 * starts a fresh session).
 *
 * @throws SessConfigError for a schema that validates asynchronously.
 */
export function acceptRecord(config: Config, record: SessionRecord): SessionRecord | undefined {
  const { migrate, schema } = config;
  if (migrate === undefined && schema === undefined) return record;
  let data: unknown;
  try {
    data = migrate === undefined ? record.data : migrate(dataFrom(record.data));
    if (schema !== undefined) {
      const result = schema['~standard'].validate(data);
      if (isAsyncResult(result)) throw new SessConfigError(ASYNC_SCHEMA);
      data = result.issues === undefined ? result.value : undefined;
    }
  } catch (error) {
    if (error instanceof SessConfigError) throw error;
    data = undefined;
  }
  return isPlainObject(data) ? { data, meta: record.meta } : undefined;
}
