/**
 * The session lifecycle of one request, as one xstate machine.
 *
 * Two rules, after h11's `_state.py`:
 * 1. Every decision about session state lives in this file, as a transition or a named guard.
 *    Adapters, stores and the runtime only gather facts and carry out the actions named here.
 * 2. The machine is pure and finite: its context holds booleans and small enums only (the
 *    session's data, ids and times live beside it, in the runtime), so (snapshot, event)
 *    determines the answer and `runtime.ts` can memoize it. Flags that no later decision reads
 *    are reset, so the table stays small: the commit decides its whole plan at once.
 *
 * Actions are named effects with no implementation: the runtime maps them to `Effect` data.
 */
import { assign, enqueueActions, setup } from 'xstate';

/** What the request's session cookie turned out to be, before anything is loaded. */
export type ClientCookie =
  /** No cookie with the session's name. */
  | 'absent'
  /** A cookie that failed verification: tampered, unsigned, malformed or signed for another name. */
  | 'rejected'
  /** Verified under the current secret. */
  | 'valid'
  /** Verified under an older secret only: re-sign it (rotation). */
  | 'rotated';

export interface LifecycleInput {
  readonly rolling: boolean;
  readonly saveEveryRequest: boolean;
  readonly saveOnServerError: boolean;
  readonly clientCookie: ClientCookie;
  readonly testCookieReceived: boolean;
  /** The configured default lifetime ends when the browser closes. */
  readonly browserSession: boolean;
  /**
   * The cookie carries the session's data, sealed (cookie sessions), not just its id: every
   * save or touch changes the cookie's value, so each one re-sends it.
   */
  readonly cookieCarriesData: boolean;
}

/** The store write a commit performs for the current id. */
export type PrimaryWrite = 'none' | 'save' | 'touch' | 'destroy';

export interface LifecycleContext extends LifecycleInput {
  /** The app looked at or changed the session: the response varies by Cookie. */
  readonly accessed: boolean;
  /** The session's data is known (loaded, or known to be new). */
  readonly loaded: boolean;
  /** The session has an id (the client's, or a fresh one). */
  readonly hasId: boolean;
  /** The current id is the one the client's cookie names. */
  readonly idIsClients: boolean;
  /** The record the client's cookie names is live in the store. */
  readonly clientRecordLive: boolean;
  /** A record for the current id is live in the store. */
  readonly currentLive: boolean;
  /** Data or lifetime changed since the record was read. */
  readonly modified: boolean;
  /** The client's cookie carries an outdated lifetime (`setExpiry`, `touch`). */
  readonly expiryChanged: boolean;
  /** The record's life should be extended (rolling or idle timeout due, or `touch`). */
  readonly touchDue: boolean;
  readonly testCookie: 'keep' | 'set' | 'delete';
  /** The commit's plan, decided at once from the context and the response facts. */
  readonly primary: PrimaryWrite;
  readonly retire: boolean;
  readonly sessionCookie: 'keep' | 'set' | 'setBrowser' | 'delete';
  readonly cacheControlSet: boolean;
}

/** The record the store answered with, as facts (the runtime reads the record's times). */
export interface LoadedFacts {
  /** `missing` covers absent, unreadable and wrongly shaped records. */
  readonly record: 'live' | 'missing';
  /**
   * The record's own `expiresAt` has passed (a store's TTL may lag), or its times lie ahead of
   * the server's clock beyond a small tolerance (written while a clock ran fast: fail closed).
   */
  readonly pastExpiry: boolean;
  readonly pastIdleTimeout: boolean;
  readonly pastAbsoluteTimeout: boolean;
  readonly touchDue: boolean;
  /** The record's lifetime (its own, or the configured default) ends when the browser closes. */
  readonly browserSession: boolean;
  /**
   * The record is an id that `regenerate` replaced, kept for a grace window so requests already
   * in flight with the old cookie still find their session (`meta.retired`).
   */
  readonly retired: boolean;
}

/** Facts of the response at the moment of commit (before its headers leave). */
export interface CommitFacts {
  /** Status >= 500. */
  readonly serverError: boolean;
  /** The session holds no data now. */
  readonly empty: boolean;
  /** Someone else already wrote a Set-Cookie for the session's name (Duck). */
  readonly cookieAlreadySet: boolean;
  readonly cacheControlSet: boolean;
}

