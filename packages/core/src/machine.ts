/**
 * The session lifecycle of one request, as one xstate machine.
 *
 * Two rules, after the state machine of h11 (a Python HTTP/1.1 library that does no I/O of its own):
 * 1. Every decision about session state lives in this file, as a transition or a named guard.
 *    Adapters, stores and the runtime only gather facts and carry out the actions named here.
 * 2. The machine is pure and finite: its context holds booleans and small enums only (the
 *    session's data, ids and times live beside it, in the runtime), so (snapshot, event)
 *    determines the answer and `runtime.ts` can memoize it. Flags that no later decision reads
 *    are reset, so the table stays small: the commit decides its whole plan at once.
 *
 * Actions are named effects with no implementation: the runtime maps them to `Effect` data.
 */
import { and, assign, enqueueActions, setup } from 'xstate';

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
  /**
   * The request may read the session but not change it: no write of any kind, and any change
   * the app asks for is refused (parallel reads can't clobber a writer).
   */
  readonly readOnly: boolean;
  /** An idle timeout is configured: like `rolling`, every use extends the record. */
  readonly idleTimeout: boolean;
  /** After `regenerate`, the replaced record stays readable for a grace window instead of dying at once. */
  readonly regenerateGrace: boolean;
  // express-session's lifecycle, one rule each (absent means false, sess's own rules):
  /** A new session the request used is saved, and gets its cookie, even when unmodified or empty. */
  readonly saveUninitialized?: boolean;
  /** An emptied session is still a session: saved like any other, never destroyed for being empty. */
  readonly keepEmpty?: boolean;
  /** Every request that uses a live session extends its record (express-session calls the store's `touch`). */
  readonly touchEveryRequest?: boolean;
  /** A lasting (not browser-session) cookie is re-sent whenever the session's data changes and is saved. */
  readonly resendCookieOnChange?: boolean;
  /** A new session has its id from the start, not from its first write (express-session's `req.sessionID`). */
  readonly idAtStart?: boolean;
}

/**
 * The store write a commit performs for the current id. A save of an id the store never held
 * creates the session (`saveNew`), or after regenerate moves it there (`saveRegenerated`).
 */
export type PrimaryWrite = 'none' | 'save' | 'saveNew' | 'saveRegenerated' | 'touch' | 'destroy';

export interface LifecycleContext extends LifecycleInput {
  readonly saveUninitialized: boolean;
  readonly keepEmpty: boolean;
  readonly touchEveryRequest: boolean;
  readonly resendCookieOnChange: boolean;
  readonly idAtStart: boolean;
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
  /**
   * The store refused a write to the client's record (a racing request destroyed or retired it):
   * the browser may already hold the racing request's cookie, so this one must not delete it.
   */
  readonly clientCookieSuperseded: boolean;
  /** A record for the current id is live in the store. */
  readonly currentLive: boolean;
  /** Data or lifetime changed since the record was read (or last saved with `app.saveNow`). */
  readonly modified: boolean;
  /** The app changed the data or the id during this request, saved since or not. */
  readonly changed: boolean;
  /** The client's cookie carries an outdated lifetime (`setExpiry`, `touch`). */
  readonly expiryChanged: boolean;
  /** The configured lifetime (the input's `browserSession`): what a fresh session ends with, whatever the last record or `setExpiry` said. */
  readonly defaultBrowserSession: boolean;
  /** The record's life should be extended (rolling or idle timeout due, or `touch`). */
  readonly touchDue: boolean;
  /**
   * `app.saveNow` wrote the current record during this request: its life moved then, so the
   * commit sends the cookie a write would without writing again.
   */
  readonly savedNow: boolean;
  readonly testCookie: 'keep' | 'set' | 'delete';
  /** The commit's plan, decided at once from the context and the response facts. */
  readonly primary: PrimaryWrite;
  /**
   * What happens to the record the client's old cookie names, after regenerate: destroyed, kept
   * for the grace window, or (cookie sessions, where destroying it revokes the id) destroyed once
   * the cookie that replaces it is made.
   */
  readonly retire: 'none' | 'destroy' | 'grace' | 'destroyAfterCookie';
  readonly sessionCookie: 'keep' | 'set' | 'setBrowser' | 'delete';
  /**
   * Once the commit has begun: a record for the current id may be live in the store once it ends
   * (saved, or kept as it was), which a sign-out after the response (`destroyingLate`) destroys.
   */
  readonly leavesLiveRecord: boolean;
  /** The same for the record the client's cookie names, where that is another id (after regenerate). */
  readonly leavesClientRecord: boolean;
  /** Facts of the response, from `response.commit`, while the commit is planned. */
  readonly serverError: boolean;
  readonly headersSent: boolean;
  readonly empty: boolean;
  readonly cookieAlreadySet: boolean;
  readonly sharedCachesKeptOut: boolean;
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
  /** At least `touchAfterMs` passed since the record was last extended. */
  readonly touchIntervalPassed: boolean;
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
  /**
   * The response's headers left before the commit (the app wrote past the framework): no cookie
   * can go with them, so nothing is written, whatever `saveOnServerError` says.
   */
  readonly headersSent: boolean;
  /** The session holds no data now. */
  readonly empty: boolean;
  /** Someone else already wrote a Set-Cookie for the session's name: theirs stands. */
  readonly cookieAlreadySet: boolean;
  readonly sharedCachesKeptOut: boolean;
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
  /** Save now, before the commit (express-session's `save(callback)`); the commit saves again only after new changes. */
  | { readonly type: 'app.saveNow' }
  /** The app let go of the session (express-session's `unset: 'keep'`): the commit writes nothing and sends no cookie. */
  | { readonly type: 'app.discard' }
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
  'saveNewRecord',
  'saveRegeneratedRecord',
  'touchRecord',
  'destroyCurrentRecord',
  'destroyClientRecord',
  'retireClientRecord',
  'destroyReplacedRecord',
  'assignNewId',
  'adoptLoadedRecord',
  'adoptReloadedRecord',
  'clearData',
  'forgetId',
  'forgetExpiry',
  'setSessionCookie',
  'setBrowserSessionCookie',
  'deleteSessionCookie',
  'setTestCookie',
  'deleteTestCookie',
  'varyOnCookie',
  'markPrivate',
  'dropChange',
  'joinSignOut',
] as const;
export type LifecycleAction = (typeof lifecycleActions)[number];

