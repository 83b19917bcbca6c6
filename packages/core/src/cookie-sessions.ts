/**
 * Cookie sessions: the whole session (id, data, times) lives in the cookie, sealed; the server
 * keeps nothing (as iron-session and h3's sealed sessions).
 *
 * `cookieSessions(options)` is the other kind of storage an adapter's `store` option takes, beside
 * a server-side `Store`; the manager tells them apart by `kind`. Per request it runs the usual
 * lifecycle against a store that lives in memory for that request only: `get` answers with the
 * record the cookie opened to, `set` and `touch` keep the new record, `destroy` forgets it. At
 * commit the session cookie's value is that record, sealed. Every decision stays in the machine
 * (`cookieCarriesData`).
 */
import { SessConfigError } from './errors.js';
import { isWellFormedId } from './ids.js';
import { checkFunction, checkOptionKeys, checkStoreShape, kindOfAnswer } from './options-check.js';
import { createSealer } from './seal.js';
import type { SealMode, Sealer } from './seal.js';
import type { SessionMeta, SessionRecord, Store } from './store.js';
import { dataJson } from './store-kit/json.js';

export type { SealMode } from './seal.js';

export interface CookieSessionsOptions {
  /**
   * One secret or several: the first seals, all open (rotation: a cookie opened only by an
   * older secret is re-sealed with the first). Each at least 32 bytes. Use secrets of their own,
   * not the manager's `secret`. Required unless a `codec` is given, and refused with one.
   */
  readonly secret?: string | readonly string[];
  /**
   * `'encrypt'` (default): AES-256-GCM, the client can't read the data. `'sign'`: HMAC-SHA256,
   * the client can read (base64url JSON) but not change it; a little shorter.
   */
  readonly mode?: SealMode;
  /**
   * Asked for each cookie that opens: `true` makes it load as a fresh session. Synchronous, so
   * the lifecycle stays synchronous: keep the revoked ids in memory (a Set, or a local mirror of
   * a shared list). Without it, a copied cookie stays valid until it expires, sign-out or not.
   * Any answer but `true` or `false` (a promise, a timestamp) fails the request as a throw does.
   */
  readonly isRevoked?: (id: string) => boolean;
  /**
   * Told the id and the instant every copy of its cookie has expired (epoch ms) when a session
   * the client holds is destroyed, emptied or regenerated: record it for `isRevoked` until then.
   * A copy may have been re-sealed with a longer lifetime than the client's, so that is 400 days
   * from now unless `idleTimeoutMs` or `absoluteTimeoutMs` end every copy sooner. A throw fails
   * the request like a failed store write (the sign-out is not confirmed with a 2xx).
   */
  readonly onRevoke?: (id: string, expiresAt: number) => void;
  /**
   * Another library's cookie format instead of sess's sealing, so its existing cookies keep
   * working (koa-session's base64 JSON with its `.sig` cookie, say). The codec is the integrity
   * check: it must turn away every value it did not make. Its cookies name no session id, so
   * `isRevoked` and `onRevoke` can't be used with it.
   */
  readonly codec?: CookieSessionCodec;
}

/**
 * A cookie format for cookie sessions: the record in a cookie value and back. It is called once
 * per request that carries the cookie (`decode`) and once per commit that sends it (`encode`).
 */
export interface CookieSessionCodec {
  /**
   * The value of the cookie called `name` that carries `record`.
   *
   * @throws what it likes (a record it can't write): the commit fails with it.
   */
  encode(name: string, record: SessionRecord): string;
  /**
   * The record a value received under `name` carries, and whether it was authenticated by an
   * older key (the commit then re-encodes it with the current one, once the session is used).
   *
   * @returns `undefined` for a value that is malformed, forged or from another format. A throw
   *   counts as `undefined`: the request gets a fresh session.
   */
  decode(name: string, value: string): { readonly record: SessionRecord; readonly rotated: boolean } | undefined;
}

/**
 * Sessions kept in the cookie, from `cookieSessions()`: the storage an adapter's `store` option
 * takes in place of a server-side `Store`. The server keeps nothing, so there is nothing to list,
 * clear or index, and WebSocket sessions (whose cookie travels through a hand-off parked on the
 * server) need a `Store`.
 */
