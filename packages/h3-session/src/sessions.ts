/**
 * h3's session functions for one config, over the sess core: each call is one run of the core's
 * lifecycle (`begin`, the session's reads and writes, `commit`), run at once as h3 writes at once,
 * with the HTTP effects applied to the event's response. The cookie carries a signed id and the
 * session (`{ id, createdAt, data }`) lives in the store. This file translates; the core decides.
 */
import { SessUsageError, assertNever, createSessionManager, describeValue, serializeDeletion, setCookieLine } from '@sess/core';
import type { CookieEffect, HttpEffect, ResponseFacts, Session as CoreSession, SessionManager } from '@sess/core';
import { afterSignOut, failureStatus, responseFacts } from '@sess/core/adapter';
import { isH3Session } from './config.js';
import type { H3Session, Settings } from './config.js';
import { isIronSeal, sealMemory } from './seals.js';

/** What the session functions need of an h3 event; each entry builds one from its major's event. */
export interface EventPort {
  /** The event's context: h3 keeps `sessions` on it, and this request's state is kept by it. */
  readonly context: { sessions?: Record<string, H3Session> };
  /** A request header, by lower-case name. */
  header(name: string): string | undefined;
  /** The session cookie as h3 reads it (h3 v2 joins a chunked seal), and how many chunk cookies it spans. */
  cookie(name: string): { readonly value: string | undefined; readonly chunks: number };
  readonly secure: boolean;
  /** The `generateId` of the config this call was given, if any (`generateIdOf`): h3 names a new session with it. */
  readonly generateId: (() => string) | undefined;
  /** `undefined` for an event with no response to write to (an h3 v2 `HTTPEvent`, an h3 v1 compat event). */
  readonly response: ResponsePort | undefined;
}

export interface ResponsePort {
  status(): number;
  /** Whether the app's Cache-Control keeps shared caches out already (on every header set an error response would use too). */
  keepsSharedCachesOut(): boolean;
  /** Adds `field` to Vary (on every header set an error response would use too). */
  vary(field: string): void;
  /** Makes the response's Cache-Control private, the app's own included (`privately`; on every header set an error response would use too). */
  makePrivate(): void;
  setCookieLines(): readonly string[];
  /** Removes `previous` from the Set-Cookie lines (on every header set an error response would use too) and appends `next`. */
  replaceSetCookie(previous: readonly string[], next: readonly string[]): void;
}

/** How an entry opens h3's seals (h3's own `unsealSession`) and turns a store failure into its HTTP error. */
export interface EntryKit {
  readonly where: string;
  unsealIron(config: Readonly<Record<string, unknown>>, sealed: string): Promise<unknown>;
  httpError(error: unknown): unknown;
}

export type SessionUpdate = Record<string, unknown> | ((data: Record<string, unknown>) => Record<string, unknown> | undefined | void);

/** One request's state for one session name. */
interface RequestState {
  /** The session cookie the browser holds once this response arrives: the request's, then each one sent. */
  token: string | undefined;
  /** The request carried an h3 seal: the next read re-sends the cookie that replaces it. */
  reissue: boolean;
  /** The session came in the session header: as in h3, a read sends no cookie for it (none to slide, replace or delete). */
  viaHeader: boolean;
  /**
   * The request's h3 seal until it has moved into the store: the next run moves it first. A move
   * that fails leaves it here, so a later run tries again rather than start a new session over it.
   */
  unmoved: string | undefined;
  /** Chunk cookies of an h3 v2 seal (`h3.1`, ...), deleted along with the first cookie sent. */
  staleChunks: number;
  /** This package's Set-Cookie lines on the response, replaced by the next ones it sends. */
  lines: readonly string[];
  /** Runs one after another, each starting from the cookie the one before left. */
  queue: Promise<unknown>;
  /** A `getSession` under way: parallel calls wait for it, as in h3. */
  loading: Promise<H3Session> | undefined;
  /** The session was made by this request and not written yet (`useSession` writes it). */
  unwritten: boolean;
}

const NO_RESPONSE: ResponseFacts = Object.freeze({ status: 200 });

/**
 * Request states by session name, shared by every config of that name: h3 keeps one session per
 * name in a request whichever config each call passes, so a second config's calls must see the
 * cookie, read and writes of the first.
 */
const requestsByName = new Map<string, WeakMap<object, RequestState>>();

export class H3Sessions {
  readonly name: string;
  /** `false` with `cookie: false`: the app hands the session's id on itself (`sealSession`). */
  readonly sendsCookie: boolean;
  private readonly manager: SessionManager;
  private readonly requests: WeakMap<object, RequestState>;
  private readonly seals = sealMemory();