type GuardArgs = { readonly context: LifecycleContext; readonly event: LifecycleEvent };
type Context = LifecycleContext;

/**
 * The commit's questions, asked of the context once the response's facts are in it. Each is a
 * named guard of a transition in the `planning*` states, so the plan is part of the graph.
 */
const commitRules = {
  // Django #3881: no write for a response >= 500, unless configured; a read-only request never writes.
  // Once the headers have left, a write would name a record the browser never hears of.
  mayWrite: (c: Context) => !c.readOnly && !c.headersSent && (!c.serverError || c.saveOnServerError),
  // Cookie present and session emptied: destroy the record (Django deletes the cookie too);
  // express-session keeps an emptied session as a session.
  shouldDestroyCurrent: (c: Context) => commitRules.mayWrite(c) && c.empty && c.currentLive && !c.keepEmpty,
  isKept: (c: Context) => !c.empty || c.keepEmpty,
  // Modified or save-every-request, not empty (Django); an untouched session is never saved.
  // Saving every request concerns stored sessions: a new one is saved only if modified (express-session's resave).
  // A session `app.saveNow` wrote this request and nothing changed since is not written again
  // (express-session's saved hash): its lifetime moved with that write.
  // express-session's saveUninitialized saves a new session the request used, modified or not.
  shouldSave: (c: Context) =>
    commitRules.mayWrite(c) &&
    c.hasId &&
    ((commitRules.isKept(c) && (c.modified || (c.saveEveryRequest && c.accessed && c.currentLive && !c.savedNow))) ||
      (c.saveUninitialized && c.accessed && !c.idIsClients && !c.currentLive)),
  shouldTouch: (c: Context) => commitRules.mayWrite(c) && commitRules.isKept(c) && c.currentLive && c.accessed && c.touchDue,
  // After regenerate the record the old cookie names must die, once the new one is saved.
  shouldRetireClientRecord: (c: Context) => commitRules.mayWrite(c) && c.clientRecordLive && !c.idIsClients,
  savesRecord: (c: Context) => c.primary === 'save' || c.primary === 'saveNew' || c.primary === 'saveRegenerated',
  isLiveAfterCommit: (c: Context) => commitRules.savesRecord(c) || (c.currentLive && c.primary !== 'destroy'),
  isClientRecordLiveAfterCommit: (c: Context) => c.clientRecordLive && c.retire === 'none' && !(c.idIsClients && c.primary === 'destroy'),
  // The record's lifetime moves with this commit.
  isExtended: (c: Context) => commitRules.savesRecord(c) || c.primary === 'touch' || c.savedNow,
  // The cookie is sent only when the client lacks a valid one, or the lifetime moved.
  // A cookie that carries the data (cookie sessions, as iron-session's) is the record: every write re-sends it.
  // express-session re-sends a lasting cookie with each change, so its expiry follows the record's.
  // Never on a read-only request, which saves nothing, not even a re-signed cookie: a writer in
  // parallel may have just moved the browser to a new id, whose cookie this answer could follow.
  shouldSetSessionCookie: (c: Context) =>
    !c.readOnly &&
    c.accessed &&
    !c.cookieAlreadySet &&
    commitRules.isLiveAfterCommit(c) &&
    (!c.idIsClients ||
      c.clientCookie === 'rotated' ||
      (commitRules.isExtended(c) && (c.expiryChanged || c.rolling || c.cookieCarriesData)) ||
      (c.resendCookieOnChange && c.changed && !c.browserSession && commitRules.isExtended(c))),
  // The client holds a session cookie that names nothing live any more: clear it. Only a cookie
  // the server signed: a rejected one may be a junk cookie planted on a longer path (browsers
  // send it first), and deleting "it" at our path would delete the user's real cookie. Never on a
  // read-only request, for the reason `shouldSetSessionCookie` gives.
  shouldDeleteSessionCookie: (c: Context) =>
    !c.readOnly &&
    c.loaded &&
    c.accessed &&
    !c.cookieAlreadySet &&
    (c.clientCookie === 'valid' || c.clientCookie === 'rotated') &&
    !c.clientCookieSuperseded &&
    !commitRules.isLiveAfterCommit(c) &&
    !commitRules.isClientRecordLiveAfterCommit(c),
};

const ask =
  (rule: (c: Context) => boolean) =>
  ({ context }: GuardArgs) =>
    rule(context);

