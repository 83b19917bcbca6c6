import { createSigner } from '@sess/core';
import type { SealMode, SessionRecord, Signer } from '@sess/core';
import { Client } from './client.js';
import type { it } from 'vitest';
import type { AdapterOptions, KnownBug } from './contract.js';
import { sealedValuePattern, suiteSealer } from './seal.js';
import type { SealedPayload, SuiteSealer } from './seal.js';
import { fakeClock, inspectableStore } from './store.js';
import type { FakeClock, InspectableStore } from './store.js';

export const SECRET = 'adapter-conformance-secret-of-32-bytes!';
/** Cookie sessions' own secrets (the docs ask for secrets apart from the manager's `secret`). */
export const COOKIE_SECRET = 'adapter-conformance-cookie-secret-32-bytes';
/** An older cookie secret, for rotation: `[COOKIE_SECRET, OLD_COOKIE_SECRET]` opens both. */
export const OLD_COOKIE_SECRET = 'an-older-cookie-secret-still-in-rotation!';
/** The core's default lifetime; the suite checks cookies against it. */
export const DAY_MS = 86_400_000;

/** A signed id as the manager sends it for server-side sessions, as a regex source. */
const SIGNED = '[A-Za-z0-9_-]{22,128}\\.[A-Za-z0-9_-]{43}';

/** What every case can use, wherever the session lives. */
interface ContextBase {
  /** The app's base URL, for raw requests. */
  readonly url: string;
  /** Whether the harness asked for the long adversarial cases in full. */
  readonly heavy: boolean;
  readonly client: Client;
  /** A second browser, for the attacker or a stranger. */
  newClient(): Client;
  readonly clock: FakeClock;
  /** The id inside the session cookie the client holds. */
  idInJar(client?: Client): string | undefined;
  /**
   * The record of the session the client's cookie names: as the server's store holds it, or
   * for cookie sessions as the cookie itself carries it (opened, not judged for expiry).
   */
  sessionOf(client?: Client): Promise<SessionRecord | undefined>;
  /** A session cookie value as this app sends it, as a regex source (no anchors). */
  readonly valuePattern: string;
}

/** An app whose sessions live in the suite's inspectable server-side store. */
export interface ServerContext extends ContextBase {
  readonly sessions: 'server';
  readonly store: InspectableStore;
  readonly signer: Signer;
}

/** The failures a cookie-session app can have: its revocation hooks throwing. */
export type RevocationHook = 'isRevoked' | 'onRevoke';

/** An app on `cookieSessions(...)`: the whole session is sealed in the cookie. */
export interface CookieContext extends ContextBase {
  readonly sessions: 'cookie';
  readonly mode: SealMode;
  /** Seals and opens with the app's current (first) cookie secret only. */
  readonly sealer: SuiteSealer;
  /** What the session cookie the client holds opens to with the current secret. */
  opened(client?: Client): SealedPayload | undefined;
  /**
   * Ids the app's `onRevoke` hook recorded (id to the expiry it was given); `isRevoked` reads
   * it. Empty and unused when the app was started with `revocation: false`.
   */
  readonly revoked: ReadonlyMap<string, number>;
  /** How often each hook was called: `isRevoked` once per cookie that opened. */
  readonly hookCalls: Readonly<Record<RevocationHook, number>>;
  /** Hooks that throw until removed from the set. */
  readonly failing: Set<RevocationHook>;
}

export type CaseContext = ServerContext | CookieContext;

type Overrides = Partial<Omit<AdapterOptions, 'store' | 'clock'>>;

/** How a cookie-session case may configure `cookieSessions(...)`. */
export interface CookieOverrides extends Overrides {
  /** The cookie secret(s); default `COOKIE_SECRET`. */
  readonly cookieSecret?: string | readonly string[];
  /** Default `'encrypt'`. */
  readonly mode?: SealMode;
  /** Pass the `isRevoked`/`onRevoke` hooks (default `true`), so sign-out ends a copied cookie too. */
  readonly revocation?: boolean;
}

