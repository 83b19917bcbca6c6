/**
 * The memoized runtime must answer exactly what xstate answers. This walks every state the
 * machine can reach, from every input, under every event of the alphabet, and compares the
 * runtime's step (next state key and actions) with a fresh `transition()` of that snapshot.
 * A context field the key forgot, an action the mapping dropped, or a guard that read
 * something outside (snapshot, event) would show up here as a difference.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { lifecycleActions, lifecycleMachine } from '../src/machine.js';
import type { ClientCookie, LifecycleEvent, LifecycleInput } from '../src/machine.js';
import { createLifecycle, eventKey, snapshotKey } from '../src/runtime.js';
import type { LifecycleNode } from '../src/runtime.js';

type Snapshot = SnapshotFrom<typeof lifecycleMachine>;

const bools = [false, true] as const;

export function allInputs(): LifecycleInput[] {
  const inputs: LifecycleInput[] = [];
  for (const rolling of bools)
    for (const saveEveryRequest of bools)
      for (const saveOnServerError of bools)
        for (const browserSession of bools)
          for (const clientCookie of ['absent', 'rejected', 'valid', 'rotated'] as ClientCookie[])
            for (const testCookieReceived of bools)
              for (const cookieCarriesData of bools)
                inputs.push({
                  rolling,
                  saveEveryRequest,
                  saveOnServerError,
                  browserSession,
                  clientCookie,
                  testCookieReceived,
                  cookieCarriesData,
                });
  return inputs;
}

export function allEvents(): LifecycleEvent[] {
  const events: LifecycleEvent[] = [
    { type: 'app.load' },
    { type: 'app.read' },
    { type: 'app.write' },
    { type: 'app.destroy' },
    { type: 'app.reload' },
    { type: 'app.save' },
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
      touchDue: false,
      browserSession: false,
      retired: false,
    },
  ];
  for (const keepData of bools) events.push({ type: 'app.regenerate', keepData });
  for (const browserSession of bools) events.push({ type: 'app.setExpiry', browserSession });
  for (const pastExpiry of bools)
    for (const pastIdleTimeout of bools)
      for (const pastAbsoluteTimeout of bools)
        for (const touchDue of bools)
          for (const browserSession of bools)
            for (const retired of bools)
              events.push({
                type: 'store.loaded',
                record: 'live',
                pastExpiry,
                pastIdleTimeout,
                pastAbsoluteTimeout,
                touchDue,
                browserSession,
                retired,
              });
  for (const serverError of bools)
    for (const empty of bools)
      for (const cookieAlreadySet of bools)
        for (const cacheControlSet of bools)
          events.push({ type: 'response.commit', serverError, empty, cookieAlreadySet, cacheControlSet });
  return events;
}

const known = new Set<string>(lifecycleActions);
const actionsOf = (actions: readonly { type: string }[]) => actions.map((action) => action.type).filter((type) => known.has(type));

describe('memoized runtime = xstate', () => {
  it('gives every event of the alphabet its own key', () => {
    const events = allEvents();
    const keys = new Map(events.map((event) => [eventKey(event), event]));
    expect(keys.size).toBe(events.length);
  });

  it('agrees on every reachable (state, event) pair', () => {
    const lifecycle = createLifecycle();
    const events = allEvents();
    const seen = new Map<string, Snapshot>();
    const queue: [Snapshot, LifecycleNode][] = [];
    let pairs = 0;
    let allowed = 0;
    const mismatches: string[] = [];

    const visit = (snapshot: Snapshot, node: LifecycleNode) => {
      const key = snapshotKey(snapshot);
      expect(node.key).toBe(key);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        // Equal keys must mean equal snapshots, or the table would merge different states.
        expect({ value: snapshot.value, context: snapshot.context }).toEqual({ value: earlier.value, context: earlier.context });
        return;
      }
      seen.set(key, snapshot);
      queue.push([snapshot, node]);
    };

    for (const input of allInputs()) {
      const [snapshot, actions] = initialTransition(lifecycleMachine, input);
      const start = lifecycle.start(input);
      expect(start.actions).toEqual(actionsOf(actions));
      visit(snapshot, start.to);
    }

    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      const [snapshot, node] = item;
      for (const event of events) {
        pairs++;
        const step = lifecycle.next(node, event);
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
        if (step.to.key !== snapshotKey(next) || step.actions.join() !== actionsOf(actions).join()) {
          mismatches.push(
            `${node.key} + ${JSON.stringify(event)}: ${step.to.key} [${step.actions}] vs ${snapshotKey(next)} [${actionsOf(actions)}]`,
          );
        }
        visit(next, step.to);
      }
    }

    console.log(`equivalence: ${seen.size} reachable states, ${pairs} (state, event) pairs checked, ${allowed} allowed`);
    expect(mismatches).toEqual([]);
    expect(lifecycle.size).toBe(seen.size);
    expect(seen.size).toBeGreaterThan(100);
  }, 600_000);
});