  constructor(
    private readonly settings: Settings,
    private readonly kit: EntryKit,
  ) {
    this.name = settings.name;
    this.sendsCookie = settings.sendsCookie;
    let requests = requestsByName.get(this.name);
    if (requests === undefined) requestsByName.set(this.name, (requests = new WeakMap()));
    this.requests = requests;
    this.manager = createSessionManager(settings.core);
  }

  /**
   * h3's `getSession`: the request's session, read from the store once per request (parallel
   * calls share the read). Without one, a new session in memory only, written by `update`.
   */
  async get(port: EventPort): Promise<H3Session> {
    const state = this.stateOf(port);
    const sessions = (port.context.sessions ??= Object.create(null) as Record<string, H3Session>);
    const existing = sessions[this.name];
    if (existing !== undefined) return state.loading ?? existing;
    const session: H3Session = { id: '', createdAt: 0, data: Object.create(null) };
    sessions[this.name] = session;
    const loading = this.run(state, () => this.read(port, state, session));
    state.loading = loading;
    try {
      return await loading;
    } catch (error) {
      if (sessions[this.name] === session) delete sessions[this.name];
      throw error;
    } finally {
      if (state.loading === loading) state.loading = undefined;
    }
  }

  /** Whether the request's session was made by this request and is not written yet. */
  isUnwritten(port: EventPort): boolean {
    return this.stateOf(port).unwritten;
  }

  /** h3's `updateSession`: merges the update into the data and writes the session at once. */
  async update(port: EventPort, update?: SessionUpdate): Promise<H3Session> {
    const state = this.stateOf(port);
    // Cleared before any await: of parallel `useSession` calls on a new session, one writes it.
    const wasUnwritten = state.unwritten;
    state.unwritten = false;
    const session = await this.current(port, state);
    const isNew = wasUnwritten || state.unwritten;
    state.unwritten = false;
    try {
      const changes = changesOf(update, session.data);
      if (changes) Object.assign(session.data, changes);
      await this.run(state, () => this.write(port, state, session, true));
    } catch (error) {
      // As in h3, an update that throws leaves a new session new: the next `useSession` writes
      // it. So does a write the store failed, or that session would never be stored.
      state.unwritten = isNew;
      throw error;
    }
    return session;
  }

  /** h3's `clearSession`: the session leaves the context, its record is destroyed and its cookie deleted. Public callers start it through `mayGoUnawaited`. */
  async clear(port: EventPort): Promise<void> {
    const state = this.stateOf(port);
    state.unwritten = false;
    if (port.context.sessions !== undefined) delete port.context.sessions[this.name];
    const deletion: CookieEffect = { type: 'cookie.delete', name: this.name, attributes: this.settings.cookie };
    // h3's clear deletes the cookie before it returns, so apps call it without awaiting, and the
    // response can leave before the destroy is done: the deletion goes on it now. The cookie the
    // request carried stays the run's, which needs it to find the record.
    if (port.response !== undefined) {
      this.sendCookie(deletion, port.response, state);
      port.response.vary('Cookie');
    }
    await this.run(state, async () => {
      const core = this.begin(port, state);
      // A failed destroy has ended the session all the same: the commit answers for the status
      // the failure goes out with, so the cookie is deleted (as h3 deletes it whatever happens),
      // and the failure is passed on, so no 2xx says the record is gone.
      await afterSignOut(core.destroy(), async (failure) => {
        const status = failure === undefined ? undefined : failureStatus(failure.error);
        const effects = await this.commit(core, port.response, state, status);
        // h3 deletes the cookie whatever the request carried; the core deletes only a session it
        // found, so a cookie naming none (foreign, or its record already gone) is deleted here.
        if (!effects.some((effect) => effect.type === 'cookie.delete')) this.apply([deletion], port.response, state);
        if (failure !== undefined) throw failure.error;
      });
    });
  }

  /**
   * What `sealSession` returns now: the session is written (made if new), and its signed id, the
   * value of the session cookie, is what a client sends back (in the session header or cookie).
   */
  async seal(port: EventPort): Promise<string> {
    const state = this.stateOf(port);
    const session = await this.current(port, state);
    // As h3's sealSession, this answers with a value and sends no cookie.
    await this.run(state, () => this.write(port, state, session, false));
    // Only if the app set a cookie of the session's name itself, which the core leaves alone.
    if (state.token === undefined) throw new Error(`[${this.kit.where}] sealSession: the response already sets a "${this.name}" cookie`);
    return state.token;
  }

