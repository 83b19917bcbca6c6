/**
 * The framework-free session of one request: the app's API (get/set, regenerate, destroy, ...)
 * over the memoized lifecycle. Each call becomes a lifecycle event; the actions that come back
 * are carried out by the request's state (ids, data, lifetimes) or by the runner (store
 * effects); the HTTP effects go back to the adapter from `commit`. Nothing here decides session
 * state.
 */
import { hasCookie } from './cookie.js';
import type { Effect, HttpEffect, StoreEffect } from './effects.js';
import { SessConfigError, SessUsageError } from './errors.js';
import type { Config } from './options.js';
import { isSessionRecord } from './record.js';
import type { LifecycleNode, LifecycleStep } from './runtime.js';
import { commitKey, eventKey, eventTypeOf, requestInputKey } from './runtime.js';
import { runEffects } from './runner.js';
import type { StoreFeedback, StoreOutcome } from './runner.js';
import { hashId, storeOutcomeEvent, tell } from './session-events.js';
import { FLASH_KEY, flashesOf, takeFlashes, withFlash } from './flash.js';
import type { Flashes } from './flash.js';
import { checkRequestLifetime, endsWithBrowser, expirySetting } from './lifetime.js';
import { isThenable, kindOfAnswer } from './options-check.js';
import { MISSING_RECORD, acceptRecord, expiryReason, liveRecord } from './loaded-record.js';
import type { SessionEvent } from './session-events.js';
import type { RequestFacts, ResponseFacts, Session } from './session-api.js';
import { SessionState } from './session-state.js';
import type { SessionData } from './store.js';

// The lifecycle steps by event key (`eventKey`): the events of every request are numbers, not objects.
const READ = eventKey({ type: 'app.read' });
const WRITE = eventKey({ type: 'app.write' });
const LOAD = eventKey({ type: 'app.load' });
const DONE = eventKey({ type: 'store.done' });
const REFUSED = eventKey({ type: 'store.refused' });
const FAILED = eventKey({ type: 'store.failed' });
/** What every load the store answered synchronously returns: one settled promise, shared. */
const LOADED: Promise<void> = Promise.resolve();
const nothing = (): void => undefined;
const NO_HTTP_EFFECTS: readonly HttpEffect[] = Object.freeze([]);
const noHttpEffects = (): readonly HttpEffect[] => NO_HTTP_EFFECTS;

/**
 * A request's `readOnly`, which an adapter takes from the app's `readOnly(request)` option. A
 * promise (an async predicate's answer) is refused: it is truthy, so every request would be
 * read-only and every write would throw. Any other truthy answer (a regex match) counts as
 * read-only, which fails closed.
 *
 * @throws SessConfigError naming the option, for a promise.
 */
function readOnlyOf(readOnly: unknown): boolean {
  if (typeof readOnly === 'boolean') return readOnly;
  if (isThenable(readOnly)) {
    throw new SessConfigError(`readOnly must return true or false, synchronously; it returned ${kindOfAnswer(readOnly)}`);
  }
  return Boolean(readOnly);
}

/**
 * The `Session` of one request (its methods are documented there): the app's calls become
 * lifecycle events; their actions are carried out by the request's `SessionState`.
 */
export class RequestSession<Data extends SessionData = SessionData> implements Session<Data>, StoreFeedback {
  private node: LifecycleNode;
  private readonly state: SessionState;
  /** The last store work started, and how many are still running: commit and discard wait for them. */
  private inflight: Promise<unknown> | undefined;
  private running = 0;
  /**
   * The JSON of each object value `get` handed out, so that a change made inside it
   * (`session.get('cart').items.push(item)`) is saved as a set one is: express-session,
   * koa-session and @fastify/session compare the whole session at the end. Kept only once such a
   * value is read, and never on a read-only request (nothing is saved there).
   */
  private handedOut: Map<string, string | undefined> | undefined;

  constructor(
    private readonly config: Config,
    request: RequestFacts,
  ) {
    checkRequestLifetime(request.maxAgeMs);
    const state = new SessionState(config, request);
    this.state = state;
    const start = config.lifecycle.start(
      config.startKey |
        requestInputKey(
          state.clientCookie,
          readOnlyOf(request.readOnly),
          endsWithBrowser(state, undefined),
          hasCookie(request.cookieHeader, config.testCookieName),
        ),
    );
    this.node = start.to;
    state.perform(start.actions);
  }

