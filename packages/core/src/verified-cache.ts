/**
 * What a secret has already vouched for, so a returning client's cookie costs a Map lookup
 * instead of an HMAC or a decryption (the HMAC alone is 3-8 µs of a request here). Keyed by the
 * cookie's value; each entry names the cookie it was checked for, since a value checked for one
 * cookie name says nothing about another (a `${name}=${value}` key would cost a new string per
 * lookup). Only values that checked out go in, so forgeries can't fill it. First in, first out
 * past the bound: a value pushed out just pays its check again. It lives as long as the secrets.
 */
export class VerifiedCache<T> {
  private readonly entries = new Map<string, { readonly name: string; readonly result: T }>();
  // The oldest entry is read through one cursor, made at the first eviction (an idle iterator
  // would keep every table the Map outgrows alive) and kept: a fresh `keys()` would step over
  // every entry deleted since V8 last compacted the Map, thousands once the cache churns (the
  // same walk cost @sess/store-memory 14-200 µs per eviction). Only evictions delete, so the
  // cursor's next key is always the oldest.
  private oldest: MapIterator<string> | undefined;

  /** @param limit - Most entries held; 0 holds none. */
  constructor(private readonly limit: number) {}

  /** What `value` checked out to under `name`, or `undefined` if it is not held for that name. */
  get(name: string, value: string): T | undefined {
    const known = this.entries.get(value);
    return known !== undefined && known.name === name ? known.result : undefined;
  }

  /** Remembers that `value` checked out to `result` under `name`; `result` should hold no slice of `value` (see `detached`). */
  add(name: string, value: string, result: T): void {
    if (this.limit === 0) return;
    if (!this.entries.has(value) && this.entries.size >= this.limit) {
      this.oldest ??= this.entries.keys();
      this.entries.delete(this.oldest.next().value as string);
    }
    this.entries.set(detached(value), { name, result });
  }
}

/**
 * `text` in a string of its own. A cookie value is a slice of the Cookie header it came in, and V8
 * keeps the whole header alive for it (any slice of 13 characters or more): kept in a cache, a
 * 76-character value would hold up to the 16 KB of every other cookie sent with it. For ASCII
 * only, as every value that checks out is.
 */
export function detached(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}
