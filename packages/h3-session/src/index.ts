/**
 * @sess/h3-session: h3's session utilities with h3's own signatures (`useSession`, `getSession`,
 * `updateSession`, `clearSession`, `sealSession`, `unsealSession`), on the sess core. Change the
 * import from `'h3'` to `'@sess/h3-session'`: the cookie then carries a signed id and the session
 * lives in a store (memory by default, or `store` in the config), with no PBKDF2 per request.
 * Cookies h3 sealed still open, once each, and move into the store. For h3 v1: `@sess/h3-session/v1`.
 */
import { HTTPError, getCookie, getChunkedCookie, getEventContext, unsealSession as unsealH3Seal } from 'h3';
import type { H3Event, SessionConfig as H3SessionConfig, HTTPEvent, Session, SessionData, SessionManager } from 'h3';
import { SessStoreError } from '@sess/core';
import type { Store } from '@sess/core';
import { failureError, keepsSharedCachesOut, privately, varyWith } from '@sess/core/adapter';
import { generateIdOf, perConfig } from './config.js';
import { H3Sessions, mayGoUnawaited } from './sessions.js';
import type { EntryKit, EventPort, ResponsePort, SessionUpdate as Update } from './sessions.js';

export type { Session, SessionData, SessionManager } from 'h3';
export type { Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

/** h3's `SessionConfig`, plus the store the sessions live in. */
export interface SessionConfig extends H3SessionConfig {
  /**
   * A sess store, e.g. `redisStore({ client })` from `@sess/store-redis`. Default: one memory
   * store per process, shared by every config without a store (lost on restart, one process only).
   */
  store?: Store;
}

/** What `update` takes: data to merge, or a function of the current data returning it (h3's `SessionUpdate`). */
export type SessionUpdate<T extends SessionData = SessionData> =
  | Partial<SessionData<T>>
  | ((oldData: SessionData<T>) => Partial<SessionData<T>> | undefined);

/** h3 v2 names the chunks of a chunked cookie `__chunked__<count>`, and reads at most 100 of them. */
const CHUNKED = '__chunked__';
const MAX_CHUNKS = 100;

const kit: EntryKit = {
  where: '@sess/h3-session',
  unsealIron: (config, sealed) => unsealH3Seal(undefined as never, config as unknown as H3SessionConfig, sealed),
  // A store failure answers 503 through h3's error handling, the SessStoreError its `cause`: set
  // after construction, since h3's constructor makes `cause` the options object it is given.
  // Unhandled, as h3 marks a thrown Error: logged (unless `silent`), the answer naming only the
  // status. A SessUsageError (the app's bug) goes on as it is, for h3 to log and answer 500.
  httpError: (error) =>
    error instanceof SessStoreError
      ? failureError(error, (failure) => Object.assign(new HTTPError({ ...failure, unhandled: true }), { cause: error }))
      : error,
};

const sessionsOf = perConfig('the session config of @sess/h3-session', false, (settings) => new H3Sessions(settings, kit));

function replaceIn(headers: Headers, previous: readonly string[], next: readonly string[]): void {
  const kept = headers.getSetCookie().filter((line) => !previous.includes(line));
  headers.delete('set-cookie');
  for (const line of [...kept, ...next]) headers.append('set-cookie', line);
}

function responseOf(res: H3Event['res']): ResponsePort {
  // h3 answers an error with `errHeaders` in place of `headers`: the session's cookie goes on
  // both, and so must what keeps that answer out of shared caches.
  return {
    status: () => res.status ?? 200,
    keepsSharedCachesOut: () =>
      keepsSharedCachesOut(res.headers.get('cache-control')) && keepsSharedCachesOut(res.errHeaders.get('cache-control')),
    vary(field) {
      res.headers.set('vary', varyWith(res.headers.get('vary'), field));
      res.errHeaders.set('vary', varyWith(res.errHeaders.get('vary'), field));
    },
    makePrivate() {
      res.headers.set('cache-control', privately(res.headers.get('cache-control')));
      res.errHeaders.set('cache-control', privately(res.errHeaders.get('cache-control')));
    },
    setCookieLines: () => res.headers.getSetCookie(),
    // As h3 does, the session cookie goes on the headers an error response keeps too.
    replaceSetCookie(previous, next) {
      replaceIn(res.headers, previous, next);
      replaceIn(res.errHeaders, previous, next);
    },
  };
}

function portOf(event: HTTPEvent, config: unknown): EventPort {
  const { res } = event as Partial<H3Event>;
  return {
    context: getEventContext(event),
    header: (name) => event.req.headers.get(name) ?? undefined,
    cookie(name) {
      const value = getCookie(event, name);
      if (!value?.startsWith(CHUNKED)) return { value, chunks: 0 };
      // The count comes from the request: past h3's bound it names no chunks, as in h3, rather
      // than one deletion line per chunk claimed.
      const count = Number.parseInt(value.slice(CHUNKED.length), 10);
      return { value: getChunkedCookie(event, name), chunks: count > 0 && count <= MAX_CHUNKS ? count : 0 };
    },
    secure: event.req.url.startsWith('https:'),
    generateId: generateIdOf(config),
    response: res === undefined ? undefined : responseOf(res),
  };
}

/**
 * Creates a session manager for the current request, as h3's `useSession`: a request without a
 * session starts one, written to the store at once with its cookie on the response.
 *
 * @example
 * ```ts
 * import { H3 } from 'h3';
 * import { useSession } from '@sess/h3-session';
 *
 * const config = { password: process.env.SESSION_PASSWORD! };
 * const app = new H3().get('/', async (event) => {
 *   const session = await useSession<{ views?: number }>(event, config);
 *   await session.update((data) => ({ views: (data.views ?? 0) + 1 }));
 *   return `views: ${session.data.views}`;
 * });
 * ```
 */
export async function useSession<T extends SessionData = SessionData>(event: HTTPEvent, config: SessionConfig): Promise<SessionManager<T>> {
  const sessions = sessionsOf(config);
  const port = portOf(event, config);
  await sessions.get(port);
  if (sessions.isUnwritten(port)) await sessions.update(port);
  const manager: SessionManager<T> = {
    get id() {
      return port.context.sessions?.[sessions.name]?.id;
    },
    get data() {
      return (port.context.sessions?.[sessions.name]?.data ?? Object.create(null)) as SessionData<T>;
    },
    // The event's response is read at each call, as h3 reads it: once h3 has made the handler's
    // answer the event has a new one, which an onResponse middleware's answer is made from.
    update: async (update) => {
      await sessions.update(portOf(event, config), update as Update);
      return manager;
    },
    clear: () => mayGoUnawaited(() => sessions.clear(portOf(event, config)).then(() => manager)),
  };
  return manager;
}

/**
 * The session of the current request, as h3's `getSession`: read from the store once per request.
 * A request without one gets a new session in memory only, with no cookie until it is updated.
 */
export async function getSession<T extends SessionData = SessionData>(event: HTTPEvent, config: SessionConfig): Promise<Session<T>> {
  return (await sessionsOf(config).get(portOf(event, config))) as Session<T>;
}

/** Merges `update` into the session's data and writes it to the store at once, setting the cookie. */
export async function updateSession<T extends SessionData = SessionData>(
  event: HTTPEvent,
  config: SessionConfig,
  update?: SessionUpdate<T>,
): Promise<Session<T>> {
  return (await sessionsOf(config).update(portOf(event, config), update as Update)) as Session<T>;
}

/**
 * Writes the session (starting it if new) and returns its signed id: the session cookie's value,
 * which a client may send back in the session header (`x-h3-session`). It is no longer an iron
 * seal: it holds no data, and it names the session only while the store keeps it.
 */
// biome-ignore lint/correctness/noUnusedVariables: h3's signature declares T, so calls that pass it still compile.
export async function sealSession<T extends SessionData = SessionData>(event: HTTPEvent, config: SessionConfig): Promise<string> {
  return sessionsOf(config).seal(portOf(event, config));
}

/**
 * Reads a value from `sealSession` (a signed id: its session from the store) or an h3 seal
 * (opened with h3's own `unsealSession`). Changes no response.
 *
 * @throws Error when the value names no live session or the seal does not open.
 */
export async function unsealSession(event: HTTPEvent, config: SessionConfig, sealed: string): Promise<Partial<Session>> {
  return sessionsOf(config).unseal(sealed, portOf(event, config).secure);
}

/** Ends the session: its record is destroyed and the cookie deleted. Needs the `password` to find it. */
export function clearSession(event: HTTPEvent, config: Partial<SessionConfig>): Promise<void> {
  return mayGoUnawaited(() => sessionsOf(config).clear(portOf(event, config)));
}