  get id(): string | undefined {
    return this.state.currentId;
  }

  get expiresAt(): number {
    // A session without an id yet has a lifetime too (the configured one, or what `setExpiry`
    // asked for): the one its first save will give it, as express-session's new cookie shows it.
    return this.state.lifetime().cookieExpiresAt;
  }

  get maxAgeMs(): number {
    return this.expiresAt - this.state.now;
  }

  get endsWithBrowser(): boolean {
    return endsWithBrowser(this.state, this.state.expiry);
  }

  get<K extends keyof Data & string>(key: K): Data[K] | undefined {
    this.step(READ, 'get');
    const value = this.state.data[key];
    if (typeof value === 'object' && value !== null && !this.handedOut?.has(key) && !this.node.context.readOnly) {
      (this.handedOut ??= new Map()).set(key, jsonOf(value));
    }
    return value as Data[K] | undefined;
  }

  has(key: string): boolean {
    this.step(READ, 'has');
    return Object.hasOwn(this.state.data, key);
  }

  keys(): string[] {
    this.step(READ, 'keys');
    return Object.keys(this.state.data);
  }

  set<K extends keyof Data & string>(key: K, value: Data[K]): void {
    if (!this.change(WRITE, 'set')) return;
    const { state } = this;
    state.data[key] = value;
    state.noteSet(key);
    this.handedOut?.delete(key);
  }

  delete(key: string): void {
    if (!this.change(WRITE, 'delete')) return;
    const { state } = this;
    if (!Object.hasOwn(state.data, key)) return;
    delete state.data[key];
    state.noteDeleted(key);
    this.handedOut?.delete(key);
  }

  clear(): void {
    for (const key of this.keys()) this.delete(key);
  }

  load(): Promise<void> {
    // Not `async`: a load the store answered synchronously settles without a promise of its own.
    const ran = this.runInTurn(LOAD);
    return ran instanceof Promise ? ran.then(nothing) : LOADED;
  }

  async regenerate(options: { keepData?: boolean } = {}): Promise<void> {
    return this.runLoaded(eventKey({ type: 'app.regenerate', keepData: options.keepData ?? true }), 'regenerate');
  }

  async destroy(): Promise<void> {
    await this.runInTurn(eventKey({ type: 'app.destroy' }), 'destroy');
  }

  reload(): Promise<void> {
    // The data is read again: what was handed out before is no longer the session's.
    this.handedOut = undefined;
    return this.runLoaded(eventKey({ type: 'app.reload' }), 'reload');
  }

  save(): boolean {
    return this.change(eventKey({ type: 'app.save' }), 'save');
  }

  saveNow(): Promise<void> {
    return this.runLoaded(eventKey({ type: 'app.saveNow' }), 'save');
  }

  async discard(): Promise<void> {
    await this.runInTurn(eventKey({ type: 'app.discard' }), 'discard');
  }

  touch(): void {
    this.change(eventKey({ type: 'app.touch' }), 'touch');
  }

  setExpiry(value: number | Date | null): void {
    const expiry = expirySetting(value, this.state.now);
    if (this.change(eventKey({ type: 'app.setExpiry', browserSession: endsWithBrowser(this.state, expiry) }), 'setExpiry')) {
      this.state.expiry = expiry;
    }
  }

  flash(kind: string, message: unknown): void {
    this.set(FLASH_KEY, withFlash(this.flashes(), kind, message) as Data[keyof Data & string]);
  }

  takeFlash(kind?: string): unknown[] {
    const taking = takeFlashes(this.flashes(), kind);
    if (taking === undefined) return [];
    if (Object.keys(taking.rest).length === 0) this.delete(FLASH_KEY);
    else this.set(FLASH_KEY, taking.rest as Data[keyof Data & string]);
    return taking.taken;
  }

  setTestCookie(): void {
    this.change(eventKey({ type: 'app.setTestCookie' }), 'setTestCookie');
  }

  testCookieWorked(): boolean {
    this.step(eventKey({ type: 'app.checkTestCookie' }));
    return this.node.context.testCookieReceived;
  }

