/**
 * `ctx.session` as koa-session shapes it: a plain object whose own properties are the data, with
 * `isNew` beside them and koa-session's getters and methods on its prototype. Reads and writes
 * are plain property access; what changed is found at the commit, by comparing each key's JSON
 * with what was loaded, as koa-session's own change check does, and reported to the core then.
 */
import { inspect } from 'node:util';
import type { SessionData } from '@sess/core';
import { define } from './format.js';

/** What a session object asks of its request. */
export interface SessionHost {
  /** koa-session's `maxAge`: the session's lifetime in ms, `'session'`, or `undefined` for the default. */
  maxAge: number | 'session' | undefined;
  readonly externalKey: string | undefined;
  save(): Promise<void>;
  regenerate(): Promise<void>;
  commit(): Promise<void>;
  /** Hands an error the app's own callback threw to Koa's error handling for the request. */
  fail(error: unknown): void;
}

type Callback = (error?: unknown) => void;

/** The prototype's names: data can't be stored under a getter's name (koa-session's `Reflect.set` ignores it too). */
const ACCESSORS: ReadonlySet<string> = new Set(['length', 'populated', 'maxAge', 'externalKey']);

const hosts = new WeakMap<SessionObject, SessionHost>();
const hostOf = (session: SessionObject) => hosts.get(session) as SessionHost;

function withCallback(work: Promise<void>, callback: Callback | undefined, host: SessionHost): Promise<void> | undefined {
  if (callback === undefined) {
    // An app that never awaits the promise must not take the process down with an unhandled
    // rejection: a failed write also fails the commit, and one after the commit is told to Koa's
    // 'error' event, so Koa hears of either.
    work.catch(() => {});
    return work;
  }
  // A callback that throws is the app's error, as if its handler threw: Koa answers it (the app
  // may be waiting on the callback to answer), where a rejection nobody handles would end the process.
  work.then(() => callback(), callback).catch((error: unknown) => host.fail(error));
  return undefined;
}

/** `ctx.session`, as koa-session's `Session`: the data as its own enumerable properties, beside these. */
export interface Session {
  /** Nothing was loaded for this request (no cookie, or one that named no live session), and the app has not replaced the session. */
  isNew: boolean;
  /** How many keys the data has. */
  readonly length: number;
  /** Whether the data has any key. */
  readonly populated: boolean;
  /** The session's lifetime: ms, `'session'` (ends with the browser), or `undefined` for the configured default. Setting it saves the session. */
  maxAge: number | 'session' | undefined;
  /** The key the external store holds the session under (store mode only). */
  readonly externalKey: string | undefined;
  /** Writes the session now, even one that holds nothing; its cookie goes out with the commit. With a callback, returns nothing. */
  save(callback?: (error?: unknown) => void): Promise<void> | undefined;
  /** A new key (or cookie) for the same data; the old one is destroyed when the request commits. With a callback, returns nothing. */
  regenerate(callback?: (error?: unknown) => void): Promise<void> | undefined;
  /**
   * Commits now: for `autoCommit: false` (a later one writes nothing more, and rejects if the
   * session changed since: that change would be lost).
   * With `autoCommit` on, writes now what a commit would, and the commit after the app writes
   * what changed since and sends the cookie, as koa-session's second commit does.
   */
  manuallyCommit(): Promise<void>;
  /** The data: own properties but `isNew`, koa-session's `_` fields and functions. */
  toJSON(): SessionData;
  // biome-ignore lint/suspicious/noExplicitAny: koa-session's session holds whatever the app stores, typed by the app.
  [key: string]: any;
}

/** The class behind `ctx.session`: koa-session's, with the request it belongs to kept out of sight. */
export class SessionObject implements Session {
  isNew: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: as in `Session`.
  [key: string]: any;

  constructor(host: SessionHost, data: SessionData, isNew: boolean) {
    hosts.set(this, host);
    this.isNew = isNew;
    for (const key of Object.keys(data)) if (!ACCESSORS.has(key) && key !== 'isNew') define(this, key, data[key]);
  }

  toJSON(): SessionData {
    const data: SessionData = {};
    for (const key of Object.keys(this)) {
      const value: unknown = this[key];
      if (key !== 'isNew' && !key.startsWith('_') && typeof value !== 'function') define(data, key, value);
    }
    return data;
  }

  [inspect.custom](): SessionData {
    return this.toJSON();
  }

  get length(): number {
    return Object.keys(this.toJSON()).length;
  }

  get populated(): boolean {
    return this.length > 0;
  }

  get maxAge(): number | 'session' | undefined {
    return hostOf(this).maxAge;
  }

  set maxAge(value: number | 'session' | undefined) {
    hostOf(this).maxAge = value;
  }

  get externalKey(): string | undefined {
    return hostOf(this).externalKey;
  }

  save(callback?: Callback): Promise<void> | undefined {
    return withCallback(hostOf(this).save(), callback, hostOf(this));
  }

  regenerate(callback?: Callback): Promise<void> | undefined {
    return withCallback(hostOf(this).regenerate(), callback, hostOf(this));
  }

  manuallyCommit(): Promise<void> {
    const work = hostOf(this).commit();
    // As with save(): left unawaited, a failure must not end the process; the middleware waits
    // for the commit, and answers its failure.
    work.catch(() => {});
    return work;
  }
}
