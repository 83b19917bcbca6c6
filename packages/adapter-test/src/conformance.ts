import { afterEach, describe, it } from 'vitest';
import { cookieSessions } from '@sess/core';
import type { AdapterHarness, StartedApp } from './contract.js';
import { caseContext, cookieContext, COOKIE_SECRET, fakeClock, inspectableStore, SECRET } from './env.js';
import type { CaseEnv, CookieEnv, RevocationHook, ServerEnv } from './env.js';
import type { InspectableStore } from './store.js';
import { clientInputCases } from './cases/client-input.js';
import { commitCases } from './cases/commit.js';
import { inPlaceCases } from './cases/in-place.js';
import { cookieCases } from './cases/cookie.js';
import { cookieSessionCases } from './cases/cookie-sessions.js';
import { operationCases } from './cases/operations.js';
import { timeoutCases } from './cases/timeouts.js';
import { hostileInputCases } from './cases/hostile-input.js';
import { forgeryCases } from './cases/forgery.js';
import { storedDataCases } from './cases/stored-data.js';
import { lifecycleAttackCases } from './cases/lifecycle-attacks.js';
import { faultCases } from './cases/faults.js';
import { propertyCases } from './cases/properties.js';

/** Every case file, for either kind of session: each registers the cases that apply to it. */
function registerCases(env: CaseEnv): void {
  cookieCases(env);
  clientInputCases(env);
  operationCases(env);
  commitCases(env);
  inPlaceCases(env);
  timeoutCases(env);
  describe('adversarial', () => {
    hostileInputCases(env);
    forgeryCases(env);
    storedDataCases(env);
    lifecycleAttackCases(env);
    faultCases(env);
    propertyCases(env);
  });
}

const itFor = (harness: AdapterHarness) => (bug: Parameters<CaseEnv['it']>[0]) =>
  harness.knownBugs?.includes(bug) === true ? it.fails : it;

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

    const env: ServerEnv = {
      sessions: 'server',
      it: itFor(harness),
      async start(overrides = {}) {
        const clock = fakeClock();
        const store = inspectableStore(clock);
        const app = await harness.start({ secret: SECRET, ...overrides, store, clock: clock.now });
        running.push({ app, store });
        return caseContext(app.url, store, clock, harness.heavy === true);
      },
    };
    registerCases(env);
  });
}

/**
 * Registers the same suite with `store: cookieSessions(...)` under
 * `describe('cookie session conformance: <name>')`: every case whose behaviour holds when the
 * session lives sealed in the cookie, checked on the cookie where the server suite looks in the
 * store, plus the cases of cookie sessions alone (sealed-value forgeries, key rotation, expiry
 * inside the seal, the 4096-byte budget). Cases about the server-side store itself (injected
 * store failures and hangs, corrupt or lagging records, ids without a record) are not
 * registered here; each case file says which and why. Same harness as `runAdapterConformance`,
 * so an adapter adds one line per framework major.
 *
 * Apps get revocation hooks (`isRevoked`/`onRevoke` over an in-memory list) unless a case
 * starts them with `revocation: false`: with them, sign-out and regenerate end a copied cookie,
 * and their failures stand in for a failing store.
 */
export function runCookieSessionConformance(harness: AdapterHarness): void {
  describe(`cookie session conformance: ${harness.name}`, () => {
    const running: StartedApp[] = [];
    afterEach(async () => {
      for (const app of running.splice(0)) await app.close();
    });

    const env: CookieEnv = {
      sessions: 'cookie',
      it: itFor(harness),
      async start(overrides = {}) {
        const { cookieSecret = COOKIE_SECRET, mode = 'encrypt', revocation = true, ...options } = overrides;
        const clock = fakeClock();
        const revoked = new Map<string, number>();
        const hookCalls: Record<RevocationHook, number> = { isRevoked: 0, onRevoke: 0 };
        const failing = new Set<RevocationHook>();
        const fail = (hook: RevocationHook) => {
          hookCalls[hook] += 1;
          if (failing.has(hook)) throw new Error(`injected ${hook} failure`);
        };
        const hooks = {
          isRevoked: (id: string) => (fail('isRevoked'), revoked.has(id)),
          onRevoke: (id: string, expiresAt: number) => (fail('onRevoke'), void revoked.set(id, expiresAt)),
        };
        const store = cookieSessions({ secret: cookieSecret, mode, ...(revocation ? hooks : {}) });
        const app = await harness.start({ secret: SECRET, ...options, store, clock: clock.now });
        running.push(app);
        const currentSecret = typeof cookieSecret === 'string' ? cookieSecret : (cookieSecret[0] as string);
        return cookieContext(app.url, clock, { mode, currentSecret, revoked, hookCalls, failing }, harness.heavy === true);
      },
    };
    registerCases(env);
    describe('cookie sessions', () => cookieSessionCases(env));
  });
}
