import { afterEach, beforeEach, describe } from 'vitest';
import type { Store } from '@sess/core';
import type { CaseEnv, Clause, StoreClock } from './check.js';
import { adminCases, adminClause } from './cases/admin.js';
import { deltaCases, deltaClause } from './cases/delta.js';
import { destroyCases, destroyClause } from './cases/destroy.js';
import { getSetCases, getSetClause } from './cases/get-set.js';
import { hostileKeysCases, hostileKeysClause } from './cases/hostile-keys.js';
import { isolationCases, isolationClause } from './cases/isolation.js';
import { lifecycleCases, lifecycleClause } from './cases/lifecycle.js';
import { refusalsCases, refusalsClause } from './cases/refusals.js';
import { touchCases, touchClause } from './cases/touch.js';
import { ttlCases, ttlClause } from './cases/ttl.js';
import { userIndexCases, userIndexClause } from './cases/user-index.js';
import { valuesCases, valuesClause } from './cases/values.js';

export interface StoreConformanceOptions {
  /** Shown in the describe title: `store conformance: ${name}`. */
  readonly name: string;
  /** Makes the store for one test; called before every test, so no test sees another's state. */
  readonly create: () => Store | Promise<Store>;
  /** Runs after every test, before the suite calls `store.close()` (e.g. flush a test database). */
  readonly cleanup?: (store: Store) => void | Promise<void>;
  /**
   * Moves the store's time. Pass it when `create` wires the same clock into the store; without
   * it, TTL checks use TTLs of 100 ms to 1.5 s and poll the store until records expire.
   */
  readonly clock?: StoreClock;
}

/** Every clause, in the order the suite registers them. */
export const conformanceClauses: readonly Clause[] = [
  lifecycleClause,
  getSetClause,
  valuesClause,
  destroyClause,
  isolationClause,
  ttlClause,
  touchClause,
  deltaClause,
  refusalsClause,
  hostileKeysClause,
  adminClause,
  userIndexClause,
];

/** Real-time TTL checks poll for up to a TTL plus 2 s; the rest finish in milliseconds. */
const TEST_TIMEOUT_MS = 10_000;

/**
 * Registers the store contract as vitest tests under `describe('store conformance: <name>')`.
 * Call it once at the top level of a test file.
 */
export function runStoreConformance(options: StoreConformanceOptions): void {
  const { name, create, cleanup, clock } = options;
  describe(`store conformance: ${name}`, () => {
    let current: Store | undefined;

    beforeEach(async () => {
      current = await create();
    });

    afterEach(async () => {
      const store = current;
      current = undefined;
      if (store === undefined) return;
      try {
        await cleanup?.(store);
      } finally {
        await store.close?.();
      }
    });

    const env: CaseEnv = {
      context: () => {
        if (current === undefined) throw new Error('[sess] store-test: no store; did create() throw?');
        return { store: current, clock };
      },
      timeoutMs: TEST_TIMEOUT_MS,
    };
    lifecycleCases(env);
    getSetCases(env);
    valuesCases(env);
    destroyCases(env);
    isolationCases(env);
    ttlCases(env);
    touchCases(env);
    deltaCases(env);
    refusalsCases(env);
    hostileKeysCases(env);
    adminCases(env);
    userIndexCases(env);
  });
}
