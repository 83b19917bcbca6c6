/**
 * What both entries share: the options (checked once into the core's), the session object h3
 * users know from `useSession`.
 */
import type { SessionCookieOptions } from '@sess/core';
import { COOKIE_OPTIONS, SHARED_OPTIONS, WEB_HINTS, WEB_OPTIONS, configureWeb } from '@sess/core/adapter';
import { CORE, SessionObject, upgradeSession, viewOf } from '@sess/core/adapter';
import type { OptionTable, SessionMethods, UpgradeRequest, WebOptions } from '@sess/core/adapter';
import { memoryStore } from '@sess/store-memory';

/** h3's names where sess has them (`maxAge` in seconds), and the core's options under their own names (see `SharedOptions`). */
export interface SessionOptions<Event = unknown> extends WebOptions<Event, SessionCookieOptions> {}

const COOKIE = {
  table: { ...COOKIE_OPTIONS, sameSite: [['lax', 'strict', 'none']] },
  // h3 takes `cookie: false` for header-only sessions; sess has only the cookie.
  should: 'an object of cookie attributes (sess always uses its cookie)',
  hints: {
    ...WEB_HINTS.cookie,
    encode: 'sess writes the cookie value itself (a signed id)',
    chunkMaxLength: 'the cookie holds only a signed id, so it is never chunked',
  },
} as const;
const { secret, store, name, ...shared } = SHARED_OPTIONS;
const { maxAge, ...own } = WEB_OPTIONS;
const OPTIONS: OptionTable<SessionOptions<never>> = { secret, store, name, maxAge, ...shared, ...own, cookie: [COOKIE] };

/** Options of h3's `useSession` (and a few of other session libraries) that sess spells differently or has no use for. */
const HINTS: Readonly<Record<string, string>> = {
  password: 'sess calls it "secret" (at least 32 bytes; an array of secrets rotates them)',
  idleTimeout: 'use "idleTimeoutMs", in milliseconds (h3 counts idleTimeout in seconds)',
  sessionHeader: 'sess reads the session from its cookie only; there is no header session',
  seal: 'sess does not seal the cookie: it carries a signed id and the data lives in the store. To keep the data in the cookie, pass store: cookieSessions({ secret }) from @sess/core',
  legacySealFallback: 'sess does not read cookies sealed by h3, so there is nothing to fall back to',
  crypto: 'sess signs with node:crypto; there is nothing to pass',
  maxAgeMs: 'this entry takes "maxAge" in seconds, as h3 does',
  ...WEB_HINTS.options,
};

/**
 * The options, checked (with advice, `where` naming the entry) and turned into the core's.
 * `socket` is the session of a WebSocket from its upgrade request (crossws's `peer.request`).
 *
 * @throws SessConfigError
 */
export function configure<Event>(options: SessionOptions<Event>, where: string) {
  const configured = configureWeb(options, OPTIONS, where, { hints: HINTS, defaultStore: memoryStore });
  const socket = (request: UpgradeRequest) =>
    upgradeSession(configured.manager, request, configured.proxy, (core) => new H3View(core).data);
  return Object.freeze({ ...configured, socket });
}

/** Said by `useSession` on an event the middleware did not see. */
export const MISSING = 'no session on this event: register session({ ... }) with app.use() first';

/**
 * Said when the response commits and `event.context.session` is no longer the session the
 * middleware put there: saving the one the app let go of would keep a user it meant to sign out
 * (`event.context.session = {}`) signed in.
 */
export const REPLACED =
  'event.context.session was replaced by another value, so nothing was saved: change the session useSession(event) returns (its data or update()), sign out with its clear() or destroy(), or start over with its regenerate()';

/** Each entry declares its own `SessionData` (augmenting through a re-export doesn't reach a shared one). */
export type SessionUpdate<Data> = Partial<Data> | ((data: Partial<Data>) => Partial<Data> | undefined | void);

/** The session as h3 users know it from `useSession`: `id`, a `data` object, `update()` and `clear()`, plus the sess operations. */
export interface SessionView<Data> extends SessionMethods {
  /** The session's data: read and assign properties; the store is written when the response goes out. */
  readonly data: Partial<Data>;
  /** Fetches the record the cookie names (once; `useSession` does it): reads need it first. */
  load(): Promise<void>;
  /** h3's `update`: merges an object (or what a function returns) into the data. */
  update(update: SessionUpdate<Data>): Promise<SessionView<Data>>;
  /** h3's `clear`: empties the session; its record and cookie are deleted when the response goes out. */
  clear(): Promise<SessionView<Data>>;
}

type Data = Record<string, unknown>;
/** `data` is the kit's session view, so every read and write reaches the lifecycle and `__proto__` stays data. */
const dataView = viewOf<Data>({});

/** The session of one request, as `useSession` returns it. */
export class H3View extends SessionObject implements SessionView<Data> {
  readonly data = dataView(this[CORE]).view;
  readonly load = (): Promise<void> => this[CORE].load();
  readonly update = async (update: SessionUpdate<Data>): Promise<this> => {
    for (const [key, value] of Object.entries((typeof update === 'function' ? update(this.data) : update) ?? {}))
      this[CORE].set(key, value);
    return this;
  };
  readonly clear = async (): Promise<this> => (this[CORE].clear(), this);
}
