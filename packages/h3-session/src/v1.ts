/**
 * @sess/h3-session/v1: h3 v1's session utilities (1.15.x, as Nuxt 3 and Nitro 2 run it), with h3
 * v1's signatures, on the sess core. The types are h3 v1's, written out here so they don't depend
 * on which h3 major a project's types resolve to; h3 itself is loaded only to open an old seal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SessStoreError } from '@sess/core';
import type { Store } from '@sess/core';
import { failureError, isSecureRequest, keepsSharedCachesOut, privately, readCookie, varyWith } from '@sess/core/adapter';
import type { HeaderValue } from '@sess/core/adapter';
import { generateIdOf, perConfig } from './config.js';
import { H3Sessions, mayGoUnawaited } from './sessions.js';
import type { EntryKit, EventPort, ResponsePort, SessionUpdate as Update } from './sessions.js';

export type { Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

// biome-ignore lint/suspicious/noExplicitAny: h3's own constraint; an interface without an index signature satisfies only `any` values.
type SessionDataT = Record<string, any>;
/** The session's data; pass your shape as `T` (`useSession<{ user?: string }>(...)`). */
export type SessionData<T extends SessionDataT = SessionDataT> = T;

/** A session, as h3 keeps it on `event.context.sessions[name]`. */
export interface Session<T extends SessionDataT = SessionDataT> {
  /** From `generateId` (default `crypto.randomUUID()`); kept when a sealed cookie moves into the store. */
  id: string;
  /** When the session started (epoch ms): `maxAge` counts from here. */
  createdAt: number;
  data: SessionData<T>;
}

/** What `useSession` returns. */
export interface SessionManager<T extends SessionDataT = SessionDataT> {
  /** `undefined` once the session is cleared. */
  readonly id: string | undefined;
  readonly data: SessionData<T>;
  /** Merges the update into the data and writes the session at once. */
  update: (update: SessionUpdate<T>) => Promise<SessionManager<T>>;
  /** Destroys the session and deletes its cookie. */
  clear: () => Promise<SessionManager<T>>;
}

/** Data to merge, or a function of the current data returning it. */
export type SessionUpdate<T extends SessionDataT = SessionDataT> =
  | Partial<SessionData<T>>
  | ((oldData: SessionData<T>) => Partial<SessionData<T>> | undefined);

/** The session cookie's attributes, as h3 v1 takes them (cookie-es). */
export interface CookieSerializeOptions {
  /** Accepted for h3's sake; the signed id needs no encoding. */
  encode?(value: string): string;
  /** Seconds the cookie (and the session in the store) lives after each write. */
  maxAge?: number;
  /** Default none: the cookie goes to this host only. */
  domain?: string;
  /** Default `'/'`. */
  path?: string;
  /** Refused: one date for every session. Use `maxAge`. */
  expires?: Date;
  /** Default `true`. */
  httpOnly?: boolean;
  priority?: 'low' | 'medium' | 'high';
  /** Default `'lax'`; `true` is `'strict'`. */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  /** Default `true`, as in h3. */
  secure?: boolean;
  partitioned?: boolean;
}

/** One step of iron's seal (encryption or integrity). */
interface SealOptionsSub {
  readonly saltBits: number;
  readonly algorithm: string;
  readonly iterations: number;
  readonly minPasswordlength: number;
}

/** iron's seal options, as h3 v1 takes them: used to open the cookies h3 sealed. */
export interface SealOptions {
  readonly encryption: SealOptionsSub;
  readonly integrity: SealOptionsSub;
  readonly ttl: number;
  readonly timestampSkewSec: number;
  readonly localtimeOffsetMsec: number;
}

/** h3 v1's `SessionConfig`, plus the store the sessions live in. */
export interface SessionConfig {
  /** At least 32 characters: signs the session cookie, and opens the cookies h3 sealed with it. */
  password: string;
  /** Session expiration time in seconds, counted from `createdAt`. */
  maxAge?: number;
  /** Default `'h3'`. */
  name?: string;
  /** Default Secure, HttpOnly, SameSite=Lax, Path=/; `false` sends no cookie (header sessions). */
  cookie?: false | CookieSerializeOptions;
  /** Default `x-h3-session` / `x-{name}-session`. */
  sessionHeader?: false | string;
  /** iron's options, to open the cookies h3 sealed with them. */
  seal?: SealOptions;
  /** WebCrypto, for h3's `unsealSession` and the default ids. Default `globalThis.crypto`. */
  crypto?: { readonly subtle: object; randomUUID(): string };
  /** The session's `id`. Default `crypto.randomUUID()`. */
  generateId?: () => string;
  /** A sess store. Default: one memory store per process, shared by every config without a store. */
  store?: Store;
}