  /**
   * `unsealSession`: an h3 seal opens with h3's own function (as it did); a signed id reads its
   * session from the store, with no effect on any response.
   *
   * @throws Error when the value names no live session, as h3 throws for a seal that doesn't open.
   */
  async unseal(sealed: string, secure: boolean): Promise<Partial<H3Session>> {
    if (isIronSeal(sealed)) return (await this.kit.unsealIron(this.settings.h3, sealed)) as Partial<H3Session>;
    const core = this.manager.begin({ cookieHeader: `${this.name}=${sealed}`, secure });
    let stored: H3Session | undefined;
    try {
      await core.load();
      stored = storedSession(core);
      await core.commit(NO_RESPONSE);
    } catch (error) {
      throw this.kit.httpError(error);
    }
    if (stored === undefined) throw new Error(`[${this.kit.where}] unsealSession: the value names no live session`);
    return stored;
  }

  private stateOf(port: EventPort): RequestState {
    let state = this.requests.get(port.context);
    if (state !== undefined) return state;
    const { header } = this.settings;
    const fromHeader = header === undefined ? undefined : port.header(header);
    // h3 reads the header first and falls back to the cookie.
    const cookie = fromHeader ? { value: undefined, chunks: 0 } : port.cookie(this.name);
    const received = fromHeader || cookie.value;
    const sealed = isIronSeal(received);
    state = {
      token: sealed ? undefined : received,
      reissue: sealed,
      viaHeader: Boolean(fromHeader),
      unmoved: sealed ? received : undefined,
      staleChunks: cookie.chunks,
      lines: [],
      queue: Promise.resolve(),
      loading: undefined,
      unwritten: false,
    };
    this.requests.set(port.context, state);
    return state;
  }

  /**
   * Opens an h3 seal with h3's own `unsealSession` and writes what it held into a new sess
   * session, keeping h3's `id`, `createdAt` and data (and with `maxAge`, the end h3 gave it).
   * Store effects only: each request carrying the seal gets the new cookie from its own read.
   *
   * @returns the new session's signed id, or `undefined` when the seal does not open (as in
   *   h3, the request then starts a new session).
   */
  private readonly move = async (sealed: string): Promise<string | undefined> => {
    const opened = await this.kit.unsealIron(this.settings.h3, sealed).catch(() => undefined);
    if (!isH3Session(opened)) return undefined;
    const core = this.manager.begin({ cookieHeader: undefined, secure: false });
    writeSession(core, opened);
    const { maxAgeMs } = this.settings;
    if (maxAgeMs !== undefined) core.setExpiry(new Date(Math.min(opened.createdAt, Date.now()) + maxAgeMs));
    const effects = await core.commit(NO_RESPONSE);
    return effects.find((effect) => effect.type === 'cookie.set')?.value;
  };

  /** Moves the request's seal, if it has not moved yet: the run after it starts from the cookie it became. */
  private async moveSeal(state: RequestState): Promise<void> {
    const sealed = state.unmoved;
    if (sealed === undefined) return;
    state.token = await this.seals.open(sealed, this.move);
    state.unmoved = undefined;
  }

  private async read(port: EventPort, state: RequestState, session: H3Session): Promise<H3Session> {
    const core = this.begin(port, state);
    await core.load();
    // The browser holds h3's seal: send it the cookie of the session the seal moved to.
    if (state.reissue) core.touch();
    const stored = storedSession(core);
    await this.commit(core, port.response, state, undefined, !state.viaHeader);
    if (stored === undefined) {
      session.id = (port.generateId ?? this.settings.newId)();
      session.createdAt = Date.now();
      state.unwritten = true;
    } else {
      session.id = stored.id;
      session.createdAt = stored.createdAt;
      session.data = Object.assign(Object.create(null), stored.data);
    }
    return session;
  }

  /** The request's session, once any read under way is done. */
  private current(port: EventPort, state: RequestState): H3Session | Promise<H3Session> {
    return state.loading ?? port.context.sessions?.[this.name] ?? this.get(port);
  }

  /** Writes the session; `respond`: apply the HTTP effects and send the cookie again, as h3's update does. */
  private async write(port: EventPort, state: RequestState, session: H3Session, respond: boolean): Promise<void> {
    this.assertStorable(session);
    const core = this.begin(port, state);
    await core.load();
    writeSession(core, session);
    // h3 sends the cookie again on every update, its lifetime counted from now.
    if (respond) core.touch();
    await this.commit(core, respond ? port.response : undefined, state);
  }

