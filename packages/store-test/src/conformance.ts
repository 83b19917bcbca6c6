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
import { namespacesCases, namespacesClause } from './cases/namespaces.js';
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
  /**
   * Makes a second store over the same backend as `create`'s but in another namespace (another
   * key prefix, table...), for the checks that two such stores never see each other's records.
   * Called only by those checks; `cleanup` and `close` run on it after the check. Without it they
   * skip: give it whenever the store can be namespaced.
   */
  readonly createSibling?: () => Store | Promise<Store>;
}

/** Every clause, in the order the suite registers them. */
export const conformanceClauses: readonly Clause[] = [
  lifecycleClause,
  getSetClause,
  valuesClause,
  destroyClause,
  isolationClause,
  namespacesClause,
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
  const { name, create, cleanup, clock, createSibling } = options;
  describe(`store conformance: ${name}`, () => {
    let current: Store | undefined;
    /** Siblings made by the current check, cleaned up and closed after it. */
    let siblings: Store[] = [];

    beforeEach(async () => {
      current = await create();
    });

    const release = async (store: Store) => {
      try {
        await cleanup?.(store);
      } finally {
        await store.close?.();
      }
    };

    afterEach(async () => {
      const store = current;
      const made = siblings;
      current = undefined;
      siblings = [];
      try {
        for (const sibling of made) await release(sibling);
      } finally {
        if (store !== undefined) await release(store);
      }
    });

    const sibling =
      createSibling === undefined
        ? undefined
        : async () => {
            const made = await createSibling();
            siblings.push(made);
            return made;
          };

    const env: CaseEnv = {
      context: () => {
        if (current === undefined) throw new Error('[sess] store-test: no store; did create() throw?');
        return sibling === undefined ? { store: current, clock } : { store: current, clock, sibling };
      },
      timeoutMs: TEST_TIMEOUT_MS,
    };
    lifecycleCases(env);
    getSetCases(env);
    valuesCases(env);
    destroyCases(env);
    isolationCases(env);
    namespacesCases(env);
    ttlCases(env);
    touchCases(env);
    deltaCases(env);
    refusalsCases(env);
    hostileKeysCases(env);
    adminCases(env);
    userIndexCases(env);
  });
}
