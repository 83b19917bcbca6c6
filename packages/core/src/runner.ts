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
  | { readonly ok: true; readonly record?: unknown }
  | { readonly ok: false; readonly error: SessStoreError };

/** Feeds the outcome of one store effect back; returns the effects of the step it caused. */
export type StoreFeedback = (effect: StoreEffect, outcome: StoreOutcome) => readonly Effect[];

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

function call(store: Store, effect: StoreEffect): Promise<SessionRecord | undefined | void> {
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
}

export function createDeadlines(timeoutMs: number, now: () => number = () => Date.now()): Deadlines {
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

  return {
    timeoutMs,
    race<T>(work: Promise<T>, onTimeout: () => T): Promise<T> {
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
            resolve(value);
          },
          (error: unknown) => {
            pending.delete(entry);
            reject(error);
          },
        );
      });
    },
  };
}

/** Runs one store effect; never rejects: failure and timeout come back as an outcome. */
export function runStoreEffect(store: Store, effect: StoreEffect, deadlines: Deadlines): Promise<StoreOutcome> {
  const op = operationOf(effect);
  const work = Promise.resolve()
    .then(() => call(store, effect))
    .then(
      (record): StoreOutcome => ({ ok: true, record }),
      (cause: unknown): StoreOutcome => ({ ok: false, error: new SessStoreError(store.name, op, cause) }),
    );
  return deadlines.race(work, () => ({ ok: false, error: new SessStoreError(store.name, op, undefined, true) }));
}

/**
 * Carries out `effects` in order: store effects against `store` (each result fed back through
 * `feedback`, whose effects join the queue), HTTP effects collected for the adapter.
 *
 * @returns the HTTP effects, in the order the lifecycle emitted them.
 * @throws SessStoreError when a store call failed or timed out, after the lifecycle was told.
 */
export async function runEffects(
  effects: readonly Effect[],
  store: Store,
  deadlines: Deadlines,
  feedback: StoreFeedback,
): Promise<HttpEffect[]> {
  const http: HttpEffect[] = [];
  const queue = [...effects];
  let failure: SessStoreError | undefined;
  for (let effect = queue.shift(); effect !== undefined; effect = queue.shift()) {
    switch (effect.type) {
      case 'store.load':
      case 'store.save':
      case 'store.touch':
      case 'store.destroy': {
        const outcome = await runStoreEffect(store, effect, deadlines);
        if (!outcome.ok) failure ??= outcome.error;
        queue.push(...feedback(effect, outcome));
        break;
      }
      case 'cookie.set':
      case 'cookie.delete':
      case 'header.vary':
      case 'header.cacheControl':
        http.push(effect);
        break;
      default:
        assertNever(effect);
    }
  }
  if (failure !== undefined) throw failure;
  return http;
}