export type LifecycleEvent =
  /** Fetch the record the cookie names, if any; does not count as access (prefetch). */
  | { readonly type: 'app.load' }
  /** The app read the session. */
  | { readonly type: 'app.read' }
  /** The app set or deleted a key. */
  | { readonly type: 'app.write' }
  /** New id, old record retired at commit (Django `cycle_key`); optionally drop the data. */
  | { readonly type: 'app.regenerate'; readonly keepData: boolean }
  /** Destroy the record now, empty the session; the cookie is deleted at commit (Django `flush`). */
  | { readonly type: 'app.destroy' }
  /** Re-read the record, dropping unsaved changes. */
  | { readonly type: 'app.reload' }
  /** Save at commit even if nothing changed. */
  | { readonly type: 'app.save' }
  /** Extend the record's life at commit and re-send the cookie. */
  | { readonly type: 'app.touch' }
  /** A new lifetime; `browserSession` when it ends with the browser. */
  | { readonly type: 'app.setExpiry'; readonly browserSession: boolean }
  | { readonly type: 'app.setTestCookie' }
  | { readonly type: 'app.checkTestCookie' }
  | { readonly type: 'app.deleteTestCookie' }
  | ({ readonly type: 'store.loaded' } & LoadedFacts)
  | { readonly type: 'store.done' }
  /**
   * The store refused a save or touch because the session it would continue is dead: a destroy
   * won the race, or `regenerate` retired the id while this request was in flight.
   */
  | { readonly type: 'store.refused' }
  | { readonly type: 'store.failed' }
  | ({ readonly type: 'response.commit' } & CommitFacts);

/** The named actions the machine may emit; the runtime turns each into data. */
export const lifecycleActions = [
  'loadRecord',
  'saveRecord',
  'touchRecord',
  'destroyCurrentRecord',
  'destroyClientRecord',
  'retireClientRecord',
  'assignNewId',
  'adoptLoadedRecord',
  'clearData',
  'forgetId',
  'setSessionCookie',
  'setBrowserSessionCookie',
  'deleteSessionCookie',
  'setTestCookie',
  'deleteTestCookie',
  'varyOnCookie',
  'markPrivate',
] as const;
export type LifecycleAction = (typeof lifecycleActions)[number];

type GuardArgs = { readonly context: LifecycleContext; readonly event: LifecycleEvent };
type Facts = LifecycleContext & CommitFacts;

/** The commit's questions, asked of the context plus the response facts. */
const commitRules = {
  // Django #3881: no write for a response >= 500, unless configured.
  mayWrite: (f: Facts) => !f.serverError || f.saveOnServerError,
  // Cookie present and session emptied: destroy the record (Django deletes the cookie too).
  shouldDestroyCurrent: (f: Facts) => commitRules.mayWrite(f) && f.empty && f.currentLive,
  // Modified or save-every-request, not empty (Django); an untouched session is never saved.
  shouldSave: (f: Facts) => commitRules.mayWrite(f) && !f.empty && f.hasId && (f.modified || (f.saveEveryRequest && f.accessed)),
  shouldTouch: (f: Facts) => commitRules.mayWrite(f) && !f.empty && f.currentLive && f.accessed && f.touchDue && !commitRules.shouldSave(f),
  // After regenerate the record the old cookie names must die, once the new one is saved.
  shouldRetireClientRecord: (f: Facts) => commitRules.mayWrite(f) && f.clientRecordLive && !f.idIsClients,
  isLiveAfterCommit: (f: Facts) => commitRules.shouldSave(f) || (f.currentLive && !commitRules.shouldDestroyCurrent(f)),
  isClientRecordLiveAfterCommit: (f: Facts) =>
    f.clientRecordLive && !commitRules.shouldRetireClientRecord(f) && !(f.idIsClients && commitRules.shouldDestroyCurrent(f)),
  // Duck: the cookie is sent only when the client lacks a valid one, or the lifetime moved.
  // A cookie that carries the data (chirp, iron-session) is the record: every write re-sends it.
  shouldSetSessionCookie: (f: Facts) =>
    f.accessed &&
    !f.cookieAlreadySet &&
    commitRules.isLiveAfterCommit(f) &&
    (!f.idIsClients ||
      f.clientCookie === 'rotated' ||
      ((commitRules.shouldSave(f) || commitRules.shouldTouch(f)) && (f.expiryChanged || f.rolling || f.cookieCarriesData))),
  // The client holds a session cookie that names nothing live any more: clear it. Only a cookie
  // the server signed: a rejected one may be a junk cookie planted on a longer path (browsers
  // send it first), and deleting "it" at our path would delete the user's real cookie.
  shouldDeleteSessionCookie: (f: Facts) =>
    f.loaded &&
    f.accessed &&
    !f.cookieAlreadySet &&
    (f.clientCookie === 'valid' || f.clientCookie === 'rotated') &&
    !commitRules.isLiveAfterCommit(f) &&
    !commitRules.isClientRecordLiveAfterCommit(f),
};

