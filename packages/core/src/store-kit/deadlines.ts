import { SessConfigError } from '../errors.js';

/** A pending call whose `expire` runs once its `deadline` has passed, unless it is released first. */
export interface Watched {
  /** On the sweep's clock (`DeadlineSweep.now()`). */
  readonly deadline: number;
  /** Called at most once, by the sweep, with the call no longer watched. Must not throw. */
  expire(): void;
}

/**
 * The deadlines of many calls, checked by one shared timer rather than a timer per call: arming
 * and clearing a timer costs about as much as the rest of a fast store call's own work, and
 * almost every call settles long before its deadline. A call expires between its deadline and
 * one period after it. The timer runs only while calls are watched and never keeps the process
 * alive.
 */
export interface DeadlineSweep {
  /** The clock deadlines count on, in ms: monotonic, so a wall-clock step neither expires a call nor lets one hang. */
  now(): number;
  /** Starts watching `call`. */
  watch(call: Watched): void;
  /** Stops watching `call` (it settled): its `expire` will not run. */
  release(call: Watched): void;
}

/** A longer interval would fire every millisecond (Node's TimeoutOverflowWarning). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * A sweep that checks every `periodMs` while anything is watched (at most every 2^31 - 1 ms,
 * the longest interval Node's timers keep). For calls with a timeout `t`,
 * a tenth of `t` (at least 10 ms) keeps a call's wait under 1.1 t at little cost.
 *
 * @param now - The clock; `performance.now()` unless a test passes its own.
 * @throws SessConfigError for a period that is not a positive number of ms.
 */
export function deadlineSweep(periodMs: number, now: () => number = () => performance.now()): DeadlineSweep {
  if (typeof periodMs !== 'number' || !(periodMs > 0) || !Number.isFinite(periodMs)) {
    throw new SessConfigError(`deadlineSweep: periodMs must be a positive number, got ${String(periodMs)}`);
  }
  const watched = new Set<Watched>();
  let timer: NodeJS.Timeout | undefined;

  const check = () => {
    const time = now();
    for (const call of watched) {
      if (call.deadline > time) continue;
      watched.delete(call);
      call.expire();
    }
    if (watched.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    now,
    watch(call) {
      watched.add(call);
      timer ??= setInterval(check, Math.min(periodMs, LONGEST_TIMER_MS)).unref();
    },
    release(call) {
      watched.delete(call);
    },
  };
}
