/**
 * Test doubles for core's own tests: a fake clock, a Map-backed store that keeps the contract
 * (copies in and out, TTL on the fake clock) and can be told to fail or to hold calls until the
 * test releases them, and a cookie jar that applies HTTP effects the way a browser would.
 * Core may not depend on @sess/store-memory (it depends on core), so this lives here.
 */
import type { HttpEffect, SessionChanges, SessionMeta, SessionRecord, Store } from '../src/index.js';
import { createSessionManager } from '../src/index.js';
import type { SessionManagerOptions } from '../src/index.js';
import type { LifecycleInput } from '../src/machine.js';

export const SECRET = 'test-secret-that-is-at-least-32-bytes-long';
export const OLD_SECRET = 'an-older-secret-also-at-least-32-bytes-long';

export function fakeClock(start = Date.UTC(2026, 10, 23, 12)): { now: () => number; advance: (ms: number) => void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

/** Every flag off: what a request's input holds unless set, as sess always passes each one. */
export const NO_FLAGS: Omit<Required<LifecycleInput>, 'clientCookie'> = {
  rolling: false,
  saveEveryRequest: false,
  saveOnServerError: false,
  browserSession: false,
  testCookieReceived: false,
  cookieCarriesData: false,
  readOnly: false,
  idleTimeout: false,
  regenerateGrace: false,
  saveUninitialized: false,
  keepEmpty: false,
  touchEveryRequest: false,
  resendCookieOnChange: false,
  idAtStart: false,
};

export interface HeldCall {
  readonly op: 'get' | 'set' | 'destroy' | 'touch';
  readonly id: string;
  /** Carries out the call against the map and settles it. */
  release(): void;
  fail(error?: Error): void;
}

export interface TestStore extends Store {
  readonly records: Map<string, { json: string; expiresAt: number }>;
  readonly calls: string[];
  /** Make the next calls of these operations reject. */
  failing: Set<HeldCall['op']>;
  /** Hold every call until the test releases it. */
  hold: boolean;
  readonly held: HeldCall[];
  peek(id: string): SessionRecord | undefined;
  put(id: string, record: SessionRecord): void;
}

/** Whether test stores answer synchronously by default: see `answerSynchronously`. */
let synchronousByDefault = false;

/**
 * Makes every test store made from now on in this file answer synchronously, as an in-process store
 * may (the memory store, cookie sessions): a value rather than a promise, a throw rather than a
 * rejection. Held calls (`hold`) still answer later, as promises.
 */
export function answerSynchronously(): void {
  synchronousByDefault = true;
}

export function testStore(now: () => number, options: { deltaWrites?: boolean; synchronous?: boolean } = {}): TestStore {
  const synchronous = options.synchronous ?? synchronousByDefault;
  const records = new Map<string, { json: string; expiresAt: number }>();
  const calls: string[] = [];
  const held: HeldCall[] = [];

  const live = (id: string) => {
    const entry = records.get(id);
    if (entry === undefined || entry.expiresAt <= now()) return undefined;
    return entry;
  };
  const put = (id: string, record: SessionRecord, ttlMs: number) => {
    if (ttlMs <= 0) records.delete(id);
    else records.set(id, { json: JSON.stringify(record), expiresAt: now() + ttlMs });
  };

  const stored = (id: string) => {
    const entry = live(id);
    return entry === undefined ? undefined : (JSON.parse(entry.json) as SessionRecord);
  };
  /** The contract's refusal: a retired record takes only writes that keep it retired. */
  const revives = (current: SessionRecord | undefined, meta: SessionMeta) => current?.meta.retired === true && meta.retired !== true;

  const perform = {
    get: stored,
    set: (id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges) => {
      const current = stored(id);
      if (revives(current, record.meta)) return false;
      if (changes === undefined || changes.created) return put(id, record, ttlMs);
      if (current === undefined) return false;
      const data = { ...current.data };
      for (const key of changes.set) data[key] = record.data[key];
      for (const key of changes.deleted) delete data[key];
      return put(id, { data, meta: record.meta }, ttlMs);
    },
    destroy: (id: string) => void records.delete(id),
    touch: (id: string, meta: SessionMeta, ttlMs: number) => {
      const current = stored(id);
      if (current === undefined || revives(current, meta)) return false;
      return put(id, { data: current.data, meta }, ttlMs);
    },
  };

  const store: TestStore = {
    name: 'test',
    capabilities: { deltaWrites: options.deltaWrites ?? false },
    records,
    calls,
    failing: new Set(),
    hold: false,
    held,
    peek: (id) => perform.get(id),
    put: (id, record) => put(id, record, record.meta.expiresAt - now()),
    get: (id) => invoke('get', id, () => perform.get(id)),
    set: (id, record, ttlMs, changes) => invoke('set', id, () => perform.set(id, record, ttlMs, changes)),
    destroy: (id) => invoke('destroy', id, () => perform.destroy(id)),
    touch: (id, meta, ttlMs) => invoke('touch', id, () => perform.touch(id, meta, ttlMs)),
  };

  function invoke<T>(op: HeldCall['op'], id: string, work: () => T): T | Promise<T> {
    calls.push(`${op} ${id}`);
    if (store.failing.has(op)) {
      const error = new Error(`${op} failed on purpose`);
      if (synchronous) throw error;
      return Promise.reject(error);
    }
    if (!store.hold) return synchronous ? work() : Promise.resolve(work());
    return new Promise<T>((resolve, reject) => {
      held.push({
        op,
        id,
        release: () => resolve(work()),
        fail: (error = new Error(`${op} failed on purpose`)) => reject(error),
      });
    });
  }
  return store;
}

export interface JarCookie {
  readonly value: string;
  readonly attributes: Extract<HttpEffect, { type: 'cookie.set' }>['attributes'];
}

/** What a browser keeps, plus the last response's headers. */
export class CookieJar {
  readonly cookies = new Map<string, JarCookie>();
  headers = new Map<string, string>();
  setCookies: string[] = [];

  header(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, cookie]) => `${name}=${cookie.value}`).join('; ');
  }

  apply(effects: readonly HttpEffect[]): void {
    this.headers = new Map();
    this.setCookies = [];
    for (const effect of effects) {
      switch (effect.type) {
        case 'cookie.set':
          this.setCookies.push(effect.name);
          this.cookies.set(effect.name, { value: effect.value, attributes: effect.attributes });
          break;
        case 'cookie.delete':
          this.setCookies.push(effect.name);
          this.cookies.delete(effect.name);
          break;
        case 'header.vary':
          this.headers.set('vary', effect.value);
          break;
        case 'header.cacheControl':
          this.headers.set('cache-control', effect.value);
          break;
      }
    }
  }
}

