/**
 * `@sess/store-postgres`: sessions in PostgreSQL through the node-postgres `Pool` the app made.
 * One table, created by an explicit `migrate()`; one row per session whose data is a jsonb object,
 * so a save merges only the keys it changed (concurrent requests that change different keys keep
 * each other's changes) in one statement, which also refuses to continue a dead session. Expired
 * rows are never returned and are deleted in bounded batches by an unref'd timer. Optionally
 * hashes ids at rest and indexes sessions by user.
 *
 * ```ts
 * import pg from 'pg';
 * import { postgresStore } from '@sess/store-postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * pool.on('error', console.error); // node-postgres crashes the process on a dropped idle connection without one
 * const store = postgresStore({ pool });
 * await store.migrate();
 * app.use(session({ secret, store }));
 * ```
 */
import {
  SessConfigError,
  describeValue,
  checkFunction,
  checkOptionKeys,
  type RevokeUserOptions,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
  type Store,
  type UserSession,
} from '@sess/core';
import { deadlineSweep, escapeName, hasLife, indexedUserId, isEpochMs, ownValue, revokeUserExcept, unescapeName } from '@sess/core/store';
import {
  type Limit,
  type PooledClient,
  isCancellableClient,
  isCancellablePool,
  withClientDeadline,
  withDeadline,
  withGiveUp,
} from './deadline.js';
import { type PostgresStoreMethod, storeError } from './errors.js';
import { MAX_IDENTIFIER_BYTES, MAX_USER_ID_BYTES, decodeData, encodeData, storedId } from './layout.js';
import { COLUMNS, statements } from './sql.js';

/** What a query resolves to: the part of node-postgres's `QueryResult` the store reads. */
export interface PostgresQueryResult {
  // biome-ignore lint/suspicious/noExplicitAny: rows are whatever the driver parsed; the store checks what it reads.
  readonly rows: any[];
  readonly rowCount: number | null;
}

/**
 * What the store needs of a connection pool: `query(text, values)`. A node-postgres `Pool` has
 * it; so does a `Client` (whose queries then run one at a time) or a wrapper that logs or traces.
 */
export interface PostgresPool {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
}

export interface PostgresStoreOptions {
  /** The app's node-postgres `Pool`, never a URL: you choose TLS, pool size and timeouts. The store never ends it. */
  readonly pool: PostgresPool;
  /** The table. Default `'sess_sessions'`. At most 48 bytes, so the index names made from it fit PostgreSQL's 63; no `.` (the schema is `schemaName`). */
  readonly tableName?: string;
  /** The table's schema, which must exist. Default: none, so the table is found by the connection's `search_path`. */
  readonly schemaName?: string;
  /** Key rows by SHA-256 of the id, so a dump of the table holds no usable cookie ids. Default `false`. `ids()` is then absent. */
  readonly hashIds?: boolean;
  /** The data key whose string value is the user id for `sessionsOf`/`revokeUser`. Default `'userId'`; `false` turns the index off. */
  readonly userIdKey?: string | false;
  /** How often expired rows are deleted, in ms; `0` turns the sweep off (run `sweep()` yourself). Default 60,000. */
  readonly sweepIntervalMs?: number;
  /** Most rows one sweep deletes, so a sweep never holds locks on a huge set of rows. Default 5,000. */
  readonly sweepBatch?: number;
  /** The current time in epoch ms, for expiry. Default `Date.now`; tests pass a fake clock. */
  readonly clock?: () => number;
  /** Called with the error of each sweep that failed (the next one tries again). Default: `console.warn`, once until a sweep succeeds again. */
  readonly onSweepError?: (error: unknown) => void;
  /**
   * Longest a session call (`get`, `set`, `touch`, `destroy`, `sessionsOf`, `revokeUser`, a page
   * of `ids`) waits for its pool connection (on a `Client`, for the store's statement before it)
   * and its statement, in ms; then the call fails. On a node-postgres `Pool` or `Client`, a
   * statement still running then is cancelled on the server and rolled back (a pool connection is
   * destroyed, a Client kept); keep it under core's `storeTimeoutMs`, so a write sess reports as
   * failed never commits later. A wrapper with only `query` cannot be cancelled: the call fails
   * but its statement runs on and may still commit, so give the connections behind it a
   * `statement_timeout` under this. Each sweep's statement runs under it too. Default 2,000.
   */
  readonly timeoutMs?: number;
  /**
   * The same deadline for each statement of `clear()` and `migrate()`, in ms: work whose size the
   * store cannot bound (deleting every row, building an index on a full table, waiting for another
   * server's migration), so it gets longer than a session call, but a stall still ends in a
   * `store_timeout` instead of a hang. Default 60,000.
   */
  readonly adminTimeoutMs?: number;
}

