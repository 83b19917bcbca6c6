import { afterEach, describe } from 'vitest';
import type { AdapterHarness, StartedApp } from './contract.js';
import { caseContext, fakeClock, inspectableStore, SECRET } from './env.js';
import type { CaseEnv } from './env.js';
import type { InspectableStore } from './store.js';
import { clientInputCases } from './cases/client-input.js';
import { commitCases } from './cases/commit.js';
import { cookieCases } from './cases/cookie.js';
import { operationCases } from './cases/operations.js';
import { timeoutCases } from './cases/timeouts.js';

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
      async start(overrides = {}) {
        const clock = fakeClock();
        const store = inspectableStore(clock);
        const app = await harness.start({ ...overrides, secret: SECRET, store, clock: clock.now });
        running.push({ app, store });
        return caseContext(app.url, store, clock);
      },
    };
    cookieCases(env);
    clientInputCases(env);
    operationCases(env);
    commitCases(env);
    timeoutCases(env);
  });
}