/** Every question the machine asks, by name. */
const guards = {
  shouldDestroyCurrent: ask(commitRules.shouldDestroyCurrent),
  shouldSave: ask(commitRules.shouldSave),
  shouldTouch: ask(commitRules.shouldTouch),
  shouldRetireClientRecord: ask(commitRules.shouldRetireClientRecord),
  shouldSetBrowserSessionCookie: ({ context }: GuardArgs) => context.browserSession && commitRules.shouldSetSessionCookie(context),
  shouldSetSessionCookie: ask(commitRules.shouldSetSessionCookie),
  shouldDeleteSessionCookie: ask(commitRules.shouldDeleteSessionCookie),
  // Every change is refused on a read-only request: nothing it does could be saved.
  isWritable: ({ context }: GuardArgs) => !context.readOnly,
  // The record is on the server, not in a cookie that has already left with the response.
  keepsRecordOnServer: ({ context }: GuardArgs) => !context.cookieCarriesData,
  leavesLiveRecord: ({ context }: GuardArgs) => context.leavesLiveRecord,
  leavesClientRecord: ({ context }: GuardArgs) => context.leavesClientRecord,
  // A session saved whenever it is used (saveUninitialized) needs its id from the start too.
  issuesIdAtStart: ({ context }: GuardArgs) => context.idAtStart || context.saveUninitialized,
  retiresWithGrace: ({ context }: GuardArgs) => context.regenerateGrace,
  // Cookie sessions: the record is the cookie, and destroying the client's one revokes its id (`onRevoke`).
  carriesDataInCookie: ({ context }: GuardArgs) => context.cookieCarriesData,
  isDeadRecord: ({ event }: GuardArgs) =>
    // Django CVE-2015-5143 and design §2.6: a record the server can't vouch for is a new session.
    event.type === 'store.loaded' && (event.record === 'missing' || event.pastExpiry || event.pastIdleTimeout || event.pastAbsoluteTimeout),
  isRetiredRecord: ({ event }: GuardArgs) => event.type === 'store.loaded' && event.retired,
  hasCandidateCookie: ({ context }: GuardArgs) => context.clientCookie === 'valid' || context.clientCookie === 'rotated',
  hasNoId: ({ context }: GuardArgs) => !context.hasId,
  dropsData: ({ event }: GuardArgs) => event.type === 'app.regenerate' && !event.keepData,
  isClientRecordLive: ({ context }: GuardArgs) => context.clientRecordLive,
  isCurrentLive: ({ context }: GuardArgs) => context.currentLive,
  // A new id already written by `app.saveNow`: a record of its own, which the client doesn't know yet.
  isNewRecordLive: ({ context }: GuardArgs) => context.currentLive && !context.idIsClients,
  // An id the store has never held: its first save creates the session, or after regenerate
  // (the client's record still live, to be retired) moves it there.
  isUnsavedNewId: ({ context }: GuardArgs) => !context.idIsClients && !context.currentLive,
  // Nothing saved under the session's id to read back, and no regeneration away from a live
  // record, whose saved data sits under the id being replaced: starting over would sign out.
  mayStartOverOnReload: ({ context }: GuardArgs) => context.idIsClients || context.currentLive || !context.clientRecordLive,
  plansDestroy: ({ context }: GuardArgs) => context.primary === 'destroy',
  plansSave: ({ context }: GuardArgs) => context.primary === 'save',
  plansSaveNew: ({ context }: GuardArgs) => context.primary === 'saveNew',
  plansSaveRegenerated: ({ context }: GuardArgs) => context.primary === 'saveRegenerated',
  plansTouch: ({ context }: GuardArgs) => context.primary === 'touch',
  plansRetireWithGrace: ({ context }: GuardArgs) => context.retire === 'grace',
  plansRetire: ({ context }: GuardArgs) => context.retire === 'destroy',
  plansRetireAfterCookie: ({ context }: GuardArgs) => context.retire === 'destroyAfterCookie',
  setsSessionCookie: ({ context }: GuardArgs) => context.sessionCookie === 'set',
  setsBrowserSessionCookie: ({ context }: GuardArgs) => context.sessionCookie === 'setBrowser',
  deletesSessionCookie: ({ context }: GuardArgs) => context.sessionCookie === 'delete',
  setsTestCookie: ({ context }: GuardArgs) => context.testCookie === 'set',
  deletesTestCookie: ({ context }: GuardArgs) => context.testCookie === 'delete' && context.testCookieReceived,
  wasAccessed: ({ context }: GuardArgs) => context.accessed,
  isDataKnown: ({ context }: GuardArgs) => context.loaded,
  needsCacheControl: ({ context }: GuardArgs) => !context.sharedCachesKeptOut,
} satisfies Record<string, (args: GuardArgs) => boolean>;

const effect = () => {};

/** A fresh, empty session: no id, nothing stored, data known, the configured lifetime. */
const freshSession = ({ context }: { readonly context: LifecycleContext }) =>
  ({
    loaded: true,
    hasId: false,
    idIsClients: false,
    currentLive: false,
    modified: false,
    changed: false,
    expiryChanged: false,
    touchDue: false,
    browserSession: context.defaultBrowserSession,
  }) as const satisfies Partial<LifecycleContext>;

/** The fresh session with `also` on top. */
const fresh = (also: Partial<LifecycleContext> = {}) =>
  assign<LifecycleContext, LifecycleEvent, undefined, LifecycleEvent, never>((args) => ({ ...freshSession(args), ...also }));