interface EnvBase {
  /** `it`, or `it.fails` when the harness declared this case a known bug. */
  it(bug: KnownBug): typeof it | typeof it.fails;
}

/** Cases against apps on the suite's server-side store. */
export interface ServerEnv extends EnvBase {
  readonly sessions: 'server';
  /** Starts an app on a fresh store and clock; `secret` defaults to `SECRET`. */
  start(overrides?: Overrides): Promise<ServerContext>;
}

/** Cases against apps on cookie sessions. */
export interface CookieEnv extends EnvBase {
  readonly sessions: 'cookie';
  /** Starts an app on fresh cookie sessions and clock; `secret` defaults to `SECRET`. */
  start(overrides?: CookieOverrides): Promise<CookieContext>;
}

/**
 * What a case file registers its cases against. A case that holds for both kinds of session
 * takes `CaseEnv` and branches on `context.sessions` only where it looks behind the cookie; a
 * case about the server-side store alone is registered for `ServerEnv` only, saying why.
 */
export type CaseEnv = ServerEnv | CookieEnv;

function base(url: string, clock: FakeClock, heavy: boolean) {
  const client = new Client(url);
  return { url, heavy, client, newClient: () => new Client(url), clock };
}

export function caseContext(url: string, store: InspectableStore, clock: FakeClock, heavy = false): ServerContext {
  const signer = createSigner(SECRET);
  const common = base(url, clock, heavy);
  const idInJar = (which = common.client) => {
    const value = which.jar.get('sid');
    return value === undefined ? undefined : signer.verify('sid', value)?.id;
  };
  return {
    ...common,
    sessions: 'server',
    store,
    signer,
    valuePattern: SIGNED,
    idInJar,
    async sessionOf(which = common.client) {
      const id = idInJar(which);
      return id === undefined ? undefined : store.peek(id);
    },
  };
}

export interface CookieApp {
  readonly mode: SealMode;
  /** The secret that seals: the first of the app's cookie secrets. */
  readonly currentSecret: string;
  readonly revoked: ReadonlyMap<string, number>;
  readonly hookCalls: Readonly<Record<RevocationHook, number>>;
  readonly failing: Set<RevocationHook>;
}

export function cookieContext(url: string, clock: FakeClock, app: CookieApp, heavy = false): CookieContext {
  const sealer = suiteSealer(app.currentSecret, app.mode);
  const common = base(url, clock, heavy);
  const opened = (which = common.client) => {
    const value = which.jar.get('sid');
    return value === undefined ? undefined : sealer.open(value);
  };
  return {
    ...common,
    sessions: 'cookie',
    mode: app.mode,
    sealer,
    opened,
    revoked: app.revoked,
    hookCalls: app.hookCalls,
    failing: app.failing,
    valuePattern: sealedValuePattern(app.mode),
    idInJar(which) {
      const id = opened(which)?.id;
      return typeof id === 'string' ? id : undefined;
    },
    sessionOf(which) {
      const payload = opened(which);
      return Promise.resolve(payload === undefined ? undefined : ({ data: payload.data, meta: payload.meta } as SessionRecord));
    },
  };
}

/**
 * A snapshot of what the app did beyond the cookie: its store calls, or for cookie sessions
 * its revocation-hook calls. Compare two snapshots to say "nothing was asked or written".
 */
export function callsOf(context: CaseContext): Record<string, number> {
  return context.sessions === 'server' ? { ...context.store.calls } : { ...context.hookCalls };
}

/**
 * How often the app looked up a session it was sent: store `get`s, or for cookie sessions
 * `isRevoked` checks, made only for a cookie that opened. A refused cookie costs neither.
 */
export function lookupsOf(context: CaseContext): number {
  return context.sessions === 'server' ? context.store.calls.get : context.hookCalls.isRevoked;
}

export { fakeClock, inspectableStore };