/** A manager over a fresh test store and clock, with overridable options. */
export function setup(options: Partial<SessionManagerOptions> = {}, storeOptions: { deltaWrites?: boolean; synchronous?: boolean } = {}) {
  const clock = fakeClock();
  const store = testStore(clock.now, storeOptions);
  const manager = createSessionManager({ secret: SECRET, store, clock: clock.now, ...options });
  const jar = new CookieJar();
  /** One request: `handle` uses the session; the response's effects land in the jar. */
  async function request<T>(
    handle: (session: ReturnType<typeof manager.begin>) => T | Promise<T>,
    response: { status?: number; cookieAlreadySet?: boolean; sharedCachesKeptOut?: boolean; secure?: boolean; readOnly?: boolean } = {},
  ): Promise<{ result: T; effects: readonly HttpEffect[]; session: ReturnType<typeof manager.begin> }> {
    const session = manager.begin({ cookieHeader: jar.header(), secure: response.secure ?? false, readOnly: response.readOnly ?? false });
    const result = await handle(session);
    const effects = await session.commit({ status: response.status ?? 200, ...pick(response) });
    jar.apply(effects);
    return { result, effects, session };
  }
  return { clock, store, manager, jar, request };
}

function pick(response: { cookieAlreadySet?: boolean; sharedCachesKeptOut?: boolean }) {
  return {
    ...(response.cookieAlreadySet === undefined ? {} : { cookieAlreadySet: response.cookieAlreadySet }),
    ...(response.sharedCachesKeptOut === undefined ? {} : { sharedCachesKeptOut: response.sharedCachesKeptOut }),
  };
}
