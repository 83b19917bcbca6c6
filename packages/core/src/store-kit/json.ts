/**
 * Session data as JSON text. The data is the app's: a value JSON cannot hold (a BigInt, a cycle,
 * a toJSON that throws) is the app's bug, so a store fails it as `SessUsageError` (a 500), which
 * core passes on as it is, not as a store failure (a 503 that clients and load balancers retry and
 * that pages whoever runs the store).
 */
import { SessUsageError } from '../errors.js';
import type { SessionData } from '../store.js';
import { ownValue } from './data.js';

/**
 * `JSON.stringify(value)`, for a store writing session data or part of it: `undefined` for a value
 * JSON drops (undefined, a function), as `JSON.stringify` answers.
 *
 * @param from - Where `value` came from, to name the key at fault when it fails: the data key it
 *   is stored under, or the session data it holds (a record, a list of its values...).
 * @throws SessUsageError with code `'data_not_json'` when JSON cannot hold `value`, naming the key
 *   when one is at fault, the error `JSON.stringify` threw as its `cause`. Nothing is to be written
 *   then.
 */
export function dataJson(value: unknown, from: string | SessionData): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw dataNotJson(from, error);
  }
}

/**
 * The error for data JSON cannot hold, `cause` being what encoding it threw: see `dataJson`.
 * Worked out on the failure path only: when `from` is the data, each of its values is encoded again to find
 * the key at fault.
 */
export function dataNotJson(from: string | SessionData, cause: unknown): SessUsageError {
  const key = typeof from === 'string' ? from : keyAtFault(from);
  const text = messageOf(cause);
  // V8's words for the two usual cases; anything else (a toJSON that threw) is passed on as it said.
  const holds = /\bBigInt\b/.test(text) ? 'a BigInt' : /\bcircular\b/i.test(text) ? 'a circular reference' : undefined;
  const subject = key === undefined ? 'it' : `key ${JSON.stringify(key)}`;
  const detail = holds !== undefined ? `${subject} holds ${holds}` : key === undefined ? text : `${subject}: ${text}`;
  return new SessUsageError(`session data is not JSON: ${detail}`, 'data_not_json', { cause });
}

/** The first key of `data` whose value JSON cannot hold, or undefined when none fails alone. */
function keyAtFault(data: SessionData): string | undefined {
  try {
    for (const key of Object.keys(data)) {
      try {
        JSON.stringify(ownValue(data, key));
      } catch {
        return key;
      }
    }
  } catch {
    // Data whose keys can't even be listed (a proxy that throws) names no key.
  }
  return undefined;
}

/** The first line of what was thrown. */
function messageOf(cause: unknown): string {
  try {
    return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0] as string;
  } catch {
    return 'encoding it threw';
  }
}
