/**
 * The memoized runtime must answer exactly what xstate answers: the alphabet, the inputs, and the
 * walk that compares them, shared by the equivalence tests (which split the inputs between two
 * files, so the walk runs on both of a 2-core machine's workers).
 */
import { expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { lifecycleMachine } from '../src/machine.js';
import type { ClientCookie, LifecycleEvent, LifecycleInput } from '../src/machine.js';
import { createLifecycle, eventKey, inputKey, snapshotKey } from '../src/runtime.js';
import type { LifecycleNode } from '../src/runtime.js';
import { NO_FLAGS } from './fixtures.js';

type Snapshot = SnapshotFrom<typeof lifecycleMachine>;

const bools = [false, true] as const;

const flagsOf = (names: readonly string[], bits: number) =>
  Object.fromEntries(names.map((name, index) => [name, (bits & (1 << index)) !== 0]));

/**
 * Every combination of the request's flags and cookie; the three flags only a loaded session
 * reads (read-only, idle timeout, grace window) are varied in full against a verified cookie
 * and the flags that decide writes (rolling, save every request), not against every other
 * flag too: the product of all of them takes minutes and adds no transition.
 */
const EXPRESS_SESSION_RULES = ['saveUninitialized', 'keepEmpty', 'touchEveryRequest', 'resendCookieOnChange', 'idAtStart'] as const;

/**
 * `app.saveNow` (express-session's `save(callback)`) is walked from express-session's
 * configuration only: from every other one it triples the table with states that differ from
 * these in flags alone, which the walk above already varies, and the step is the same lookup.
 */
const walksSaveNow = (snapshot: Snapshot) => EXPRESS_SESSION_RULES.every((rule) => snapshot.context[rule]);

export function allInputs(): LifecycleInput[] {
  const inputs: LifecycleInput[] = [];
  const base = ['rolling', 'saveEveryRequest', 'saveOnServerError', 'browserSession', 'testCookieReceived', 'cookieCarriesData'] as const;
  const loadedOnly = ['readOnly', 'idleTimeout', 'regenerateGrace'] as const;
  const cookies: ClientCookie[] = ['absent', 'rejected', 'valid', 'rotated'];
  for (let bits = 0; bits < 1 << base.length; bits++) {
    for (const clientCookie of cookies)
      inputs.push({ ...flagsOf(base, bits), ...flagsOf(loadedOnly, 0), clientCookie } as unknown as LifecycleInput);
  }
  for (let loaded = 1; loaded < 1 << loadedOnly.length; loaded++) {
    for (let bits = 0; bits < 4; bits++) {
      for (const clientCookie of ['valid', 'rotated'] as ClientCookie[]) {
        inputs.push({ ...flagsOf(base, bits), ...flagsOf(loadedOnly, loaded), clientCookie } as unknown as LifecycleInput);
      }
    }
  }
  // express-session's rules: each on its own, and all of them together (how @sess/express-session
  // runs) against the flags that decide a write.
  for (const [index] of EXPRESS_SESSION_RULES.entries())
    for (const clientCookie of cookies)
      inputs.push({ ...flagsOf(EXPRESS_SESSION_RULES, 1 << index), clientCookie } as unknown as LifecycleInput);
  const writeFlags = ['rolling', 'saveEveryRequest', 'browserSession'] as const;
  for (let bits = 0; bits < 1 << writeFlags.length; bits++)
    for (const clientCookie of cookies)
      inputs.push({
        ...flagsOf(writeFlags, bits),
        ...flagsOf(EXPRESS_SESSION_RULES, (1 << EXPRESS_SESSION_RULES.length) - 1),
        clientCookie,
      } as unknown as LifecycleInput);
  return inputs.map((input) => ({ ...NO_FLAGS, ...input }));
}

export function allEvents(): LifecycleEvent[] {
  const events: LifecycleEvent[] = [
    { type: 'app.load' },
    { type: 'app.read' },
    { type: 'app.write' },
    { type: 'app.destroy' },
    { type: 'app.reload' },
    { type: 'app.save' },
    { type: 'app.saveNow' },
    { type: 'app.discard' },
    { type: 'app.touch' },
    { type: 'app.setTestCookie' },
    { type: 'app.checkTestCookie' },
    { type: 'app.deleteTestCookie' },
    { type: 'store.done' },
    { type: 'store.refused' },
    { type: 'store.failed' },
    {
      type: 'store.loaded',
      record: 'missing',
      pastExpiry: false,
      pastIdleTimeout: false,
      pastAbsoluteTimeout: false,
      touchIntervalPassed: false,
      browserSession: false,
      retired: false,
    },
  ];
  for (const keepData of bools) events.push({ type: 'app.regenerate', keepData });
  for (const browserSession of bools) events.push({ type: 'app.setExpiry', browserSession });
  // Any one of the three "past" facts kills the record; together they add nothing.
  const deaths = [{}, { pastExpiry: true }, { pastIdleTimeout: true }, { pastAbsoluteTimeout: true }];
  for (const death of deaths)
    for (const touchIntervalPassed of bools)
      for (const browserSession of bools)
        for (const retired of bools)
          events.push({
            type: 'store.loaded',
            record: 'live',
            pastExpiry: false,
            pastIdleTimeout: false,
            pastAbsoluteTimeout: false,
            ...death,
            touchIntervalPassed,
            browserSession,
            retired,
          });
  // Whether the app set the cookie or Cache-Control itself decides headers, which a commit after
  // the headers left cannot send: those two vary on the commits that can.
  for (const serverError of bools)
    for (const empty of bools) {
      for (const cookieAlreadySet of bools)
        for (const sharedCachesKeptOut of bools)
          events.push({ type: 'response.commit', serverError, empty, cookieAlreadySet, sharedCachesKeptOut, headersSent: false });
      events.push({ type: 'response.commit', serverError, empty, cookieAlreadySet: false, sharedCachesKeptOut: false, headersSent: true });
    }
  return events;
}

/**
 * The effect actions, read off the machine itself: the named actions with no implementation of
 * their own (xstate's `assign` and `enqueueActions` carry a `type`). Not `lifecycleActions`, the
 * list the runtime filters by: an action dropped from that list must show up here.
 */
export const effectActions = new Set(
  Object.entries(lifecycleMachine.implementations.actions)
    .filter(([, implementation]) => typeof implementation === 'function' && !('type' in implementation))
    .map(([name]) => name),
);
const actionsOf = (actions: readonly { type: string }[]) => actions.map((action) => action.type).filter((type) => effectActions.has(type));

/** The same state value and the same context, field by field (every field is a primitive). */
function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  const left = a.context as unknown as Record<string, unknown>;
  const right = b.context as unknown as Record<string, unknown>;
  const fields = Object.keys(left);
  return (
    JSON.stringify(a.value) === JSON.stringify(b.value) &&
    fields.length === Object.keys(right).length &&
    fields.every((field) => Object.hasOwn(right, field) && Object.is(left[field], right[field]))
  );
}

