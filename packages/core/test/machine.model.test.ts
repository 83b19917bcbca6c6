/**
 * Model-based test (after xstate's dieHard.test.ts): the lifecycle machine is the model; the
 * system under test is the real Session + runner + a store whose calls wait until the model's
 * `store.*` event releases or fails them (or, for cookie sessions, the record sealed in the
 * cookie), + a cookie jar. Every path the graph utilities find
 * is driven through the public API, and at every state the store, the jar and the response
 * are checked against the model.
 */
import { describe, expect, it } from 'vitest';
import { createTestModel } from 'xstate/graph';
import { initialTransition, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { SessStoreError, cookieSessions, createSessionManager, createSigner } from '../src/index.js';
import type { CookieSessions, HttpEffect, Session } from '../src/index.js';
import { lifecycleMachine } from '../src/machine.js';
import type { ClientCookie, LifecycleEvent, LifecycleInput } from '../src/machine.js';
import { snapshotKey } from '../src/runtime.js';
import { CookieJar, NO_FLAGS, OLD_SECRET, SECRET, fakeClock, testStore } from './fixtures.js';

type Snapshot = SnapshotFrom<typeof lifecycleMachine>;
type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };
/** `then`'s two callbacks, recording how a promise settled. */
const settledAs = [(value: unknown): Settled => ({ ok: true, value }), (error: unknown): Settled => ({ ok: false, error })] as const;

const CLIENT_ID = 'client-session-id-0123456789abcdef';
/** Longer than the touch interval (`touchAfterMs`, an hour), as the options require. */
const IDLE_MS = 2 * 3_600_000;
const signer = createSigner(SECRET);
const COOKIE_SECRET = 'cookie-session-secret-at-least-32-bytes!';
const OLD_COOKIE_SECRET = 'the-previous-cookie-session-secret-32-bytes';
/** What the client's sealed cookie holds, in cookie sessions (a server store holds the same, seeded by `store.loaded`). */
const CLIENT_DATA = { seed: 1 };

type Variant = 'live' | 'missing' | 'idle' | 'retired';

const loaded = (variant: Variant): LifecycleEvent => ({
  type: 'store.loaded',
  record: variant === 'missing' ? 'missing' : 'live',
  pastExpiry: false,
  pastIdleTimeout: variant === 'idle',
  pastAbsoluteTimeout: false,
  touchIntervalPassed: variant === 'idle',
  browserSession: false,
  retired: variant === 'retired',
});

const modelEvents: LifecycleEvent[] = [
  { type: 'app.load' },
  { type: 'app.read' },
  { type: 'app.write' },
  { type: 'app.regenerate', keepData: true },
  { type: 'app.regenerate', keepData: false },
  { type: 'app.destroy' },
  { type: 'app.touch' },
  { type: 'app.reload' },
  { type: 'app.save' },
  { type: 'app.saveNow' },
  { type: 'app.discard' },
  { type: 'app.setExpiry', browserSession: false },
  { type: 'app.setExpiry', browserSession: true },
  { type: 'app.setTestCookie' },
  { type: 'app.checkTestCookie' },
  { type: 'app.deleteTestCookie' },
  loaded('live'),
  loaded('missing'),
  loaded('idle'),
  loaded('retired'),
  { type: 'store.done' },
  { type: 'store.refused' },
  { type: 'store.failed' },
  // A 2xx, a 5xx, and a 2xx whose headers already left (the app wrote past the framework).
  ...[
    [false, false],
    [true, false],
    [false, true],
  ].flatMap(([serverError, headersSent]) =>
    [false, true].map(
      (empty): LifecycleEvent => ({
        type: 'response.commit',
        serverError: serverError as boolean,
        headersSent: headersSent as boolean,
        empty,
        cookieAlreadySet: false,
        sharedCachesKeptOut: false,
      }),
    ),
  ),
];

/** Only app.write and a loaded record put data in the session, so emptiness follows the model. */
const isEmptyInModel = (snapshot: Snapshot) => !(snapshot.context.modified || snapshot.context.currentLive);

