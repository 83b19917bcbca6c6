/**
 * @sess/adapter-test: the HTTP conformance suite every sess adapter passes (private). An
 * adapter's `test/conformance.test.ts` builds an app with the routes of `contract.ts` and calls
 * `runAdapterConformance({ name, start })` once per framework major, and
 * `runCookieSessionConformance` with the same harness to run it on `cookieSessions(...)`.
 */
export { runAdapterConformance, runCookieSessionConformance } from './conformance.js';
export { PUBLIC_CACHE } from './contract.js';
export type { AdapterHarness, AdapterOptions, KnownBug, StartedApp } from './contract.js';
export { Client, cookiesNamed, keptAliveAnswers, largeBody, listen } from './client.js';
export type { Reply, Served } from './client.js';
export { fakeClock, inspectableStore } from './store.js';
export { COOKIE_SECRET, SECRET, closedAfterEach, escapesWatched } from './fixtures.js';
export type { FakeClock, InspectableStore } from './store.js';
export { attachSockets, handleMessage, runSocketConformance, serveWithSockets } from './socket.js';
export type { SocketApp, SocketData, SocketSessionOf } from './socket.js';
export { installPacked, namesUnder, runPackageCheck, runPackedApps } from './package.js';
export type { PackageTree, PackedProject } from './package.js';
export {
  afterAnswer,
  BAD_HEADER_VALUE,
  behaviourOf,
  OUTPUTS,
  runRobustnessProperties,
  SESSION_USES,
  tracksResponses,
} from './robustness.js';
export type { Behaviour, Output, RobustnessHarness, RobustnessOptions, SessionUse } from './robustness.js';