export interface CookieSessions {
  readonly kind: 'cookie';
  /** How the cookie is made: sealed by sess (`'encrypt'`, `'sign'`) or written by a `codec`. */
  readonly mode: SealMode | 'codec';
  /** How errors name this storage, e.g. `'cookie (encrypt)'`. */
  readonly name: string;
  /**
   * The value of the cookie called `name` that carries `session`, sealed with the first secret.
   *
   * @throws SessUsageError with code `'data_not_json'` for data JSON can't hold (a cycle, a
   *   BigInt), or what a codec throws.
   */
  seal(name: string, session: SealedSession): string;
  /**
   * The session a value received under `name` carries, and whether only an older secret opened
   * it (the commit then seals it again with the first).
   *
   * @returns `undefined` for a value that is malformed, forged, sealed for another name or not a
   *   session. Never throws.
   */
  open(name: string, value: string): { readonly session: SealedSession; readonly rotated: boolean } | undefined;
  /** The `isRevoked` option: asked for each cookie that opens. */
  readonly isRevoked: ((id: string) => boolean) | undefined;
  /** The `onRevoke` option: told each id the client holds when its session ends. */
  readonly onRevoke: ((id: string, expiresAt: number) => void) | undefined;
}

/** What the manager accepts as its `store` option: a server-side store, or cookie sessions. */
export type SessionStorage = Store | CookieSessions;

/** Whether `storage` is cookie sessions rather than a server-side store: its `kind` says so. */
export function isCookieSessions(storage: unknown): storage is CookieSessions {
  return typeof storage === 'object' && storage !== null && (storage as { kind?: unknown }).kind === 'cookie';
}

/**
 * Refuses storage that is neither a sess store (see `checkStoreShape`) nor cookie sessions
 * (`kind: 'cookie'` with `seal` and `open`, as `cookieSessions()` makes them).
 *
 * @throws SessConfigError
 */
export function checkStorage(storage: unknown, where: string, advice: string): void {
  if (!isCookieSessions(storage)) checkStoreShape(storage, where, advice);
  else if (typeof storage.seal !== 'function' || typeof storage.open !== 'function')
    throw new SessConfigError(`${where}: store has kind 'cookie' but no seal() and open(): make cookie sessions with cookieSessions()`);
}

/**
 * Sessions whose data lives in the cookie itself, sealed. Pass the result as the manager's (or
 * an adapter's) `store`: `session({ secret, store: cookieSessions({ secret: [current, older] }) })`.
 * Keys are derived here, once.
 *
 * The cookie, name and attributes included, must fit in 4096 bytes: a commit that would
 * exceed that throws `SessUsageError` (code `'session_too_large'`) naming the largest keys,
 * and sends no cookie.
 *
 * @throws SessConfigError for a missing or short secret (code `'secret_too_short'`), a bad mode,
 *   an unknown option or a hook that is not a function.
 */
export function cookieSessions(options: CookieSessionsOptions): CookieSessions {
  // A misspelt option would otherwise be ignored, and a hook that is not a function would throw
  // on the first request that carries a cookie instead of at start-up.
  checkOptionKeys(options, COOKIE_SESSIONS_OPTIONS, 'cookieSessions()', { password: 'use secret' });
  checkFunction(options.isRevoked, 'cookieSessions(): isRevoked');
  checkFunction(options.onRevoke, 'cookieSessions(): onRevoke');
  const format =
    options.codec === undefined ? sealedFormat(createSealer(options.secret ?? [], options.mode ?? 'encrypt')) : codecFormat(options);
  return Object.freeze({
    kind: 'cookie' as const,
    mode: format.mode,
    name: `cookie (${format.mode})`,
    seal: format.seal,
    open: format.open,
    isRevoked: options.isRevoked,
    onRevoke: options.onRevoke,
  });
}

const COOKIE_SESSIONS_OPTIONS = [
  'secret',
  'mode',
  'isRevoked',
  'onRevoke',
  'codec',
] as const satisfies readonly (keyof CookieSessionsOptions)[];

/** How a session becomes a cookie value and back: sess's sealing, or a codec. */
type CookieFormat = Pick<CookieSessions, 'mode' | 'seal' | 'open'>;

/**
 * sess's own cookies: the session as a compact payload (see `payloadOf`), sealed. Values sealed
 * in the earlier payload (an object of `id`, `data` and `meta`) still open.
 */
