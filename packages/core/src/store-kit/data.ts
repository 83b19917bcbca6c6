/**
 * Session data as a store reads and writes it. Keys are whatever the app chose, so "__proto__"
 * must stay an ordinary key: never read from, or written to, the object's prototype.
 */
import type { SessionData } from '../store.js';

/** `data`'s own value for `key`, or undefined when `data` holds no such key ("__proto__" included). */
export function ownValue(data: SessionData, key: string): unknown {
  return Object.hasOwn(data, key) ? data[key] : undefined;
}

/**
 * Sets `key` on `data` as an own property: by assignment, which V8 keeps fast when records repeat
 * their keys, except "__proto__", where assignment would set the prototype, so it is defined.
 */
export function setOwnValue(data: SessionData, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
  else data[key] = value;
}
