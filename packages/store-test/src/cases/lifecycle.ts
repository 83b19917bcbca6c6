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
      // The contract: present when capabilities.userIndex is true. Without this check the
      // user-index checks would all skip for such a store, and it would pass.
      title: 'a store that declares capabilities.userIndex has sessionsOf and revokeUser',
      skipReason: (store) => (store.capabilities.userIndex === true ? undefined : 'store does not declare capabilities.userIndex'),
      async run({ store }) {
        expect(typeof store.sessionsOf, 'sessionsOf').toBe('function');
        expect(typeof store.revokeUser, 'revokeUser').toBe('function');
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