function sealedFormat(sealer: Sealer): CookieFormat {
  return {
    mode: sealer.mode,
    seal(name, { id, record }) {
      try {
        return sealer.seal(name, payloadOf(id, record));
      } catch (error) {
        // Data JSON cannot hold fails as a server store fails it (SessUsageError data_not_json):
        // encoding the data alone again tells that failure from any other.
        dataJson(record.data, record.data);
        throw error;
      }
    },
    open(name, value) {
      const opened = sealer.open(name, value);
      if (opened === undefined) return undefined;
      const session = sealedSession(opened.payload);
      return session === undefined ? undefined : { session, rotated: opened.rotated };
    },
  };
}

/**
 * The payload sess seals: `[id, data, createdAt, touchedAt, expiresAt]`, then the record's
 * `expiry` and `retired` when it has them (`null` holds the place of an absent expiry). A list
 * rather than named keys: a shorter cookie, and less to seal and hash on every write.
 */
function payloadOf(id: string, { data, meta }: SessionRecord): unknown[] {
  const payload: unknown[] = [id, data, meta.createdAt, meta.touchedAt, meta.expiresAt];
  if (meta.retired === true) payload.push(meta.expiry ?? null, true);
  else if (meta.expiry !== undefined) payload.push(meta.expiry);
  return payload;
}

/**
 * The id every session read by a codec has: its cookies carry none, and within one request the
 * id only has to tell the client's session from one `regenerate` makes.
 */
const CODEC_SESSION_ID = 'session-in-codec-cookie';

/** Another library's cookies, through a codec: the session's id stays out of the cookie. */
function codecFormat(options: CookieSessionsOptions): CookieFormat {
  const { codec } = options;
  const refused = (['secret', 'mode', 'isRevoked', 'onRevoke'] as const).filter((option) => options[option] !== undefined);
  if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new SessConfigError('cookie sessions: codec must have encode(name, record) and decode(name, value) methods');
  }
  if (refused.length > 0) {
    throw new SessConfigError(
      `cookie sessions: ${refused.join(' and ')} can't be used with a codec: the codec authenticates the cookie, whose value names no session id`,
    );
  }
  return {
    mode: 'codec',
    seal(name, { record }) {
      const value: unknown = codec.encode(name, { data: record.data, meta: record.meta });
      // Anything else would reach the browser as its text (`42`, `undefined`, `[object Object]`).
      if (typeof value !== 'string') throw new TypeError(`cookie sessions: the codec's encode returned ${typeof value}, not a string`);
      return value;
    },
    open(name, value) {
      // Reading the answer is inside the try too: a getter or a proxy may throw as decode may.
      try {
        const decoded = codec.decode(name, value);
        if (typeof decoded !== 'object' || decoded === null) return undefined;
        const { record, rotated } = decoded;
        // The record's own fields are checked where every loaded record is (the session's `judge`).
        const session = { id: CODEC_SESSION_ID, record: { data: record?.data, meta: record?.meta } as SessionRecord };
        return { session, rotated: rotated === true };
      } catch {
        return undefined;
      }
    },
  };
}

/** The payload a session cookie carries: the record and its id. */
export interface SealedSession {
  /** The session's random id: what `isRevoked` and `onRevoke` are told. */
  readonly id: string;
  /** Its data and times, as a server-side store would keep them. */
  readonly record: SessionRecord;
}

/**
 * The payload's id and record, or `undefined` when it isn't shaped like one we seal: the list
 * `payloadOf` makes, or the object of `id`, `data` and `meta` sealed before it. The record's own
 * fields are checked where every loaded record is (the session's `judge`).
 */
function sealedSession(payload: unknown): SealedSession | undefined {
  if (Array.isArray(payload)) return listedSession(payload);
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { id, data, meta } = payload as { id?: unknown; data?: unknown; meta?: unknown };
  if (typeof id !== 'string' || !isWellFormedId(id)) return undefined;
  return { id, record: { data, meta } as SessionRecord };
}

function listedSession(payload: readonly unknown[]): SealedSession | undefined {
  if (payload.length < 5 || payload.length > 7) return undefined;
  const [id, data, createdAt, touchedAt, expiresAt, expiry, retired] = payload;
  if (typeof id !== 'string' || !isWellFormedId(id)) return undefined;
  const meta: Record<string, unknown> = { createdAt, touchedAt, expiresAt };
  if (expiry !== null && expiry !== undefined) meta.expiry = expiry;
  if (payload.length === 7) meta.retired = retired;
  return { id, record: { data, meta } as unknown as SessionRecord };
}