/** The store; `ids` is absent with `hashIds`, `sessionsOf`/`revokeUser` with `userIdKey: false`. */
export interface PostgresStore extends Store {
  get(id: string): Promise<SessionRecord | undefined>;
  set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean>;
  touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean>;
  destroy(id: string): Promise<void>;
  clear(): Promise<void>;
  /** Stops the sweep timer and waits for a sweep in flight (at most until its `timeoutMs` deadline). The pool is the app's: it stays open. */
  close(): Promise<void>;
  /** Creates the table and its indexes if missing; safe to run on every start, from many servers at once. Each statement under `adminTimeoutMs`. */
  migrate(): Promise<void>;
  /** Deletes up to `sweepBatch` expired rows now; resolves to how many it deleted. */
  sweep(): Promise<number>;
}

const DEFAULT_TABLE = 'sess_sessions';
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
const DEFAULT_SWEEP_BATCH = 5_000;
/** Under core's default storeTimeoutMs (5 s), so the store cancels before core gives up. */
const DEFAULT_TIMEOUT_MS = 2_000;
/** Long enough to delete or index a few million rows; a stall on a lock still ends within a minute. */
const DEFAULT_ADMIN_TIMEOUT_MS = 60_000;
/** setInterval clamps longer delays to 1 ms (TimeoutOverflowWarning), which would sweep nonstop. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
/** The longest index-name suffix (`_expires_at_idx`), so index names stay within 63 bytes. */
const MAX_TABLE_BYTES = MAX_IDENTIFIER_BYTES - '_expires_at_idx'.length;
/** Ids per page of `ids()`. */
const IDS_PAGE = 1_000;
/** SQLSTATE serialization_failure. */
const SERIALIZATION_FAILURE = '40001';
/**
 * Most tries of a statement that keeps failing with it. Each failure means another writer to the
 * row committed first, so it takes as many tries as requests write one session at once.
 */
const MAX_TRIES = 16;

const KNOWN_OPTIONS = [
  'pool',
  'tableName',
  'schemaName',
  'hashIds',
  'userIdKey',
  'sweepIntervalMs',
  'sweepBatch',
  'clock',
  'onSweepError',
  'timeoutMs',
  'adminTimeoutMs',
] as const;

/** connect-pg-simple's options, and what to do instead. */
const HINTS: Readonly<Record<string, string>> = {
  conString: 'sess takes your pg Pool, never a URL: pool: new Pool({ connectionString })',
  conObject: 'sess takes your pg Pool, never connection settings: pool: new Pool(settings)',
  pgPromise: 'pass a pg Pool as pool (pg-promise exposes its own as db.$pool)',
  client: 'pass the pg Pool as pool',
  ttl: 'the lifetime comes from the session options (maxAgeMs, idleTimeoutMs); the store keeps the TTL core passes',
  pruneSessionInterval: 'use sweepIntervalMs (in ms, not seconds; 0 turns the sweep off)',
  pruneSessionRandomizedInterval: 'use sweepIntervalMs; concurrent sweeps from many servers take different rows',
  createTableIfMissing: 'call await store.migrate() at start-up',
  errorLog: 'use onSweepError (other failures reject the call, and sess answers 503)',
  disableTouch: 'when to touch is a session option in sess (touchAfterMs)',
};

