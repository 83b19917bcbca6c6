/**
 * The runner: the only async code in core. It carries out store effects in order, each under a
 * timeout, feeds every result back to the lifecycle, and hands the HTTP effects to the caller.
 * It decides nothing: "no record" and "store failed" are events the machine interprets.
 */
import type { Effect, HttpEffect, StoreEffect } from './effects.js';
import { assertNever } from './effects.js';
import { SessStoreError } from './errors.js';
import type { StoreOperation } from './errors.js';
import type { SessionRecord, Store } from './store.js';

export type StoreOutcome =
  /** `refused`: a save or touch the store turned down because its record is dead (see `Store.set`). */
  { readonly ok: true; readonly record?: unknown; readonly refused?: boolean } | { readonly ok: false; readonly error: SessStoreError };

/** Where the runner reports: each store effect's outcome as it arrives, and the end of the work. */
export interface StoreFeedback {
  /** Feeds the outcome of one store effect back; returns the effects of the step it caused. */
  answered(effect: StoreEffect, outcome: StoreOutcome): readonly Effect[];
  /** The store work is over (the returned promise settles next). */
  settled(): void;
}

function operationOf(effect: StoreEffect): StoreOperation {
  switch (effect.type) {
    case 'store.load':
      return 'get';
    case 'store.save':
      return 'set';
    case 'store.touch':
      return 'touch';
    case 'store.destroy':
      return 'destroy';
    default:
      return assertNever(effect);
  }
}

function call(store: Store, effect: StoreEffect): Promise<SessionRecord | boolean | undefined | void> {
  switch (effect.type) {
    case 'store.load':
      return store.get(effect.id);
    case 'store.save':
      return store.set(effect.id, effect.record, effect.ttlMs, store.capabilities.deltaWrites ? effect.changes : undefined);
    case 'store.touch':
      // Without `touch`, re-saving the unchanged record extends it just the same (express-session).
      return store.touch ? store.touch(effect.id, effect.meta, effect.ttlMs) : store.set(effect.id, effect.record, effect.ttlMs);
    case 'store.destroy':
      return store.destroy(effect.id);
    default:
      return assertNever(effect);
  }
}

/**
 * Store-call deadlines for one session manager, checked by one shared sweep rather than a timer
 * per call: arming and clearing a timer costs ~0.3-0.5 us, a fifth of what a session may add to
 * a Koa or h3 request (design §4), and in-process stores answer long before any deadline. A call
 * times out between `timeoutMs` and `timeoutMs` plus one sweep period (a tenth of it, >= 10 ms).
 * The sweep runs only while calls are pending and never keeps the process alive.
 */
export interface Deadlines {
  readonly timeoutMs: number;
  /** Settles with `work`, or with `onTimeout()` once the deadline has passed. */
  race<T>(work: Promise<T>, onTimeout: () => T): Promise<T>;
  /**
   * `race` that maps the answer as it arrives: resolves to `onValue(value)` or `onError(error)`,
   * or `onTimeout()` once the deadline has passed; never rejects. One promise step where
   * `race(work.then(onValue, onError), onTimeout)` takes two.
   */
  settle<V, T>(work: PromiseLike<V>, onValue: (value: V) => T, onError: (error: unknown) => T, onTimeout: () => T): Promise<T>;
}

