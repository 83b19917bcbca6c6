/**
 * Per-request cost of the lifecycle machine: the memoized runtime against raw xstate
 * `transition()` calls, for a typical read request and write request of a returning visitor.
 * Run with `pnpm --filter @sess/core bench` (add `-- --quick` for a short run). Each sample
 * runs a batch of requests so the timer's resolution does not dominate; figures are the
 * median per request. Machines here are shared and noisy: compare the two columns of one
 * run, not figures across runs.
 */
import { Bench } from 'tinybench';
import { initialTransition, transition } from 'xstate';
import { lifecycleMachine } from '../src/machine.js';
import type { LifecycleEvent, LifecycleInput } from '../src/machine.js';
import { createLifecycle, eventFromKey, eventKey, inputKey } from '../src/runtime.js';

const quick = process.argv.includes('--quick');
const input: LifecycleInput = {
  rolling: false,
  saveEveryRequest: false,
  saveOnServerError: false,
  browserSession: false,
  cookieCarriesData: false,
  readOnly: false,
  idleTimeout: false,
  regenerateGrace: false,
  clientCookie: 'valid',
  testCookieReceived: false,
};
const loaded: LifecycleEvent = {
  type: 'store.loaded',
  record: 'live',
  pastExpiry: false,
  pastIdleTimeout: false,
  pastAbsoluteTimeout: false,
  touchIntervalPassed: false,
  browserSession: false,
  retired: false,
};
const commit: LifecycleEvent = {
  type: 'response.commit',
  serverError: false,
  empty: false,
  cookieAlreadySet: false,
  sharedCachesKeptOut: false,
  headersSent: false,
};

/** The events a request feeds the machine after it starts. */
const requests: Record<string, LifecycleEvent[]> = {
  read: [{ type: 'app.load' }, loaded, { type: 'app.read' }, commit],
  write: [{ type: 'app.load' }, loaded, { type: 'app.read' }, { type: 'app.write' }, commit, { type: 'store.done' }],
};

const lifecycle = createLifecycle();
const startKey = inputKey(input);
/** A request as sess runs it: by the keys of its input and events. */
function memoized(eventKeys: readonly number[]): number {
  let node = lifecycle.start(startKey).to;
  let actions = 0;
  for (const key of eventKeys) {
    const step = lifecycle.next(node, key);
    if (step === undefined) throw new Error(`${eventFromKey(key).type} not allowed`);
    node = step.to;
    actions += step.actions.length;
  }
  return actions;
}

function raw(events: LifecycleEvent[]): number {
  let [snapshot, initial] = initialTransition(lifecycleMachine, input);
  let actions = initial.length;
  for (const event of events) {
    const [next, emitted] = transition(lifecycleMachine, snapshot, event);
    snapshot = next;
    actions += emitted.length;
  }
  return actions;
}

// Both must agree before either is timed.
for (const [name, events] of Object.entries(requests)) {
  if (memoized(events.map(eventKey)) !== raw(events)) throw new Error(`${name}: memoized and raw xstate disagree`);
}

const MEMO_BATCH = 1000;
const RAW_BATCH = 10;
const bench = new Bench({ time: quick ? 300 : 2000, warmup: true });
let sink = 0;
for (const [name, events] of Object.entries(requests)) {
  const keys = events.map(eventKey);
  bench.add(`${name} memoized`, () => {
    for (let i = 0; i < MEMO_BATCH; i++) sink += memoized(keys);
  });
  bench.add(`${name} raw xstate`, () => {
    for (let i = 0; i < RAW_BATCH; i++) sink += raw(events);
  });
}
await bench.run();

const perRequestUs = (name: string, batch: number) => {
  const task = bench.tasks.find((candidate) => candidate.name === name);
  const result = task?.result as { latency?: { p50: number } } | undefined;
  if (result?.latency === undefined) throw new Error(`no result for ${name}`);
  return (result.latency.p50 * 1000) / batch;
};

const rows = Object.keys(requests).map((name) => {
  const memo = perRequestUs(`${name} memoized`, MEMO_BATCH);
  const xstate = perRequestUs(`${name} raw xstate`, RAW_BATCH);
  return {
    request: name,
    'lifecycle steps': requests[name]!.length + 1,
    'memoized µs (median)': memo.toFixed(3),
    'raw xstate µs (median)': xstate.toFixed(1),
    'raw / memoized': `${Math.round(xstate / memo)}x`,
    'memoized < 1 µs': memo < 1 ? 'yes' : 'NO',
  };
});
console.table(rows);
console.log(`node ${process.version}, ${quick ? 'quick' : 'full'} run, sink ${sink > 0 ? 'ok' : 'empty'}`);
if (rows.some((row) => row['memoized < 1 µs'] !== 'yes')) process.exitCode = 1;