/** What is left once the lifecycle is over: nothing any later decision reads. */
const settled: LifecycleContext = {
  rolling: false,
  saveEveryRequest: false,
  saveOnServerError: false,
  clientCookie: 'absent',
  testCookieReceived: false,
  browserSession: false,
  cookieCarriesData: false,
  readOnly: false,
  idleTimeout: false,
  regenerateGrace: false,
  saveUninitialized: false,
  keepEmpty: false,
  touchEveryRequest: false,
  resendCookieOnChange: false,
  idAtStart: false,
  accessed: false,
  loaded: false,
  hasId: false,
  idIsClients: false,
  clientRecordLive: false,
  clientCookieSuperseded: false,
  currentLive: false,
  modified: false,
  changed: false,
  expiryChanged: false,
  defaultBrowserSession: false,
  touchDue: false,
  savedNow: false,
  testCookie: 'keep',
  primary: 'none',
  retire: 'none',
  sessionCookie: 'keep',
  leavesLiveRecord: false,
  leavesClientRecord: false,
  serverError: false,
  headersSent: false,
  empty: false,
  cookieAlreadySet: false,
  sharedCachesKeptOut: false,
};
const settledLoaded: LifecycleContext = { ...settled, loaded: true };

// The test cookie is its own cookie: it needs no store and works before anything is loaded.
const testCookieEvents = {
  'app.setTestCookie': { actions: 'requestTestCookie' },
  'app.deleteTestCookie': { actions: 'dropTestCookie' },
  'app.checkTestCookie': { actions: 'markAccessed' },
} as const;

/**
 * A change once the commit has begun: nothing can save it any more, so it is dropped (and
 * reported), as express-session, koa-session and Django drop it. Refusing it would throw where
 * such changes are made, a timer or a stream's callback, and take the process down.
 */
const lateChangeEvents = {
  'app.write': { actions: 'dropChange' },
  'app.save': { actions: 'dropChange' },
  'app.touch': { actions: 'dropChange' },
  'app.setExpiry': { actions: 'dropChange' },
  'app.setTestCookie': { actions: 'dropChange' },
  'app.deleteTestCookie': { actions: 'dropChange' },
} as const;

/** Fixation defence (Django cycle_key): the new id is saved at commit, then the old record retires. */
const regenerateTransitions = [
  { guard: and(['isWritable', 'dropsData']), target: 'active', actions: ['clearData', 'assignNewId', 'markRegenerated'] },
  { guard: 'isWritable', target: 'active', actions: ['assignNewId', 'markRegenerated'] },
] as const;

/**
 * Sign-out: destroy the client's record now (the cookie goes at commit). The session is empty at
 * once, so an app that doesn't await the destroy (Koa's `ctx.session = null`) can read it, and
 * write to start a new one, while the record is being destroyed.
 */
const signOutActions = ['destroyClientRecord', 'clearData', 'forgetId', 'markSignedOut'] as const;
const destroyClientTransition = { guard: 'isWritable', target: 'destroying', actions: signOutActions } as const;

/**
 * A second sign-out while one is being carried out joins it at once, rather than waiting its turn
 * to empty what the app wrote after the call: it settles when the first does.
 */
const joinSignOut = { actions: 'joinSignOut' } as const;

/** Sign-out once the commit has begun: the session is empty and known, with no id, at once. */
const lateSignOutActions = ['destroyCurrentRecord', 'clearData', 'forgetId', 'markSignedOutLate'] as const;
/** Sign-out once the request's commit has begun or its store work failed (see \`destroyingLate\`). */
const lateSignOut = [
  { guard: and(['isWritable', 'keepsRecordOnServer', 'leavesLiveRecord']), target: 'destroyingLate', actions: lateSignOutActions },
  {
    guard: and(['isWritable', 'keepsRecordOnServer', 'leavesClientRecord']),
    target: 'destroyingLateClient',
    actions: ['destroyClientRecord', ...lateSignOutActions.slice(1)],
  },
  { guard: and(['isWritable', 'keepsRecordOnServer']), target: 'committed', actions: lateSignOutActions.slice(1) },
] as const;
const lateClientSignOut = [
  { guard: 'leavesClientRecord', target: 'destroyingLateClient', actions: 'destroyClientRecord' },
  { target: 'committed' },
] as const;

/** A commit: the response's facts join the context, and the plan is made from both. */
const commitTransition = { target: 'planning', actions: 'noteResponse' } as const;

/** express-session's `unset: 'keep'`: the app let go of the session, so nothing about it is written or sent. */
const discardTransition = { target: 'discarded', actions: ['keepLiveRecord', 'settle'] } as const;

/** A write: the first one of a session without an id gives it one. */
const newSessionWrite = [
  { guard: and(['isWritable', 'hasNoId']), actions: ['assignNewId', 'markWritten', 'markHasId'] },
  { guard: 'isWritable', actions: 'markWritten' },
] as const;

