import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeadlines } from '../src/runner.js';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

const never = () => new Promise<string>(() => {});

describe('store-call deadlines', () => {
  it('settles with the work when it answers in time, and leaves no timer behind', async () => {
    const deadlines = createDeadlines(1000);
    await expect(deadlines.race(Promise.resolve('record'), () => 'timeout')).resolves.toBe('record');
    await vi.advanceTimersByTimeAsync(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes a rejection through', async () => {
    const deadlines = createDeadlines(1000);
    await expect(deadlines.race(Promise.reject(new Error('down')), () => 'timeout')).rejects.toThrow('down');
  });

  it('times out no sooner than the timeout and within one sweep period after it', async () => {
    const deadlines = createDeadlines(1000);
    let outcome: string | undefined;
    void deadlines.race(never(), () => 'timeout').then((value) => (outcome = value));
    await vi.advanceTimersByTimeAsync(999);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(100);
    expect(outcome).toBe('timeout');
    await vi.advanceTimersByTimeAsync(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('watches any number of pending calls with one timer, each against its own deadline', async () => {
    const deadlines = createDeadlines(1000);
    const outcomes: string[] = [];
    void deadlines.race(never(), () => 'first').then((value) => outcomes.push(value));
    await vi.advanceTimersByTimeAsync(500);
    void deadlines.race(never(), () => 'second').then((value) => outcomes.push(value));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(600);
    expect(outcomes).toEqual(['first']);
    await vi.advanceTimersByTimeAsync(500);
    expect(outcomes).toEqual(['first', 'second']);
  });

  it('sweeps at least every 10 ms, so short timeouts stay short', async () => {
    const deadlines = createDeadlines(5);
    let outcome: string | undefined;
    void deadlines.race(never(), () => 'timeout').then((value) => (outcome = value));
    await vi.advanceTimersByTimeAsync(10);
    expect(outcome).toBe('timeout');
  });
});
