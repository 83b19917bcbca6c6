/**
 * The runner: the only async code in core. It carries out store effects in order, each under a
 * timeout, feeds every result back to the lifecycle, and hands the HTTP effects to the caller.
 * It decides nothing: "no record" and "store failed" are events the machine interprets.
 */
import type { Effect, HttpEffect, StoreEffect } from './effects.js';
import { assertNever } from './effects.js';
import { storeCallError } from './errors.js';
import { isThenable } from './options-check.js';
import type { SessStoreError, SessUsageError, StoreOperation } from './errors.js';
import type { Awaitable, SessionRecord, Store } from './store.js';
import { deadlineSweep } from './store-kit/deadlines.js';

export type StoreOutcome =
  /** `refused`: a save or touch the store turned down because its record is dead (see `Store.set`). */
  | { readonly ok: true; readonly record?: unknown; readonly refused?: boolean }
  /** `error`: a `SessUsageError` as the store threw it (data it cannot encode), else the store's failure. */
  | { readonly ok: false; readonly error: SessStoreError | SessUsageError };

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

type StoreAnswer = SessionRecord | boolean | undefined | void;

function call(store: Store, effect: StoreEffect): Awaitable<StoreAnswer> {
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
 * Store-call deadlines for one session manager, on one shared sweep (see `deadlineSweep`): a
 * call times out between `timeoutMs` and `timeoutMs` plus a tenth of it (at least 10 ms).
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
  const sweep = deadlineSweep(Math.max(10, Math.ceil(timeoutMs / 10)), now);

  function watch<V, T>(
    work: PromiseLike<V>,
    onValue: (value: V) => T,
    onError: ((error: unknown) => T) | undefined,
    onTimeout: () => T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call = { deadline: sweep.now() + timeoutMs, expire: () => resolve(onTimeout()) };
      sweep.watch(call);
      work.then(
        (value) => {
          sweep.release(call);
          resolve(onValue(value));
        },
        (error: unknown) => {
          sweep.release(call);
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
 * Runs one store effect; never throws or rejects: failure and timeout come back as an outcome.
 * An answer given synchronously (an in-process store) is the outcome at once, with no promise
 * step and no deadline; a promised one is mapped as it arrives, under the deadline.
 */
export function runStoreEffect(store: Store, effect: StoreEffect, deadlines: Deadlines): StoreOutcome | Promise<StoreOutcome> {
  let answer: Awaitable<StoreAnswer>;
  try {
    answer = call(store, effect);
  } catch (cause) {
    // A store that throws instead of rejecting fails the same way.
    return failedOutcome(store, effect, cause);
  }
  if (!isThenable(answer)) return answeredOutcome(effect, answer);
  return deadlines.settle(
    // Adopted, so that a foreign thenable whose `then` throws rejects rather than throws.
    Promise.resolve(answer),
    (arrived: StoreAnswer) => answeredOutcome(effect, arrived),
    (cause: unknown) => failedOutcome(store, effect, cause),
    () => failedOutcome(store, effect, undefined, true),
  );
}

function answeredOutcome(effect: StoreEffect, answer: StoreAnswer): StoreOutcome {
  if (effect.type === 'store.load') return { ok: true, record: answer };
  // Only a save or touch can be refused: a destroy answering `false` (`Map.prototype.delete` on
  // a record already gone) has done its work all the same.
  return answer === false && effect.type !== 'store.destroy' ? refusedOutcome : writtenOutcome;
}

function failedOutcome(store: Store, effect: StoreEffect, cause: unknown, timedOut?: boolean): StoreOutcome {
  return { ok: false, error: storeCallError(store.name, operationOf(effect), cause, timedOut) };
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
 * `feedback`, whose effects join the queue), HTTP effects collected for the adapter. Effects run
 * synchronously for as long as the store answers synchronously, so a request on an in-process
 * store takes no promise step here; a list with no store effect (the commit of every read) is
 * answered at once too.
 *
 * @returns the HTTP effects, in the order the lifecycle emitted them: the list itself when every
 *   store call answered synchronously and succeeded, else a promise of it.
 * @throws Never: a failure is a rejected promise (SessStoreError when a store call failed or
 *   timed out, a SessUsageError a store threw as it is; either after the lifecycle was told).
 */
export function runEffects(
  effects: readonly Effect[],
  store: Store,
  deadlines: Deadlines,
  feedback: StoreFeedback,
): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
  const first = effects.findIndex(isStoreEffect);
  if (first === -1) {
    feedback.settled();
    return effects as readonly HttpEffect[];
  }
  return new EffectQueue(effects.slice(first), effects.slice(0, first) as HttpEffect[], store, deadlines, feedback).drain();
}

function isStoreEffect(effect: Effect): effect is StoreEffect {
  return !isHttpEffect(effect);
}

/** One run of effects that reaches the store: a class, so the synchronous path allocates no closures. */
class EffectQueue {
  /** What the run ends with instead of the HTTP effects: the first store failure, or an error thrown on the way. */
  private failure: { readonly error: unknown } | undefined;

  constructor(
    private readonly queue: Effect[],
    private readonly http: HttpEffect[],
    private readonly store: Store,
    private readonly deadlines: Deadlines,
    private readonly feedback: StoreFeedback,
  ) {}

  /** Runs the queue until it is empty, or until a store answer is a promise: then again once it arrives. */
  drain(): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    try {
      for (let effect = this.queue.shift(); effect !== undefined; effect = this.queue.shift()) {
        if (isHttpEffect(effect)) {
          this.http.push(effect);
          continue;
        }
        const outcome = runStoreEffect(this.store, effect, this.deadlines);
        if (outcome instanceof Promise) {
          const pending = effect;
          return outcome.then((arrived: StoreOutcome) => this.resume(pending, arrived));
        }
        this.answered(effect, outcome);
      }
    } catch (error) {
      this.failure = { error };
    }
    return this.end();
  }

  private resume(effect: StoreEffect, outcome: StoreOutcome): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    try {
      this.answered(effect, outcome);
    } catch (error) {
      this.failure = { error };
      return this.end();
    }
    return this.drain();
  }

  private answered(effect: StoreEffect, outcome: StoreOutcome): void {
    if (!outcome.ok) this.failure ??= { error: outcome.error };
    this.queue.push(...this.feedback.answered(effect, outcome));
  }

  /** The store work is over: tell the feedback, then answer with the HTTP effects or reject with the failure. */
  private end(): readonly HttpEffect[] | Promise<never> {
    this.feedback.settled();
    return this.failure === undefined ? this.http : Promise.reject(this.failure.error);
  }
}
