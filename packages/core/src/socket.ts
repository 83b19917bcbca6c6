/**
 * Sessions over a WebSocket. The upgrade request's cookie names the session; each unit of work
 * on the socket is one lifecycle run whose store effects are carried out as usual, while its HTTP
 * effects have no response to go on. The one that matters, a session cookie the browser doesn't
 * hold yet (a new session, a new id), can't travel on the socket, and one set by page script
 * through `document.cookie` can never be HttpOnly. Instead the cookie is parked in the store
 * under a short-lived, single-use hand-off token; the app sends the token down the socket and
 * the page exchanges it over plain HTTP for the normal HttpOnly cookie.
 */
import type { CookieAttributes } from './cookie.js';
import { MARK_PRIVATE } from './effects.js';
import type { HttpEffect } from './effects.js';
import { isWellFormedId } from './ids.js';
import type { Deadlines } from './runner.js';
import { storeCallError } from './errors.js';
import type { SessStoreError, SessUsageError } from './errors.js';
import type { Awaitable, Store } from './store.js';

/** A hand-off lives one minute: long enough for a page to make one request, short for a thief. */
export const HANDOFF_TTL_MS = 60_000;
/** Where a hand-off record keeps the cookie it stands for. */
const HANDOFF_KEY = 'sess.handoff';
/**
 * What a token's store key starts with. Tokens and session ids share the store's key space, and a
 * visitor knows their own id (their cookie shows it): were a token its own key, redeeming that id
 * would hand out whatever the session holds under `HANDOFF_KEY` (an app that stores keys a visitor
 * names would let them choose any cookie) and delete the session. A prefixed key is 40 characters,
 * never a 32-character id from `generateId`, and still a well-formed id for every store.
 */
const HANDOFF_KEY_PREFIX = 'handoff-';

/** What a unit of work on the socket came to. */
export interface SocketOutcome<T> {
  readonly result: T;
  /**
   * Present when the session now has an id the browser lacks: send it down the socket; the
   * page posts it to the adapter's hand-off route to receive the HttpOnly cookie.
   */
  readonly handoff?: string;
  /** The session was destroyed or emptied: the browser's cookie names nothing any more. */
  readonly ended: boolean;
}

export interface SocketSession<S> {
  /**
   * Runs `work` as one lifecycle run on the socket's session: loads it, lets `work` read and
   * change it, and commits with store effects only. Runs are queued, so messages of one socket
   * never race each other.
   *
   * @throws SessStoreError when a store call fails (the session is left as the store has it; a
   *   hand-off that could not be parked is parked by the next run, which returns its token);
   *   SessUsageError (code `'data_not_json'`) when the store cannot encode the session's data.
   */
  use<T>(work: (session: S) => T | Promise<T>): Promise<SocketOutcome<T>>;
}

interface Committable {
  load(): Promise<void>;
  commit(response: { status: number }): readonly HttpEffect[] | Promise<readonly HttpEffect[]>;
}

/** A socket's session: `begin` starts one lifecycle run from the cookie value it names. */
export function createSocketSession<S extends Committable>(
  name: string,
  cookieValue: string | undefined,
  begin: (cookieHeader: string | undefined) => S,
  park: (cookie: Extract<HttpEffect, { type: 'cookie.set' }>) => Promise<string>,
): SocketSession<S> {
  // What the browser will hold once every hand-off so far is redeemed.
  let current = cookieValue;
  // The latest cookie whose hand-off is not parked yet. Kept until a park succeeds: once
  // `current` names it, no later commit sets it again, so a failed park would otherwise leave
  // the browser without the cookie for good.
  let unparked: Extract<HttpEffect, { type: 'cookie.set' }> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  async function run<T>(work: (session: S) => T | Promise<T>): Promise<SocketOutcome<T>> {
    const session = begin(current === undefined ? undefined : `${name}=${current}`);
    await session.load();
    const result = await work(session);
    let handoff: string | undefined;
    let ended = false;
    for (const effect of await session.commit({ status: 200 })) {
      if (effect.type !== 'cookie.set' && effect.type !== 'cookie.delete') continue;
      if (effect.name !== name) continue; // the test cookie means nothing on a socket
      if (effect.type === 'cookie.delete') {
        current = undefined;
        unparked = undefined;
        ended = true;
      } else {
        current = effect.value;
        unparked = effect;
      }
    }
    if (unparked !== undefined) {
      handoff = await park(unparked);
      unparked = undefined;
    }
    return handoff === undefined ? { result, ended } : { result, handoff, ended };
  }

  return Object.freeze({
    use<T>(work: (session: S) => T | Promise<T>): Promise<SocketOutcome<T>> {
      const next = queue.then(() => run(work));
      queue = next.catch(() => undefined);
      return next;
    },
  });
}

