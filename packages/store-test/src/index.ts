/**
 * `@sess/store-test`: the sess store contract as a vitest suite. A store package runs it from one
 * test file; a store is done when it passes.
 *
 * ```ts
 * import { runStoreConformance } from '@sess/store-test';
 * import { myStore } from '../src/index.js';
 *
 * runStoreConformance({ name: 'my-store', create: () => myStore() });
 * ```
 */
export { runStoreConformance, conformanceClauses, type StoreConformanceOptions } from './conformance.js';
export { fakeStoreClock, runCheck, type Check, type CheckContext, type Clause, type FakeStoreClock, type StoreClock } from './check.js';
export { makeRecord, freshId } from './fixtures.js';
