/**
 * Checks shared by every factory that takes options: an options object is validated once, at
 * construction, and anything a request could later trip over is refused there.
 */
import { SessConfigError } from './errors.js';

/** Levenshtein distance, for "did you mean" hints; names are short, so the quadratic cost is nothing. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The known name closest to `unknown`, if it is close enough to be a likely typo or case slip. */
function closest(unknown: string, known: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const d = name.toLowerCase() === lower ? 0 : distance(lower, name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

/**
 * Refuses anything that is not a plain options object, and any key not in `known`, naming the
 * closest known key. `where` names the factory in the message (`session()` of `@sess/koa`).
 * `hints` maps keys of a peer library that sess spells differently to a sentence saying what to use.
 *
 * @throws SessConfigError
 */
export function checkOptionKeys(
  options: unknown,
  known: readonly string[],
  where: string,
  hints: Readonly<Record<string, string>> = {},
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SessConfigError(
      `${where} needs an options object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  // Inherited keys too: options are read by name, so an inherited one is taken like an own one.
  for (const key in options) {
    if (known.includes(key)) continue;
    const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
    const near = closest(key, known);
    const advice = hint ?? (near === undefined ? `known options: ${known.join(', ')}` : `did you mean "${near}"?`);
    throw new SessConfigError(`${where}: unknown option "${key}": ${advice}`);
  }
}

/**
 * Refuses a value outside `allowed` for an option that takes one of a few words.
 *
 * @throws SessConfigError
 */
export function checkOneOf<T extends string | boolean>(value: unknown, allowed: readonly T[], option: string): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw new SessConfigError(
    `${option} must be one of ${allowed.map((item) => JSON.stringify(item)).join(', ')}, got ${describeValue(value)}`,
  );
}

/**
 * Refuses a non-function where a callback is expected.
 *
 * @throws SessConfigError
 */
export function checkFunction<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as T;
  throw new SessConfigError(`${option} must be a function, got ${describeValue(value)}`);
}

/**
 * An option's value for a message: a string quoted (cut at 40 characters), a number, boolean,
 * BigInt, symbol or empty array as written, anything else by kind. Never throws, as
 * `JSON.stringify` does for a BigInt or a cycle.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : 'an array';
  return typeof value === 'object' ? 'an object' : String(value);
}

/**
 * What a callback that must answer synchronously returned, by kind only (the answer may hold a
 * secret). A promise's rejection is handled here, as nothing else will await it: the app hears of
 * the misuse, not of an unhandled rejection.
 */
export function kindOfAnswer(answer: unknown): string {
  if (!isThenable(answer)) return kindOf(answer);
  answer.then(undefined, () => {});
  return 'a promise';
}

/** What `value` is, by kind only, for a message that must not echo it (it may hold a secret). */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** Whether `value` is a promise, or anything else `await` would wait for. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Checks that `store` has the shape of a sess `Store`: `name`, `capabilities` and the methods.
 * A store written for another library (koa-session's `get(key, maxAge, opts)`, an express-session
 * callback store) has other signatures, so it is refused here rather than failing every write.
 *
 * @throws SessConfigError
 */
export function checkStoreShape(store: unknown, where: string, advice: string): void {
  const candidate = store as Record<string, unknown> | null | undefined;
  const missing: string[] = [];
  if (typeof candidate !== 'object' || candidate === null)
    throw new SessConfigError(`${where}: store must be a sess store object, got ${describeValue(store)}. ${advice}`);
  if (typeof candidate.name !== 'string') missing.push('name');
  if (typeof candidate.capabilities !== 'object' || candidate.capabilities === null) missing.push('capabilities');
  for (const method of ['get', 'set', 'destroy']) if (typeof candidate[method] !== 'function') missing.push(`${method}()`);
  for (const method of ['touch', 'ids', 'clear', 'sessionsOf', 'revokeUser', 'close']) {
    if (candidate[method] !== undefined && typeof candidate[method] !== 'function') missing.push(`${method}()`);
  }
  if (missing.length > 0)
    throw new SessConfigError(`${where}: store is not a sess store (missing or wrong: ${missing.join(', ')}). ${advice}`);
}