interface ParkedCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: CookieAttributes;
}

function isParkedCookie(value: unknown): value is ParkedCookie {
  if (typeof value !== 'object' || value === null) return false;
  const cookie = value as Record<string, unknown>;
  return (
    typeof cookie.name === 'string' &&
    typeof cookie.value === 'string' &&
    typeof cookie.attributes === 'object' &&
    cookie.attributes !== null
  );
}

export interface Handoffs {
  /** Parks a session cookie under a fresh single-use token; resolves to the token. */
  park(cookie: Extract<HttpEffect, { type: 'cookie.set' }>): Promise<string>;
  /**
   * Exchanges a token for its cookie, once.
   *
   * @returns the `cookie.set` effect to apply, with `Cache-Control: private`, or `[]` for a token
   *   that is unknown, used, expired or malformed (never an error: the token comes from the client).
   * @throws SessStoreError when the store fails.
   */
  redeem(token: unknown): Promise<readonly HttpEffect[]>;
}

export function createHandoffs(store: Store, clock: () => number, deadlines: Deadlines, generateId: () => string): Handoffs {
  // Each store call under the manager's deadline, failing as the runner's do (`storeCallError`).
  async function call<T>(op: 'get' | 'set' | 'destroy', work: () => Awaitable<T>): Promise<T> {
    type Outcome = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SessStoreError | SessUsageError };
    // Called inside `then`: a store that throws rather than rejects fails the same way, and a value serves as a promise.
    const settled = Promise.resolve()
      .then(work)
      .then(
        (value): Outcome => ({ ok: true, value }),
        (cause: unknown): Outcome => ({ ok: false, error: storeCallError(store.name, op, cause) }),
      );
    const outcome = await deadlines.race(settled, (): Outcome => ({ ok: false, error: storeCallError(store.name, op, undefined, true) }));
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  // Tokens being redeemed: of two redemptions that race, both would read the record before
  // either destroys it, so only the first to arrive may go on. This process only: the Store
  // contract has no atomic take for redemptions racing on two servers.
  const redeeming = new Set<string>();

  async function take(key: string): Promise<readonly HttpEffect[]> {
    const record = await call('get', () => store.get(key));
    const parked: unknown = record?.data[HANDOFF_KEY];
    // Only a record that holds a parked cookie is ever deleted here.
    if (record === undefined || !isParkedCookie(parked) || record.meta.expiresAt <= clock()) return [];
    await call('destroy', () => store.destroy(key));
    const { expires } = parked.attributes;
    const attributes = expires === undefined ? parked.attributes : { ...parked.attributes, maxAgeMs: Math.max(0, expires - clock()) };
    return [{ type: 'cookie.set', name: parked.name, value: parked.value, attributes }, MARK_PRIVATE];
  }

  return Object.freeze({
    async park(cookie: Extract<HttpEffect, { type: 'cookie.set' }>): Promise<string> {
      const token = generateId();
      const now = clock();
      const parked: ParkedCookie = { name: cookie.name, value: cookie.value, attributes: cookie.attributes };
      const record = { data: { [HANDOFF_KEY]: parked }, meta: { createdAt: now, touchedAt: now, expiresAt: now + HANDOFF_TTL_MS } };
      await call('set', () => store.set(`${HANDOFF_KEY_PREFIX}${token}`, record, HANDOFF_TTL_MS));
      return token;
    },

    async redeem(token: unknown): Promise<readonly HttpEffect[]> {
      if (typeof token !== 'string' || !isWellFormedId(token)) return [];
      const key = `${HANDOFF_KEY_PREFIX}${token}`;
      if (!isWellFormedId(key) || redeeming.has(key)) return [];
      redeeming.add(key);
      try {
        return await take(key);
      } finally {
        redeeming.delete(key);
      }
    },
  });
}