function checkIdentifier(value: unknown, option: string, maxBytes: number): string {
  if (typeof value !== 'string' || value === '') throw new SessConfigError(`postgresStore: ${option} must be a non-empty string`);
  if (value.includes('\u0000')) throw new SessConfigError(`postgresStore: ${option} must not contain U+0000`);
  // A lone surrogate would reach PostgreSQL as U+FFFD through UTF-8: another name than the one given.
  if (Buffer.from(value).toString() !== value) throw new SessConfigError(`postgresStore: ${option} must not contain lone surrogates`);
  const bytes = Buffer.byteLength(value);
  if (bytes > maxBytes) throw new SessConfigError(`postgresStore: ${option} must be at most ${maxBytes} bytes, got ${bytes}`);
  return value;
}

/** `note` says what a value means, for an option whose users reach for another (connect-pg-simple's `false`). */
function checkInteger(value: unknown, option: string, min: number, max: number, note = ''): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    // describeValue, not String: '2000' from an environment variable must not read as the number 2000.
    throw new SessConfigError(`postgresStore: ${option} must be an integer from ${min} to ${max}${note}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * The clock, read once here: one that returns a string (`Date` for `Date.now`), a Date, NaN or
 * microseconds would fail every get and set at the database and every sweep. One that throws now
 * is not refused, as in core: it fails each call that reads it.
 */
function checkClock(value: unknown): () => number {
  const clock = checkFunction<() => number>(value, 'postgresStore: clock');
  if (clock === undefined) return Date.now;
  let time: unknown;
  try {
    time = clock();
  } catch {
    return clock;
  }
  if (!isEpochMs(time)) {
    throw new SessConfigError(
      `postgresStore: clock must return epoch ms (0 up to 2^48), as Date.now does; it returned ${describeValue(time)}`,
    );
  }
  return clock;
}

/** Epoch ms as a bigint column takes them: whole ms (a clock with fractions is rounded). */
function ms(time: number): number {
  return Math.round(time);
}

/** The meta columns' values, in the order the statements take them. */
function metaParams(meta: SessionMeta): unknown[] {
  return [
    ms(meta.createdAt),
    ms(meta.touchedAt),
    ms(meta.expiresAt),
    meta.expiry === undefined ? null : JSON.stringify(meta.expiry),
    meta.retired === true,
  ];
}

/** Whether `value` reads as one statement's node-postgres result. */
function isResult(value: unknown): boolean {
  const { rows, rowCount } = (value ?? {}) as { rows?: unknown; rowCount?: unknown };
  return Array.isArray(rows) && (typeof rowCount === 'number' || rowCount === null);
}

/**
 * Whether `value` is what `pool.query` must resolve to: a node-postgres result, or the list of them
 * that a text of several statements (`migrate`) answers. Anything else (pg-promise's `db.query`
 * resolves to the rows alone) would read as no session found, and every save as refused.
 */
function isQueryResult(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 && value.every(isResult) : isResult(value);
}

/** A row of `get` back to a record; a row that is not one (corrupt data) reads as no session. */
function decodeRow(row: Record<string, unknown>): SessionRecord | undefined {
  const data = decodeData(String(row['data']));
  if (data === undefined) return undefined;
  // jsonb, so it is JSON whenever it is there.
  const expiry: unknown = typeof row['expiry'] === 'string' ? JSON.parse(row['expiry']) : undefined;
  const meta: SessionMeta = {
    createdAt: Number(row['created_at']),
    touchedAt: Number(row['touched_at']),
    expiresAt: Number(row['meta_expires_at']),
    ...(expiry === null || expiry === undefined ? {} : { expiry: expiry as NonNullable<SessionMeta['expiry']> }),
    ...(row['retired'] === true ? { retired: true } : {}),
  };
  return { data, meta };
}

/**
 * Makes a PostgreSQL session store on `pool`. Issues no query until called: run `migrate()` once
 * at start-up (or create the table as the README shows) before serving requests.
 *
 * @throws SessConfigError for unknown or bad options, at construction.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  // postgresStore(pool): the unknown option named below would be one of the pool's own fields.
  if (typeof (options as { query?: unknown } | null | undefined)?.query === 'function') {
    throw new SessConfigError('postgresStore() takes options, not the pool itself: postgresStore({ pool })');
  }
  checkOptionKeys(options, KNOWN_OPTIONS, 'postgresStore()', HINTS);
  const { pool, hashIds = false, userIdKey = 'userId' } = options;
  if (typeof pool !== 'object' || pool === null || typeof pool.query !== 'function') {
    throw new SessConfigError('postgresStore: pool must be a pg Pool (or anything with query(text, values))');
  }
  // Its query(text, values) resolves to the rows alone, which would fail every call (see `isQueryResult`).
  if ('$pool' in pool) throw new SessConfigError('postgresStore: pool is a pg-promise database; pass its pg Pool instead: pool: db.$pool');
  const tableName = checkIdentifier(options.tableName ?? DEFAULT_TABLE, 'tableName', MAX_TABLE_BYTES);
  // Quoted as one name, 'auth.sessions' would be a table named with a dot wherever search_path points.
  const dot = tableName.indexOf('.');
  if (dot >= 0) {
    // connect-pg-simple's old way to name the schema, 'auth"."session', quoted the dot.
    const [schemaPart, tablePart] = /^[^"]+"\."[^"]+$/.test(tableName)
      ? tableName.split('"."')
      : [tableName.slice(0, dot), tableName.slice(dot + 1)];
    throw new SessConfigError(
      `postgresStore: tableName must not contain ".": for a table in a schema, pass { schemaName: '${schemaPart}', tableName: '${tablePart}' }`,
    );
  }
  const schemaName = options.schemaName === undefined ? undefined : checkIdentifier(options.schemaName, 'schemaName', MAX_IDENTIFIER_BYTES);
  if (typeof hashIds !== 'boolean') throw new SessConfigError(`postgresStore: hashIds must be true or false, got ${typeof hashIds}`);
  if (userIdKey !== false && (typeof userIdKey !== 'string' || userIdKey === '')) {
    throw new SessConfigError('postgresStore: userIdKey must be a non-empty string or false');
  }
  const sweepIntervalMs = checkInteger(
    options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
    'sweepIntervalMs',
    0,
    MAX_TIMER_DELAY_MS,
    ' (0 turns the sweep off)',
  );
  const sweepBatch = checkInteger(options.sweepBatch ?? DEFAULT_SWEEP_BATCH, 'sweepBatch', 1, 1_000_000);
  const clock = checkClock(options.clock);
  const onSweepError = checkFunction<(error: unknown) => void>(options.onSweepError, 'postgresStore: onSweepError');
  const timeoutMs = checkInteger(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', 1, MAX_TIMER_DELAY_MS);
  const sessionLimit: Limit = { option: 'timeoutMs', ms: timeoutMs };
  const adminLimit: Limit = {
    option: 'adminTimeoutMs',
    ms: checkInteger(options.adminTimeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS, 'adminTimeoutMs', 1, MAX_TIMER_DELAY_MS),
  };
  // On a pg Pool, each session call gets a connection of its own, which can be cancelled; on a pg
  // Client, the store's statements take turns, so a cancel reaches only the one past its deadline.
  const cancellable = isCancellablePool(pool) ? pool : undefined;
  const client = cancellable === undefined && isCancellableClient(pool) ? pool : undefined;
  const deadlines = deadlineSweep(Math.max(10, Math.ceil(timeoutMs / 10)));

  const sql = statements(tableName, schemaName);
  const keyOf = (id: string): string => storedId(id, hashIds);
  const listedId = (stored: string): string => (hashIds ? stored : unescapeName(stored));
  /**
   * Now as the statements compare it: whole ms. A clock gone bad since construction fails the
   * call (`method`) before any statement, rather than have the database refuse what it returned.
   */
  function now(method: PostgresStoreMethod): number {
    let time: unknown;
    try {
      time = clock();
    } catch (error) {
      throw storeError(method, 'the clock threw', error, false);
    }
    if (!isEpochMs(time)) throw storeError(method, `clock returned ${describeValue(time)}, not epoch ms (0 up to 2^48)`, undefined, false);
    return Math.floor(time);
  }
  /** The instant a row written now with `ttlMs` dies. */
  const deadline = (at: number, ttlMs: number): number => Math.min(Math.ceil(at + ttlMs), Number.MAX_SAFE_INTEGER);

  /**
   * The user id column's value for `record`. Throws (so the save rejects, before any query) for an
   * id longer than the index keeps: storing the session without it would hide it from `revokeUser`.
   */
  function userIdOf(record: SessionRecord): string | null {
    if (userIdKey === false) return null;
    const userId = indexedUserId(ownValue(record.data, userIdKey));
    if (userId === undefined) return null;
    const stored = escapeName(userId);
    const bytes = Buffer.byteLength(stored);
    if (bytes > MAX_USER_ID_BYTES) {
      throw new RangeError(
        `postgresStore: the user id in ${JSON.stringify(userIdKey)} is ${bytes} bytes as stored; the user index keeps at most ${MAX_USER_ID_BYTES}: use a shorter id for the user`,
      );
    }
    return stored;
  }

  /**
   * `pool.query`, sent again on a serialization failure. Under a default isolation of repeatable
   * read or serializable (the app's pool), a write that waited for a row another one changed fails
   * so, where read committed would have applied it to the row as changed; under serializable a
   * read of rows that concurrent writes changed can fail so too. Each statement is a transaction
   * of its own, rolled back whole on failure, so sending it again is safe.
   */
  async function query(text: string, values: unknown[], on: PostgresPool, expired: () => boolean): Promise<PostgresQueryResult> {
    for (let tries = 1; ; tries += 1) {
      try {
        const result = await on.query(text, values);
        if (!isQueryResult(result)) {
          throw new Error(`pool.query resolved to ${describeValue(result)}, not a node-postgres result ({ rows, rowCount })`);
        }
        return result;
      } catch (error) {
        // Past the deadline the statement was cancelled: sending it again would outlive the call.
        if (tries === MAX_TRIES || expired() || (error as { code?: unknown } | null)?.code !== SERIALIZATION_FAILURE) throw error;
      }
    }
  }

  /** `query` under `limit` (`timeoutMs` unless told): cancelled past it on a pg Pool or Client (see `./deadline.ts`). */
  function timedQuery(method: PostgresStoreMethod, text: string, values: unknown[], limit = sessionLimit): Promise<PostgresQueryResult> {
    if (cancellable !== undefined) {
      return withDeadline(method, cancellable, deadlines, limit, (connection: PooledClient, expired) =>
        query(text, values, connection as PostgresPool, expired),
      );
    }
    if (client !== undefined) {
      return withClientDeadline(method, client, deadlines, limit, (expired) => query(text, values, pool, expired));
    }
    return withGiveUp(method, deadlines, limit, (expired) => query(text, values, pool, expired));
  }

  // One batch, bounded by sweepBatch: under timeoutMs, so a stalled one never holds up close() for long.
  async function sweep(): Promise<number> {
    return (await timedQuery('sweep', sql.sweep, [now('sweep'), sweepBatch])).rowCount ?? 0;
  }

  /**
   * Without `onSweepError`, a failing sweep is logged once per run of failures: a table gone or a
   * revoked grant would otherwise go unseen while expired rows pile up, and a database that stays
   * down must not log every tick.
   */
  let failing = false;
  function warnOnce(error: unknown): void {
    if (failing) return;
    failing = true;
    console.warn(
      `${error instanceof Error ? error.message : String(error)}; expired rows are not being deleted. Logged once until a sweep succeeds again; pass onSweepError to handle each failure.`,
    );
  }

  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  if (sweepIntervalMs > 0) {
    timer = setInterval(() => {
      // A sweep still running (a slow database) is not doubled up.
      if (sweeping !== undefined) return;
      sweeping = sweep()
        .then(
          () => {
            failing = false;
          },
          (error: unknown) => {
            if (onSweepError === undefined) return warnOnce(error);
            try {
              const reported: unknown = onSweepError(error);
              // An async handler is a `(error) => void` too. Not awaited: one that never settles must not hold up close().
              if (reported instanceof Promise) reported.catch(() => undefined);
            } catch {
              // The app's handler failing must not become an unhandled rejection in a timer.
            }
          },
        )
        .finally(() => {
          sweeping = undefined;
        });
    }, sweepIntervalMs);
    // Never keeps the process alive: an app that forgets close() still exits.
    timer.unref();
  }

  /** Refuses a table that exists without sess's columns (connect-pg-simple's, named by tableName), saying whose it is. */
  async function checkColumns(method: 'migrate' | 'clear'): Promise<void> {
    const { rows } = await timedQuery(method, sql.columns, [sql.table], adminLimit);
    const present = new Set(rows.map((row: Record<string, unknown>) => row['attname']));
    const missing = COLUMNS.filter((column) => !present.has(column));
    if (present.size === 0 || missing.length === 0) return;
    const connectPgSimple = ['sid', 'sess', 'expire'].every((column) => present.has(column));
    throw new SessConfigError(
      connectPgSimple
        ? `postgresStore: table ${sql.table} is connect-pg-simple's (sid, sess, expire), not sess's: give sess its own table (tableName) and see "Migrating from connect-pg-simple" in the README`
        : `postgresStore: table ${sql.table} exists without the columns ${missing.join(', ')}: it is not a sess session table; choose another tableName`,
    );
  }

  async function sessionsOf(userId: string): Promise<UserSession[]> {
    // No row names a user id that is not a non-empty string (see `userIdOf`); asked as it is, the
    // number 42 would reach the query as the text '42' and find that user's sessions.
    if (indexedUserId(userId) === undefined) return [];
    const { rows } = await timedQuery('sessionsOf', sql.sessionsOf, [escapeName(userId), now('sessionsOf')]);
    return rows
      .map(
        (row: Record<string, unknown>): UserSession => ({
          id: listedId(String(row['id'])),
          createdAt: Number(row['created_at']),
          touchedAt: Number(row['touched_at']),
          expiresAt: Number(row['meta_expires_at']),
        }),
      )
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async function revokeUser(userId: string, revoke?: RevokeUserOptions): Promise<number> {
    // Checked before the user id: a user with no sessions must not hide the app's bug.
    const except = revokeUserExcept(revoke, 'postgresStore: revokeUser');
    // As in `sessionsOf`: such a user has no sessions.
    if (indexedUserId(userId) === undefined) return 0;
    const keep = except === undefined ? null : keyOf(except);
    // Expired rows of the user go too, but only live ones count as revoked.
    const { rows } = await timedQuery('revokeUser', sql.revokeUser, [escapeName(userId), keep, now('revokeUser')]);
    return rows.filter((row: Record<string, unknown>) => row['live'] === true).length;
  }

  async function* ids(): AsyncGenerator<string> {
    let after: string | null = null;
    for (;;) {
      const { rows } = await timedQuery('ids', sql.ids, [now('ids'), after, IDS_PAGE]);
      for (const row of rows as Record<string, unknown>[]) yield unescapeName(String(row['id']));
      if (rows.length < IDS_PAGE) return;
      after = String((rows[rows.length - 1] as Record<string, unknown>)['id']);
    }
  }

  return {
    name: 'postgres',
    capabilities: { deltaWrites: true, userIndex: userIdKey !== false },

    async get(id: string): Promise<SessionRecord | undefined> {
      const { rows } = await timedQuery('get', sql.get, [keyOf(id), now('get')]);
      const row = rows[0] as Record<string, unknown> | undefined;
      return row === undefined ? undefined : decodeRow(row);
    },

    async set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean> {
      const key = keyOf(id);
      if (!hasLife(ttlMs)) {
        await timedQuery('set', sql.destroy, [key]);
        return true;
      }
      const at = now('set');
      const expiresAt = deadline(at, ttlMs);
      if (changes === undefined || changes.created) {
        const { json } = encodeData(record.data, Object.keys(record.data));
        const { rowCount } = await timedQuery('set', sql.save, [key, json, ...metaParams(record.meta), expiresAt, userIdOf(record), at]);
        return rowCount === 1;
      }
      // A delta: merge the listed keys into the live row, in the same statement that checks it.
      const { json, dropped } = encodeData(record.data, changes.set);
      const deleted = [...dropped, ...changes.deleted.map(escapeName)];
      const userChanged = userIdKey !== false && (changes.set.includes(userIdKey) || changes.deleted.includes(userIdKey));
      const { rowCount } = await timedQuery('set', sql.delta, [
        key,
        json,
        deleted,
        ...metaParams(record.meta),
        expiresAt,
        userChanged,
        userChanged ? userIdOf(record) : null,
        at,
      ]);
      return rowCount === 1;
    },

    async destroy(id: string): Promise<void> {
      await timedQuery('destroy', sql.destroy, [keyOf(id)]);
    },

    async touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean> {
      const key = keyOf(id);
      // A TTL without life (zero or less, NaN, no number) ends the record, as set does; touched if
      // there was a live one.
      // A live retired row takes only a retired meta, whatever the TTL: refused, it stays.
      if (!hasLife(ttlMs)) {
        const { rows } = await timedQuery('touch', sql.destroyLive, [key, now('touch'), meta.retired === true]);
        return (rows[0] as Record<string, unknown> | undefined)?.['live'] === true;
      }
      const at = now('touch');
      const { rowCount } = await timedQuery('touch', sql.touch, [key, ...metaParams(meta), deadline(at, ttlMs), at]);
      return rowCount === 1;
    },

    async clear(): Promise<void> {
      // Every row goes, so the table must be sess's: one named after connect-pg-simple's (or any
      // other) keeps its rows, where the session calls fail on the columns they name.
      await checkColumns('clear');
      await timedQuery('clear', sql.clear, [], adminLimit);
    },

    async close(): Promise<void> {
      clearInterval(timer);
      timer = undefined;
      await sweeping;
    },

    async migrate(): Promise<void> {
      let failure: unknown;
      // DDL only when something is missing: see `incomplete` for the lock it would take.
      const { rows: check } = await timedQuery('migrate', sql.incomplete, [sql.table, ...sql.indexes], adminLimit);
      if ((check[0] as Record<string, unknown> | undefined)?.['incomplete'] !== false) {
        try {
          // Several statements in one simple query (no values) run as one transaction, under the advisory lock.
          await timedQuery('migrate', sql.migrate, [], adminLimit);
        } catch (error) {
          // Creating an index fails on a table of the same name without the column: say why below.
          failure = error;
        }
      }
      await checkColumns('migrate');
      if (failure !== undefined) throw failure;
    },

    sweep,
    ...(hashIds ? {} : { ids }),
    ...(userIdKey === false ? {} : { sessionsOf, revokeUser }),
  } satisfies PostgresStore;
}