function commitFacts({ context, event }: GuardArgs): Facts {
  if (event.type !== 'response.commit') throw new TypeError(`commit facts read from ${event.type}`);
  return { ...context, ...event };
}

/** Every question the machine asks, by name. */
const guards = {
  isDeadRecord: ({ event }: GuardArgs) =>
    // Django CVE-2015-5143 and design §2.6: a record the server can't vouch for is a new session.
    event.type === 'store.loaded' && (event.record === 'missing' || event.pastExpiry || event.pastIdleTimeout || event.pastAbsoluteTimeout),
  isRetiredRecord: ({ event }: GuardArgs) => event.type === 'store.loaded' && event.retired,
  hasCandidateCookie: ({ context }: GuardArgs) => context.clientCookie === 'valid' || context.clientCookie === 'rotated',
  hasNoId: ({ context }: GuardArgs) => !context.hasId,
  dropsData: ({ event }: GuardArgs) => event.type === 'app.regenerate' && !event.keepData,
  isClientRecordLive: ({ context }: GuardArgs) => context.clientRecordLive,
  isCurrentLive: ({ context }: GuardArgs) => context.currentLive,
  plansDestroy: ({ context }: GuardArgs) => context.primary === 'destroy',
  plansSave: ({ context }: GuardArgs) => context.primary === 'save',
  plansTouch: ({ context }: GuardArgs) => context.primary === 'touch',
  plansRetire: ({ context }: GuardArgs) => context.retire,
  setsSessionCookie: ({ context }: GuardArgs) => context.sessionCookie === 'set',
  setsBrowserSessionCookie: ({ context }: GuardArgs) => context.sessionCookie === 'setBrowser',
  deletesSessionCookie: ({ context }: GuardArgs) => context.sessionCookie === 'delete',
  setsTestCookie: ({ context }: GuardArgs) => context.testCookie === 'set',
  deletesTestCookie: ({ context }: GuardArgs) => context.testCookie === 'delete' && context.testCookieReceived,
  wasAccessed: ({ context }: GuardArgs) => context.accessed,
  needsCacheControl: ({ context }: GuardArgs) => !context.cacheControlSet,
} satisfies Record<string, (args: GuardArgs) => boolean>;

const effect = () => {};

/** A fresh, empty session: no id, nothing stored, data known, default lifetime. */
const freshSession = {
  loaded: true,
  hasId: false,
  idIsClients: false,
  currentLive: false,
  modified: false,
  expiryChanged: false,
  touchDue: false,
} as const satisfies Partial<LifecycleContext>;

/** What is left once the lifecycle is over: nothing any later decision reads. */
const settled: LifecycleContext = {
  rolling: false,
  saveEveryRequest: false,
  saveOnServerError: false,
  clientCookie: 'absent',
  testCookieReceived: false,
  browserSession: false,
  cookieCarriesData: false,
  accessed: false,
  loaded: false,
  hasId: false,
  idIsClients: false,
  clientRecordLive: false,
  currentLive: false,
  modified: false,
  expiryChanged: false,
  touchDue: false,
  testCookie: 'keep',
  primary: 'none',
  retire: false,
  sessionCookie: 'keep',
  cacheControlSet: false,
};

// The test cookie is its own cookie: it needs no store and works before anything is loaded.
const testCookieEvents = {
  'app.setTestCookie': { actions: 'requestTestCookie' },
  'app.deleteTestCookie': { actions: 'dropTestCookie' },
  'app.checkTestCookie': { actions: 'markAccessed' },
} as const;

/** Fixation defence (Django cycle_key): the new id is saved at commit, then the old record retires. */
const regenerateTransitions = [
  { guard: 'dropsData', target: 'active', actions: ['clearData', 'assignNewId', 'markRegenerated'] },
  { target: 'active', actions: ['assignNewId', 'markRegenerated'] },
] as const;

/** Sign-out of a session whose record is live: destroy it now, the cookie goes at commit. */
const destroyClientTransition = { target: 'destroying', actions: ['destroyClientRecord', 'markSignedOut'] } as const;

