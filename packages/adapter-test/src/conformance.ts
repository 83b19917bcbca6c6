import { afterEach, describe, it } from 'vitest';
import type { AdapterHarness, StartedApp } from './contract.js';
import { caseContext, fakeClock, inspectableStore, SECRET } from './env.js';
import type { CaseEnv } from './env.js';
import type { InspectableStore } from './store.js';
import { clientInputCases } from './cases/client-input.js';
import { commitCases } from './cases/commit.js';
import { cookieCases } from './cases/cookie.js';
import { operationCases } from './cases/operations.js';
import { timeoutCases } from './cases/timeouts.js';
import { hostileInputCases } from './cases/hostile-input.js';
import { forgeryCases } from './cases/forgery.js';
import { storedDataCases } from './cases/stored-data.js';
import { lifecycleAttackCases } from './cases/lifecycle-attacks.js';
import { faultCases } from './cases/faults.js';
import { propertyCases } from './cases/properties.js';

/**
 * Registers the HTTP conformance suite under `describe('adapter conformance: <name>')`: every
 * behaviour of design §2 as requests and responses against the harness's app. Call it once at
 * the top level of a test file per framework major.
 */
export function runAdapterConformance(harness: AdapterHarness): void {
  describe(`adapter conformance: ${harness.name}`, () => {
    const running: Array<{ app: StartedApp; store: InspectableStore }> = [];
    afterEach(async () => {
      for (const { app, store } of running.splice(0)) {
        await app.close();
        await store.close();
      }
    });

    const env: CaseEnv = {
      it: (bug) => (harness.knownBugs?.includes(bug) === true ? it.fails : it),
      async start(overrides = {}) {
        const clock = fakeClock();
        const store = inspectableStore(clock);
        const app = await harness.start({ secret: SECRET, ...overrides, store, clock: clock.now });
        running.push({ app, store });
        return caseContext(app.url, store, clock, harness.heavy === true);
      },
    };
    cookieCases(env);
    clientInputCases(env);
    operationCases(env);
    commitCases(env);
    timeoutCases(env);
    describe('adversarial', () => {
      hostileInputCases(env);
      forgeryCases(env);
      storedDataCases(env);
      lifecycleAttackCases(env);
      faultCases(env);
      propertyCases(env);
    });
  });
}
