/**
 * Where koa-session keeps sessions, as the core sees them: its external stores (`get(key, maxAge,
 * { rolling, ctx })`, ...) wrapped into a sess `Store`, and its cookie format (base64 JSON, with
 * the `.sig` cookie beside it) as a codec for `cookieSessions`. Both read and write koa-session's
 * object (`format.ts`), so sessions move between koa-session and this package in either direction.
 */
import type { CookieSessionsOptions, SessionRecord, Store } from '@sess/core';
import type { Context } from 'koa';
import type { KoaFormat, KoaSessionObject } from './format.js';
import type { Keys } from './keys.js';

/** koa-session's external store: each method may return a promise. */
export interface ExternalStore {
  /** The session object saved under `key`, or nothing. `maxAge` is the `maxAge` option. */
  get(key: string, maxAge: number | 'session' | undefined, options: { rolling: boolean; ctx: Context }): unknown;
  /**
   * Saves `session` under `key` for `maxAge` ms (the session's lifetime plus 10 seconds, so the
   * store outlives the cookie), or `'session'` for a browser-session lifetime. `changed` is true
   * when the data changed this request, false when the save only extends it or was forced.
   */
  set(
    key: string,
    session: KoaSessionObject,
    maxAge: number | 'session',
    options: { rolling: boolean; changed: boolean; ctx: Context },
  ): unknown;
  /** Deletes the session saved under `key`. */
  destroy(key: string, options: { ctx: Context }): unknown;
}

/** What a store call or a cookie read needs of the request it serves. */
export interface StorageRequest {
  readonly ctx: Context;
  /** The store for this request: `store`, or a `new ContextStore(ctx)`. */
  readonly store: ExternalStore;
  /** `app.keys` as this request found them (signed sessions). */
  readonly keys: Keys | undefined;
  /** The store's key for a core id. */
  keyOf(id: string): string;
  /** What the store or the cookie held, as read: `valid()` and the events are given it. */
  loaded: unknown;
  /** koa-session's `changed` for the save under way. */
  readonly changed: boolean;
  /** `record`'s data after `beforeSave` had its say. */
  dataToSave(record: SessionRecord): SessionRecord;
}

export interface StorageOptions {
  readonly format: KoaFormat;
  readonly current: () => StorageRequest;
  readonly clock: () => number;
  /** koa-session's `maxAge` option, passed to `store.get` as it does. */
  readonly maxAge: number | 'session' | undefined;
  readonly rolling: boolean;
}

/** koa-session keeps a store record 10 seconds longer than its cookie, so the cookie never names a record already gone. */
const STORE_GRACE_MS = 10_000;

/** koa-session's external store (or `ContextStore`) as a sess store, for the request `current()` serves. */
export function externalStore({ format, current, clock, maxAge, rolling }: StorageOptions): Store {
  return {
    name: 'koa-session store',
    capabilities: { deltaWrites: false },
    async get(id) {
      const request = current();
      const value: unknown = await request.store.get(request.keyOf(id), maxAge, { rolling, ctx: request.ctx });
      request.loaded = value;
      return format.fromKoa(value, clock());
    },
    async set(id, record, ttlMs) {
      const request = current();
      const { ctx, store, changed } = request;
      const key = request.keyOf(id);
      if (ttlMs <= 0) return void (await store.destroy(key, { ctx }));
      const session = format.toKoa(request.dataToSave(record));
      await store.set(key, session, session._session === true ? 'session' : ttlMs + STORE_GRACE_MS, { rolling, changed, ctx });
    },
    async destroy(id) {
      const request = current();
      await request.store.destroy(request.keyOf(id), { ctx: request.ctx });
    },
  };
}

export interface CodecOptions {
  readonly format: KoaFormat;
  readonly current: () => StorageRequest;
  readonly clock: () => number;
  /** The cookie's name: what koa-session signs is `${key}=${value}`. */
  readonly key: string;
  readonly signed: boolean;
  readonly encode: (session: KoaSessionObject) => string;
  readonly decode: (value: string) => unknown;
}

/**
 * The cookie's value, as the adapter hands it to the core: the session cookie's value, then `.`
 * and the `.sig` cookie's value when sessions are signed (a signature never holds a `.`).
 */
export function joinedValue(value: string, signature: string | undefined): string {
  return signature === undefined ? value : `${value}.${signature}`;
}

/** `signature` is `app.keys`' for `${name}=${value}`: the index of the key that made it, or -1. */
export function signedBy(keys: Keys, name: string, value: string, signature: string): number {
  return keys.index(`${name}=${value}`, signature);
}

/**
 * koa-session's cookie format as a cookie-session codec. `decode` checks the signature (the value
 * the adapter joined with its `.sig`) with `app.keys`, then decodes with koa-session's `decode`;
 * `encode` gives the value only: the adapter signs it as it writes the two cookies.
 */
export function cookieCodec(options: CodecOptions): NonNullable<CookieSessionsOptions['codec']> {
  const { format, current, clock, key, signed } = options;
  return {
    encode: (_name, record) => options.encode(format.toKoa(current().dataToSave(record))),
    decode(_name, joined) {
      const request = current();
      let value = joined;
      let index = 0;
      if (signed) {
        const dot = joined.lastIndexOf('.');
        value = joined.slice(0, dot);
        index = dot < 0 || request.keys === undefined ? -1 : signedBy(request.keys, key, value, joined.slice(dot + 1));
      }
      if (index < 0) return undefined;
      const session: unknown = options.decode(value);
      request.loaded = session;
      const record = format.fromKoa(session, clock());
      return record === undefined ? undefined : { record, rotated: index > 0 };
    },
  };
}
