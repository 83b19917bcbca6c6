/**
 * The lifecycle machine, memoized. xstate's `transition()` builds a throwaway actor per call
 * (~20-70 us here, design §4), several times a request. The machine is pure and its context
 * finite, so (snapshot, event) -> (next snapshot, actions) is a function of two small keys:
 * each answer is asked of xstate once and then read from a table. The machine stays the only
 * source of truth; `machine.equivalence.test.ts` checks the table against xstate for every
 * reachable (state, event) pair. xstate types stop here: nothing below leaks into `.d.ts`.
 */
import { createActor } from 'xstate';
import type { ActorScope, SnapshotFrom } from 'xstate';
import { lifecycleActions, lifecycleMachine } from './machine.js';
import type { ClientCookie, LifecycleAction, LifecycleEvent, LifecycleInput } from './machine.js';

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
  /** The step joins the sign-out in flight (`joinSignOut`): it settles when that one does. */
  readonly joinsInflight: boolean;
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

const eventTypes = Object.keys(eventCodes) as LifecycleEvent['type'][];

const bit = (flag: boolean, shift: number) => (flag ? 1 << shift : 0);
const has = (key: number, shift: number) => (key & (1 << shift)) !== 0;

/** `store.loaded`'s key from its facts, with no event object (a request that loads makes one). */
export function loadedKey(
  live: boolean,
  pastExpiry: boolean,
  pastIdleTimeout: boolean,
  pastAbsoluteTimeout: boolean,
  touchIntervalPassed: boolean,
  browserSession: boolean,
  retired: boolean,
): number {
  return (
    eventCodes['store.loaded'] |
    bit(live, 5) |
    bit(pastExpiry, 6) |
    bit(pastIdleTimeout, 7) |
    bit(pastAbsoluteTimeout, 8) |
    bit(touchIntervalPassed, 9) |
    bit(browserSession, 10) |
    bit(retired, 11)
  );
}

/** `response.commit`'s key from its facts, with no event object (every request commits). */
export function commitKey(
  serverError: boolean,
  empty: boolean,
  cookieAlreadySet: boolean,
  sharedCachesKeptOut: boolean,
  headersSent: boolean,
): number {
  return (
    eventCodes['response.commit'] |
    bit(serverError, 5) |
    bit(empty, 6) |
    bit(cookieAlreadySet, 7) |
    bit(sharedCachesKeptOut, 8) |
    bit(headersSent, 9)
  );
}

/**
 * Canonical key of an event: its type in the low five bits, its payload above. A number, not a
 * string: requests step by key (`Lifecycle.next`), and small integers hash for free. The event
 * itself is rebuilt from its key (`eventFromKey`) only when a step is first asked of xstate.
 */
export function eventKey(event: LifecycleEvent): number {
  const code = eventCodes[event.type];
  switch (event.type) {
    case 'store.loaded':
      return loadedKey(
        event.record === 'live',
        event.pastExpiry,
        event.pastIdleTimeout,
        event.pastAbsoluteTimeout,
        event.touchIntervalPassed,
        event.browserSession,
        event.retired,
      );
    case 'response.commit':
      return commitKey(event.serverError, event.empty, event.cookieAlreadySet, event.sharedCachesKeptOut, event.headersSent);
    case 'app.regenerate':
      return code | bit(event.keepData, 5);
    case 'app.setExpiry':
      return code | bit(event.browserSession, 5);
    default:
      return code;
  }
}

/** The event `key` stands for: `eventKey`'s inverse. */
/** The type of the event of key `key`, without rebuilding the event. */
export function eventTypeOf(key: number): LifecycleEvent['type'] {
  return eventTypes[key & 31] as LifecycleEvent['type'];
}

export function eventFromKey(key: number): LifecycleEvent {
  const type = eventTypeOf(key);
  switch (type) {
    case 'store.loaded':
      return {
        type,
        record: has(key, 5) ? 'live' : 'missing',
        pastExpiry: has(key, 6),
        pastIdleTimeout: has(key, 7),
        pastAbsoluteTimeout: has(key, 8),
        touchIntervalPassed: has(key, 9),
        browserSession: has(key, 10),
        retired: has(key, 11),
      };
    case 'response.commit':
      return {
        type,
        serverError: has(key, 5),
        empty: has(key, 6),
        cookieAlreadySet: has(key, 7),
        sharedCachesKeptOut: has(key, 8),
        headersSent: has(key, 9),
      };
    case 'app.regenerate':
      return { type, keepData: has(key, 5) };
    case 'app.setExpiry':
      return { type, browserSession: has(key, 5) };
    default:
      return { type } as LifecycleEvent;
  }
}

const clientCookies = ['absent', 'rejected', 'valid', 'rotated'] as const satisfies readonly ClientCookie[];
const clientCookieCodes: Record<ClientCookie, number> = { absent: 0, rejected: 1, valid: 2, rotated: 3 };
/** The input's flags above its two bits of `clientCookie`, in key order. */
const inputFlags = [
  'rolling',
  'saveEveryRequest',
  'saveOnServerError',
  'browserSession',
  'testCookieReceived',
  'cookieCarriesData',
  'readOnly',
  'idleTimeout',
  'regenerateGrace',
  'saveUninitialized',
  'keepEmpty',
  'touchEveryRequest',
  'resendCookieOnChange',
  'idAtStart',
] as const satisfies readonly Exclude<keyof LifecycleInput, 'clientCookie'>[];
const flagShift = (flag: (typeof inputFlags)[number]) => 2 + inputFlags.indexOf(flag);