  deleteTestCookie(): void {
    this.change(eventKey({ type: 'app.deleteTestCookie' }), 'deleteTestCookie');
  }

  commit(response: ResponseFacts): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    // Not `async`: a commit with nothing to wait for answers at once, and the adapter can pass
    // the response's output straight through.
    // Commits after the store work the app did not await, whether it succeeded or not.
    if (this.running === 0) return this.commitNow(response);
    const again = () => this.commit(response);
    return this.afterInflight(again);
  }

  private commitNow(response: ResponseFacts): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    this.noteChangesInPlace();
    let empty = true;
    for (const _ in this.state.data) {
      empty = false;
      break;
    }
    return this.run(
      commitKey(
        response.status >= 500,
        empty,
        response.cookieAlreadySet ?? false,
        response.sharedCachesKeptOut ?? false,
        response.headersSent ?? false,
      ),
    );
  }

  /** Sets again each value `get` handed out whose JSON has changed since (one JSON cannot hold now fails the commit, as a set one does). */
  private noteChangesInPlace(): void {
    const { handedOut } = this;
    if (handedOut === undefined) return;
    this.handedOut = undefined;
    const { data } = this.state;
    for (const [key, json] of handedOut) {
      if (Object.hasOwn(data, key) && jsonOf(data[key]) !== json)
        this.set(key as keyof Data & string, data[key] as Data[keyof Data & string]);
    }
  }

  private flashes(): Flashes {
    return flashesOf(this.get(FLASH_KEY as keyof Data & string));
  }

  /**
   * One step and its effects: the HTTP effects themselves when no store call was needed or every
   * one answered synchronously, else a promise of them. Never throws: a refusal is a rejection.
   */
  private run(event: number, operation?: string): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    // A record saved at the end of a long request (an upload) lives from then, not from its start.
    // A load needs no new reading: the one at the start, or at the operation that asks for it, serves.
    let effects: readonly Effect[];
    try {
      if (event !== LOAD) this.state.now = this.config.clock();
      effects = this.step(event, operation);
    } catch (error) {
      return Promise.reject(error);
    }
    if (effects.length === 0) return effects as readonly HttpEffect[];
    this.running += 1;
    const ran = runEffects(effects, this.state.store, this.config.deadlines, this);
    if (ran instanceof Promise) this.inflight = ran;
    return ran;
  }

  /**
   * `event` after the load it needs, in one turn: on a loaded session it starts its store work
   * within the call, so calls take turns in the order made; after a load from the store it steps
   * in the callback the load settles in, so a commit waiting for the same work can't overtake it.
   */
  private async runLoaded(event: number, operation?: string): Promise<void> {
    await this.loadThen(event, operation);
  }

  private loadThen(event: number, operation?: string): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    if (this.running !== 0) {
      const again = () => this.loadThen(event, operation);
      return this.afterInflight(again);
    }
    const loading = this.run(LOAD, operation);
    if (!(loading instanceof Promise)) return this.run(event, operation);
    return loading.then(() => this.runInTurn(event, operation));
  }

  /**
   * `run` once the store work still running is over, whatever its outcome (a `destroy()` the app
   * did not await, say): the app's calls that reach the store take turns. A step the machine
   * makes a join (a second sign-out during the first) is taken now and settles with that work;
   * only the first hears its failure.
   */
  private runInTurn(event: number, operation?: string): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
    if (this.running === 0) return this.run(event, operation);
    const join = this.config.lifecycle.next(this.node, event);
    if (join?.joinsInflight === true) {
      // A join's actions are all data-side (see the machine's `joinSignOut`): no effects to run.
      this.take(join);
      return this.afterInflight(noHttpEffects);
    }
    // Asked again on arrival: another call waiting for the same work may have taken the turn.
    const again = () => this.runInTurn(event, operation);
    return this.afterInflight(again);
  }

  /**
   * `again` once the store work still running is over. A call made from inside that work (a store
   * whose synchronous `get` leads a middleware to answer) comes before the run has handed over its
   * promise: it waits one promise step, for the synchronous run to finish.
   */
  private afterInflight<T>(again: () => T | Promise<T>): Promise<T> {
    return (this.inflight ?? LOADED).then(again, again);
  }

  /** @internal The runner's feedback (methods, not closures: no allocation per request). */
  settled(): void {
    this.running -= 1;
  }

  /** @internal */
  answered(effect: StoreEffect, outcome: StoreOutcome): readonly Effect[] {
    if (this.config.onEvent !== undefined) this.report(effect, outcome);
    if (!outcome.ok) return this.step(FAILED);
    if (effect.type !== 'store.load') return this.step(outcome.refused === true ? REFUSED : DONE);
    let loaded: number;
    try {
      loaded = this.judge(outcome.record);
    } catch (error) {
      // A read that can't be judged (an asynchronous schema) failed as a store's read does: the
      // error page's commit then answers, with nothing written, rather than "not loaded yet".
      this.step(FAILED);
      throw error;
    }
    return this.step(loaded);
  }

  private report(effect: StoreEffect, outcome: StoreOutcome): void {
    // The cookie's signature is ours, so a missing record is one that died, not a forgery.
    const event = storeOutcomeEvent(effect, outcome, this.state.reportOf(effect), this.state.clientId, (record) =>
      isSessionRecord(record) ? expiryReason(this.config, record.meta, this.state.now) : 'gone',
    );
    if (event !== undefined) this.emit(event);
  }

  private emit(event: SessionEvent): void {
    tell(this.config.onEvent, event);
  }

  /** The loaded record as the key of the machine's `store.loaded` event, kept for `adoptLoadedRecord`. */
  private judge(stored: unknown): number {
    const { state } = this;
    const record = isSessionRecord(stored) ? acceptRecord(this.config, stored) : undefined;
    if (record === undefined) {
      if (isSessionRecord(stored)) this.emit({ type: 'invalid', idHash: hashId(state.loadingId as string) });
      return MISSING_RECORD;
    }
    state.loaded = record;
    return liveRecord(this.config, record.meta, state.now, endsWithBrowser(state, record.meta.expiry));
  }

  /**
   * A change the app asked for, as one step: whether to apply it. Once the commit has begun the
   * lifecycle drops it instead (`dropChange`), and `onEvent` hears of it.
   */
  private change(event: number, operation: string): boolean {
    this.step(event, operation);
    const { state } = this;
    if (!state.changeDropped) return true;
    state.changeDropped = false;
    this.emitLate(operation);
    return false;
  }

  private emitLate(operation: string): void {
    const { currentId } = this.state;
    this.emit({ type: 'lateChange', operation, idHash: currentId === undefined ? undefined : hashId(currentId) });
  }

  /** One lifecycle step, by event key; `operation` names the app's call in the error when the machine refuses it. */
  private step(event: number, operation?: string): readonly Effect[] {
    const step = this.config.lifecycle.next(this.node, event);
    if (step === undefined) this.refuse(event, operation);
    return this.take(step);
  }

  /** Throws the `SessUsageError` for an event the machine does not allow now. */
  private refuse(event: number, operation: string = eventTypeOf(event)): never {
    // The machine refuses every change on a read-only request; say so rather than "not allowed".
    if (this.node.context.readOnly) {
      throw new SessUsageError(`${operation}() on a read-only session: this request may read the session but not change it`);
    }
    const state = String(this.node.snapshot.value);
    // An operation after the commit (a late regenerate or reload) is refused where a late change
    // is dropped: `onEvent` hears of both, since a caller that does not await it hears nothing.
    if (state === 'committed') this.emitLate(operation);
    // The usual mistake: a session with a cookie used before its record is read.
    const hint =
      state === 'unloaded' || state === 'loading'
        ? ': the session is not loaded yet, await its load() first'
        : state === 'committed'
          ? ': the commit has begun'
          : state === 'failed'
            ? ': a store call of this request failed'
            : operation === 'reload'
              ? ': after regenerate(), the new id has nothing saved to re-read until it is saved (reload before regenerating)'
              : '';
    throw new SessUsageError(`${operation} is not allowed now${hint} (session state: ${state})`);
  }

  /** Takes `step`, one the lifecycle allows from the current node. */
  private take(step: LifecycleStep): readonly Effect[] {
    if (step.drawsId) this.state.drawId();
    this.node = step.to;
    return this.state.perform(step.actions);
  }
}

/** `value` as JSON, or `undefined` when JSON cannot hold it (a BigInt, a cycle). */
function jsonOf(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