  /**
   * h3 seals whatever `id` and `createdAt` the app assigns; a stored record that is not an h3
   * session reads as none, so such a write would lose the session at the next request. It is
   * refused instead, and the record keeps the session as last written.
   */
  private assertStorable(session: H3Session): void {
    const problem =
      typeof session.id !== 'string' || session.id === ''
        ? `session.id must be a non-empty string, got ${describeValue(session.id)}`
        : typeof session.createdAt !== 'number' || !Number.isFinite(session.createdAt)
          ? `session.createdAt must be a number (ms since the epoch, as Date.now() gives), got ${describeValue(session.createdAt)}`
          : undefined;
    if (problem !== undefined) throw new SessUsageError(`[${this.kit.where}] ${problem}: the session could not be read back`);
  }

  private begin(port: EventPort, state: RequestState): CoreSession {
    const cookieHeader = state.token === undefined ? undefined : `${this.name}=${state.token}`;
    return this.manager.begin({ cookieHeader, secure: port.secure });
  }

  /**
   * Commits the run; its HTTP effects go on `response` (with none, they only move the request's cookie on).
   * `status`: the one the response goes out with, if not its current one (a failure's);
   * `cookies`: whether its cookie effects reach the response.
   */
  private async commit(
    core: CoreSession,
    response: ResponsePort | undefined,
    state: RequestState,
    status?: number,
    cookies = true,
  ): Promise<readonly HttpEffect[]> {
    const facts =
      response === undefined
        ? NO_RESPONSE
        : responseFacts(
            status ?? response.status(),
            this.name,
            // Our own earlier lines are replaced, not "someone else's cookie".
            response.setCookieLines().filter((line) => !state.lines.includes(line)),
            response.keepsSharedCachesOut(),
          );
    const effects = await core.commit(facts);
    state.reissue = false;
    this.apply(effects, response, state, cookies);
    return effects;
  }

  private apply(effects: readonly HttpEffect[], response: ResponsePort | undefined, state: RequestState, cookies = true): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'cookie.set':
        case 'cookie.delete': {
          state.token = effect.type === 'cookie.set' ? effect.value : undefined;
          if (response !== undefined && cookies) this.sendCookie(effect, response, state);
          break;
        }
        case 'header.vary':
          response?.vary(effect.value);
          break;
        case 'header.cacheControl':
          response?.makePrivate();
          break;
        default:
          assertNever(effect);
      }
    }
  }

  /** Puts the cookie on the response in place of this package's earlier lines, deleting any stale chunks with it. */
  private sendCookie(effect: CookieEffect, response: ResponsePort, state: RequestState): void {
    if (!this.settings.sendsCookie) return;
    const line = setCookieLine(effect);
    const chunks = Array.from({ length: state.staleChunks }, (_, index) =>
      serializeDeletion(`${this.name}.${index + 1}`, effect.attributes),
    );
    state.staleChunks = 0;
    response.replaceSetCookie(state.lines, [line, ...chunks]);
    state.lines = [line];
  }

  private run<T>(state: RequestState, work: () => Promise<T>): Promise<T> {
    // Moved only by a run, whose caller hears of a failure: a read that needs no run (the session
    // already on the context) starts no move that would fail unheard.
    const ready = state.unmoved === undefined ? state.queue : state.queue.then(() => this.moveSeal(state));
    const result = ready.then(work);
    state.queue = result.catch(() => undefined);
    return result.catch((error: unknown) => Promise.reject(this.kit.httpError(error)));
  }
}

/** The h3 session a loaded core session holds, or `undefined` for none (the core's schema vouches for the shape). */
function storedSession(core: CoreSession): H3Session | undefined {
  const id = core.get('id') as string | undefined;
  if (id === undefined) return undefined;
  return { id, createdAt: core.get('createdAt') as number, data: core.get('data') as Record<string, unknown> };
}

/** What an update merges: the object itself, or what the function returns for the data. */
function changesOf(update: SessionUpdate | undefined, data: Record<string, unknown>) {
  return typeof update === 'function' ? update(data) : update;
}

function writeSession(core: CoreSession, session: H3Session): void {
  core.set('id', session.id);
  core.set('createdAt', session.createdAt);
  // A copy: the app may change `data` again before the store has the write.
  core.set('data', { ...session.data });
}

/**
 * Starts `clear` and hears its failure too: h3's clear never fails, so apps leave it unawaited,
 * and a failed destroy would then be an unhandled rejection that ends the process. The cookie is
 * deleted all the same and the record dies with its TTL; an app that awaits the call still hears
 * of it. A call that throws at once (a config h3 would refuse too) rejects as an async call does.
 */
export function mayGoUnawaited<T>(clear: () => Promise<T>): Promise<T> {
  let clearing: Promise<T>;
  try {
    clearing = clear();
  } catch (error) {
    return Promise.reject(error);
  }
  clearing.catch(() => undefined);
  return clearing;
}