/**
 * Canonical key of a start input. A request's start key is its manager's (`inputKey` of the
 * configuration, made once) with `requestInputKey`'s bits added.
 */
export function inputKey(input: LifecycleInput): number {
  let key = clientCookieCodes[input.clientCookie];
  for (const flag of inputFlags) key |= bit(input[flag] === true, flagShift(flag));
  return key;
}

const READ_ONLY = 1 << flagShift('readOnly');
const BROWSER_SESSION = 1 << flagShift('browserSession');
const TEST_COOKIE_RECEIVED = 1 << flagShift('testCookieReceived');

/** The bits of a start key that vary by request, to add to a key whose own are clear. */
export function requestInputKey(
  clientCookie: ClientCookie,
  readOnly: boolean,
  browserSession: boolean,
  testCookieReceived: boolean,
): number {
  return (
    clientCookieCodes[clientCookie] |
    (readOnly ? READ_ONLY : 0) |
    (browserSession ? BROWSER_SESSION : 0) |
    (testCookieReceived ? TEST_COOKIE_RECEIVED : 0)
  );
}

/** The start input `key` stands for: `inputKey`'s inverse, every flag a boolean. */
export function inputFromKey(key: number): Required<LifecycleInput> {
  const input: Record<string, unknown> = { clientCookie: clientCookies[key & 3] };
  for (const flag of inputFlags) input[flag] = has(key, flagShift(flag));
  return input as unknown as Required<LifecycleInput>;
}

function toActions(actions: readonly { type: string }[]): LifecycleAction[] {
  const result: LifecycleAction[] = [];
  for (const action of actions) {
    if (knownActions.has(action.type)) result.push(action.type as LifecycleAction);
  }
  return result;
}

function stepTo(to: LifecycleNode, actions: LifecycleAction[]): LifecycleStep {
  return { to, actions, drawsId: actions.includes('assignNewId'), joinsInflight: actions.includes('joinSignOut') };
}

export interface Lifecycle {
  /** The first state of a request and the actions it emits, by its input's key (`inputKey`). */
  start(inputKey: number): LifecycleStep;
  /**
   * The step the event of key `eventKey` causes in `node`, or `undefined` when the machine does
   * not allow that event there (the app used the API out of order: a `SessUsageError` for the caller).
   */
  next(node: LifecycleNode, eventKey: number): LifecycleStep | undefined;
  /** How many distinct states the table holds (for tests and benchmarks). */
  readonly size: number;
}

type Answer = [Snapshot, LifecycleAction[]];

/**
 * xstate's own answers, asked through one inert actor scope made once per table: xstate's
 * `transition()` and `initialTransition()` build and drop a whole actor for every call, which is
 * most of what filling the table costs. The machine spawns, invokes, defers and emits nothing, so
 * the scope only has to collect the actions. It leans on the shape of xstate's `ActorScope`;
 * `machine.equivalence.test.ts` checks every step taken this way against `transition()`.
 */
function askXstate(): { start(input: LifecycleInput): Answer; step(snapshot: Snapshot, event: LifecycleEvent): Answer } {
  const self = createActor(lifecycleMachine, { input: inputFromKey(0) });
  let actions: { type: string }[] = [];
  const scope: ActorScope<Snapshot, LifecycleEvent> = {
    self,
    id: '',
    sessionId: '',
    system: self.system,
    logger: () => undefined,
    defer: () => undefined,
    emit: () => undefined,
    stopChild: () => undefined,
    actionExecutor: (action) => void actions.push(action),
  };
  // Emptied before each question, so actions of one that threw never join the next answer.
  const ask = (question: () => Snapshot): Answer => {
    actions = [];
    const snapshot = question();
    return [snapshot, toActions(actions)];
  };
  return {
    start: (input) => ask(() => lifecycleMachine.getInitialSnapshot(scope, input)),
    step: (snapshot, event) => ask(() => lifecycleMachine.transition(snapshot, event, scope)),
  };
}

/**
 * A memoized lifecycle. Each instance has its own table, filled on first use; tables are small
 * (bounded by the machine's reachable states) and live as long as the middleware.
 */
export function createLifecycle(): Lifecycle {
  const nodes = new Map<string, LifecycleNode>();
  const starts = new Map<number, LifecycleStep>();
  const xstate = askXstate();

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
    start(key) {
      let step = starts.get(key);
      if (step === undefined) {
        const [snapshot, actions] = xstate.start(inputFromKey(key));
        step = stepTo(nodeFor(snapshot), actions);
        starts.set(key, step);
      }
      return step;
    },
    next(node, key) {
      let step = node.steps.get(key);
      if (step === undefined) {
        const event = eventFromKey(key);
        if (node.snapshot.can(event)) {
          const [snapshot, actions] = xstate.step(node.snapshot, event);
          step = stepTo(nodeFor(snapshot), actions);
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