/** What walking every (state, event) pair reachable from `inputs` found. */
export interface Walked {
  readonly states: number;
  readonly pairs: number;
  readonly allowed: number;
  readonly tableSize: number;
  readonly mismatches: readonly string[];
}

/**
 * Walks every state the machine reaches from `inputs`, under every event of the alphabet, and
 * compares the runtime's step (next state key and actions) with a fresh `transition()` of that
 * snapshot.
 */
export function walkEquivalence(inputs: readonly LifecycleInput[]): Walked {
  const lifecycle = createLifecycle();
  const events = allEvents();
  const seen = new Map<string, Snapshot>();
  const queue: [Snapshot, LifecycleNode][] = [];
  let pairs = 0;
  let allowed = 0;
  const mismatches: string[] = [];

  // Plain comparisons, not `expect`, inside the walk: it makes millions of them.
  const visit = (snapshot: Snapshot, key: string, node: LifecycleNode) => {
    if (node.key !== key) mismatches.push(`runtime node ${node.key} for the snapshot ${key}`);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      // Equal keys must mean equal snapshots, or the table would merge different states.
      if (!sameSnapshot(snapshot, earlier)) mismatches.push(`${key} names two different snapshots`);
      return;
    }
    seen.set(key, snapshot);
    queue.push([snapshot, node]);
  };

  for (const input of inputs) {
    const [snapshot, actions] = initialTransition(lifecycleMachine, input);
    const start = lifecycle.start(inputKey(input));
    if (start.actions.join() !== actionsOf(actions).join()) mismatches.push(`start ${JSON.stringify(input)}: [${start.actions}]`);
    visit(snapshot, snapshotKey(snapshot), start.to);
  }

  for (let index = 0; index < queue.length && mismatches.length < 20; index++) {
    const [snapshot, node] = queue[index] as [Snapshot, LifecycleNode];
    for (const event of events) {
      if (event.type === 'app.saveNow' && !walksSaveNow(snapshot)) continue;
      pairs++;
      const step = lifecycle.next(node, eventKey(event));
      if (!snapshot.can(event)) {
        if (step !== undefined) mismatches.push(`${node.key} + ${event.type}: runtime allows what xstate forbids`);
        continue;
      }
      allowed++;
      const [next, actions] = transition(lifecycleMachine, snapshot, event);
      if (step === undefined) {
        mismatches.push(`${node.key} + ${event.type}: runtime forbids what xstate allows`);
        continue;
      }
      const nextKey = snapshotKey(next);
      if (step.to.key !== nextKey || step.actions.join() !== actionsOf(actions).join()) {
        mismatches.push(`${node.key} + ${JSON.stringify(event)}: ${step.to.key} [${step.actions}] vs ${nextKey} [${actionsOf(actions)}]`);
      }
      visit(next, nextKey, step.to);
    }
  }

  return { states: seen.size, pairs, allowed, tableSize: lifecycle.size, mismatches };
}

/**
 * Every other input of each client cookie (`half` 0 or 1): the two halves of the walk, one per
 * file and worker. A verified cookie reaches many more states than an absent one, so each half
 * takes its share of every cookie.
 */
export function halfOfInputs(half: 0 | 1): LifecycleInput[] {
  const counts = new Map<ClientCookie, number>();
  return allInputs().filter((input) => {
    const count = counts.get(input.clientCookie) ?? 0;
    counts.set(input.clientCookie, count + 1);
    return count % 2 === half;
  });
}

/** The test that `inputs` walk to the same answers in the runtime as in xstate. */
export function agreesFrom(inputs: readonly LifecycleInput[]): void {
  it(`agrees on every (state, event) pair reachable from ${inputs.length} inputs`, () => {
    const walked = walkEquivalence(inputs);
    console.log(`equivalence: ${walked.states} reachable states, ${walked.pairs} (state, event) pairs checked, ${walked.allowed} allowed`);
    expect(walked.mismatches).toEqual([]);
    expect(walked.tableSize).toBe(walked.states);
    expect(walked.states).toBeGreaterThan(100);
  }, 1_800_000);
}
