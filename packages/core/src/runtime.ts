/**
 * The lifecycle machine, memoized. xstate's `transition()` builds a throwaway actor per call
 * (~20-70 us here, design §4), several times a request. The machine is pure and its context
 * finite, so (snapshot, event) -> (next snapshot, actions) is a function of two small keys:
 * each answer is asked of xstate once and then read from a table. The machine stays the only
 * source of truth; `machine.equivalence.test.ts` checks the table against xstate for every
 * reachable (state, event) pair. xstate types stop here: nothing below leaks into `.d.ts`.
 */
import { initialTransition, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { lifecycleActions, lifecycleMachine } from './machine.js';
import type { LifecycleAction, LifecycleEvent, LifecycleInput } from './machine.js';

type Snapshot = SnapshotFrom<typeof lifecycleMachine>;

/** One state of the machine: its value and context, fixed. Adapters never look inside. */
export interface LifecycleNode {
  /** Canonical text of value + context: equal keys mean equal snapshots. */
  readonly key: string;
  /** Answers already asked of xstate, by event key; `null` means the event is not allowed here. */
  readonly steps: Map<number, LifecycleStep | null>;
  /** Read-only view for queries such as `testCookieWorked`. */
  readonly context: Snapshot['context'];
  readonly snapshot: Snapshot;
}

export interface LifecycleStep {
  readonly to: LifecycleNode;
  readonly actions: readonly LifecycleAction[];
  /** The step gives the session a new id (`assignNewId`): it is drawn before the state moves. */
  readonly drawsId: boolean;
}

const knownActions: ReadonlySet<string> = new Set(lifecycleActions);

/** Canonical key of a snapshot: state value plus every context field in sorted order. */
export function snapshotKey(snapshot: Snapshot): string {
  const context = snapshot.context as unknown as Record<string, unknown>;
  let key = typeof snapshot.value === 'string' ? snapshot.value : JSON.stringify(snapshot.value);
  for (const field of Object.keys(context).sort()) key += `|${String(context[field])}`;
  return key;
}

const eventCodes: Record<LifecycleEvent['type'], number> = {
  'app.load': 0,
  'app.read': 1,
  'app.write': 2,
  'app.regenerate': 3,
  'app.destroy': 4,
  'app.reload': 5,
  'app.save': 6,
  'app.touch': 7,
  'app.setExpiry': 8,
  'app.setTestCookie': 9,
  'app.checkTestCookie': 10,
  'app.deleteTestCookie': 11,
  'store.loaded': 12,
  'store.done': 13,
  'store.failed': 14,
  'response.commit': 15,
  'store.refused': 16,
  'app.saveNow': 17,
  'app.discard': 18,
};

const bit = (flag: boolean, shift: number) => (flag ? 1 << shift : 0);

/**
 * Canonical key of an event: its type in the low five bits, its payload above. A number, not a
 * string: it is built on every step of every request, and small integers hash for free.
 */
export function eventKey(event: LifecycleEvent): number {
  const code = eventCodes[event.type];
  switch (event.type) {
    case 'store.loaded':
      return (
        code |
        bit(event.record === 'live', 5) |
        bit(event.pastExpiry, 6) |
        bit(event.pastIdleTimeout, 7) |
        bit(event.pastAbsoluteTimeout, 8) |
        bit(event.touchIntervalPassed, 9) |
        bit(event.browserSession, 10) |
        bit(event.retired, 11)
      );
    case 'response.commit':
      return code | bit(event.serverError, 5) | bit(event.empty, 6) | bit(event.cookieAlreadySet, 7) | bit(event.cacheControlSet, 8);
    case 'app.regenerate':
      return code | bit(event.keepData, 5);
    case 'app.setExpiry':
      return code | bit(event.browserSession, 5);
    default:
      return code;
  }
}

const clientCookieCodes = { absent: 0, rejected: 1, valid: 2, rotated: 3 } as const;

function inputKey(input: LifecycleInput): number {
  return (
    clientCookieCodes[input.clientCookie] |
    bit(input.rolling, 2) |
    bit(input.saveEveryRequest, 3) |
    bit(input.saveOnServerError, 4) |
    bit(input.browserSession, 5) |
    bit(input.testCookieReceived, 6) |
    bit(input.cookieCarriesData, 7) |
    bit(input.readOnly, 8) |
    bit(input.idleTimeout, 9) |
    bit(input.regenerateGrace, 10) |
    bit(input.saveUninitialized === true, 11) |
    bit(input.keepEmpty === true, 12) |
    bit(input.touchEveryRequest === true, 13) |
    bit(input.resendCookieOnChange === true, 14) |
    bit(input.idAtStart === true, 15)
  );
}

function toActions(actions: readonly { type: string }[]): LifecycleAction[] {
  const result: LifecycleAction[] = [];
  for (const action of actions) {
    if (knownActions.has(action.type)) result.push(action.type as LifecycleAction);
  }
  return result;
}

function stepTo(to: LifecycleNode, actions: LifecycleAction[]): LifecycleStep {
  return { to, actions, drawsId: actions.includes('assignNewId') };
}

export interface Lifecycle {
  /** The first state of a request and the actions it emits. */
  start(input: LifecycleInput): LifecycleStep;
  /**
   * The step `event` causes in `node`, or `undefined` when the machine does not allow that
   * event there (the app used the API out of order: a `SessUsageError` for the caller).
   */
  next(node: LifecycleNode, event: LifecycleEvent): LifecycleStep | undefined;
  /** How many distinct states the table holds (for tests and benchmarks). */
  readonly size: number;
}

/**
 * A memoized lifecycle. Each instance has its own table, filled on first use; tables are small
 * (bounded by the machine's reachable states) and live as long as the middleware.
 */
export function createLifecycle(): Lifecycle {
  const nodes = new Map<string, LifecycleNode>();
  const starts = new Map<number, LifecycleStep>();

  function nodeFor(snapshot: Snapshot): LifecycleNode {
    const key = snapshotKey(snapshot);
    let node = nodes.get(key);
    if (node === undefined) {
      node = { key, steps: new Map(), context: snapshot.context, snapshot };
      nodes.set(key, node);
    }
    return node;
  }

  return {
    start(input) {
      const key = inputKey(input);
      let step = starts.get(key);
      if (step === undefined) {
        const [snapshot, actions] = initialTransition(lifecycleMachine, input);
        step = stepTo(nodeFor(snapshot), toActions(actions));
        starts.set(key, step);
      }
      return step;
    },
    next(node, event) {
      const key = eventKey(event);
      let step = node.steps.get(key);
      if (step === undefined) {
        if (node.snapshot.can(event)) {
          const [snapshot, actions] = transition(lifecycleMachine, node.snapshot, event);
          step = stepTo(nodeFor(snapshot), toActions(actions));
        } else {
          step = null;
        }
        node.steps.set(key, step);
      }
      return step ?? undefined;
    },
    get size() {
      return nodes.size;
    },
  };
}
