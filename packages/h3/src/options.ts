/** Options shared by both entries, validated once into the core's options. */
import { SessConfigError, SessUsageError, createSessionManager } from '@sess/core';
import type { SessionManager, SessionManagerOptions, SocketSession, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { sessionView } from './view.js';
import type { SessionView } from './view.js';

/**
 * The options. `idleTimeoutMs`, `absoluteTimeoutMs`, `touchAfterMs`, `regenerateGraceMs`, `saveOnServerError`,
 * `storeTimeoutMs`, `clock` and `cookie` (`httpOnly`, `secure: 'auto'`, `sameSite`, `path`,
 * `domain`, `partitioned`, `priority`) are the core's, documented in `@sess/core`.
 */
export interface SessionOptions<Event = unknown>
  extends Partial<
    Pick<
      SessionManagerOptions,
      | 'idleTimeoutMs'
      | 'absoluteTimeoutMs'
      | 'touchAfterMs'
      | 'regenerateGraceMs'
      | 'saveOnServerError'
      | 'storeTimeoutMs'
      | 'clock'
      | 'rolling'
      | 'generateId'
      | 'cookie'
      | 'onEvent'
      | 'migrate'
      | 'schema'
    >
  > {
  /** One secret or several (the first signs, all verify); each at least 32 bytes. h3 calls it `password`. */
  secret: string | readonly string[];
  /** Where sessions live. Default `memoryStore()` (one process, lost on restart). */
  store?: Store;
  /** Cookie name. Default `'sid'`. */
  name?: string;
  /** Lifetime in seconds, as h3's `maxAge`; `'session'` for a cookie that ends with the browser. Default 24 hours. */
  maxAge?: number | 'session';
  /** Trust `X-Forwarded-Proto` when deciding whether the request is secure. Default `false`. */
  proxy?: boolean;
  /** Requests whose session is loaded but never written; changing it there throws `SessUsageError`. */
  readOnly?: (event: Event) => boolean;
  /** Makes `getSession()` work anywhere inside the request (AsyncLocalStorage; h3 v2 only). Default `false`. */
  asyncContext?: boolean;
}

type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

function defined<T extends object>(value: T): Defined<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Defined<T>;
}

export interface Configured {
  readonly manager: SessionManager;
  readonly proxy: boolean;
}

export function configure<Event>(options: SessionOptions<Event>): Configured {
  const { maxAge } = options;
  if (maxAge !== undefined && maxAge !== 'session' && typeof maxAge !== 'number') {
    throw new SessConfigError(`maxAge must be a number of seconds or 'session', got ${JSON.stringify(maxAge)}`);
  }
  const manager = createSessionManager(
    Object.freeze({
      ...defined({
        name: options.name,
        maxAgeMs: typeof maxAge === 'number' ? maxAge * 1000 : undefined,
        rolling: options.rolling,
        generateId: options.generateId,
        idleTimeoutMs: options.idleTimeoutMs,
        absoluteTimeoutMs: options.absoluteTimeoutMs,
        touchAfterMs: options.touchAfterMs,
        regenerateGraceMs: options.regenerateGraceMs,
        saveOnServerError: options.saveOnServerError,
        storeTimeoutMs: options.storeTimeoutMs,
        clock: options.clock,
        onEvent: options.onEvent,
        migrate: options.migrate,
        schema: options.schema,
      }),
      secret: options.secret,
      store: options.store ?? memoryStore(),
      expireAtBrowserClose: maxAge === 'session',
      cookie: Object.freeze(defined({ ...options.cookie })),
    }),
  );
  return Object.freeze({ manager, proxy: options.proxy ?? false });
}

/** The session the middleware put on the event; a clear error when it isn't registered. */
export function sessionOf<T>(context: { session?: T }): T {
  const found = context.session;
  if (found === undefined) throw new SessUsageError('no session on this event: register session({ ... }) with app.use() first');
  return found;
}

/** Names of the cookies a response already sets, to let the core keep its hands off them. */
export function cookieNames(lines: readonly string[]): string[] {
  return lines.map((line) => line.slice(0, line.indexOf('=')).trim());
}

/** What a WebSocket upgrade request must offer: crossws's `peer.request`, on h3 v1 and v2 alike. */
export interface UpgradeRequest {
  readonly url: string;
  readonly headers: { get(name: string): string | null };
}

/**
 * The session of a WebSocket from its upgrade request: `use(work)` persists changes with store
 * effects only and returns a `handoff` token when the browser needs a new cookie.
 */
export function socketSessions<Data>(configured: Configured): (request: UpgradeRequest) => SocketSession<Partial<Data>> {
  const { manager, proxy } = configured;
  return (request) => {
    const forwarded = proxy ? request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() : undefined;
    const secure = forwarded === undefined ? /^(https|wss):$/.test(new URL(request.url).protocol) : forwarded === 'https';
    const core = manager.socket({ cookieHeader: request.headers.get('cookie') ?? undefined, secure });
    return { use: (work) => core.use((s) => work((sessionView(s) as SessionView<Data>).data)) };
  };
}