/** The real session, configured as `input` says (the model's inputs, as options and request facts). */
function createSut(input: LifecycleInput) {
  const clock = fakeClock();
  const store = testStore(clock.now);
  store.hold = true;
  const cookies = input.cookieCarriesData ? cookieSessions({ secret: [COOKIE_SECRET, OLD_COOKIE_SECRET] }) : undefined;
  const manager = createSessionManager({
    secret: [SECRET, OLD_SECRET],
    store: cookies ?? store,
    clock: clock.now,
    idleTimeoutMs: IDLE_MS,
    touchAfterMs: 3_600_000,
    rolling: input.rolling,
    saveEveryRequest: input.saveEveryRequest,
    saveOnServerError: input.saveOnServerError,
    expireAtBrowserClose: input.browserSession,
    regenerateGraceMs: input.regenerateGrace ? 5_000 : 0,
    saveUninitialized: input.saveUninitialized ?? false,
    keepEmptySessions: input.keepEmpty ?? false,
    touchEveryRequest: input.touchEveryRequest ?? false,
    resendCookieOnChange: input.resendCookieOnChange ?? false,
    idAtStart: input.idAtStart ?? false,
  });
  const jar = new CookieJar();
  const { clientCookie } = input;
  const now = clock.now();
  const clientRecord = { data: CLIENT_DATA, meta: { createdAt: now, touchedAt: now, expiresAt: now + 86_400_000 } };
  /** The client's cookie, signed (server store) or sealed with its record (cookie sessions), with the current secret or the old one. */
  const clientValue = (old: boolean) =>
    cookies === undefined
      ? createSigner(old ? OLD_SECRET : SECRET).sign('sid', CLIENT_ID)
      : cookieSessions({ secret: old ? OLD_COOKIE_SECRET : COOKIE_SECRET }).seal('sid', { id: CLIENT_ID, record: clientRecord });
  if (clientCookie === 'valid') jar.cookies.set('sid', { value: clientValue(false), attributes: {} });
  if (clientCookie === 'rotated') jar.cookies.set('sid', { value: clientValue(true), attributes: {} });
  if (clientCookie === 'rejected') jar.cookies.set('sid', { value: `${CLIENT_ID}.forged`, attributes: {} });
  if (input.testCookieReceived) jar.cookies.set('sid.test', { value: '1', attributes: {} });
  const session: Session = manager.begin({ cookieHeader: jar.header(), secure: false, readOnly: input.readOnly });
  const shadow = {
    data: {} as Record<string, unknown>,
    accessed: false,
    writes: 0,
    /** The commit may write nothing: a 5xx (unless saveOnServerError says otherwise), or headers already sent. */
    serverError: false,
    /** The commit came after the response's headers left: nothing is written, saveOnServerError or not. */
    headersSent: false,
    clientRecordDead: false,
    /** Records the server treats as dead but that stay in the store until their TTL: idle, or a destroy failed. */
    deadRecords: new Set<string>(),
    refused: false,
    /** The commit has begun: from then on the data is final. */
    committing: false,
    /** A store call failed the request (\`failed\`): a sign-out from here on is the late one. */
    ended: false,
    /** Store calls made before the app let go of the session (`app.discard`); none but a sign-out's may follow. */
    callsAtDiscard: undefined as number | undefined,
    /** Whether the session's data is known: new from the start, loaded, or ended by sign-out. */
    known: clientCookie === 'absent' || clientCookie === 'rejected',
    /** Loads made once the commit had begun or a store call failed: each resolves, with no store call. */
    lateLoads: [] as Promise<Settled>[],
    /** A sign-out once the commit has begun: the id it ended, and how its destroy() settled. */
    lateSignOut: undefined as { id: string | undefined; settled: Promise<Settled> } | undefined,
  };
  let pending: Promise<Settled> | undefined;
  const track = (work: unknown) => {
    pending = Promise.resolve(work).then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
  };
  /** Lets the runner take every step the released call allows. */
  const flush = async () => {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  /** Puts the record the held load asks for (the client's, or on reload a new id saved already) in the model's variant. */
  const seed = (variant: Variant, id: string) => {
    const now = clock.now();
    if (variant === 'missing') return store.records.delete(id);
    const touchedAt = variant === 'idle' ? now - 2 * IDLE_MS : now;
    const meta = { createdAt: touchedAt, touchedAt, expiresAt: now + 86_400_000, ...(variant === 'retired' ? { retired: true } : {}) };
    store.records.set(id, {
      json: JSON.stringify({ data: { seed: 1 }, meta }),
      expiresAt: now + 86_400_000,
    });
  };
  return { input, clock, store, cookies, jar, session, shadow, flush, seed, track, pending: () => pending };
}

type Sut = ReturnType<typeof createSut>;

function heldOps(sut: Sut) {
  return sut.store.held.map((call) => `${call.op} ${call.id === CLIENT_ID ? 'client' : call.id === sut.session.id ? 'current' : call.id}`);
}

async function checkCommitted(sut: Sut) {
  for (const settled of await Promise.all(sut.shadow.lateLoads)) expect(settled.ok).toBe(true);
  const { lateSignOut } = sut.shadow;
  if (lateSignOut !== undefined) {
    // Let go of before the sign-out: the commit, if it came, still sends nothing.
    if (sut.shadow.callsAtDiscard !== undefined && sut.shadow.committing) expect(await sut.pending()).toEqual({ ok: true, value: [] });
    return checkLateSignOut(sut, lateSignOut);
  }
  const settled = await sut.pending();
  expect(settled?.ok).toBe(true);
  const effects = (settled as { value: HttpEffect[] }).value;
  sut.jar.apply(effects);
  // Let go of (express-session's unset: 'keep'): nothing was written or sent after that.
  if (sut.shadow.callsAtDiscard !== undefined) {
    expect(effects).toEqual([]);
    expect(sut.store.calls.length).toBe(sut.shadow.callsAtDiscard);
    return;
  }
  expect(sut.jar.headers.get('vary') === 'Cookie').toBe(sut.shadow.accessed);
  const id = sut.session.id;
  const cookie = effects.find((effect) => effect.type !== 'header.vary' && effect.type !== 'header.cacheControl' && effect.name === 'sid');
  // A write the store refused names a dead id: no cookie may name it, and none is deleted.
  if (sut.shadow.refused) expect(cookie).toBeUndefined();
  if (cookie?.type === 'cookie.set') {
    // A cookie sent now names the live record that holds exactly the session's data; after a
    // 5xx that saved nothing (a rotated cookie is still re-signed), the record as it was.
    expect(signer.verify('sid', cookie.value)?.id).toBe(id);
    if (sut.shadow.serverError && (!sut.input.saveOnServerError || sut.shadow.headersSent))
      expect(sut.store.peek(id as string)).toBeDefined();
    else expect(sut.store.peek(id as string)?.data).toEqual(sut.shadow.data);
  }
  if (cookie?.type === 'cookie.delete') {
    // What the client's cookie names is gone, or dead to the server: idle past its timeout, or
    // a failed destroy (sign-out still clears the cookie; the record dies with its TTL).
    // (or kept read-only for the grace window after regenerate).
    if (!sut.shadow.clientRecordDead && sut.store.peek(CLIENT_ID)?.meta.retired !== true) expect(sut.store.peek(CLIENT_ID)).toBeUndefined();
    if (id !== undefined) expect(sut.store.peek(id)).toBeUndefined();
  }
  // No orphans: after a commit that may write, the store holds the session's own record and at
  // most a client record the server already treats as dead; after a 500 nothing new appeared.
  // A record kept read-only for the grace window after regenerate is not an orphan either.
  const clientRetired = sut.store.peek(CLIENT_ID)?.meta.retired === true;
  for (const key of sut.store.records.keys()) {
    if (sut.shadow.deadRecords.has(key)) continue;
    if (sut.shadow.serverError || sut.shadow.clientRecordDead || clientRetired) expect([CLIENT_ID, id]).toContain(key);
    else expect(key).toBe(id);
  }
  // A commit that may write leaves the session's data in the store.
  if (!sut.shadow.serverError && !sut.shadow.refused && id !== undefined && Object.keys(sut.shadow.data).length > 0) {
    expect(sut.store.peek(id)?.data).toEqual(sut.shadow.data);
  }
}

/**
 * A sign-out after the commit: the session is the empty one, and the record the commit left is
 * gone (or, if its destroy failed, dead to the server until its TTL), the failure heard by the app.
 */
async function checkLateSignOut(sut: Sut, { id, settled }: { id: string | undefined; settled: Promise<Settled> }) {
  const outcome = await settled;
  expect([sut.session.id, sut.session.keys()]).toEqual([undefined, []]);
  if (!outcome.ok) expect(outcome.error).toBeInstanceOf(SessStoreError);
  else if (id !== undefined) expect(sut.store.peek(id)).toBeUndefined();
  // Nothing this session could name is left live: only records already dead to the server, or
  // kept read-only for the grace window after regenerate.
  for (const key of sut.store.records.keys()) {
    expect(sut.shadow.deadRecords.has(key) || sut.store.peek(key)?.meta.retired === true).toBe(true);
  }
}

/**
 * Cookie sessions: the browser's cookie is the record. After a commit it holds the session as the
 * model left it, and the server store was never called.
 */
async function checkCookieCommitted(sut: Sut, cookies: CookieSessions) {
  const settled = await sut.pending();
  expect(settled?.ok).toBe(true);
  const effects = (settled as { value: HttpEffect[] }).value;
  sut.jar.apply(effects);
  expect(sut.store.calls).toEqual([]);
  if (sut.shadow.callsAtDiscard !== undefined) {
    expect(effects).toEqual([]);
    return;
  }
  expect(sut.jar.headers.get('vary') === 'Cookie').toBe(sut.shadow.accessed);
  const value = sut.jar.cookies.get('sid')?.value;
  const held = value === undefined ? undefined : cookies.open('sid', value)?.session;
  const holds = held === undefined ? undefined : { id: held.id, data: held.record.data };
  if (sut.shadow.serverError) {
    // A 5xx issues nothing new: the browser keeps the record it came with (re-sealed if rotated), or loses it.
    if (holds !== undefined) expect(holds).toEqual({ id: CLIENT_ID, data: CLIENT_DATA });
  } else if (sut.shadow.known) {
    // An emptied session is no session (keepEmpty is off): its cookie goes, or never came.
    expect(holds).toEqual(Object.keys(sut.shadow.data).length === 0 ? undefined : { id: sut.session.id, data: sut.shadow.data });
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
  // After the commit, reads are guarded (only data that was known can be read): the graph walk
  // would otherwise take a refused read as a step.
  (event.type !== 'app.read' || snapshot.can(event)) &&
  (event.type !== 'app.regenerate' || !isEmptyInModel(snapshot)) &&
  // regenerate({ keepData: false }) empties the session without the machine knowing it holds no
  // data, so the commit's emptiness can't follow the model; with keepEmpty the plan ignores it.
  (event.type !== 'app.regenerate' || event.keepData || snapshot.context.keepEmpty) &&
  // save() and setExpiry() mark the session modified without giving it data, which the
  // emptiness rule above can't see: the model uses them on a loaded record only.
  ((event.type !== 'app.save' && event.type !== 'app.setExpiry') || snapshot.context.currentLive) &&
  // saveNow() stores the session as it is: the model saves one it knows holds data.
  (event.type !== 'app.saveNow' || !isEmptyInModel(snapshot)) &&
  // A store refuses only a save or touch (its record died meanwhile), never a load or destroy.
  (event.type !== 'store.refused' || (snapshot.value === 'awaitingWrite' && snapshot.context.primary !== 'destroy')) &&
  (event.type !== 'response.commit' ||
    (event.empty === isEmptyInModel(snapshot) && snapshot.value !== 'committed' && snapshot.value !== 'failed'));

/**
 * The record of cookie sessions is the cookie, held in memory for the request: it loads what the
 * client's cookie holds (live: sealed just now), and every write succeeds. Reload and saveNow,
 * which re-read or write early what the request holds, are walked with a server store.
 */
const happensWithCookieSessions = (event: LifecycleEvent) =>
  !['store.failed', 'store.refused', 'app.reload', 'app.saveNow'].includes(event.type) &&
  (event.type !== 'store.loaded' || (event.record === 'live' && !event.pastIdleTimeout && !event.retired));

/** The events the model drives for `input` (the commit's plan settles the context, so the storage is read off the input). */
const allowedFor = (input: LifecycleInput) => (snapshot: Snapshot, event: LifecycleEvent) =>
  allowedInModel(snapshot, event) && (!input.cookieCarriesData || happensWithCookieSessions(event));

function modelFor(input: LifecycleInput) {
  return createTestModel(lifecycleMachine, { input, events: modelEvents, filterEvents: allowedFor(input) });
}

/**
 * A commit after the response's headers left writes nothing and sends nothing, whatever came
 * before it: the shortest paths reach it from every state, and the simple paths end in the
 * commits whose outcome depends on the way there.
 */
const simplePathEvents = modelEvents.filter((event) => event.type !== 'response.commit' || !event.headersSent);

/**
 * Every simple path (no state twice) from the start to the end of the lifecycle in at most
 * `maxSteps` events. xstate's `getSimplePaths` enumerates all simple paths of the whole graph
 * first, which is exponential here; this walk stops at the bound.
 */
function boundedSimplePaths(input: LifecycleInput, maxSteps: number): LifecycleEvent[][] {
  const paths: LifecycleEvent[][] = [];
  const allowed = allowedFor(input);
  const [start] = initialTransition(lifecycleMachine, input);
  const onPath = new Set([snapshotKey(start)]);
  const walk = (snapshot: Snapshot, events: LifecycleEvent[]) => {
    if (snapshot.value === 'committed' || snapshot.value === 'failed') {
      paths.push([...events]);
      return;
    }
    if (events.length === maxSteps) return;
    for (const event of simplePathEvents) {
      if (!allowed(snapshot, event) || !snapshot.can(event)) continue;
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
      savingNow: () => expect(heldOps(sut)).toEqual([`set ${session.id === CLIENT_ID ? 'client' : 'current'}`]),
      discarded: () => expect(heldOps(sut)).toEqual([]),
      // The new id saved already (by saveNow) is destroyed: regenerate replaced it, or sign-out ends it.
      replacing: () => {
        expect(store.held.map((call) => call.op)).toEqual(['destroy']);
        expect([CLIENT_ID, session.id]).not.toContain(store.held[0]?.id);
      },
      destroyingCurrent: () => expect(heldOps(sut)).toEqual(['destroy current']),
      // The record the commit left: the id the session had when the app signed out.
      destroyingLate: () => expect(store.held.map((call) => `${call.op} ${call.id}`)).toEqual([`destroy ${shadow.lateSignOut?.id}`]),
      destroyingLateClient: () => expect(heldOps(sut)).toEqual(['destroy client']),
      reloading: () => expect(heldOps(sut)).toEqual(['get current']),
      active: (snapshot: Snapshot) => {
        expect(heldOps(sut)).toEqual([]);
        expect(session.id !== undefined).toBe(snapshot.context.hasId);
        if (snapshot.context.currentLive) expect(store.peek(session.id as string)).toBeDefined();
      },
      awaitingWrite: (snapshot: Snapshot) => {
        const op = { save: 'set', saveNew: 'set', saveRegenerated: 'set', touch: 'touch', destroy: 'destroy', none: 'none' }[
          snapshot.context.primary
        ];
        expect(heldOps(sut)).toEqual([`${op} ${session.id === CLIENT_ID ? 'client' : 'current'}`]);
      },
      awaitingRetire: (snapshot: Snapshot) =>
        expect(heldOps(sut)).toEqual([snapshot.context.retire === 'grace' ? 'touch client' : 'destroy client']),
      retired: () => {
        expect(heldOps(sut)).toEqual([]);
        expect(session.id).toBe(CLIENT_ID);
      },
      committed: () => checkCommitted(sut),
      failed: async () => {
        shadow.ended = true;
        for (const late of await Promise.all(shadow.lateLoads)) expect(late.ok).toBe(true);
        const settled = await sut.pending();
        expect(settled?.ok).toBe(false);
        expect((settled as { error: unknown }).error).toBeInstanceOf(SessStoreError);
      },
    },
    events: {
      'app.load': async () => {
        // Once the commit has begun or a store call failed, a load of known data asks the store
        // nothing; it may still wait in turn behind store work in flight.
        if (shadow.committing || shadow.ended) shadow.lateLoads.push(session.load().then(...settledAs));
        else sut.track(session.load());
        await sut.flush();
      },
      'app.read': () => {
        // Once the commit has begun, a read sees the data as committed and changes nothing.
        const keys = session.keys();
        if (shadow.committing && shadow.callsAtDiscard === undefined) expect(keys.sort()).toEqual(Object.keys(shadow.data).sort());
        else shadow.accessed = true;
      },
      'app.write': () => {
        const key = `k${++shadow.writes}`;
        session.set(key, shadow.writes);
        // Once the commit has begun, a change is dropped: the data stays as committed.
        if (shadow.committing) return;
        shadow.data[key] = shadow.writes;
        shadow.accessed = true;
      },
      'app.regenerate': async (step: { event: { type: string } }) => {
        const keepData = (step.event as LifecycleEvent & { keepData?: boolean }).keepData !== false;
        sut.track(session.regenerate({ keepData }));
        if (!keepData) shadow.data = {};
        shadow.accessed = true;
        await sut.flush();
      },
      'app.destroy': async () => {
        if (shadow.committing || shadow.ended || shadow.callsAtDiscard !== undefined) {
          const { id } = session;
          const settled = session.destroy().then(
            (value): Settled => ({ ok: true, value }),
            (error: unknown): Settled => ({ ok: false, error }),
          );
          shadow.lateSignOut = { id, settled };
          shadow.data = {};
          await sut.flush();
          return;
        }
        sut.track(session.destroy());
        shadow.accessed = true;
        shadow.data = {};
        shadow.known = true;
        await sut.flush();
      },
      'app.reload': async () => {
        sut.track(session.reload());
        // Unsaved changes go; a live record comes back through the model's store.loaded.
        shadow.data = {};
        shadow.accessed = true;
        await sut.flush();
      },
      'app.save': () => {
        session.save();
        shadow.accessed = true;
      },
      'app.saveNow': async () => {
        sut.track(session.saveNow());
        shadow.accessed = true;
        await sut.flush();
      },
      'app.discard': async () => {
        sut.track(session.discard());
        shadow.callsAtDiscard = store.calls.length;
        await sut.flush();
      },
      'app.setExpiry': (step: { event: { type: string } }) => {
        const event = step.event as LifecycleEvent;
        session.setExpiry(event.type === 'app.setExpiry' && event.browserSession ? 0 : 3_600);
        shadow.accessed = true;
      },
      'app.checkTestCookie': () => {
        expect(session.testCookieWorked()).toBe(sut.input.testCookieReceived);
        // Once the commit has begun, or a store call failed, the answer is read and nothing changes.
        if (!shadow.committing && !shadow.ended) shadow.accessed = true;
      },
      'app.deleteTestCookie': () => {
        session.deleteTestCookie();
        shadow.accessed = true;
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
        const variant: Variant =
          event.record === 'missing' ? 'missing' : event.pastIdleTimeout ? 'idle' : event.retired ? 'retired' : 'live';
        const loading = store.held[0]?.id ?? CLIENT_ID;
        sut.seed(variant, loading);
        shadow.data = variant === 'live' || variant === 'retired' ? { seed: 1 } : {};
        if (loading === CLIENT_ID) shadow.clientRecordDead = variant === 'idle';
        if (variant === 'idle') shadow.deadRecords.add(loading);
        await release('release');
      },
      'store.done': () => release('release'),
      'store.refused': () => release('refuse'),
      'store.failed': async () => {
        const call = store.held[0];
        if (call?.op === 'destroy') {
          if (call.id === CLIENT_ID) shadow.clientRecordDead = true;
          shadow.deadRecords.add(call.id);
        }
        await release('fail');
      },
      'response.commit': async (step: { event: { type: string } }) => {
        const event = step.event as LifecycleEvent;
        if (event.type !== 'response.commit') return;
        shadow.serverError = event.serverError || event.headersSent;
        shadow.headersSent = event.headersSent;
        shadow.committing = true;
        sut.track(session.commit({ status: event.serverError ? 500 : 200, headersSent: event.headersSent }));
        await sut.flush();
      },
    },
  };
}

/** The model's states and events with cookie sessions: the store answers at once, so the model's store events let the runner catch up. */
function cookieTestParams(sut: Sut, cookies: CookieSessions) {
  const params = testParams(sut);
  const noServerCalls = () => expect(sut.store.calls).toEqual([]);
  const states = Object.fromEntries(Object.keys(params.states).map((state) => [state, noServerCalls]));
  return {
    states: {
      ...states,
      active: (snapshot: Snapshot) => {
        noServerCalls();
        expect(sut.session.id !== undefined).toBe(snapshot.context.hasId);
      },
      committed: () => checkCookieCommitted(sut, cookies),
    },
    events: {
      ...params.events,
      'store.loaded': () => {
        sut.shadow.data = { ...CLIENT_DATA };
        sut.shadow.known = true;
        return sut.flush();
      },
      'store.done': () => sut.flush(),
    },
  };
}

/** The model's executors for the system `input` configures. */
const paramsFor = (sut: Sut) => (sut.cookies === undefined ? testParams(sut) : cookieTestParams(sut, sut.cookies));

const baseInput: LifecycleInput = {
  ...NO_FLAGS,
  clientCookie: 'valid',
  // The system under test runs with an idle timeout (IDLE_MS).
  idleTimeout: true,
};

/** How @sess/express-session runs the lifecycle: every express-session rule on. */
const expressSessionInput: LifecycleInput = {
  ...baseInput,
  idleTimeout: false,
  saveUninitialized: true,
  keepEmpty: true,
  touchEveryRequest: true,
  resendCookieOnChange: true,
  idAtStart: true,
};

/** The cookies a request can bring, each walked along simple paths too. */
const cookieInputs: Array<[string, LifecycleInput]> = [
  ...(['absent', 'rejected', 'valid', 'rotated'] as ClientCookie[]).map((clientCookie): [string, LifecycleInput] => [
    `cookie ${clientCookie}`,
    { ...baseInput, clientCookie },
  ]),
  // A rejected cookie starts as an absent one, and a rotated one as a valid one: two walks cover them.
  ...(['absent', 'valid'] as ClientCookie[]).map((clientCookie): [string, LifecycleInput] => [
    `cookie ${clientCookie}, express-session's rules`,
    { ...expressSessionInput, clientCookie },
  ]),
  ...(['absent', 'rejected', 'valid', 'rotated'] as ClientCookie[]).map((clientCookie): [string, LifecycleInput] => [
    `cookie ${clientCookie}, cookie sessions`,
    { ...baseInput, clientCookie, cookieCarriesData: true },
  ]),
];

/** Each configuration flag on its own, with a verified cookie: shortest paths to every state. */
const flagInputs: Array<[string, LifecycleInput]> = (
  [
    'rolling',
    'saveEveryRequest',
    'saveOnServerError',
    'browserSession',
    'testCookieReceived',
    'readOnly',
    'regenerateGrace',
    'saveUninitialized',
    'keepEmpty',
    'touchEveryRequest',
    'resendCookieOnChange',
    'idAtStart',
  ] as const
).map((flag) => [`cookie valid, ${flag}`, { ...baseInput, [flag]: true }]);

const SIMPLE_PATH_MAX_STEPS = 6;

/** An event as the coverage report names it: regenerate's two kinds apart. */
const eventName = (event: LifecycleEvent | { type: 'xstate.init' }) =>
  event.type === 'app.regenerate' ? `app.regenerate(keepData: ${String(event.keepData)})` : event.type;

/** What the walked paths cover, summed over every input: reported, and checked at the end. */
const covered = { events: new Set<string>(), states: new Set<string>(), inputs: new Set<string>() };

function coverageOf(input: LifecycleInput, paths: ReturnType<ReturnType<typeof modelFor>['getShortestPaths']>): void {
  for (const path of paths) {
    for (const step of path.steps) {
      covered.events.add(eventName(step.event as LifecycleEvent));
      covered.states.add(String(step.state.value));
    }
    covered.states.add(String(path.state.value));
  }
  for (const [flag, value] of Object.entries(input))
    if (value !== false) covered.inputs.add(flag === 'clientCookie' ? `cookie ${String(value)}` : flag);
}

describe.each([...cookieInputs, ...flagInputs])('lifecycle model, %s', (_, input) => {
  const model = modelFor(input);
  const shortest = model.getShortestPaths();

  // getPathsFromEvents ignores `input` (xstate 5.33) and starts from the default context; a
  // `fromState` built from the input starts it where the machine does.
  const [fromState] = initialTransition(lifecycleMachine, input);
  const walksSimplePaths = flagInputs.every(([, flagged]) => flagged !== input);
  const simple = walksSimplePaths
    ? boundedSimplePaths(input, SIMPLE_PATH_MAX_STEPS).flatMap((events) => model.getPathsFromEvents(events, { fromState }))
    : [];
  coverageOf(input, [...shortest, ...simple]);

  it('walks enough paths to mean something', () => {
    console.log(
      `model (${_}): ${shortest.length} shortest paths, ${simple.length} simple paths of <= ${SIMPLE_PATH_MAX_STEPS} steps to the end`,
    );
    expect(shortest.length).toBeGreaterThan(10);
    if (walksSimplePaths) expect(simple.length).toBeGreaterThan(20);
  });

  describe('shortest paths', () => {
    for (const path of shortest) {
      it(path.description, async () => {
        const sut = createSut(input);
        await path.test(paramsFor(sut));
      });
    }
  });

  if (walksSimplePaths)
    describe('simple paths, bounded', () => {
      for (const path of simple) {
        it(path.description, async () => {
          const sut = createSut(input);
          await path.test(paramsFor(sut));
        });
      }
    });
});

describe('lifecycle model coverage', () => {
  it('drives every input, every event of the model and every state of the machine, retired included', () => {
    console.log(
      `model coverage: inputs ${[...covered.inputs].sort().join(', ')}; events ${[...covered.events].sort().join(', ')}; states ${[...covered.states].sort().join(', ')}`,
    );
    for (const [, input] of [...cookieInputs, ...flagInputs]) {
      for (const [flag, value] of Object.entries(input))
        if (value !== false) expect(covered.inputs).toContain(flag === 'clientCookie' ? `cookie ${String(value)}` : flag);
    }
    for (const event of modelEvents) expect(covered.events).toContain(eventName(event));
    const stable = Object.keys(lifecycleMachine.config.states ?? {}).filter(
      (state) => !state.startsWith('planning') && !['starting', 'writing', 'retiring'].includes(state),
    );
    expect([...covered.states].sort()).toEqual(expect.arrayContaining(stable));
  });
});