/** The parts of h3 v1's `H3Event` these functions use. */
export interface H3V1Event {
  /** The Node request and response. */
  readonly node: { readonly req: IncomingMessage; readonly res: ServerResponse };
  /** Where `sessions` lives. */
  // biome-ignore lint/suspicious/noExplicitAny: h3 v1's H3EventContext is `Record<string, any>`.
  readonly context: Record<string, any>;
}

/** h3 v1's read-only events (a web request with a context): sessions can be read, not started or changed. */
export type CompatEvent =
  // biome-ignore lint/suspicious/noExplicitAny: as h3 v1 declares it.
  { request: { headers: Headers }; context: any } | { headers: Headers; context: any };

const kit: EntryKit = {
  where: '@sess/h3-session/v1',
  // Whichever h3 the app has: loaded only when a request carries a seal h3 made.
  unsealIron: async (config, sealed) => (await import('h3')).unsealSession(undefined as never, config as never, sealed),
  httpError: (error) => (error instanceof SessStoreError ? failureError(error) : error),
};

const sessionsOf = perConfig('the session config of @sess/h3-session/v1', true, (settings) => new H3Sessions(settings, kit));

const linesOf = (value: HeaderValue): string[] =>
  value === undefined || value === null ? [] : typeof value === 'object' ? [...value] : [String(value)];

/**
 * Once the headers have left (a handler streaming its answer), the response takes no more: the
 * session's headers are dropped rather than thrown on, so a session can still be read, as in h3 v1
 * (whose reads set no header), and an update still reaches the store. A new session is refused
 * before it is written (`assertNewSessionReachable`).
 */
function responseOf(res: ServerResponse): ResponsePort {
  const setCookieLines = () => linesOf(res.getHeader('set-cookie'));
  return {
    status: () => res.statusCode,
    keepsSharedCachesOut: () => keepsSharedCachesOut(res.getHeader('cache-control')),
    vary: (field) => void (res.headersSent || res.setHeader('vary', varyWith(res.getHeader('vary'), field))),
    // Asked again, not taken from the commit's facts: the app may set its own while the commit waits on the store.
    makePrivate: () => void (res.headersSent || res.setHeader('cache-control', privately(res.getHeader('cache-control')))),
    setCookieLines,
    replaceSetCookie: (previous, next) =>
      void (res.headersSent || res.setHeader('set-cookie', [...setCookieLines().filter((line) => !previous.includes(line)), ...next])),
  };
}

const isH3Event = (event: H3V1Event | CompatEvent): event is H3V1Event => 'node' in event && event.node !== undefined;

/** A request header as h3 v1 reads it: from the Node request, else from the compat event's web headers. */
function headerReader(event: H3V1Event | CompatEvent): (name: string) => string | undefined {
  if (isH3Event(event)) return (name) => headerText(event.node.req.headers[name]);
  const headers = 'request' in event ? event.request.headers : event.headers;
  return (name) => headers.get(name) ?? undefined;
}

const headerText = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);

/** An event port with the Node response, if any: `sessionOf` asks it whether the headers have left. */
interface V1Port extends EventPort {
  readonly res: ServerResponse | undefined;
}

function portOf(event: H3V1Event | CompatEvent, config: unknown): V1Port {
  const node = isH3Event(event) ? event.node : undefined;
  const header = headerReader(event);
  return {
    res: node?.res,
    context: event.context,
    header,
    cookie: (name) => ({ value: readCookie(header('cookie'), name), chunks: 0 }),
    secure: node !== undefined && isSecureRequest(node.req, false),
    generateId: generateIdOf(config),
    response: node === undefined ? undefined : responseOf(node.res),
  };
}

/**
 * A new session is written with its cookie, so it is refused where the cookie can't go: on a
 * read-only event, or once the headers have left (h3 v1 throws there too, setting the cookie).
 * Refused before the write, a session no browser could name is never stored. Without a cookie
 * (`cookie: false`) the app hands the sealed id on itself, as it can on a stream.
 */
function assertNewSessionReachable(sessions: H3Sessions, port: V1Port): void {
  if (port.response === undefined || (port.res?.headersSent && sessions.sendsCookie)) {
    throw new Error('Cannot initialize a new session. Make sure using `useSession(event)` in main handler.');
  }
}