/** Deadlines count on the monotonic clock: a wall-clock step must neither time a call out nor let one hang. */
export function createDeadlines(timeoutMs: number, now: () => number = () => performance.now()): Deadlines {
  const pending = new Set<{ readonly deadline: number; readonly expire: () => void }>();
  const periodMs = Math.max(10, Math.ceil(timeoutMs / 10));
  let sweep: NodeJS.Timeout | undefined;

  const check = () => {
    const time = now();
    for (const entry of pending) if (entry.deadline <= time) entry.expire();
    if (pending.size === 0) {
      clearInterval(sweep);
      sweep = undefined;
    }
  };

  function watch<V, T>(
    work: PromiseLike<V>,
    onValue: (value: V) => T,
    onError: ((error: unknown) => T) | undefined,
    onTimeout: () => T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = {
        deadline: now() + timeoutMs,
        expire: () => {
          pending.delete(entry);
          resolve(onTimeout());
        },
      };
      pending.add(entry);
      sweep ??= setInterval(check, periodMs).unref();
      work.then(
        (value) => {
          pending.delete(entry);
          resolve(onValue(value));
        },
        (error: unknown) => {
          pending.delete(entry);
          if (onError === undefined) reject(error);
          else resolve(onError(error));
        },
      );
    });
  }

  return {
    timeoutMs,
    race: <T>(work: Promise<T>, onTimeout: () => T) => watch(work, (value: T) => value, undefined, onTimeout),
    settle: watch,
  };
}

/**
 * Runs one store effect; never rejects: failure and timeout come back as an outcome. The store is
 * called at once and its answer mapped as it arrives: each promise step saved here is a
 * microtask off every request that loads a session.
 */
export function runStoreEffect(store: Store, effect: StoreEffect, deadlines: Deadlines): Promise<StoreOutcome> {
  const op = operationOf(effect);
  const failed = (cause: unknown, timedOut?: boolean): StoreOutcome => ({
    ok: false,
    error: new SessStoreError(store.name, op, cause, timedOut),
  });
  let work: Promise<SessionRecord | boolean | undefined | void>;
  try {
    work = Promise.resolve(call(store, effect));
  } catch (cause) {
    // A store that throws instead of rejecting fails the same way.
    return Promise.resolve(failed(cause));
  }
  const answered = (answer: SessionRecord | boolean | undefined | void): StoreOutcome =>
    effect.type === 'store.load' ? { ok: true, record: answer } : answer === false ? refusedOutcome : writtenOutcome;
  return deadlines.settle(work, answered, failed, () => failed(undefined, true));
}

const writtenOutcome: StoreOutcome = Object.freeze({ ok: true });
const refusedOutcome: StoreOutcome = Object.freeze({ ok: true, refused: true });

/** Whether the adapter applies `effect` (else the runner carries it out against the store). */
function isHttpEffect(effect: Effect): effect is HttpEffect {
  switch (effect.type) {
    case 'store.load':
    case 'store.save':
    case 'store.touch':
    case 'store.destroy':
      return false;
    case 'cookie.set':
    case 'cookie.delete':
    case 'header.vary':
    case 'header.cacheControl':
      return true;
    default:
      return assertNever(effect);
  }
}

/**
 * Carries out `effects` in order: store effects against `store` (each result fed back through
 * `feedback`, whose effects join the queue), HTTP effects collected for the adapter. A list with
 * no store effect (the commit of every read) is answered without an async step of its own.
 *
 * @returns the HTTP effects, in the order the lifecycle emitted them.
 * @throws SessStoreError when a store call failed or timed out, after the lifecycle was told.
 */
export function runEffects(effects: readonly Effect[], store: Store, deadlines: Deadlines, feedback: StoreFeedback): Promise<HttpEffect[]> {
  const http: HttpEffect[] = [];
  for (const effect of effects) {
    if (!isHttpEffect(effect)) return runQueue(effects.slice(http.length), http, store, deadlines, feedback);
    http.push(effect);
  }
  return Promise.resolve(http);
}

async function runQueue(
  queue: Effect[],
  http: HttpEffect[],
  store: Store,
  deadlines: Deadlines,
  feedback: StoreFeedback,
): Promise<HttpEffect[]> {
  let failure: SessStoreError | undefined;
  try {
    for (let effect = queue.shift(); effect !== undefined; effect = queue.shift()) {
      if (isHttpEffect(effect)) {
        http.push(effect);
        continue;
      }
      const outcome = await runStoreEffect(store, effect, deadlines);
      if (!outcome.ok) failure ??= outcome.error;
      queue.push(...feedback.answered(effect, outcome));
    }
  } finally {
    feedback.settled();
  }
  if (failure !== undefined) throw failure;
  return http;
}