export const lifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    input: {} as LifecycleInput,
    events: {} as LifecycleEvent,
  },
  guards,
  actions: {
    loadRecord: effect,
    saveRecord: effect,
    touchRecord: effect,
    destroyCurrentRecord: effect,
    destroyClientRecord: effect,
    retireClientRecord: effect,
    assignNewId: effect,
    adoptLoadedRecord: effect,
    clearData: effect,
    forgetId: effect,
    setSessionCookie: effect,
    setBrowserSessionCookie: effect,
    deleteSessionCookie: effect,
    setTestCookie: effect,
    deleteTestCookie: effect,
    varyOnCookie: effect,
    markPrivate: effect,
    requestTestCookie: assign({ testCookie: 'set', accessed: true }),
    dropTestCookie: assign({ testCookie: 'delete', accessed: true }),
    markAccessed: assign({ accessed: true }),
    markRegenerated: assign({ accessed: true, modified: true, hasId: true, idIsClients: false, currentLive: false }),
    markSignedOut: assign({ ...freshSession, accessed: true }),
    // The whole commit is decided here, from the context and the response facts: a store
    // failure ends in `failed` with no HTTP effects, so the plan can assume every write succeeds.
    planCommit: assign((args) => {
      const f = commitFacts(args);
      const primary: PrimaryWrite = commitRules.shouldDestroyCurrent(f)
        ? 'destroy'
        : commitRules.shouldSave(f)
          ? 'save'
          : commitRules.shouldTouch(f)
            ? 'touch'
            : 'none';
      const sessionCookie = commitRules.shouldSetSessionCookie(f)
        ? f.browserSession
          ? 'setBrowser'
          : 'set'
        : commitRules.shouldDeleteSessionCookie(f)
          ? 'delete'
          : 'keep';
      return {
        ...settled,
        accessed: f.accessed,
        testCookie: f.testCookie,
        testCookieReceived: f.testCookieReceived,
        cacheControlSet: f.cacheControlSet,
        primary,
        retire: commitRules.shouldRetireClientRecord(f),
        sessionCookie,
      } satisfies LifecycleContext;
    }),
    // A retired record answers reads only: no write, and no cookie, since the browser already
    // holds (or is about to get) the cookie of the id that replaced it.
    planRetiredCommit: assign(({ context, event }) => ({
      ...settled,
      accessed: context.accessed,
      testCookie: context.testCookie,
      testCookieReceived: context.testCookieReceived,
      cacheControlSet: event.type === 'response.commit' && event.cacheControlSet,
    })),
    respond: enqueueActions(({ enqueue, check }) => {
      let cookieSet = false;
      if (check(guards.setsSessionCookie)) {
        enqueue('setSessionCookie');
        cookieSet = true;
      } else if (check(guards.setsBrowserSessionCookie)) {
        enqueue('setBrowserSessionCookie');
        cookieSet = true;
      } else if (check(guards.deletesSessionCookie)) {
        enqueue('deleteSessionCookie');
      }
      if (check(guards.setsTestCookie)) {
        enqueue('setTestCookie');
        cookieSet = true;
      } else if (check(guards.deletesTestCookie)) {
        enqueue('deleteTestCookie');
      }
      if (check(guards.wasAccessed)) enqueue('varyOnCookie');
      // A response that sets a cookie must not be stored by shared caches (Django, RFC 9111 §5.2.2.7).
      if (cookieSet && check(guards.needsCacheControl)) enqueue('markPrivate');
    }),
    settle: assign(() => settled),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...settled, ...input }),
  initial: 'starting',
  states: {
    // Without a verified cookie there is nothing to load: the session is new and known at once.
    starting: {
      always: [
        { guard: 'hasCandidateCookie', target: 'unloaded' },
        { target: 'active', actions: assign(freshSession) },
      ],
    },
    // Lazy (Duck, Django): nothing is read until the app needs the session. Reads and writes
    // are synchronous, so with a record to look up the app must `load()` first.
    unloaded: {
      on: {
        ...testCookieEvents,
        'app.load': { target: 'loading', actions: 'loadRecord' },
        // Sign-out needs no read: destroy what the cookie names in one round trip.
        'app.destroy': { target: 'destroying', actions: ['destroyClientRecord', assign({ accessed: true })] },
        // Never loaded: only the test cookie and Vary can come out (design §2.5).
        'response.commit': { target: 'committed', actions: ['planCommit', 'respond', 'settle'] },
      },
    },
    loading: {
      on: {
        'store.loaded': [
          {
            guard: 'isDeadRecord',
            target: 'active',
            actions: ['clearData', 'forgetId', assign({ ...freshSession, clientRecordLive: false })],
          },
          {
            guard: 'isRetiredRecord',
            target: 'retired',
            actions: [
              'adoptLoadedRecord',
              assign({ ...freshSession, hasId: true, idIsClients: true, clientRecordLive: true, currentLive: true }),
            ],
          },
          {
            target: 'active',
            actions: [
              'adoptLoadedRecord',
              assign(({ event }) => ({
                ...freshSession,
                hasId: true,
                idIsClients: true,
                clientRecordLive: true,
                currentLive: true,
                touchDue: event.type === 'store.loaded' && event.touchDue,
                browserSession: event.type === 'store.loaded' && event.browserSession,
              })),
            ],
          },
        ],
        'store.failed': { target: 'failed', actions: 'settle' },
      },
    },
    active: {
      on: {
        ...testCookieEvents,
        // Targets itself: xstate counts an empty transition as not allowed, and loading twice is fine.
        'app.load': { target: 'active' },
        'app.read': { actions: 'markAccessed' },
        'app.write': [
          { guard: 'hasNoId', actions: ['assignNewId', assign({ accessed: true, modified: true, hasId: true })] },
          { actions: assign({ accessed: true, modified: true }) },
        ],
        'app.save': { actions: assign({ accessed: true, modified: true }) },
        'app.touch': { actions: assign({ accessed: true, touchDue: true, expiryChanged: true }) },
        'app.setExpiry': {
          actions: assign(({ event }) => ({
            accessed: true,
            modified: true,
            expiryChanged: true,
            browserSession: event.type === 'app.setExpiry' && event.browserSession,
          })),
        },
        'app.regenerate': regenerateTransitions,
        'app.destroy': [
          { guard: 'isClientRecordLive', ...destroyClientTransition },
          { actions: ['clearData', 'forgetId', assign({ ...freshSession, accessed: true })] },
        ],
        'app.reload': [
          { guard: 'isCurrentLive', target: 'loading', actions: ['loadRecord', assign({ ...freshSession, accessed: true })] },
          { actions: ['clearData', assign({ accessed: true, modified: false })] },
        ],
        'response.commit': { target: 'writing', actions: 'planCommit' },
      },
    },
    // The old id of a regenerated session, in its grace window: readable, never written or
    // extended. Regenerate and destroy are allowed (a sign-in or sign-out racing the rotation);
    // any other change is refused, since it would be saved nowhere.
    retired: {
      on: {
        ...testCookieEvents,
        'app.load': { target: 'retired' },
        'app.read': { actions: 'markAccessed' },
        'app.regenerate': regenerateTransitions,
        'app.destroy': destroyClientTransition,
        'response.commit': { target: 'committed', actions: ['planRetiredCommit', 'respond', 'settle'] },
      },
    },
    // A failed destroy still ends the session here: sign-out must clear the cookie (the runner
    // reports the failure to the app, so the response can't be a 2xx).
    destroying: {
      on: {
        'store.done': { target: 'active', actions: ['clearData', 'forgetId', assign({ ...freshSession, clientRecordLive: false })] },
        'store.failed': { target: 'active', actions: ['clearData', 'forgetId', assign({ ...freshSession, clientRecordLive: false })] },
      },
    },
    // Commit, step 1: the write for the current id.
    writing: {
      always: [
        { guard: 'plansDestroy', target: 'awaitingWrite', actions: 'destroyCurrentRecord' },
        { guard: 'plansSave', target: 'awaitingWrite', actions: 'saveRecord' },
        { guard: 'plansTouch', target: 'awaitingWrite', actions: 'touchRecord' },
        { target: 'retiring' },
      ],
    },
    awaitingWrite: {
      on: {
        'store.done': { target: 'retiring', actions: assign({ primary: 'none' }) },
        // The id is dead (destroyed or retired by a racing request): no cookie may name it, and
        // none is deleted either, since the browser may already hold the racing request's cookie.
        'store.refused': { target: 'retiring', actions: assign({ primary: 'none', sessionCookie: 'keep' }) },
        'store.failed': { target: 'failed', actions: 'settle' },
      },
    },
    // Commit, step 2: retire the record the client's old cookie names (after regenerate): the
    // runtime destroys it, or with a grace window marks it retired and shortens its life.
    retiring: {
      always: [
        { guard: 'plansRetire', target: 'awaitingRetire', actions: 'retireClientRecord' },
        { target: 'committed', actions: ['respond', 'settle'] },
      ],
    },
    awaitingRetire: {
      on: {
        'store.done': { target: 'committed', actions: ['respond', 'settle'] },
        // The old record was already gone: retiring it is done all the same.
        'store.refused': { target: 'committed', actions: ['respond', 'settle'] },
        'store.failed': { target: 'failed', actions: 'settle' },
      },
    },
    // Repeated commits (an error page after a failed write) change nothing.
    committed: { on: { 'response.commit': { target: 'committed' } } },
    failed: { on: { 'response.commit': { target: 'failed' } } },
  },
});

export type LifecycleMachine = typeof lifecycleMachine;