/** A new session's id from the start (express-session generates it before the app runs). */
const freshWithId = ['assignNewId', 'markFreshWithId'] as const;

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
    saveNewRecord: effect,
    saveRegeneratedRecord: effect,
    touchRecord: effect,
    destroyCurrentRecord: effect,
    destroyClientRecord: effect,
    retireClientRecord: effect,
    destroyReplacedRecord: effect,
    assignNewId: effect,
    adoptLoadedRecord: effect,
    adoptReloadedRecord: effect,
    clearData: effect,
    forgetId: effect,
    forgetExpiry: effect,
    setSessionCookie: effect,
    setBrowserSessionCookie: effect,
    deleteSessionCookie: effect,
    setTestCookie: effect,
    deleteTestCookie: effect,
    varyOnCookie: effect,
    markPrivate: effect,
    dropChange: effect,
    joinSignOut: effect,
    requestTestCookie: assign({ testCookie: 'set', accessed: true }),
    dropTestCookie: assign({ testCookie: 'delete', accessed: true }),
    markAccessed: assign({ accessed: true }),
    markRegenerated: assign(({ context }) => ({
      accessed: true,
      modified: true,
      changed: context.resendCookieOnChange,
      hasId: true,
      idIsClients: false,
      currentLive: false,
    })),
    // `changed` is tracked only where a decision reads it, so the other configurations keep their small table.
    markWritten: assign(({ context }) => ({ accessed: true, modified: true, changed: context.resendCookieOnChange })),
    markHasId: assign({ hasId: true }),
    markSignedOut: fresh({ accessed: true }),
    markSignedOutLate: assign({ loaded: true, leavesLiveRecord: false }),
    markClientSignedOutLate: assign({ leavesClientRecord: false }),
    // A failed store call ends the request in \`failed\`, where a sign-out still destroys every
    // record the session may name: what the failed call was to change may be live or not.
    noteLoadFailed: assign(({ context }) => ({
      leavesLiveRecord: false,
      leavesClientRecord: context.clientCookie === 'valid' || context.clientCookie === 'rotated',
    })),
    noteReloadFailed: assign(({ context }) => ({
      leavesLiveRecord: context.hasId,
      leavesClientRecord: context.clientRecordLive && !context.idIsClients,
    })),
    noteWriteFailed: assign(({ context }) => ({
      leavesLiveRecord: true,
      leavesClientRecord: context.leavesClientRecord || context.retire !== 'none',
    })),
    noteRetireFailed: assign({ leavesClientRecord: true }),
    // The app let go of the session: the record stays as it was, for a sign-out after the response.
    keepLiveRecord: assign(({ context }) => ({
      leavesLiveRecord: context.currentLive,
      leavesClientRecord: context.clientRecordLive && !context.idIsClients,
    })),
    markFreshWithId: fresh({ hasId: true }),
    noteResponse: assign(({ event }) =>
      event.type === 'response.commit'
        ? {
            serverError: event.serverError,
            headersSent: event.headersSent,
            empty: event.empty,
            cookieAlreadySet: event.cookieAlreadySet,
            sharedCachesKeptOut: event.sharedCachesKeptOut,
          }
        : {},
    ),
    // The plan is made: keep what the writes and the response still read, reset the rest.
    settlePlan: assign(({ context }) => ({
      ...settled,
      loaded: context.loaded,
      accessed: context.accessed,
      testCookie: context.testCookie,
      testCookieReceived: context.testCookieReceived,
      sharedCachesKeptOut: context.sharedCachesKeptOut,
      primary: context.primary,
      retire: context.retire,
      sessionCookie: context.sessionCookie,
      leavesLiveRecord: commitRules.isLiveAfterCommit(context),
      leavesClientRecord: commitRules.isClientRecordLiveAfterCommit(context) && !context.idIsClients,
      readOnly: context.readOnly,
      cookieCarriesData: context.cookieCarriesData,
    })),
    // A retired record answers reads only: no write, and no cookie, since the browser already
    // holds (or is about to get) the cookie of the id that replaced it.
    planRetiredCommit: assign(({ context, event }) => ({
      ...settled,
      loaded: context.loaded,
      accessed: context.accessed,
      testCookie: context.testCookie,
      testCookieReceived: context.testCookieReceived,
      sharedCachesKeptOut: event.type === 'response.commit' && event.sharedCachesKeptOut,
      leavesLiveRecord: context.currentLive,
      readOnly: context.readOnly,
      cookieCarriesData: context.cookieCarriesData,
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
    // A settled session keeps whether its data is known, since it can still be read, and what a
    // sign-out after the response asks (see \`destroyingLate\`).
    settle: assign(({ context }) => ({
      ...(context.loaded ? settledLoaded : settled),
      leavesLiveRecord: context.leavesLiveRecord,
      leavesClientRecord: context.leavesClientRecord,
      readOnly: context.readOnly,
      cookieCarriesData: context.cookieCarriesData,
      testCookieReceived: context.testCookieReceived,
    })),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...settled, ...input, defaultBrowserSession: input.browserSession }),
  initial: 'starting',
  states: {
    // Without a verified cookie there is nothing to load: the session is new and known at once.
    starting: {
      always: [
        { guard: 'hasCandidateCookie', target: 'unloaded' },
        { guard: 'issuesIdAtStart', target: 'active', actions: freshWithId },
        { target: 'active', actions: fresh() },
      ],
    },
    // Lazy, as Django's sessions: nothing is read until the app needs the session. Reads and writes
    // are synchronous, so with a record to look up the app must `load()` first.
    unloaded: {
      on: {
        ...testCookieEvents,
        'app.load': { target: 'loading', actions: 'loadRecord' },
        // Sign-out needs no read: destroy what the cookie names in one round trip.
        'app.destroy': { ...destroyClientTransition },
        // Never loaded: the plan finds nothing to write, so only the test cookie and Vary can come out.
        'response.commit': commitTransition,
        'app.discard': discardTransition,
      },
    },
    loading: {
      on: {
        'store.loaded': [
          {
            guard: and(['isDeadRecord', 'issuesIdAtStart']),
            target: 'active',
            actions: ['clearData', 'forgetId', ...freshWithId, assign({ clientRecordLive: false })],
          },
          {
            guard: 'isDeadRecord',
            target: 'active',
            actions: ['clearData', 'forgetId', fresh({ clientRecordLive: false })],
          },
          {
            guard: 'isRetiredRecord',
            target: 'retired',
            actions: ['adoptLoadedRecord', fresh({ hasId: true, idIsClients: true, clientRecordLive: true, currentLive: true })],
          },
          {
            target: 'active',
            actions: [
              'adoptLoadedRecord',
              assign(({ context, event }) => ({
                ...freshSession({ context }),
                hasId: true,
                idIsClients: true,
                clientRecordLive: true,
                currentLive: true,
                // Rolling or an idle timeout extends the record on use, at most every touchAfterMs
                // (express-session: on every request).
                touchDue:
                  event.type === 'store.loaded' &&
                  event.touchIntervalPassed &&
                  (context.rolling || context.idleTimeout || context.touchEveryRequest) &&
                  !context.readOnly,
                browserSession: event.type === 'store.loaded' && event.browserSession,
              })),
            ],
          },
        ],
        'store.failed': { target: 'failed', actions: ['noteLoadFailed', 'settle'] },
      },
    },
    active: {
      on: {
        ...testCookieEvents,
        // Targets itself: xstate counts an empty transition as not allowed, and loading twice is fine.
        'app.load': { target: 'active' },
        'app.read': { actions: 'markAccessed' },
        'app.write': newSessionWrite,
        'app.save': { guard: 'isWritable', actions: assign({ accessed: true, modified: true }) },
        'app.saveNow': [
          {
            guard: and(['isWritable', 'hasNoId']),
            target: 'savingNow',
            actions: ['assignNewId', assign({ accessed: true, hasId: true }), 'saveNewRecord'],
          },
          {
            guard: and(['isWritable', 'isUnsavedNewId', 'isClientRecordLive']),
            target: 'savingNow',
            actions: [assign({ accessed: true }), 'saveRegeneratedRecord'],
          },
          { guard: and(['isWritable', 'isUnsavedNewId']), target: 'savingNow', actions: [assign({ accessed: true }), 'saveNewRecord'] },
          { guard: 'isWritable', target: 'savingNow', actions: [assign({ accessed: true }), 'saveRecord'] },
        ],
        'app.discard': discardTransition,
        'app.touch': { guard: 'isWritable', actions: assign({ accessed: true, touchDue: true, expiryChanged: true }) },
        'app.setExpiry': {
          guard: 'isWritable',
          actions: assign(({ event }) => ({
            accessed: true,
            modified: true,
            expiryChanged: true,
            browserSession: event.type === 'app.setExpiry' && event.browserSession,
          })),
        },
        // A new id saved already is replaced too: its record goes now, as express-session's regenerate destroys it.
        'app.regenerate': [
          {
            guard: and(['isWritable', 'isNewRecordLive', 'dropsData']),
            target: 'replacing',
            actions: ['destroyCurrentRecord', 'clearData', 'assignNewId', 'markRegenerated'],
          },
          {
            guard: and(['isWritable', 'isNewRecordLive']),
            target: 'replacing',
            actions: ['destroyCurrentRecord', 'assignNewId', 'markRegenerated'],
          },
          ...regenerateTransitions,
        ],
        'app.destroy': [
          // A new id saved already goes first; then the client's record, if it is live too.
          { guard: and(['isWritable', 'isNewRecordLive']), target: 'destroyingCurrent', actions: ['destroyCurrentRecord', 'markAccessed'] },
          { ...destroyClientTransition, guard: and(['isWritable', 'isClientRecordLive']) },
          { guard: 'isWritable', actions: ['clearData', 'forgetId', fresh({ accessed: true })] },
        ],
        'app.reload': [
          { guard: 'isNewRecordLive', target: 'reloading', actions: ['loadRecord', 'markAccessed'] },
          { guard: 'isCurrentLive', target: 'loading', actions: ['loadRecord', fresh({ accessed: true })] },
          // Nothing saved to read back: the session starts over, its lifetime with its data.
          // After regenerate(), before the new id is saved, reload() is refused (express-session
          // calls back with an error there too).
          {
            guard: 'mayStartOverOnReload',
            actions: [
              'clearData',
              'forgetExpiry',
              assign(({ context }) => ({
                accessed: true,
                modified: false,
                expiryChanged: false,
                browserSession: context.defaultBrowserSession,
              })),
            ],
          },
        ],
        'response.commit': commitTransition,
      },
    },
    // express-session's `save(callback)`: the record is written before the commit. Once it is,
    // the commit saves again only for changes made after it; the write has extended the record,
    // so the cookie follows the rules of a commit that writes, with no touch to write it again.
    savingNow: {
      on: {
        'store.done': { target: 'active', actions: assign({ currentLive: true, modified: false, touchDue: false, savedNow: true }) },
        // The record died meanwhile (a racing destroy, or a regenerate that retired it): this session
        // is gone with it. As for a refused commit write, the browser may already hold the racing
        // request's cookie, so the commit must not delete the session cookie.
        'store.refused': {
          target: 'active',
          actions: ['clearData', 'forgetId', fresh({ clientRecordLive: false, clientCookieSuperseded: true })],
        },
        // The app hears of the failure; the changes stay unsaved, for the commit to try again.
        'store.failed': { target: 'active' },
      },
    },
    // The id regenerate replaced had a record (saved with `app.saveNow`): it is being destroyed. A
    // failure reaches the app through regenerate; the record then dies with its TTL.
    replacing: {
      on: {
        'store.done': { target: 'active' },
        'store.failed': { target: 'active' },
      },
    },
    // Sign-out of a new id saved already: its record is being destroyed, then the client's, if live.
    destroyingCurrent: {
      on: {
        'app.destroy': joinSignOut,
        'store.done': [
          { guard: 'isClientRecordLive', target: 'destroying', actions: signOutActions },
          { target: 'active', actions: ['clearData', 'forgetId', 'markSignedOut'] },
        ],
        'store.failed': [
          { guard: 'isClientRecordLive', target: 'destroying', actions: signOutActions },
          { target: 'active', actions: ['clearData', 'forgetId', 'markSignedOut'] },
        ],
      },
    },
    // Reload of a new id saved already: its own record is read back; the client still lacks its cookie.
    reloading: {
      on: {
        'store.loaded': [
          {
            guard: and(['isDeadRecord', 'issuesIdAtStart']),
            target: 'active',
            actions: ['clearData', 'forgetId', ...freshWithId, 'markAccessed'],
          },
          { guard: 'isDeadRecord', target: 'active', actions: ['clearData', 'forgetId', fresh({ accessed: true })] },
          {
            target: 'active',
            // The new id's own record: it never stands in for the client's (a grace-window retire keeps that one as loaded).
            actions: [
              'adoptReloadedRecord',
              assign(({ event }) => ({
                modified: false,
                changed: false,
                expiryChanged: false,
                touchDue: false,
                browserSession: event.type === 'store.loaded' && event.browserSession,
              })),
            ],
          },
        ],
        'store.failed': { target: 'failed', actions: ['noteReloadFailed', 'settle'] },
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
        'app.discard': discardTransition,
        'response.commit': { target: 'committed', actions: ['planRetiredCommit', 'respond', 'settle'] },
      },
    },
    // A failed destroy still ends the session here: sign-out must clear the cookie (the runner
    // reports the failure to the app, so the response can't be a 2xx).
    // The client's record is being destroyed; the session is already the empty one that follows.
    destroying: {
      on: {
        'app.read': { actions: 'markAccessed' },
        'app.write': newSessionWrite,
        // What the app wrote since the first sign-out goes with the second.
        'app.destroy': { actions: ['clearData', 'forgetId', 'markSignedOut', 'joinSignOut'] },
        'store.done': { target: 'active', actions: assign({ clientRecordLive: false }) },
        // The app hears of the failure; the record dies with its TTL, and the cookie still goes.
        'store.failed': { target: 'active', actions: assign({ clientRecordLive: false }) },
      },
    },
    // The commit's plan, one question at a time (each a named guard): a store failure ends in
    // `failed` with no HTTP effects, so the plan can assume every write succeeds.
    // First the write for the current id.
    planning: {
      always: [
        { guard: 'shouldDestroyCurrent', target: 'planningRetire', actions: assign({ primary: 'destroy' }) },
        // The first save of a new id creates the session; after regenerate it moves it there.
        {
          guard: and(['shouldSave', 'isUnsavedNewId', 'isClientRecordLive']),
          target: 'planningRetire',
          actions: assign({ primary: 'saveRegenerated' }),
        },
        { guard: and(['shouldSave', 'isUnsavedNewId']), target: 'planningRetire', actions: assign({ primary: 'saveNew' }) },
        { guard: 'shouldSave', target: 'planningRetire', actions: assign({ primary: 'save' }) },
        { guard: 'shouldTouch', target: 'planningRetire', actions: assign({ primary: 'touch' }) },
        { target: 'planningRetire' },
      ],
    },
    // Then the record the client's old cookie names, after regenerate: destroyed, or kept
    // read-only for the grace window.
    planningRetire: {
      always: [
        { guard: and(['shouldRetireClientRecord', 'retiresWithGrace']), target: 'planningCookie', actions: assign({ retire: 'grace' }) },
        {
          guard: and(['shouldRetireClientRecord', 'carriesDataInCookie']),
          target: 'planningCookie',
          actions: assign({ retire: 'destroyAfterCookie' }),
        },
        { guard: 'shouldRetireClientRecord', target: 'planningCookie', actions: assign({ retire: 'destroy' }) },
        { target: 'planningCookie' },
      ],
    },
    // Then the session cookie.
    planningCookie: {
      always: [
        { guard: 'shouldSetBrowserSessionCookie', target: 'writing', actions: [assign({ sessionCookie: 'setBrowser' }), 'settlePlan'] },
        { guard: 'shouldSetSessionCookie', target: 'writing', actions: [assign({ sessionCookie: 'set' }), 'settlePlan'] },
        { guard: 'shouldDeleteSessionCookie', target: 'writing', actions: [assign({ sessionCookie: 'delete' }), 'settlePlan'] },
        { target: 'writing', actions: 'settlePlan' },
      ],
    },
    // Commit, step 1: the write for the current id.
    writing: {
      always: [
        { guard: 'plansDestroy', target: 'awaitingWrite', actions: 'destroyCurrentRecord' },
        { guard: 'plansSaveRegenerated', target: 'awaitingWrite', actions: 'saveRegeneratedRecord' },
        { guard: 'plansSaveNew', target: 'awaitingWrite', actions: 'saveNewRecord' },
        { guard: 'plansSave', target: 'awaitingWrite', actions: 'saveRecord' },
        { guard: 'plansTouch', target: 'awaitingWrite', actions: 'touchRecord' },
        { target: 'retiring' },
      ],
    },
    // From here on the data is final: reads are allowed (a logger, or Koa serializing
    // `ctx.body = ctx.session`, after the commit) and change nothing; changes are dropped. The
    // test cookie's answer, the request's own, stays readable even after a store call failed; a
    // load of data already known (a stream's callback, after the commit) has nothing to fetch.
    awaitingWrite: {
      on: {
        ...lateChangeEvents,
        'app.read': { guard: 'isDataKnown', target: 'awaitingWrite' },
        'app.load': { guard: 'isDataKnown', target: 'awaitingWrite' },
        'app.checkTestCookie': { target: 'awaitingWrite' },
        'store.done': { target: 'retiring', actions: assign({ primary: 'none' }) },
        // The id is dead (destroyed or retired by a racing request): no cookie may name it, and
        // none is deleted either, since the browser may already hold the racing request's cookie.
        'store.refused': { target: 'retiring', actions: assign({ primary: 'none', sessionCookie: 'keep', leavesLiveRecord: false }) },
        'store.failed': { target: 'failed', actions: ['noteWriteFailed', 'settle'] },
      },
    },
    // Commit, step 2: retire the record the client's old cookie names (after regenerate): the
    // runtime destroys it, or with a grace window marks it retired and shortens its life.
    retiring: {
      always: [
        { guard: 'plansRetireWithGrace', target: 'awaitingRetire', actions: 'retireClientRecord' },
        // Cookie sessions: the new cookie is made first, so one too large to send fails the commit
        // before the old id is revoked, and the browser keeps a cookie that still works.
        { guard: 'plansRetireAfterCookie', target: 'awaitingRevoke', actions: ['respond', 'destroyReplacedRecord'] },
        { guard: 'plansRetire', target: 'awaitingRetire', actions: 'destroyReplacedRecord' },
        { target: 'committed', actions: ['respond', 'settle'] },
      ],
    },
    awaitingRetire: {
      on: {
        ...lateChangeEvents,
        'app.read': { guard: 'isDataKnown', target: 'awaitingRetire' },
        'app.load': { guard: 'isDataKnown', target: 'awaitingRetire' },
        'app.checkTestCookie': { target: 'awaitingRetire' },
        'store.done': { target: 'committed', actions: ['respond', 'settle'] },
        // The old record was already gone: retiring it is done all the same.
        'store.refused': { target: 'committed', actions: ['respond', 'settle'] },
        'store.failed': { target: 'failed', actions: ['noteRetireFailed', 'settle'] },
      },
    },
    // Cookie sessions after regenerate: the response's effects are made; the old id is being revoked.
    awaitingRevoke: {
      on: {
        ...lateChangeEvents,
        'app.read': { guard: 'isDataKnown', target: 'awaitingRevoke' },
        'app.load': { guard: 'isDataKnown', target: 'awaitingRevoke' },
        'app.checkTestCookie': { target: 'awaitingRevoke' },
        'store.done': { target: 'committed', actions: 'settle' },
        // onRevoke threw: the sign-in can't answer 2xx, as a failed store write.
        'store.failed': { target: 'failed', actions: 'settle' },
        // A commit waits for the revoke, so one arrives here only when making the cookie threw (too
        // large): the commit failed and nothing was revoked; a repeat (the error page) changes nothing.
        'response.commit': { target: 'failed', actions: 'settle' },
      },
    },
    // Let go of by the app: its commit has nothing to write and no cookie to send.
    // A sign-out after it (express-session's \`unset: 'keep'\`, then a destroy() of the session
    // the app held on to) destroys the record, as in \`committed\`; no cookie goes either way.
    discarded: { on: { 'response.commit': { target: 'committed' }, 'app.destroy': lateSignOut } },
    // Repeated commits (an error page after a failed write) change nothing.
    committed: {
      on: {
        ...lateChangeEvents,
        'response.commit': { target: 'committed' },
        'app.read': { guard: 'isDataKnown', target: 'committed' },
        'app.load': { guard: 'isDataKnown', target: 'committed' },
        'app.checkTestCookie': { target: 'committed' },
        'app.destroy': lateSignOut,
      },
    },
    // A sign-out after the response has left (Express's \`res.redirect('/'); req.session.destroy()\`):
    // the record the commit left is destroyed, as express-session destroys it. No cookie can go
    // any more; the one the browser holds names nothing, so its next request starts a new session.
    // Cookie sessions refuse it: their record is the cookie, which has already left.
    destroyingLate: {
      on: {
        ...lateChangeEvents,
        'app.destroy': joinSignOut,
        'app.read': { target: 'destroyingLate' },
        'app.checkTestCookie': { target: 'destroyingLate' },
        // Then the record the client's cookie names, if the commit left it live too (a 5xx after
        // regenerate moves nothing). The app hears of a failure; that record dies with its TTL.
        'store.done': lateClientSignOut,
        'store.failed': lateClientSignOut,
      },
    },
    destroyingLateClient: {
      on: {
        ...lateChangeEvents,
        'app.destroy': joinSignOut,
        'app.read': { target: 'destroyingLateClient' },
        'app.checkTestCookie': { target: 'destroyingLateClient' },
        'store.done': { target: 'committed', actions: 'markClientSignedOutLate' },
        'store.failed': { target: 'committed', actions: 'markClientSignedOutLate' },
      },
    },
    failed: {
      on: {
        ...lateChangeEvents,
        'response.commit': { target: 'failed' },
        // After a failed load the data is the empty session's: an error handler or logger that
        // loads and reads it (`session.user`) sees nobody signed in rather than a refusal thrown
        // in the middle of the error answer. A change is still dropped (`lateChangeEvents`).
        'app.read': { target: 'failed' },
        'app.load': { target: 'failed' },
        'app.checkTestCookie': { target: 'failed' },
        'app.destroy': lateSignOut,
      },
    },
  },
});

export type LifecycleMachine = typeof lifecycleMachine;
