import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SessConfigError } from '../src/errors.js';
import { deadlineSweep } from '../src/store-kit/index.js';
import type { Watched } from '../src/store-kit/index.js';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe('deadlineSweep (for store authors)', () => {
  function call(deadline: number): Watched & { expired: number } {
    return {
      deadline,
      expired: 0,
      expire() {
        this.expired += 1;
      },
    };
  }

  /** A sweep every `periodMs` on a clock the test moves, watching one call due at `deadline`. */
  function sweeping(periodMs: number, deadline: number) {
    const clock = { now: 0 };
    const sweep = deadlineSweep(periodMs, () => clock.now);
    const pending = call(deadline);
    sweep.watch(pending);
    return { clock, pending };
  }

  it('expires a call once, at the first sweep after its deadline on the given clock', async () => {
    const { clock, pending } = sweeping(10, 25);
    clock.now = 20;
    await vi.advanceTimersByTimeAsync(20);
    expect(pending.expired).toBe(0);
    clock.now = 30;
    await vi.advanceTimersByTimeAsync(10);
    expect(pending.expired).toBe(1);
    clock.now = 1_000;
    await vi.advanceTimersByTimeAsync(100);
    expect(pending.expired).toBe(1);
  });

  it('never expires a released call, and stops its timer once nothing is watched', async () => {
    let clock = 0;
    const sweep = deadlineSweep(10, () => clock);
    const settled = call(5);
    const pending = call(50);
    sweep.watch(settled);
    sweep.watch(pending);
    expect(vi.getTimerCount()).toBe(1);
    sweep.release(settled);
    clock = 60;
    await vi.advanceTimersByTimeAsync(10);
    expect([settled.expired, pending.expired]).toEqual([0, 1]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts on its own clock, not the timers: a clock that has not moved expires nothing', async () => {
    const sweep = deadlineSweep(10, () => 0);
    const pending = call(5);
    sweep.watch(pending);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pending.expired).toBe(0);
    expect(sweep.now()).toBe(0);
    sweep.release(pending);
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('checks a period longer than Node timers keep at their longest interval, not every millisecond', async () => {
    const { clock, pending } = sweeping(1e12, 5);
    clock.now = 10;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pending.expired).toBe(0);
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(pending.expired).toBe(1);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10'])('refuses a period of %s at construction', (period) => {
    expect(() => deadlineSweep(period as number)).toThrow(SessConfigError);
  });
});
