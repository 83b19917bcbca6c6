import { describe, expect, it } from 'vitest';
import { SessUsageError } from '../src/index.js';
import { createSessionContext } from '../src/adapter/index.js';

describe('createSessionContext', () => {
  it('gives each run its own session, across awaits that interleave the runs', async () => {
    const context = createSessionContext<{ user: string }>('@sess/test');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Ada's run waits until Grace's has run, so a shared variable would answer 'grace' to both.
    const ada = context.run({ user: 'ada' }, async () => {
      await gate;
      return context.get().user;
    });
    const grace = context.run({ user: 'grace' }, async () => {
      await Promise.resolve();
      const user = context.get().user;
      release();
      return user;
    });
    expect(await Promise.all([ada, grace])).toEqual(['ada', 'grace']);
  });

  it('throws a usage error naming the middleware outside a run', () => {
    const context = createSessionContext<object>('@sess/test');
    expect(() => context.get()).toThrow(SessUsageError);
    expect(() => context.get()).toThrow(/@sess\/test.*asyncContext: true/);
  });

  it('keeps contexts of different owners apart', () => {
    const one = createSessionContext<string>('one');
    const two = createSessionContext<string>('two');
    one.run('from one', () => {
      expect(one.get()).toBe('from one');
      expect(() => two.get()).toThrow(/two/);
    });
  });
});