/** As h3 v1: a new session is written at once, which a read-only event can't do. */
async function sessionOf(sessions: H3Sessions, port: V1Port) {
  const session = await sessions.get(port);
  if (!sessions.isUnwritten(port)) return session;
  assertNewSessionReachable(sessions, port);
  return sessions.update(port);
}

async function updateOf(sessions: H3Sessions, port: V1Port, update: SessionUpdate | undefined) {
  if (port.response === undefined) throw new Error('[h3] Cannot update read-only session.');
  // Read first: an update to a session this request starts (none came in, or it was cleared) writes it.
  await sessions.get(port);
  if (sessions.isUnwritten(port)) assertNewSessionReachable(sessions, port);
  return sessions.update(port, update as Update);
}

function clearOf(sessions: H3Sessions, port: V1Port): Promise<void> {
  if (port.response === undefined) return Promise.reject(new Error('[h3] Cannot clear read-only session.'));
  return sessions.clear(port);
}

/**
 * Creates a session manager for the current request, as h3 v1's `useSession`: a request without
 * a session starts one, written to the store at once with its cookie on the response.
 *
 * @example
 * ```ts
 * import { createApp, eventHandler } from 'h3';
 * import { useSession } from '@sess/h3-session/v1';
 *
 * const config = { password: process.env.SESSION_PASSWORD! };
 * const app = createApp().use('/', eventHandler(async (event) => {
 *   const session = await useSession<{ views?: number }>(event, config);
 *   await session.update((data) => ({ views: (data.views ?? 0) + 1 }));
 *   return `views: ${session.data.views}`;
 * }));
 * ```
 */
export async function useSession<T extends SessionDataT = SessionDataT>(
  event: H3V1Event | CompatEvent,
  config: SessionConfig,
): Promise<SessionManager<T>> {
  const sessions = sessionsOf(config);
  const port = portOf(event, config);
  await sessionOf(sessions, port);
  const manager: SessionManager<T> = {
    get id() {
      return port.context.sessions?.[sessions.name]?.id;
    },
    get data() {
      return (port.context.sessions?.[sessions.name]?.data ?? {}) as SessionData<T>;
    },
    update: async (update) => {
      await updateOf(sessions, port, update);
      return manager;
    },
    clear: () => mayGoUnawaited(() => clearOf(sessions, port).then(() => manager)),
  };
  return manager;
}

/** The session of the current request, read from the store once per request; a new one is written at once, as in h3 v1. */
export async function getSession<T extends SessionDataT = SessionDataT>(
  event: H3V1Event | CompatEvent,
  config: SessionConfig,
): Promise<Session<T>> {
  return (await sessionOf(sessionsOf(config), portOf(event, config))) as Session<T>;
}

/** Merges `update` into the session's data and writes it to the store at once, setting the cookie. */
export async function updateSession<T extends SessionDataT = SessionDataT>(
  event: H3V1Event,
  config: SessionConfig,
  update?: SessionUpdate<T>,
): Promise<Session<T>> {
  return (await updateOf(sessionsOf(config), portOf(event, config), update as SessionUpdate)) as Session<T>;
}

/**
 * Writes the session (starting it if new) and returns its signed id, the session cookie's value,
 * which a client may send back in the session header. It is no longer an iron seal: it holds no
 * data, and it names the session only while the store keeps it.
 */
// biome-ignore lint/correctness/noUnusedVariables: h3's signature declares T, so calls that pass it still compile.
export async function sealSession<T extends SessionDataT = SessionDataT>(
  event: H3V1Event | CompatEvent,
  config: SessionConfig,
): Promise<string> {
  const sessions = sessionsOf(config);
  const port = portOf(event, config);
  // As in h3 v1, a new session is started (and its cookie set) before it is sealed.
  await sessionOf(sessions, port);
  return sessions.seal(port);
}

/**
 * Reads a value from `sealSession` (its session, from the store) or a seal h3 made (opened with
 * h3's own `unsealSession`). Changes no response.
 *
 * @throws Error when the value names no live session or the seal does not open.
 */
export async function unsealSession(
  event: H3V1Event | CompatEvent,
  config: SessionConfig,
  sealed: string,
): Promise<Partial<Session<SessionDataT>>> {
  return sessionsOf(config).unseal(sealed, portOf(event, config).secure);
}

/** Ends the session: its record is destroyed and the cookie deleted. Needs the `password` to find it. */
export function clearSession(event: H3V1Event, config: Partial<SessionConfig>): Promise<void> {
  return mayGoUnawaited(() => clearOf(sessionsOf(config), portOf(event, config)));
}
