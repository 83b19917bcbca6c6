import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Effect, HttpEffect, StoreEffect } from '../src/effects.js';
import { SessStoreError } from '../src/errors.js';
import { createDeadlines, runEffects } from '../src/runner.js';
import type { StoreFeedback } from '../src/runner.js';
import type { Store } from '../src/store.js';

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

describe('running effects', () => {
  const record = { data: { views: 1 }, meta: { createdAt: 0, touchedAt: 0, expiresAt: 1 } };
  const vary: HttpEffect = { type: 'header.vary', value: 'Cookie' };
  const load: StoreEffect = { type: 'store.load', id: 'a'.repeat(22) };

  /** Feedback that records what it hears and answers every store effect with `then`. */
  function feedback(then: readonly Effect[] = []) {
    const heard: string[] = [];
    const hears: StoreFeedback = {
      answered(effect, outcome) {
        heard.push(`${effect.type} ${outcome.ok ? 'ok' : 'failed'}`);
        return then;
      },
      settled: () => void heard.push('settled'),
    };
    return { heard, hears };
  }

  function store(get: Store['get']): Store {
    return { name: 'test', capabilities: { deltaWrites: false }, get, set: () => true, destroy: () => undefined };
  }

  it('answers a list with no store effect at once, and says the work is over', () => {
    const { heard, hears } = feedback();
    const ran = runEffects(
      [vary],
      store(() => undefined),
      createDeadlines(1000),
      hears,
    );
    expect(ran).toEqual([vary]);
    expect(heard).toEqual(['settled']);
  });

  it('answers at once when the store does, with the HTTP effects in the order they came', () => {
    const { heard, hears } = feedback([vary]);
    const ran = runEffects(
      [load],
      store(() => record),
      createDeadlines(1000),
      hears,
    );
    expect(ran).toEqual([vary]);
    expect(heard).toEqual(['store.load ok', 'settled']);
  });

  it('answers with a promise when the store does, settled only once the answer arrives', async () => {
    const { heard, hears } = feedback([vary]);
    const ran = runEffects(
      [load],
      store(async () => record),
      createDeadlines(1000),
      hears,
    );
    expect(ran).toBeInstanceOf(Promise);
    expect(heard).toEqual([]);
    await expect(ran).resolves.toEqual([vary]);
    expect(heard).toEqual(['store.load ok', 'settled']);
  });

  it('rejects, never throws, when a store answering synchronously fails', async () => {
    const { heard, hears } = feedback();
    const ran = runEffects(
      [load],
      store(() => {
        throw new Error('down');
      }),
      createDeadlines(1000),
      hears,
    );
    await expect(ran).rejects.toThrow(SessStoreError);
    expect(heard).toEqual(['store.load failed', 'settled']);
  });
});