/**
 * One request's store over the record its cookie opened to. It holds the current record so the
 * commit can seal it; revocation hooks run where a server store would read and delete. It answers
 * synchronously, so a cookie session takes no promise step.
 */
export interface RequestStore extends Store {
  /** The record now held for `id`, as the commit will seal it. */
  current(id: string): SessionRecord | undefined;
  /**
   * The record now held for `id` (saved, touched, or as loaded), sealed as the value of the
   * cookie called `name`. The machine only sends a cookie for a record that is live then.
   */
  seal(name: string, id: string): string;
}

/** The client's cookie: its name and value, and the session it opened to for this request. */
export interface ClientCookie {
  readonly name: string;
  readonly value: string;
  readonly session: SealedSession;
}

/**
 * @param lifetimes - Its `revocationEnds(meta)` is the latest `expiresAt` any copy of the client's
 *   cookie may carry: one re-sealed by another request (a thief's, say) may outlive the client's
 *   own, so `onRevoke` is told the later of the two. (An object, not a callback: no closure per
 *   request.)
 */
export function requestStore(
  storage: CookieSessions,
  client: ClientCookie | undefined,
  lifetimes?: { revocationEnds(meta: SessionMeta): number },
): RequestStore {
  const records = new Map<string, SessionRecord>();
  const opened = client?.session;
  if (opened !== undefined) records.set(opened.id, opened.record);
  // The record the cookie opened to was parsed for this request alone, so the first `get` hands
  // it out as it is, with no copy. From then on the app may change it, so where the client's
  // record is needed again (a second get, a touch, a re-seal) the cookie is opened again: the
  // sealer remembers the value, so that costs one JSON parse.
  let lent = false;
  function held(id: string): SessionRecord | undefined {
    const record = records.get(id);
    if (!lent || client === undefined || record !== client.session.record) return record;
    const again = storage.open(client.name, client.value)?.session.record;
    if (again === undefined) throw new TypeError('the session cookie no longer opens');
    records.set(id, again);
    lent = false;
    return again;
  }

  return {
    name: storage.name,
    capabilities: { deltaWrites: false },
    current: held,
    seal(name, id) {
      const record = held(id);
      if (record === undefined) throw new TypeError('no record to seal for the session cookie');
      return storage.seal(name, { id, record });
    },
    get(id) {
      // A revoked id is gone, as a destroyed record is on a server store; a throw is a failed read.
      if (storage.isRevoked !== undefined) {
        const revoked: unknown = storage.isRevoked(id);
        if (revoked === true) return undefined;
        // A promise (an async check) or a timestamp would otherwise count as "not revoked", silently.
        if (revoked !== false)
          throw new TypeError(`cookieSessions(): isRevoked must return true or false, synchronously; it returned ${kindOfAnswer(revoked)}`);
      }
      // A copy, as a server store's get is: the app may change nested values without `set`, and
      // a touch or a rotation must re-seal what was saved, not those changes.
      const record = held(id);
      if (record === undefined) return undefined;
      if (record !== opened?.record) return structuredClone(record);
      lent = true;
      return record;
    },
    set(id, record) {
      // The record is sealed at commit, from whatever it holds then; a past expiry stays inside.
      records.set(id, record);
    },
    touch(id, meta: SessionMeta) {
      const record = held(id);
      if (record === undefined) return false;
      records.set(id, { data: record.data, meta });
      return true;
    },
    destroy(id) {
      records.delete(id);
      // Only an id the client holds needs revoking: a fresh one never left the server.
      if (opened !== undefined && id === opened.id && storage.onRevoke !== undefined) {
        const meta = opened.record.meta as Partial<SessionMeta> | undefined;
        let expiresAt = typeof meta?.expiresAt === 'number' ? meta.expiresAt : 0;
        if (lifetimes !== undefined && typeof meta?.createdAt === 'number') {
          expiresAt = Math.max(expiresAt, lifetimes.revocationEnds(meta as SessionMeta));
        }
        storage.onRevoke(id, expiresAt);
      }
    },
  };
}
