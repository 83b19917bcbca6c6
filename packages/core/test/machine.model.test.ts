/**
 * Model-based test (after xstate's dieHard.test.ts): the lifecycle machine is the model; the
 * system under test is the real Session + runner + a store whose calls wait until the model's
 * `store.*` event releases or fails them, + a cookie jar. Every path the graph utilities find
 * is driven through the public API, and at every state the store, the jar and the response
 * are checked against the model.
 */
import { describe, expect, it } from 'vitest';
import { createTestModel } from 'xstate/graph';
import { initialTransition, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { SessStoreError, createSessionManager, createSigner } from '../src/index.js';
import type { HttpEffect, Session } from '../src/index.js';
import { lifecycleMachine } from '../src/machine.js';
import type { ClientCookie, LifecycleEvent, LifecycleInput } from '../src/machine.js';
import { snapshotKey } from '../src/runtime.js';
import { CookieJar, SECRET, fakeClock, testStore } from './fixtures.js';

type Snapshot = SnapshotFrom<typeof lifecycleMachine>;
type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

const CLIENT_ID = 'client-session-id-0123456789abcdef';
const IDLE_MS = 60_000;
const signer = createSigner(SECRET);

const loaded = (variant: 'live' | 'missing' | 'idle'): LifecycleEvent => ({
  type: 'store.loaded',
  record: variant === 'missing' ? 'missing' : 'live',
  pastExpiry: false,
  pastIdleTimeout: variant === 'idle',
  pastAbsoluteTimeout: false,
  touchDue: variant === 'idle',
  browserSession: false,
  retired: false,
});

const modelEvents: LifecycleEvent[] = [
  { type: 'app.load' },
  { type: 'app.read' },
  { type: 'app.write' },
  { type: 'app.regenerate', keepData: true },
  { type: 'app.destroy' },
  { type: 'app.touch' },
  { type: 'app.setTestCookie' },
  loaded('live'),
  loaded('missing'),
  loaded('idle'),
  { type: 'store.done' },
  { type: 'store.refused' },
  { type: 'store.failed' },
  ...[false, true].flatMap((serverError) =>
    [false, true].map(
      (empty): LifecycleEvent => ({ type: 'response.commit', serverError, empty, cookieAlreadySet: false, cacheControlSet: false }),
    ),
  ),
];

/** Only app.write and a loaded record put data in the session, so emptiness follows the model. */
const isEmptyInModel = (snapshot: Snapshot) => !(snapshot.context.modified || snapshot.context.currentLive);

function createSut(clientCookie: ClientCookie) {
  const clock = fakeClock();
  const store = testStore(clock.now);
  store.hold = true;
  const manager = createSessionManager({ secret: SECRET, store, clock: clock.now, idleTimeoutMs: IDLE_MS, touchAfterMs: 3_600_000 });
  const jar = new CookieJar();
  if (clientCookie === 'valid') jar.cookies.set('sid', { value: signer.sign('sid', CLIENT_ID), attributes: {} });
  if (clientCookie === 'rejected') jar.cookies.set('sid', { value: `${CLIENT_ID}.forged`, attributes: {} });
  const session: Session = manager.begin({ cookieHeader: jar.header(), secure: false });
  const shadow = {
    data: {} as Record<string, unknown>,
    accessed: false,
    writes: 0,
    serverError: false,
    clientRecordDead: false,
    refused: false,
  };
  let pending: Promise<Settled> | undefined;
  const track = (promise: Promise<unknown>) => {
    pending = promise.then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
  };
  /** Lets the runner take every step the released call allows. */
  const flush = async () => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const seed = (variant: 'live' | 'missing' | 'idle') => {
    const now = clock.now();
    if (variant === 'missing') return store.records.delete(CLIENT_ID);
    const touchedAt = variant === 'idle' ? now - 2 * 3_600_000 : now;
    store.records.set(CLIENT_ID, {
      json: JSON.stringify({ data: { seed: 1 }, meta: { createdAt: touchedAt, touchedAt, expiresAt: now + 86_400_000 } }),
      expiresAt: now + 86_400_000,
    });
  };
  return { clock, store, jar, session, shadow, flush, seed, track, pending: () => pending };
}

type Sut = ReturnType<typeof createSut>;

function heldOps(sut: Sut) {
  return sut.store.held.map((call) => `${call.op} ${call.id === CLIENT_ID ? 'client' : call.id === sut.session.id ? 'current' : call.id}`);
}

async function checkCommitted(sut: Sut) {
  const settled = await sut.pending();
  expect(settled?.ok).toBe(true);
  const effects = (settled as { value: HttpEffect[] }).value;
  sut.jar.apply(effects);
  expect(sut.jar.headers.get('vary') === 'Cookie').toBe(sut.shadow.accessed);
  const id = sut.session.id;
  const cookie = effects.find((effect) => effect.type !== 'header.vary' && effect.type !== 'header.cacheControl' && effect.name === 'sid');
  // A write the store refused names a dead id: no cookie may name it, and none is deleted.
  if (sut.shadow.refused) expect(cookie).toBeUndefined();
  if (cookie?.type === 'cookie.set') {
    // A cookie sent now names the live record that holds exactly the session's data.
    expect(signer.verify('sid', cookie.value)?.id).toBe(id);
    expect(sut.store.peek(id as string)?.data).toEqual(sut.shadow.data);
  }
  if (cookie?.type === 'cookie.delete') {
    // What the client's cookie names is gone, or dead to the server: idle past its timeout, or
    // a failed destroy (sign-out still clears the cookie; the record dies with its TTL).
    if (!sut.shadow.clientRecordDead) expect(sut.store.peek(CLIENT_ID)).toBeUndefined();
    if (id !== undefined) expect(sut.store.peek(id)).toBeUndefined();
  }
  // No orphans: after a commit that may write, the store holds the session's own record and at
  // most a client record the server already treats as dead; after a 500 nothing new appeared.
  for (const key of sut.store.records.keys()) {
    if (sut.shadow.serverError || sut.shadow.clientRecordDead) expect([CLIENT_ID, id]).toContain(key);
    else expect(key).toBe(id);
  }
  // A commit that may write leaves the session's data in the store.
  if (!sut.shadow.serverError && !sut.shadow.refused && id !== undefined && Object.keys(sut.shadow.data).length > 0) {
    expect(sut.store.peek(id)?.data).toEqual(sut.shadow.data);
  }
}

const modelEventTypes = new Set(modelEvents.map((event) => event.type));

/**
 * The model drives only the events it has executors for (createTestModel would add a bare
 * event for every other one the machine accepts), commits with the emptiness the session
 * really has, and leaves repeated commits to session.test.ts. Regenerating an empty session
 * marks it modified with no data, which the emptiness rule above can't see: that case is
 * covered in session.test.ts.
 */
const allowedInModel = (snapshot: Snapshot, event: LifecycleEvent) =>
  modelEventTypes.has(event.type) &&
  (event.type !== 'app.regenerate' || !isEmptyInModel(snapshot)) &&
  // A store refuses only a save or touch (its record died meanwhile), never a load or destroy.
  (event.type !== 'store.refused' || (snapshot.value === 'awaitingWrite' && snapshot.context.primary !== 'destroy')) &&
  (event.type !== 'response.commit' ||
    (event.empty === isEmptyInModel(snapshot) && snapshot.value !== 'committed' && snapshot.value !== 'failed'));

function modelFor(input: LifecycleInput) {
  return createTestModel(lifecycleMachine, { input, events: modelEvents, filterEvents: allowedInModel });
}

/**
 * Every simple path (no state twice) from the start to the end of the lifecycle in at most
 * `maxSteps` events. xstate's `getSimplePaths` enumerates all simple paths of the whole graph
 * first, which is exponential here; this walk stops at the bound.
 */
function boundedSimplePaths(input: LifecycleInput, maxSteps: number): LifecycleEvent[][] {
  const paths: LifecycleEvent[][] = [];
  const [start] = initialTransition(lifecycleMachine, input);
  const onPath = new Set([snapshotKey(start)]);
  const walk = (snapshot: Snapshot, events: LifecycleEvent[]) => {
    if (snapshot.value === 'committed' || snapshot.value === 'failed') {
      paths.push([...events]);
      return;
    }
    if (events.length === maxSteps) return;
    for (const event of modelEvents) {
      if (!allowedInModel(snapshot, event) || !snapshot.can(event)) continue;
      const [next] = transition(lifecycleMachine, snapshot, event);
      const key = snapshotKey(next);
      if (onPath.has(key)) continue;
      onPath.add(key);
      walk(next, [...events, event]);
      onPath.delete(key);
    }
  };
  walk(start, []);
  return paths;
}

function testParams(sut: Sut) {
  const { session, shadow, store } = sut;
  const release = async (outcome: 'release' | 'fail' | 'refuse') => {
    const call = store.held.shift();
    if (call === undefined) throw new Error('the model expects a store call the SUT did not make');
    if (outcome === 'refuse') {
      // A racing request regenerated with a grace window: the record is retired, so the store refuses.
      const now = sut.clock.now();
      store.put(call.id, { data: { racing: true }, meta: { createdAt: now, touchedAt: now, expiresAt: now + 5_000, retired: true } });
      shadow.refused = true;
      call.release();
    } else if (outcome === 'release') call.release();
    else call.fail();
    await sut.flush();
  };
  return {
    states: {
      unloaded: () => expect(store.calls).toEqual([]),
      loading: () => expect(heldOps(sut)).toEqual(['get client']),
      destroying: () => expect(heldOps(sut)).toEqual(['destroy client']),
      active: (snapshot: Snapshot) => {
        expect(heldOps(sut)).toEqual([]);
        expect(session.id !== undefined).toBe(snapshot.context.hasId);
        if (snapshot.context.currentLive) expect(store.peek(session.id as string)).toBeDefined();
      },
      awaitingWrite: (snapshot: Snapshot) => {
        const op = { save: 'set', touch: 'touch', destroy: 'destroy', none: 'none' }[snapshot.context.primary];
        expect(heldOps(sut)).toEqual([`${op} ${op === 'set' && session.id !== CLIENT_ID ? 'current' : 'client'}`]);
      },
      awaitingRetire: () => expect(heldOps(sut)).toEqual(['destroy client']),
      committed: () => checkCommitted(sut),
      failed: async () => {
        const settled = await sut.pending();
        expect(settled?.ok).toBe(false);
        expect((settled as { error: unknown }).error).toBeInstanceOf(SessStoreError);
      },
    },
    events: {
      'app.load': async () => {
        sut.track(session.load());
        await sut.flush();
      },
      'app.read': () => {
        session.get('any');
        shadow.accessed = true;
      },
      'app.write': () => {
        const key = `k${++shadow.writes}`;
        session.set(key, shadow.writes);
        shadow.data[key] = shadow.writes;
        shadow.accessed = true;
      },
      'app.regenerate': async () => {
        sut.track(session.regenerate());
        shadow.accessed = true;
        await sut.flush();
      },
      'app.destroy': async () => {
        sut.track(session.destroy());
        shadow.accessed = true;
        shadow.data = {};
        await sut.flush();
      },
      'app.touch': () => {
        session.touch();
        shadow.accessed = true;
      },
      'app.setTestCookie': () => {
        session.setTestCookie();
        shadow.accessed = true;
      },
      'store.loaded': async (step: { event: { type: string } }) => {
        const event = step.event as LifecycleEvent;
        if (event.type !== 'store.loaded') return;
        const variant = event.record === 'missing' ? 'missing' : event.pastIdleTimeout ? 'idle' : 'live';
        sut.seed(variant);
        shadow.data = variant === 'live' ? { seed: 1 } : {};
        shadow.clientRecordDead = variant === 'idle';
        await release('release');
      },
      'store.done': () => release('release'),
      'store.refused': () => release('refuse'),
      'store.failed': async () => {
        if (store.held[0]?.op === 'destroy') shadow.clientRecordDead = true;
        await release('fail');
      },
      'response.commit': async (step: { event: { type: string } }) => {
        const event = step.event as LifecycleEvent;
        if (event.type !== 'response.commit') return;
        shadow.serverError = event.serverError;
        sut.track(session.commit({ status: event.serverError ? 500 : 200 }));
        await sut.flush();
      },
    },
  };
}

const inputs: Array<[string, LifecycleInput]> = (['absent', 'rejected', 'valid'] as ClientCookie[]).map((clientCookie) => [
  `cookie ${clientCookie}`,
  {
    rolling: false,
    saveEveryRequest: false,
    saveOnServerError: false,
    browserSession: false,
    clientCookie,
    testCookieReceived: false,
    cookieCarriesData: false,
  },
]);

const SIMPLE_PATH_MAX_STEPS = 6;

describe.each(inputs)('lifecycle model, %s', (_, input) => {
  const model = modelFor(input);
  const shortest = model.getShortestPaths();
  // getPathsFromEvents ignores `input` (xstate 5.33) and starts from the default context; a
  // `fromState` built from the input starts it where the machine does.
  const [fromState] = initialTransition(lifecycleMachine, input);
  const simple = boundedSimplePaths(input, SIMPLE_PATH_MAX_STEPS).flatMap((events) => model.getPathsFromEvents(events, { fromState }));

  it('walks enough paths to mean something', () => {
    console.log(
      `model (${input.clientCookie}): ${shortest.length} shortest paths, ${simple.length} simple paths of <= ${SIMPLE_PATH_MAX_STEPS} steps to the end`,
    );
    expect(shortest.length).toBeGreaterThan(10);
    expect(simple.length).toBeGreaterThan(20);
  });

  describe('shortest paths', () => {
    for (const path of shortest) {
      it(path.description, async () => {
        const sut = createSut(input.clientCookie);
        await path.test(testParams(sut));
      });
    }
  });

  describe('simple paths, bounded', () => {
    for (const path of simple) {
      it(path.description, async () => {
        const sut = createSut(input.clientCookie);
        await path.test(testParams(sut));
      });
    }
  });
});
