import { expect } from 'vitest';
import { registerClause, type CaseEnv, type Clause } from '../check.js';
import { lacks, requireMethod } from '../fixtures.js';

export const lifecycleClause: Clause = {
  name: 'shape and close',
  checks: [
    {
      title: 'a store has a non-empty name and declares its capabilities',
      async run({ store }) {
        expect(typeof store.name).toBe('string');
        expect(store.name.length).toBeGreaterThan(0);
        expect(typeof store.capabilities.deltaWrites).toBe('boolean');
        for (const method of ['get', 'set', 'destroy'] as const) expect(typeof store[method]).toBe('function');
      },
    },
    {
      // Shutdown paths (a signal handler and a test's afterEach, say) often both close: the
      // second call must not throw. The suite closes every store again after each check.
      title: 'close resolves, and closing again resolves too',
      skipReason: lacks('close'),
      async run({ store }) {
        const close = requireMethod(store, 'close');
        await expect(close()).resolves.toBeUndefined();
        await expect(close()).resolves.toBeUndefined();
      },
    },
  ],
};

export function lifecycleCases(env: CaseEnv): void {
  registerClause(lifecycleClause, env);
}
