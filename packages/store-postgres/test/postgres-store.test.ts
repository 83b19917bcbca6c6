/**
 * What the conformance suite cannot see from outside the store: the table itself, the statements
 * sent, truly concurrent writes on separate connections, the sweep and its timer, options, and
 * the README's migration SQL, against the real PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessConfigError, SessStoreError, SessUsageError, type SessionChanges, type SessionMeta } from '@sess/core';
import { freshId, makeRecord } from '@sess/store-test';
import { postgresStore, type PostgresPool, type PostgresStore, type PostgresStoreOptions } from '../src/index.js';
import { COLUMNS } from '../src/sql.js';
import { DATABASE_URL, describeDb, type TestDatabase } from './db.js';

const delta = (set: string[], deleted: string[] = []): SessionChanges => ({ set, deleted, created: false });
const created = (set: string[]): SessionChanges => ({ set, deleted: [], created: true });
/** What `run` rejects with, or `undefined` if it resolves. */
const rejection = (run: () => Promise<unknown>): Promise<unknown> =>
  run().then(
    () => undefined,
    (caught: unknown) => caught,
  );

/** A pool that records the text of every query it passes on. */
function counting(pool: PostgresPool): { pool: PostgresPool; texts: string[] } {
  const texts: string[] = [];
  return {
    texts,
    pool: {
      query(text, values) {
        texts.push(text);
        return pool.query(text, values);
      },
    },
  };
}

/** Resolves once `check` holds, polling; fails after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('options', () => {
  const pool: PostgresPool = { query: () => Promise.reject(new Error('no query expected')) };
  const make = (options: Record<string, unknown>) => () => postgresStore({ pool, ...options } as PostgresStoreOptions);

  it('refuses unknown options, with a hint for typos and for connect-pg-simple options', () => {
    expect(make({ tablename: 'x' })).toThrow(SessConfigError);
    expect(make({ tablename: 'x' })).toThrow(/unknown option "tablename": did you mean "tableName"/);
    expect(make({ conString: 'postgres://x' })).toThrow(/never a URL: pool: new Pool\(\{ connectionString \}\)/);
    expect(make({ createTableIfMissing: true })).toThrow(/store\.migrate\(\)/);
    expect(make({ pruneSessionInterval: 60 })).toThrow(/sweepIntervalMs/);
    expect(() => postgresStore(undefined as unknown as PostgresStoreOptions)).toThrow(SessConfigError);
  });

  it('refuses bad values at construction with SessConfigError', () => {
    const bad: Record<string, unknown>[] = [
      { pool: undefined },
      { pool: {} },
      { pool: 'postgres://localhost/db' },
      { tableName: '' },
      { tableName: 'a\u0000b' },
      { tableName: 'lone\uD800' },
      { tableName: 'x'.repeat(49) },
      { tableName: 'é'.repeat(25) },
      { schemaName: '' },
      { schemaName: 'x'.repeat(64) },
      { hashIds: 'yes' },
      { userIdKey: '' },
      { userIdKey: true },
      { sweepIntervalMs: -1 },
      { sweepIntervalMs: 1.5 },
      { sweepIntervalMs: 2 ** 31 },
      { sweepIntervalMs: false },
      { sweepBatch: 0 },
      { sweepBatch: Number.NaN },
      { clock: 5 },
      // A clock must answer epoch ms: each of these would make every get and set fail at the database.
      { clock: Date },
      { clock: () => String(Date.now()) },
      { clock: () => new Date() },
      { clock: () => Number.NaN },
      { clock: () => Number.POSITIVE_INFINITY },
      { clock: () => -1 },
      { clock: () => BigInt(Date.now()) },
      { clock: () => Date.now() * 1000 },
      { onSweepError: 'log' },
      { timeoutMs: 0 },
      { timeoutMs: 1.5 },
      { timeoutMs: '2000' },
      { adminTimeoutMs: 0 },
      { adminTimeoutMs: 1.5 },
      { adminTimeoutMs: 2 ** 31 },
      { adminTimeoutMs: '60000' },
    ];
    for (const options of bad) expect(make(options), JSON.stringify(options)).toThrow(SessConfigError);
    // A schema-qualified name would be one table named with a dot, wherever search_path points.
    expect(make({ tableName: 'auth.sessions' })).toThrow(/tableName must not contain "\.": .*schemaName: 'auth', tableName: 'sessions'/);
    expect(make({ tableName: 'x'.repeat(48), schemaName: 'y'.repeat(63), sweepIntervalMs: 0, userIdKey: false })).not.toThrow();
    expect(make({ sweepIntervalMs: 0, timeoutMs: 1, adminTimeoutMs: 1 })).not.toThrow();
    expect(make({ sweepIntervalMs: 0, adminTimeoutMs: 2 ** 31 - 1 })).not.toThrow();
    expect(make({ clock: () => new Date() })).toThrow(
      /clock must return epoch ms \(0 up to 2\^48\), as Date\.now does; it returned an object/,
    );
    expect(make({ clock: () => Date.now() * 1000 })).toThrow(/it returned \d{16}/);
    expect(make({ clock: () => BigInt(Date.now()) })).toThrow(/it returned \d+n$/);
    expect(make({ sweepIntervalMs: 0, clock: () => 0 })).not.toThrow();
    expect(make({ sweepIntervalMs: 0, clock: () => 2 ** 48 - 1 })).not.toThrow();
    // As in core: one that throws now is not refused, and fails the calls that read it (see "errors").
    expect(
      make({
        sweepIntervalMs: 0,
        clock: () => {
          throw new Error('not yet');
        },
      }),
    ).not.toThrow();
  });

  it('refuses the pool passed in place of the options, and a pg-promise database as the pool, saying what to pass instead', async () => {
    const real = new pg.Pool({ connectionString: DATABASE_URL });
    try {
      for (const given of [real, new pg.Client({ connectionString: DATABASE_URL })]) {
        const construct = () => postgresStore(given as unknown as PostgresStoreOptions);
        expect(construct).toThrow(SessConfigError);
        expect(construct).toThrow(/postgresStore\(\) takes options, not the pool itself: postgresStore\(\{ pool \}\)/);
      }
      // pg-promise's database: query(text, values) resolves to the rows alone, and its pg Pool is db.$pool.
      const database = { $pool: real, query: async (text: string, values?: unknown[]) => (await real.query(text, values)).rows };
      expect(make({ pool: database })).toThrow(SessConfigError);
      expect(make({ pool: database })).toThrow(/pool is a pg-promise database; pass its pg Pool instead: pool: db\.\$pool/);
    } finally {
      await real.end();
    }
  });

  it('names a bad number as it was given: a string of digits quoted, a BigInt as one, and false with how to turn the sweep off', () => {
    expect(make({ timeoutMs: '2000' })).toThrow(/timeoutMs must be an integer from 1 to 2147483647, got "2000"$/);
    expect(make({ sweepBatch: 5n })).toThrow(/sweepBatch must be an integer from 1 to 1000000, got 5n$/);
    expect(make({ sweepIntervalMs: false })).toThrow(
      /sweepIntervalMs must be an integer from 0 to 2147483647 \(0 turns the sweep off\), got false$/,
    );
  });

  it('creates nothing on import or construction: no query is sent until a method is called', async () => {
    const { pool: spy, texts } = counting(pool);
    const { postgresStore: fresh } = await import('../src/index.js');
    const store = fresh({ pool: spy });
    await store.close();
    expect(texts).toEqual([]);
  });

  it('declares its capabilities and optional methods from the options', () => {
    const plain = postgresStore({ pool, sweepIntervalMs: 0 });
    expect(plain.capabilities).toEqual({ deltaWrites: true, userIndex: true });
    expect(typeof plain.ids).toBe('function');
    expect(typeof plain.sessionsOf).toBe('function');
    const hashed = postgresStore({ pool, hashIds: true, userIdKey: false, sweepIntervalMs: 0 });
    expect(hashed.capabilities).toEqual({ deltaWrites: true, userIndex: false });
    expect(hashed.ids).toBeUndefined();
    expect(hashed.sessionsOf).toBeUndefined();
    expect(hashed.revokeUser).toBeUndefined();
  });
});

describe('serialization failures', () => {
  it('sends a statement again only on 40001, 16 times in all, then rejects with a SessStoreError caused by the error', async () => {
    const failing = (code: string) => {
      const error = Object.assign(new Error(`failed with ${code}`), { code });
      const texts: string[] = [];
      const pool: PostgresPool = {
        query: async (text) => {
          texts.push(text);
          throw error;
        },
      };
      return { store: postgresStore({ pool, sweepIntervalMs: 0 }), error, texts };
    };
    const serialization = failing('40001');
    await expect(serialization.store.touch('id', makeRecord({}, 0).meta, 60_000)).rejects.toMatchObject({
      code: 'store_failed',
      op: 'touch',
      cause: serialization.error,
    });
    expect(serialization.texts).toHaveLength(16);
    const other = failing('40P01');
    await expect(other.store.destroy('id')).rejects.toMatchObject({ code: 'store_failed', op: 'destroy', cause: other.error });
    expect(other.texts).toHaveLength(1);
  });

  // Under serializable a statement that only reads fails so too, when it read rows concurrent
  // writers changed: sessionsOf does, on a pool of that default isolation with saves running.
  it('sends reads again on 40001 too: get, sessionsOf and ids', async () => {
    let failures = 0;
    const pool: PostgresPool = {
      query: async (text) => {
        failures += 1;
        if (failures % 3 !== 0) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        if (text.startsWith('SELECT data::text'))
          return { rows: [{ data: '{"a":1}', created_at: '1', touched_at: '1', meta_expires_at: '2' }], rowCount: 1 };
        if (text.startsWith('SELECT id, created_at'))
          return { rows: [{ id: 'x', created_at: '1', touched_at: '1', meta_expires_at: '2' }], rowCount: 1 };
        return { rows: [{ id: 'x' }], rowCount: 1 };
      },
    };
    const store = postgresStore({ pool, sweepIntervalMs: 0 });
    expect((await store.get('x'))?.data).toEqual({ a: 1 });
    expect((await store.sessionsOf!('u')).map((entry) => entry.id)).toEqual(['x']);
    const ids: string[] = [];
    for await (const id of store.ids!()) ids.push(id);
    expect(ids).toEqual(['x']);
    expect(failures).toBe(9);
  });
});

describeDb('postgresStore on PostgreSQL', (db: TestDatabase) => {
  let tables = 0;
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const stores: PostgresStore[] = [];

  afterEach(async () => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  const tableNames = new WeakMap<PostgresStore, string>();

  /** A store on a fresh table of its own (migrated unless told otherwise), on the fake clock. */
  async function fresh(options: Partial<PostgresStoreOptions> = {}, migrate = true): Promise<PostgresStore> {
    const tableName = `t${(tables += 1)}`;
    const store = postgresStore({ pool: db.pool, schemaName: db.schema, tableName, clock, sweepIntervalMs: 0, ...options });
    tableNames.set(store, tableName);
    stores.push(store);
    if (migrate) await store.migrate();
    return store;
  }

  /** The schema-qualified table of a store `fresh` made. */
  const tableOf = (store: PostgresStore): string => `${db.schema}.${tableNames.get(store)}`;
  /** The options of another store over `store`'s table, on the test's clock, with no sweep. */
  const sameTable = (store: PostgresStore) => ({ schemaName: db.schema, tableName: tableNames.get(store)!, clock, sweepIntervalMs: 0 });
  /** Resolves once every backend in `pids` waits on a lock (a row another transaction holds). */
  const waitingOnLocks = (pids: readonly number[], what: string) =>
    until(async () => {
      const { rows } = await db.pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1) AND wait_event_type = 'Lock'`,
        [pids],
      );
      return rows[0].n === pids.length;
    }, what);

  /** The raw rows of a store's table, by stored id. */
  async function rows(store: PostgresStore): Promise<Map<string, Record<string, unknown>>> {
    const { rows: found } = await db.pool.query(`SELECT * FROM ${tableOf(store)}`);
    return new Map(found.map((row: Record<string, unknown>) => [String(row['id']), row]));
  }

  describe('migrate', () => {
    it('creates the table with its columns and indexes only when called, and running it again changes nothing', async () => {
      const store = await fresh({}, false);
      const table = tableOf(store);
      await store.get(freshId()).catch(() => undefined);
      expect((await db.pool.query('SELECT to_regclass($1) AS t', [table])).rows[0].t).toBeNull();
      await store.migrate();
      const columns = await db.pool.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [db.schema, tableNames.get(store)],
      );
      expect(columns.rows.map((row) => row.column_name)).toEqual([...COLUMNS]);
      expect(Object.fromEntries(columns.rows.map((row) => [row.column_name, `${row.data_type} ${row.is_nullable}`]))).toEqual({
        id: 'text NO',
        data: 'jsonb NO',
        created_at: 'bigint NO',
        touched_at: 'bigint NO',
        meta_expires_at: 'bigint NO',
        expiry: 'jsonb YES',
        retired: 'boolean NO',
        expires_at: 'bigint NO',
        user_id: 'text YES',
      });
      const indexes = async () =>
        (
          await db.pool.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1', [
            db.schema,
            table.split('.')[1],
          ])
        ).rows;
      const before = await indexes();
      const name = tableNames.get(store);
      expect(before.map((row) => row.indexname)).toEqual([`${name}_expires_at_idx`, `${name}_pkey`, `${name}_user_id_idx`]);
      const id = freshId();
      await store.set(id, makeRecord({ a: 1 }, now), 60_000);
      await store.migrate();
      expect(await indexes()).toEqual(before);
      expect((await store.get(id))?.data).toEqual({ a: 1 });
    });

    it('takes no lock on a table that has everything, so it never stalls saves behind a write left open', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ a: 1 }, now), 60_000);
      // CREATE INDEX IF NOT EXISTS takes a SHARE lock on the table before it looks for the index:
      // it would wait for this transaction, and every save would queue behind it. lock_timeout
      // turns that wait into an error instead of a hang.
      const impatient = new pg.Pool({ connectionString: DATABASE_URL, options: '-c lock_timeout=2000' });
      const holder = await db.pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`UPDATE ${tableOf(store)} SET touched_at = touched_at WHERE id = $1`, [id]);
        const again = postgresStore({ pool: impatient, schemaName: db.schema, tableName: tableNames.get(store)!, sweepIntervalMs: 0 });
        await again.migrate();
        expect(await again.set(freshId(), makeRecord({ b: 1 }, now), 60_000)).toBe(true);
      } finally {
        holder.release(true);
        await impatient.end();
      }
      // An index that is missing is still created.
      await db.pool.query(`DROP INDEX ${db.schema}.${tableNames.get(store)}_user_id_idx`);
      await store.migrate();
      const { rows: indexes } = await db.pool.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2', [
        db.schema,
        tableNames.get(store),
      ]);
      expect(indexes.map((row) => row.indexname)).toContain(`${tableNames.get(store)}_user_id_idx`);
    });

    it('lets servers that name the table with and without its schema migrate at once', async () => {
      const tableName = `t${(tables += 1)}`;
      // The first server's migration, held open after creating the table, as a slow one would be.
      const held = await db.pool.connect();
      let commit: () => void = () => undefined;
      const committing = new Promise<void>((resolve) => (commit = resolve));
      const holding: PostgresPool = {
        async query(text, values) {
          if (!text.includes('pg_advisory_xact_lock')) return held.query(text, values);
          await held.query('BEGIN');
          const result = await held.query(text);
          await committing;
          await held.query('COMMIT');
          return result;
        },
      };
      const byPath = db.pathPool();
      try {
        const first = postgresStore({ pool: holding, schemaName: db.schema, tableName, sweepIntervalMs: 0 }).migrate();
        const heldPid = (held as unknown as { processID: number }).processID;
        await until(async () => {
          const { rows: found } = await db.pool.query(`SELECT state FROM pg_stat_activity WHERE pid = $1`, [heldPid]);
          return found[0]?.state === 'idle in transaction';
        }, 'the first migration to create the table');
        const pathPid = (await byPath.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        const second = postgresStore({ pool: byPath, tableName, sweepIntervalMs: 0 }).migrate();
        await waitingOnLocks([pathPid], 'the second migration to wait for the first');
        commit();
        await first;
        await second;
      } finally {
        commit();
        held.release(true);
      }
      expect((await db.pool.query('SELECT to_regclass($1) AS t', [`${db.schema}.${tableName}`])).rows[0].t).not.toBeNull();
    });

    it('lets many servers migrate at once', async () => {
      const table = `t${(tables += 1)}`;
      const make = () => postgresStore({ pool: db.pool, schemaName: db.schema, tableName: table, sweepIntervalMs: 0 });
      await Promise.all(Array.from({ length: 4 }, () => make().migrate()));
      expect((await db.pool.query('SELECT to_regclass($1) AS t', [`${db.schema}.${table}`])).rows[0].t).not.toBeNull();
    });

    it("refuses connect-pg-simple's table under the same name, and any other table, saying why", async () => {
      await db.pool.query(
        `CREATE TABLE ${db.schema}.session (sid varchar PRIMARY KEY NOT NULL, sess json NOT NULL, expire timestamp NOT NULL)`,
      );
      const store = postgresStore({ pool: db.pool, schemaName: db.schema, tableName: 'session', sweepIntervalMs: 0 });
      await expect(store.migrate()).rejects.toThrow(SessConfigError);
      await expect(store.migrate()).rejects.toThrow(/connect-pg-simple's \(sid, sess, expire\).*own table/);
      await db.pool.query(`CREATE TABLE ${db.schema}.other (id text PRIMARY KEY)`);
      const other = postgresStore({ pool: db.pool, schemaName: db.schema, tableName: 'other', sweepIntervalMs: 0 });
      await expect(other.migrate()).rejects.toThrow(/without the columns data, created_at/);
    });
  });

  describe('statements', () => {
    it('sends one statement per call: get, every kind of save, refusals, touch and destroy', async () => {
      const spy = counting(db.pool);
      const store = await fresh({ pool: spy.pool });
      const id = freshId();
      const count = async (what: string, call: () => Promise<unknown>) => {
        spy.texts.length = 0;
        await call();
        expect(spy.texts, what).toHaveLength(1);
        expect(spy.texts[0], what).not.toMatch(/^\s*(BEGIN|START)/i);
      };
      await count('a full save', () => store.set(id, makeRecord({ a: 1, userId: 'u' }, now), 60_000));
      await count('a save with created: true', () => store.set(id, makeRecord({ a: 1 }, now), 60_000, created(['a'])));
      await count('a delta save', () => store.set(id, makeRecord({ a: 2, b: undefined }, now), 60_000, delta(['a', 'b'], ['c'])));
      await count('a refused delta save', () => store.set(freshId(), makeRecord({ a: 1 }, now), 60_000, delta(['a'])));
      await count('a get', () => store.get(id));
      await count('a touch', () => store.touch(id, makeRecord({}, now).meta, 60_000));
      await count('a refused touch', () => store.touch(freshId(), makeRecord({}, now).meta, 60_000));
      await count('a touch that ends the record', () => store.touch(freshId(), makeRecord({}, now).meta, 0));
      await count('a save that deletes', () => store.set(id, makeRecord({}, now), 0));
      await count('a destroy', () => store.destroy(id));
      await count('a sweep', () => store.sweep());
      await count('sessionsOf', () => store.sessionsOf!('u'));
      await count('revokeUser', () => store.revokeUser!('u', { except: id }));
    });

    it('stores ordinary data as plain jsonb, the meta in columns and the expiry from the clock and the TTL', async () => {
      const store = await fresh();
      const id = freshId();
      const record = makeRecord({ name: 'Ada', cart: [{ sku: 'x', n: 2 }], userId: 'u1' }, now - 5_000, {
        expiry: { kind: 'duration', ms: 60_000 },
      });
      await store.set(id, record, 90_000);
      const { rows: sql } = await db.pool.query(
        `SELECT data->>'name' AS name, (data->'cart'->0->>'n')::int AS n, expiry->>'kind' AS kind FROM ${tableOf(store)} WHERE id = $1`,
        [id],
      );
      expect(sql[0]).toEqual({ name: 'Ada', n: 2, kind: 'duration' });
      const row = (await rows(store)).get(id);
      expect(row).toMatchObject({
        created_at: String(record.meta.createdAt),
        touched_at: String(record.meta.touchedAt),
        meta_expires_at: String(record.meta.expiresAt),
        retired: false,
        expires_at: String(now + 90_000),
        user_id: 'u1',
      });
    });

    it('keeps keys and values PostgreSQL cannot hold (U+0000, lone surrogates) escaped, and ordinary ones as they are', async () => {
      const store = await fresh();
      const id = freshId();
      const data = { plain: 'yes', '\u0000key': 'nul in the key', nul: 'a\u0000b', lone: ['\uD800'], marker: '\uFFFFx', fine: 'a\uFFFF' };
      await store.set(id, makeRecord(data, now), 60_000);
      const stored = (await rows(store)).get(id)?.['data'] as Record<string, unknown>;
      expect(stored).toEqual({
        plain: 'yes',
        '\uFFFF0000key': 'nul in the key',
        nul: '\uFFFF"a\\u0000b"',
        lone: '\uFFFF["\\ud800"]',
        marker: '\uFFFF"\uFFFFx"',
        fine: 'a\uFFFF',
      });
      expect((await store.get(id))?.data).toEqual(data);
    });

    it('round-trips every short string over the hostile code units as a key and as a value, top level and nested', async () => {
      const store = await fresh();
      const alphabet = ['\u0000', '\uD800', '\uDC00', '\uFFFF', '\uFFFD', '\\', 'u', '0'];
      const strings: string[] = [''];
      for (let length = 1, level = ['']; length <= 3; length += 1) {
        level = level.flatMap((prefix) => alphabet.map((unit) => prefix + unit));
        strings.push(...level);
      }
      const data: Record<string, unknown> = {};
      strings.forEach((s, i) => {
        data[s] = s;
        data[`nested ${i}`] = { [s]: [s, { [s]: s }] };
      });
      const id = freshId();
      await store.set(id, makeRecord(data, now), 60_000);
      expect((await store.get(id))?.data).toEqual(data);
      // And as a delta, key by key, onto a record that holds none of them.
      const other = freshId();
      await store.set(other, makeRecord({}, now), 60_000, created([]));
      expect(await store.set(other, makeRecord(data, now), 60_000, delta(Object.keys(data)))).toBe(true);
      expect((await store.get(other))?.data).toEqual(data);
      expect(await store.set(other, makeRecord({}, now), 60_000, delta([], strings))).toBe(true);
      expect(Object.keys((await store.get(other))?.data ?? {})).toHaveLength(strings.length);
    });

    it('keys rows by the SHA-256 of the id with hashIds: the table holds no id a cookie could carry', async () => {
      const store = await fresh({ hashIds: true });
      const id = freshId();
      await store.set(id, makeRecord({ userId: 'u1' }, now), 60_000);
      const stored = [...(await rows(store)).keys()];
      expect(stored).toEqual([(await import('node:crypto')).createHash('sha256').update(id).digest('base64url')]);
      expect(JSON.stringify([...(await rows(store)).values()])).not.toContain(id);
      expect((await store.sessionsOf!('u1')).map((entry) => entry.id)).toEqual(stored);
      expect(await store.revokeUser!('u1', { except: id })).toBe(0);
      expect(await store.revokeUser!('u1')).toBe(1);
    });

    it('reads a row whose data is not an object as no session', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ a: 1 }, now), 60_000);
      for (const corrupt of ['[]', '"text"', 'null', '1']) {
        await db.pool.query(`UPDATE ${tableOf(store)} SET data = $2::jsonb WHERE id = $1`, [id, corrupt]);
        expect(await store.get(id), corrupt).toBeUndefined();
      }
    });

    it('lists ids page by page in order, unescaped, without expired rows', async () => {
      const store = await fresh();
      const ids = Array.from({ length: 2_050 }, (_, i) => `id-${String(i).padStart(5, '0')}`);
      await db.pool.query(
        `INSERT INTO ${tableOf(store)} (id, data, created_at, touched_at, meta_expires_at, retired, expires_at)
         SELECT id, '{}', 0, 0, 0, false, $2 FROM unnest($1::text[]) AS id`,
        [ids, now + 60_000],
      );
      await store.set('odd\u0000id', makeRecord({}, now), 60_000);
      await store.set('expired', makeRecord({}, now), 1);
      now += 10;
      const listed: string[] = [];
      for await (const id of store.ids!()) listed.push(id);
      expect(listed).toEqual([...ids, 'odd\u0000id']);
    });
  });

  describe('concurrency and refusals', () => {
    it('delta saves of different keys sent at once on separate connections all persist', async () => {
      const table = `t${(tables += 1)}`;
      const options = { schemaName: db.schema, tableName: table, clock, sweepIntervalMs: 0 } as const;
      await postgresStore({ pool: db.pool, ...options }).migrate();
      const id = freshId();
      await postgresStore({ pool: db.pool, ...options }).set(
        id,
        makeRecord({ kept: 'yes', gone: 1 }, now),
        60_000,
        created(['kept', 'gone']),
      );
      const writers = 8;
      const clients: pg.PoolClient[] = await Promise.all(Array.from({ length: writers + 1 }, () => db.pool.connect()));
      try {
        const [blocker, ...connections] = clients as [pg.PoolClient, ...pg.PoolClient[]];
        const pids = await Promise.all(
          connections.map(async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid),
        );
        // The blocker holds the row, so every save below is sent and waiting in the server at once.
        await blocker.query('BEGIN');
        await blocker.query(`SELECT 1 FROM ${db.schema}.${table} WHERE id = $1 FOR UPDATE`, [id]);
        const saves = connections.map((client, i) => {
          const store = postgresStore({ pool: client, ...options });
          const data = { kept: 'stale', [`k${i}`]: i };
          return store.set(id, makeRecord(data, now + i), 60_000, delta([`k${i}`], i === 0 ? ['gone'] : []));
        });
        await waitingOnLocks(pids, `${writers} saves waiting on the row at once`);
        await blocker.query('COMMIT');
        expect(await Promise.all(saves)).toEqual(Array(writers).fill(true));
      } finally {
        for (const client of clients) client.release();
      }
      const expected = { kept: 'yes', ...Object.fromEntries(Array.from({ length: writers }, (_, i) => [`k${i}`, i])) };
      expect((await postgresStore({ pool: db.pool, ...options }).get(id))?.data).toEqual(expected);
    });

    // Under these, a statement that waited for a row another one changed fails with 40001
    // (serialization failure) instead of applying to the row anew as under read committed.
    it.each(['repeatable read', 'serializable'])(
      'delta saves and touches sent at once all land on a pool whose default isolation is %s',
      async (isolation) => {
        const store = await fresh();
        const id = freshId();
        await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
        const writers = 6;
        const strict = new pg.Pool({
          connectionString: DATABASE_URL,
          max: writers,
          options: `-c default_transaction_isolation=${isolation.replace(' ', '\\ ')}`,
        });
        const blocker = await db.pool.connect();
        try {
          const clients = await Promise.all(Array.from({ length: writers }, () => strict.connect()));
          const pids = clients.map((client) => (client as unknown as { processID: number }).processID);
          for (const client of clients) client.release();
          const strictStore = postgresStore({ pool: strict, ...sameTable(store) });
          await blocker.query('BEGIN');
          await blocker.query(`SELECT 1 FROM ${tableOf(store)} WHERE id = $1 FOR UPDATE`, [id]);
          const calls = Array.from({ length: writers }, (_, i) =>
            i % 2 === 0
              ? strictStore.set(id, makeRecord({ [`k${i}`]: i }, now + i), 60_000, delta([`k${i}`]))
              : strictStore.touch(id, makeRecord({}, now + i).meta, 60_000),
          );
          await waitingOnLocks(pids, `${writers} calls waiting on the row at once`);
          await blocker.query('COMMIT');
          expect(await Promise.all(calls)).toEqual(Array(writers).fill(true));
        } finally {
          // Destroyed, not returned: a failure before COMMIT would leave its transaction open in the pool.
          blocker.release(true);
          await strict.end();
        }
        expect((await store.get(id))?.data).toEqual({ kept: 'yes', k0: 0, k2: 2, k4: 4 });
      },
    );

    it('a refused save or touch leaves nothing: no row for a missing id, and a dead or retired row exactly as it was', async () => {
      const store = await fresh();
      // No record: never stored, destroyed.
      const missing = freshId('missing');
      expect(await store.set(missing, makeRecord({ a: 1 }, now), 60_000, delta(['a']))).toBe(false);
      expect(await store.touch(missing, makeRecord({}, now).meta, 60_000)).toBe(false);
      const destroyed = freshId('destroyed');
      await store.set(destroyed, makeRecord({ a: 1 }, now), 60_000);
      await store.destroy(destroyed);
      expect(await store.set(destroyed, makeRecord({ a: 2 }, now), 60_000, delta(['a']))).toBe(false);
      // An expired row the sweep has not deleted yet: it stays dead and untouched.
      const expired = freshId('expired');
      await store.set(expired, makeRecord({ a: 1 }, now), 1_000);
      now += 1_000;
      const retired = freshId('retired');
      await store.set(retired, makeRecord({ a: 1, userId: 'u1' }, now, { retired: true }), 30_000);
      const before = await rows(store);
      expect(await store.set(expired, makeRecord({ a: 2 }, now), 60_000, delta(['a']))).toBe(false);
      expect(await store.touch(expired, makeRecord({}, now).meta, 60_000)).toBe(false);
      const live = makeRecord({ a: 2, userId: 'u2' }, now + 1);
      for (const changes of [delta(['a', 'userId']), created(['a', 'userId']), undefined]) {
        expect(await store.set(retired, live, 600_000, changes)).toBe(false);
      }
      expect(await store.touch(retired, live.meta, 600_000)).toBe(false);
      // A touch that would end it is refused the same way: the row stays for its grace window.
      expect(await store.touch(retired, live.meta, 0)).toBe(false);
      expect(await rows(store)).toEqual(before);
      expect([...before.keys()].sort()).toEqual([expired, retired].sort());
      expect(await store.sessionsOf!('u2')).toEqual([]);
    });

    // Core touches with the meta its request loaded and a new touchedAt. One computed before a save
    // but applied after it (here: it waited on the row while the save's transaction was open) must
    // not put back the meta that save replaced.
    it('a touch that reaches the row after a newer save leaves that save as it is, and counts as touched; a retiring touch still applies', async () => {
      const store = await fresh();
      const id = freshId();
      const month = 30 * 86_400_000;
      const loaded = makeRecord({ a: 'old' }, now);
      await store.set(id, loaded, 60_000, created(['a']));
      // Request A loaded `loaded` and touches it at +1 s; request B saves at +2 s, remembering the user for a month.
      const touch: SessionMeta = { ...loaded.meta, touchedAt: now + 1_000, expiresAt: now + 61_000 };
      const saved = {
        data: { a: 'new' },
        meta: { ...loaded.meta, touchedAt: now + 2_000, expiresAt: now + 2_000 + month, expiry: { kind: 'duration', ms: month } as const },
      };
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      try {
        await client.query('BEGIN');
        expect(await postgresStore({ pool: client, ...sameTable(store) }).set(id, saved, 2_000 + month, delta(['a']))).toBe(true);
        const touching = store.touch(id, touch, 61_000);
        await until(async () => {
          const { rows: waiting } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [
            `UPDATE ${tableOf(store).replace(/^(.*)\.(.*)$/, '"$1"."$2"')}%`,
          ]);
          return waiting.length === 1;
        }, 'the touch to wait on the row');
        await client.query('COMMIT');
        expect(await touching).toBe(true);
      } finally {
        await client.end();
      }
      expect(await store.get(id)).toEqual(saved);
      expect((await rows(store)).get(id)).toMatchObject({ expires_at: String(now + 2_000 + month) });
      // A touch of the record as saved applies as before.
      const later = { ...saved.meta, touchedAt: now + 3_000, expiresAt: now + 3_000 + month };
      expect(await store.touch(id, later, 3_000 + month)).toBe(true);
      expect(await store.get(id)).toEqual({ data: saved.data, meta: later });
      // Regenerate retires the old id with the meta it loaded, older than any save since: it still applies.
      const retired: SessionMeta = { ...loaded.meta, expiresAt: now + 5_000, retired: true };
      expect(await store.touch(id, retired, 5_000)).toBe(true);
      expect(await store.get(id)).toEqual({ data: saved.data, meta: retired });
    });

    it('a full save replaces an expired row, retired or not', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ a: 1 }, now, { retired: true }), 1_000);
      now += 1_000;
      const next = makeRecord({ b: 2 }, now);
      expect(await store.set(id, next, 60_000)).toBe(true);
      expect(await store.get(id)).toEqual(next);
    });
  });

  describe('deadlines (timeoutMs, adminTimeoutMs)', () => {
    /** A store with a 200 ms deadline (300 ms for clear and migrate) on a pool of its own, on `store`'s table, so the test can count its connections. */
    function timed(store: PostgresStore, max: number, more: Partial<PostgresStoreOptions> = {}) {
      const pool = new pg.Pool({ connectionString: DATABASE_URL, max });
      const options = {
        schemaName: db.schema,
        tableName: tableNames.get(store)!,
        clock,
        sweepIntervalMs: 0,
        timeoutMs: 200,
        adminTimeoutMs: 300,
      };
      return { pool, store: postgresStore({ pool, ...options, ...more }) };
    }
    /** How the call settled, or 'still waiting' after 3 s: without a deadline the call would wait for as long as the test blocks it. */
    const settledWithin3s = (call: Promise<unknown>) =>
      Promise.race([
        call.then(
          (value) => ({ value }),
          (error: Error) => ({ error }),
        ),
        sleep(3_000, 'still waiting' as const),
      ]);
    const busyConnections = (pool: pg.Pool) => ({ busy: pool.totalCount - pool.idleCount, waiting: pool.waitingCount });

    it('a save still running at timeoutMs is cancelled on the server: it fails then, the row stays as it was once the lock goes, no connection stays busy, and the next call works', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const { pool, store: impatient } = timed(store, 2);
      const locker = await db.pool.connect();
      try {
        // Another transaction holds the row, so the save waits on the server past its deadline.
        await locker.query('BEGIN');
        await locker.query(`SELECT 1 FROM ${tableOf(store)} WHERE id = $1 FOR UPDATE`, [id]);
        const started = performance.now();
        const outcome = await settledWithin3s(impatient.set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept'])));
        const elapsed = performance.now() - started;
        expect(outcome).toMatchObject({
          error: { code: 'store_timeout', message: expect.stringMatching(/ran past timeoutMs \(200 ms\) and was cancelled/) },
        });
        expect((outcome as { error: Error }).error.cause).toMatchObject({ code: '57014' });
        expect(elapsed).toBeGreaterThanOrEqual(200);
        expect(elapsed).toBeLessThan(1_000);
        // The lock is still held: a statement left running would keep its connection busy here.
        expect(busyConnections(pool)).toEqual({ busy: 0, waiting: 0 });
        await locker.query('COMMIT');
        // Had it been left running, the update would now commit: wait until nothing runs on the table.
        await until(async () => {
          const { rows: running } = await db.pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1`,
            [`UPDATE ${db.schema}.%`],
          );
          return running[0].n === 0;
        }, 'no update running on the table');
        expect((await store.get(id))?.data).toEqual({ kept: 'yes' });
        expect(await impatient.set(id, makeRecord({ kept: 'later' }, now), 60_000, delta(['kept']))).toBe(true);
        expect((await impatient.get(id))?.data).toEqual({ kept: 'later' });
        expect(busyConnections(pool)).toEqual({ busy: 0, waiting: 0 });
      } finally {
        // Destroyed, not returned: a failure before COMMIT would leave its transaction open in the pool.
        locker.release(true);
        await pool.end();
      }
    });

    it('a call still waiting for a pool connection at timeoutMs fails then, sending nothing, and the pool is left with nothing waiting', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const { pool, store: impatient } = timed(store, 1);
      const holder = await pool.connect();
      try {
        const started = performance.now();
        const outcome = await settledWithin3s(impatient.set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept'])));
        const elapsed = performance.now() - started;
        expect(outcome).toMatchObject({
          error: { code: 'store_timeout', message: expect.stringMatching(/no pool connection within timeoutMs \(200 ms\)/) },
        });
        expect(elapsed).toBeGreaterThanOrEqual(200);
        expect(elapsed).toBeLessThan(1_000);
      } finally {
        holder.release();
      }
      // The connection it waited for goes back unused as soon as the pool hands it over.
      await until(async () => pool.waitingCount === 0 && pool.idleCount === pool.totalCount, 'the pool to have nothing waiting or busy');
      expect((await store.get(id))?.data).toEqual({ kept: 'yes' });
      expect(await impatient.set(id, makeRecord({ kept: 'later' }, now), 60_000, delta(['kept']))).toBe(true);
      expect(busyConnections(pool)).toEqual({ busy: 0, waiting: 0 });
      await pool.end();
    });

    /** A connected pg.Client of the test's own, and stores on it over `store`'s table, with the given deadline. */
    async function onClient(store: PostgresStore) {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      const options = sameTable(store);
      return {
        client,
        storeWith: (timeoutMs: number, adminTimeoutMs?: number) =>
          postgresStore({ pool: client, ...options, timeoutMs, ...(adminTimeoutMs === undefined ? {} : { adminTimeoutMs }) }),
      };
    }
    /** Holds `id`'s row of `store` locked from another connection, as a transaction that updates it would. */
    async function lockRow(store: PostgresStore, id: string) {
      const locker = await db.pool.connect();
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${tableOf(store)} WHERE id = $1 FOR UPDATE`, [id]);
      return locker;
    }

    it('on a pg.Client, a save still running at timeoutMs is cancelled on the server: it fails then, the row stays as it was, and the Client serves the next calls', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const { client, storeWith } = await onClient(store);
      const impatient = storeWith(200);
      const locker = await lockRow(store, id);
      try {
        const outcome = await settledWithin3s(impatient.set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept'])));
        expect(outcome).toMatchObject({
          error: { code: 'store_timeout', message: expect.stringMatching(/ran past timeoutMs \(200 ms\) and was cancelled/) },
        });
        expect((outcome as { error: Error }).error.cause).toMatchObject({ code: '57014' });
        // The lock is still held: a statement left running would keep the Client from answering this read.
        expect((await settledWithin3s(impatient.get(id))) as unknown).toMatchObject({ value: { data: { kept: 'yes' } } });
        await locker.query('COMMIT');
        // A Client answers in order: anything it had sent before this read has finished by now.
        expect((await impatient.get(id))?.data).toEqual({ kept: 'yes' });
        expect(await impatient.set(id, makeRecord({ kept: 'later' }, now), 60_000, delta(['kept']))).toBe(true);
        expect((await store.get(id))?.data).toEqual({ kept: 'later' });
      } finally {
        locker.release(true);
        await client.end();
      }
    });

    it('on a pg.Client, a call still waiting behind another statement at timeoutMs fails then and is never sent, even by a second store on the same Client', async () => {
      const store = await fresh();
      const id = freshId();
      const other = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const { client, storeWith } = await onClient(store);
      const patient = storeWith(1_000);
      const impatient = storeWith(200);
      const locker = await lockRow(store, id);
      try {
        const blocked = settledWithin3s(patient.set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept'])));
        const queued = settledWithin3s(impatient.set(other, makeRecord({ fresh: 'row' }, now), 60_000, created(['fresh'])));
        expect(await queued).toMatchObject({
          error: {
            code: 'store_timeout',
            message: expect.stringMatching(/no turn on the pg Client within timeoutMs \(200 ms\); nothing was sent/),
          },
        });
        expect(await blocked).toMatchObject({
          error: { code: 'store_timeout', message: expect.stringMatching(/ran past timeoutMs \(1000 ms\) and was cancelled/) },
        });
        await locker.query('COMMIT');
        expect(await impatient.get(other)).toBeUndefined();
        expect((await impatient.get(id))?.data).toEqual({ kept: 'yes' });
        expect(await impatient.set(other, makeRecord({ fresh: 'row' }, now), 60_000, created(['fresh']))).toBe(true);
      } finally {
        locker.release(true);
        await client.end();
      }
    });

    it('on a wrapper with only query, a call still running at timeoutMs fails then, saying its statement was not cancelled (it runs on, as the README warns)', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const { client } = await onClient(store);
      const wrapper: PostgresPool = { query: (text, values) => client.query(text, values) };
      const impatient = postgresStore({ pool: wrapper, ...sameTable(store), timeoutMs: 200 });
      const locker = await lockRow(store, id);
      try {
        const outcome = await settledWithin3s(impatient.set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept'])));
        expect(outcome).toMatchObject({
          error: {
            code: 'store_timeout',
            message: expect.stringMatching(/no answer within timeoutMs \(200 ms\).*not cancelled.*may still commit/),
          },
        });
        await locker.query('COMMIT');
        // Behind it on the same connection: it has finished by the time this answers.
        const { rows: after } = await client.query(`SELECT data->>'kept' AS kept FROM ${tableOf(store)} WHERE id = $1`, [id]);
        expect(after).toEqual([{ kept: 'changed' }]);
      } finally {
        locker.release(true);
        await client.end();
      }
    });
    /** Holds a lock on `store`'s table from another connection that every write waits for (as an `ALTER TABLE` would); reads go on. */
    async function lockTable(store: PostgresStore) {
      const locker = await db.pool.connect();
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${tableOf(store)} IN SHARE MODE`);
      return locker;
    }
    /** `store` with two rows that expired and one live row. */
    async function withRows(store: PostgresStore): Promise<void> {
      for (const name of ['expired-1', 'expired-2']) await store.set(freshId(name), makeRecord({ name }, now), 1_000);
      await store.set(freshId('live'), makeRecord({ name: 'live' }, now), 600_000);
      now += 1_000;
    }
    const rowCount = async (store: PostgresStore) => Number((await db.pool.query(`SELECT count(*) FROM ${tableOf(store)}`)).rows[0].count);
    /** How long `call` takes to settle from the moment it is made, and how (within 3 s, see `settledWithin3s`). */
    async function timing(call: () => Promise<unknown>) {
      const started = performance.now();
      const outcome = await settledWithin3s(call());
      return { outcome, elapsed: performance.now() - started };
    }

    it('a sweep still running at timeoutMs and a clear at adminTimeoutMs are cancelled on the server: each fails then, the rows stay, no connection stays busy', async () => {
      const store = await fresh();
      await withRows(store);
      const { pool, store: impatient } = timed(store, 2);
      const locker = await lockTable(store);
      try {
        const sweep = await timing(() => impatient.sweep());
        expect(sweep.outcome).toMatchObject({
          error: {
            code: 'store_timeout',
            op: 'destroy',
            message: expect.stringMatching(/sweep: the statement ran past timeoutMs \(200 ms\) and was cancelled/),
          },
        });
        expect((sweep.outcome as { error: Error }).error).toBeInstanceOf(SessStoreError);
        expect((sweep.outcome as { error: Error }).error.cause).toMatchObject({ code: '57014' });
        expect(sweep.elapsed).toBeGreaterThanOrEqual(200);
        expect(sweep.elapsed).toBeLessThan(1_000);
        const clear = await timing(() => impatient.clear());
        expect(clear.outcome).toMatchObject({
          error: {
            code: 'store_timeout',
            op: 'destroy',
            message: expect.stringMatching(/clear: the statement ran past adminTimeoutMs \(300 ms\) and was cancelled/),
          },
        });
        expect((clear.outcome as { error: Error }).error.cause).toMatchObject({ code: '57014' });
        expect(clear.elapsed).toBeGreaterThanOrEqual(300);
        expect(clear.elapsed).toBeLessThan(1_000);
        // The lock is still held: a statement left running would keep its connection busy here.
        expect(busyConnections(pool)).toEqual({ busy: 0, waiting: 0 });
        await locker.query('COMMIT');
        // Both answered the cancel (57014): rolled back, every row still there.
        expect(await rowCount(store)).toBe(3);
        expect(await impatient.sweep()).toBe(2);
        await impatient.clear();
        expect(await rowCount(store)).toBe(0);
      } finally {
        locker.release(true);
        await pool.end();
      }
    });

    it('a sweep, clear or migrate still waiting for a pool connection at its deadline fails then, sending nothing', async () => {
      const store = await fresh();
      await withRows(store);
      const { pool, store: impatient } = timed(store, 1);
      const holder = await pool.connect();
      try {
        for (const [call, option, run] of [
          ['sweep', 'timeoutMs \\(200 ms\\)', () => impatient.sweep()],
          ['clear', 'adminTimeoutMs \\(300 ms\\)', () => impatient.clear()],
          ['migrate', 'adminTimeoutMs \\(300 ms\\)', () => impatient.migrate()],
        ] as const) {
          expect(await settledWithin3s(run()), call).toMatchObject({
            error: {
              code: 'store_timeout',
              message: expect.stringMatching(new RegExp(`${call}: no pool connection within ${option}; nothing was sent`)),
            },
          });
        }
      } finally {
        holder.release();
      }
      await until(async () => pool.waitingCount === 0 && pool.idleCount === pool.totalCount, 'the pool to have nothing waiting or busy');
      expect(await rowCount(store)).toBe(3);
      await pool.end();
    });

    it('a migrate that must create an index behind a write left open fails at adminTimeoutMs, cancelled, and creates it once the write ends', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ a: 1 }, now), 60_000);
      const index = `${tableNames.get(store)}_user_id_idx`;
      await db.pool.query(`DROP INDEX ${db.schema}.${index}`);
      const indexed = async () =>
        (await db.pool.query('SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [db.schema, index])).rows.length === 1;
      const { pool, store: impatient } = timed(store, 2);
      // CREATE INDEX waits for its SHARE lock until this transaction ends.
      const writer = await db.pool.connect();
      try {
        await writer.query('BEGIN');
        await writer.query(`UPDATE ${tableOf(store)} SET touched_at = touched_at WHERE id = $1`, [id]);
        const { outcome, elapsed } = await timing(() => impatient.migrate());
        expect(outcome).toMatchObject({
          error: {
            code: 'store_timeout',
            op: 'set',
            message: expect.stringMatching(/migrate: the statement ran past adminTimeoutMs \(300 ms\) and was cancelled/),
          },
        });
        expect((outcome as { error: Error }).error).toBeInstanceOf(SessStoreError);
        expect((outcome as { error: Error }).error.cause).toMatchObject({ code: '57014' });
        expect(elapsed).toBeGreaterThanOrEqual(300);
        expect(elapsed).toBeLessThan(1_500);
        expect(busyConnections(pool)).toEqual({ busy: 0, waiting: 0 });
        await writer.query('COMMIT');
        expect(await indexed()).toBe(false);
        await impatient.migrate();
        expect(await indexed()).toBe(true);
      } finally {
        writer.release(true);
        await pool.end();
      }
    });

    it("close() waits for the timer's sweep only until timeoutMs, when the stalled statement is cancelled and onSweepError gets the store_timeout", async () => {
      const store = await fresh();
      await withRows(store);
      const errors: unknown[] = [];
      const { pool, store: ticking } = timed(store, 2, { sweepIntervalMs: 10, onSweepError: (error) => errors.push(error) });
      const locker = await lockTable(store);
      try {
        await until(
          async () =>
            (await db.pool.query(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted`, [tableOf(store)]))
              .rows[0].n === 1,
          "the timer's sweep to wait on the table",
        );
        const { outcome, elapsed } = await timing(() => ticking.close());
        expect(outcome).toEqual({ value: undefined });
        expect(elapsed).toBeLessThan(1_000);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({
          code: 'store_timeout',
          message: expect.stringMatching(/sweep: the statement ran past timeoutMs \(200 ms\) and was cancelled/),
        });
        expect(busyConnections(pool)).toEqual({ busy: 0, waiting: 0 });
      } finally {
        locker.release(true);
        await pool.end();
      }
      expect(await rowCount(store)).toBe(3);
    });

    it('on a pg.Client, a sweep, clear or migrate still running at its deadline is cancelled on the server, and the Client serves the next calls', async () => {
      const store = await fresh();
      await withRows(store);
      const { client, storeWith } = await onClient(store);
      const impatient = storeWith(200, 300);
      const locker = await lockTable(store);
      try {
        for (const [call, option, run] of [
          ['sweep', 'timeoutMs \\(200 ms\\)', () => impatient.sweep()],
          ['clear', 'adminTimeoutMs \\(300 ms\\)', () => impatient.clear()],
        ] as const) {
          const outcome = await settledWithin3s(run());
          expect(outcome, call).toMatchObject({
            error: {
              code: 'store_timeout',
              message: expect.stringMatching(new RegExp(`${call}: the statement ran past ${option} and was cancelled`)),
            },
          });
          expect((outcome as { error: Error }).error.cause, call).toMatchObject({ code: '57014' });
        }
        // The lock is still held: a statement left running would keep the Client from answering these.
        expect(await settledWithin3s(impatient.migrate())).toEqual({ value: undefined });
        await locker.query('COMMIT');
        expect(await rowCount(store)).toBe(3);
        expect(await impatient.sweep()).toBe(2);
      } finally {
        locker.release(true);
        await client.end();
      }
    });
  });

  describe('errors', () => {
    /** A port on this machine with nothing listening: every connection is refused. */
    async function closedPort(): Promise<number> {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return port;
    }
    /** Every call of `store` that reaches the database, by name, with the core operation it counts as. */
    const calls = (store: PostgresStore) => {
      const meta = makeRecord({}, now).meta;
      return {
        get: ['get', () => store.get('id')],
        set: ['set', () => store.set('id', makeRecord({ a: 1 }, now), 60_000)],
        delta: ['set', () => store.set('id', makeRecord({ a: 1 }, now), 60_000, delta(['a']))],
        touch: ['touch', () => store.touch('id', meta, 60_000)],
        destroy: ['destroy', () => store.destroy('id')],
        sessionsOf: ['get', () => store.sessionsOf!('u')],
        revokeUser: ['destroy', () => store.revokeUser!('u')],
        ids: ['get', () => store.ids!()[Symbol.asyncIterator]().next()],
        clear: ['destroy', () => store.clear()],
        sweep: ['destroy', () => store.sweep()],
        migrate: ['set', () => store.migrate()],
      } as const;
    };

    it('rejects every call with a SessStoreError (store_failed, the driver error as cause) when the server refuses connections or the table is missing', async () => {
      const unreachable = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/test` });
      try {
        for (const [call, [op, run]] of Object.entries(calls(postgresStore({ pool: unreachable, sweepIntervalMs: 0 })))) {
          const error = await rejection(run);
          expect(error, call).toBeInstanceOf(SessStoreError);
          expect(error, call).toMatchObject({ code: 'store_failed', statusHint: 503, op, cause: { code: 'ECONNREFUSED' } });
        }
      } finally {
        await unreachable.end();
      }
      const missing = await fresh({}, false);
      for (const [call, [op, run]] of Object.entries(calls(missing))) {
        if (call === 'migrate') continue;
        const error = await rejection(run);
        expect(error, call).toBeInstanceOf(SessStoreError);
        expect(error, call).toMatchObject({ code: 'store_failed', op, cause: { code: '42P01' } });
      }
    });

    it('names migrate() in the failure of every call on a table that was never created', async () => {
      const missing = await fresh({}, false);
      const { migrate: _migrate, ...served } = calls(missing);
      for (const [call, [op, run]] of Object.entries(served)) {
        await expect(run(), call).rejects.toMatchObject({
          code: 'store_failed',
          op,
          message: expect.stringMatching(/: relation ".+" does not exist \(create it: await store\.migrate\(\) at start-up\)$/),
        });
      }
    });

    // node-postgres queues a query on such a Client and never answers it: each call waited out its
    // deadline as a timeout, the next ones queued behind it, and a save so queued committed once the
    // app connected the Client.
    it('fails every call at once on a pg.Client never connected or whose connect() failed, naming await client.connect(); nothing is left to run once it connects', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const never = new pg.Client({ connectionString: DATABASE_URL });
      const early = postgresStore({ pool: never, ...sameTable(store), timeoutMs: 200 });
      for (const [call, [, run]] of Object.entries(calls(early))) {
        const error = await rejection(run);
        expect(error, call).toBeInstanceOf(SessUsageError);
        expect(error, call).toMatchObject({
          code: 'usage_invalid',
          message: expect.stringMatching(/never connected: await client\.connect\(\)/),
        });
      }
      await expect(early.set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept']))).rejects.toBeInstanceOf(SessUsageError);
      await never.connect();
      try {
        expect((await early.get(id))?.data).toEqual({ kept: 'yes' });
      } finally {
        await never.end();
      }
      const refused = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/test` });
      await expect(refused.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const failed = postgresStore({ pool: refused, ...sameTable(store), timeoutMs: 200 });
      for (const [call, [op, run]] of Object.entries(calls(failed))) {
        const error = await rejection(run);
        expect(error, call).toBeInstanceOf(SessStoreError);
        expect(error, call).toMatchObject({
          code: 'store_failed',
          op,
          message: expect.stringMatching(/connect\(\) failed.*await client\.connect\(\)/),
        });
      }
    });

    // A wrapper such as pg-promise's db.query resolves to the rows alone: read as a result, a get
    // found nothing and a save seemed refused, so sign-ins silently never stuck.
    it('fails every call with store_failed when the pool resolves to something other than a node-postgres result, never reading it as no session or a refused save', async () => {
      const store = await fresh();
      const rowsOnly: PostgresPool = { query: async (text, values) => (await db.pool.query(text, values)).rows as never };
      const wrapped = postgresStore({ pool: rowsOnly, ...sameTable(store) });
      for (const [call, [op, run]] of Object.entries(calls(wrapped))) {
        const error = await rejection(run);
        expect(error, call).toBeInstanceOf(SessStoreError);
        expect(error, call).toMatchObject({
          code: 'store_failed',
          op,
          message: expect.stringMatching(/: pool\.query resolved to (\[\]|an array), not a node-postgres result \(\{ rows, rowCount \}\)$/),
        });
      }
    });

    it('fails every call that reads a clock gone bad with a SessStoreError, before sending anything, and serves the next once it is good again', async () => {
      let reading: () => unknown = () => now;
      const store = await fresh({ clock: () => reading() as number });
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const before = await rows(store);
      const { pool: spy, texts } = counting(db.pool);
      const watched = postgresStore({
        pool: spy,
        schemaName: db.schema,
        tableName: tableNames.get(store)!,
        clock: () => reading() as number,
        sweepIntervalMs: 0,
      });
      const broken = new Error('clock broke');
      const readings: [string, () => unknown, RegExp][] = [
        ['a string', () => String(now), /clock returned "\d+", not epoch ms/],
        ['NaN', () => Number.NaN, /clock returned NaN, not epoch ms/],
        ['a Date', () => new Date(now), /clock returned an object, not epoch ms/],
        ['microseconds', () => now * 1000, /clock returned \d{16}, not epoch ms/],
        ['a negative time', () => -1, /clock returned -1, not epoch ms/],
        [
          'a throw',
          () => {
            throw broken;
          },
          /the clock threw/,
        ],
      ];
      const { destroy: _destroy, clear: _clear, migrate: _migrate, ...clockReaders } = calls(watched);
      for (const [what, bad, message] of readings) {
        reading = bad;
        for (const [call, [op, run]] of Object.entries(clockReaders)) {
          const error = await rejection(run);
          expect(error, `${what}: ${call}`).toBeInstanceOf(SessStoreError);
          expect(error, `${what}: ${call}`).toMatchObject({
            code: 'store_failed',
            statusHint: 503,
            op,
            message: expect.stringMatching(message),
          });
          if (what === 'a throw') expect((error as Error).cause, call).toBe(broken);
        }
      }
      expect(texts).toEqual([]);
      expect(await rows(store)).toEqual(before);
      reading = () => now;
      expect((await watched.get(id))?.data).toEqual({ kept: 'yes' });
    });

    it('rejects data JSON cannot hold with data_not_json, the same whether or not the server is reachable', async () => {
      const unreachable = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${await closedPort()}/test` });
      try {
        for (const store of [await fresh(), postgresStore({ pool: unreachable, sweepIntervalMs: 0 })]) {
          const record = makeRecord({ big: 1n }, now);
          await expect(store.set('id', record, 60_000)).rejects.toMatchObject({ name: 'SessUsageError', code: 'data_not_json' });
          await expect(store.set('id', record, 60_000, delta(['big']))).rejects.toMatchObject({ code: 'data_not_json' });
        }
      } finally {
        await unreachable.end();
      }
    });

    it("fails a statement the server's statement_timeout cancelled with store_timeout", async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const pool = new pg.Pool({ connectionString: DATABASE_URL, options: '-c statement_timeout=100' });
      const limited = postgresStore({ pool, schemaName: db.schema, tableName: tableNames.get(store)!, clock, sweepIntervalMs: 0 });
      const locker = await db.pool.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`SELECT 1 FROM ${tableOf(store)} WHERE id = $1 FOR UPDATE`, [id]);
        const error = await limited
          .set(id, makeRecord({ kept: 'changed' }, now), 60_000, delta(['kept']))
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(SessStoreError);
        expect(error).toMatchObject({ code: 'store_timeout', op: 'set', cause: { code: '57014' } });
      } finally {
        locker.release(true);
        await pool.end();
      }
    });
  });

  describe('large deltas', () => {
    /** Keys PostgreSQL or JSON treat specially: quotes, backslashes, braces, commas, U+0000, a lone surrogate, U+FFFF, `__proto__`. */
    const odd = ['', 'a"b', "it's", 'back\\slash', '{x,y}', 'NULL', 'nul\u0000', 'lone\uD800', 'escape\uFFFF0000', '__proto__', 'é ü'];
    const keyOf = (i: number) => (i < odd.length ? odd[i]! : `key ${i}`);

    it('a delta deleting 5,000 of 10,000 keys, odd names among them, keeps exactly the others', async () => {
      const store = await fresh();
      const id = freshId();
      const all: Record<string, number> = {};
      const kept: Record<string, number> = {};
      const deleted: string[] = [];
      for (let i = 0; i < 10_000; i += 1) {
        Object.defineProperty(all, keyOf(i), { value: i, enumerable: true, writable: true, configurable: true });
        if (i % 2 === 0) deleted.push(keyOf(i));
        else Object.defineProperty(kept, keyOf(i), { value: i, enumerable: true, writable: true, configurable: true });
      }
      await store.set(id, makeRecord(all, now), 60_000);
      expect(await store.set(id, makeRecord(kept, now), 60_000, delta([], deleted))).toBe(true);
      const data = (await store.get(id))?.data ?? {};
      expect(Object.keys(data).sort()).toEqual(Object.keys(kept).sort());
      for (const key of Object.keys(kept)) expect(Object.getOwnPropertyDescriptor(data, key)?.value, key).toBe(kept[key]);
    });

    it('a delta deleting past the short-list limit merges the keys it sets and empties a row when it deletes them all', async () => {
      const store = await fresh();
      const id = freshId();
      const keys = Array.from({ length: 300 }, (_, i) => keyOf(i));
      await store.set(id, makeRecord(Object.fromEntries(keys.map((key, i) => [key, i])), now), 60_000);
      expect(await store.set(id, makeRecord({ fresh: 1 }, now), 60_000, delta(['fresh'], keys))).toBe(true);
      expect((await store.get(id))?.data).toEqual({ fresh: 1 });
      expect(await store.set(id, makeRecord({}, now), 60_000, delta([], [...keys, 'fresh']))).toBe(true);
      expect((await store.get(id))?.data).toEqual({});
    });
  });

  describe('sweep', () => {
    async function withExpired(store: PostgresStore, expired: number, live: number): Promise<void> {
      for (let i = 0; i < expired; i += 1) await store.set(freshId(`expired-${i}`), makeRecord({ i }, now), 1_000);
      for (let i = 0; i < live; i += 1) await store.set(freshId(`live-${i}`), makeRecord({ i }, now), 600_000);
      now += 1_000;
    }
    const count = async (store: PostgresStore) => Number((await db.pool.query(`SELECT count(*) FROM ${tableOf(store)}`)).rows[0].count);

    it('deletes at most sweepBatch expired rows per sweep, and never a live one', async () => {
      const store = await fresh({ sweepBatch: 4 });
      await withExpired(store, 10, 3);
      expect(await store.sweep()).toBe(4);
      expect(await store.sweep()).toBe(4);
      expect(await store.sweep()).toBe(2);
      expect(await store.sweep()).toBe(0);
      expect(await count(store)).toBe(3);
    });

    it('runs one batch per tick of its timer, and close() stops the timer', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const spy = counting(db.pool);
      const store = await fresh({ pool: spy.pool, sweepIntervalMs: 1_000, sweepBatch: 3 });
      await withExpired(store, 7, 2);
      const sweeps = () => spy.texts.filter((text) => text.startsWith('DELETE') && text.includes('SKIP LOCKED')).length;
      vi.advanceTimersByTime(999);
      expect(sweeps()).toBe(0);
      vi.advanceTimersByTime(1);
      await until(async () => (await count(store)) === 6, 'the first tick');
      vi.advanceTimersByTime(1_000);
      await until(async () => (await count(store)) === 3, 'the second tick');
      vi.advanceTimersByTime(1_000);
      await until(async () => (await count(store)) === 2, 'the third tick');
      expect(sweeps()).toBe(3);
      await store.close();
      vi.advanceTimersByTime(10_000);
      expect(sweeps()).toBe(3);
      // The store's deadlines have a timer too, which stops itself once no statement is pending.
      expect(vi.getTimerCount()).toBe(0);
    });

    it('unrefs its timer, so an app that never closes the store still exits; sweepIntervalMs: 0 makes none', async () => {
      const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
      // Not migrated: a statement's deadline would start a timer of its own.
      const store = await fresh({ sweepIntervalMs: 60_000 }, false);
      expect(setIntervalSpy).toHaveBeenCalledTimes(1);
      const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      await store.close();
      await fresh({ sweepIntervalMs: 0 }, false);
      expect(setIntervalSpy).toHaveBeenCalledTimes(1);
    });

    it('reports a failed sweep to onSweepError, keeps ticking, and never runs two sweeps at once', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const errors: unknown[] = [];
      let release: () => void = () => undefined;
      let calls = 0;
      const slow: PostgresPool = {
        async query(text, values) {
          calls += 1;
          if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
          return db.pool.query(text, values);
        },
      };
      // No migrate: the table is missing, so every sweep fails.
      await fresh({ pool: slow, sweepIntervalMs: 100, onSweepError: (error) => errors.push(error) }, false);
      vi.advanceTimersByTime(100);
      vi.advanceTimersByTime(100);
      expect(calls).toBe(1); // the second tick found the first sweep still running
      release();
      await until(async () => errors.length === 1, 'the first failure');
      vi.advanceTimersByTime(100);
      await until(async () => errors.length === 2, 'the second failure');
      expect(errors[0]).toMatchObject({ code: 'store_failed', cause: { code: '42P01' } }); // undefined_table
      // A handler that throws does not become an unhandled rejection (vitest would fail the run).
      let handled = false;
      const throwing = await fresh(
        {
          pool: db.pool,
          sweepIntervalMs: 100,
          onSweepError: () => {
            handled = true;
            throw new Error('handler');
          },
        },
        false,
      );
      vi.advanceTimersByTime(100);
      await throwing.close(); // waits for the sweep in flight, handler included
      expect(handled).toBe(true);
    });

    it('without onSweepError, logs a failing sweep once per run of failures (the table renamed away), and again after one succeeded', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      let settled = 0;
      const watched: PostgresPool = {
        query: (text, values) => db.pool.query(text, values).finally(() => (settled += text.includes('SKIP LOCKED') ? 1 : 0)),
      };
      const store = await fresh({ pool: watched, sweepIntervalMs: 100 });
      const table = tableOf(store);
      /** One tick, once its sweep and what it reports are done. */
      const tick = async () => {
        const before = settled;
        vi.advanceTimersByTime(100);
        await until(async () => settled === before + 1, 'the sweep');
        await new Promise(setImmediate);
      };
      await db.pool.query(`ALTER TABLE ${table} RENAME TO gone`);
      await tick();
      await tick();
      await tick();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(
        /^\[sess\] postgresStore: sweep: relation ".+" does not exist .*; expired rows are not being deleted\. Logged once until a sweep succeeds again; pass onSweepError/,
      );
      await db.pool.query(`ALTER TABLE ${db.schema}.gone RENAME TO ${tableNames.get(store)}`);
      await tick();
      expect(warn).toHaveBeenCalledTimes(1);
      await db.pool.query(`ALTER TABLE ${table} RENAME TO gone`);
      await tick();
      await tick();
      expect(warn).toHaveBeenCalledTimes(2);
      await db.pool.query(`ALTER TABLE ${db.schema}.gone RENAME TO ${tableNames.get(store)}`);
    });

    it('an async onSweepError that rejects does not end the process', async () => {
      // In a child process: an unhandled rejection ends it, as it would end the app.
      const script = `import pg from 'pg';
import { postgresStore } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
let reported;
const handled = new Promise((resolve) => (reported = resolve));
// The sweep's timer is unref'd: this one keeps the process up until the handler ran.
const alive = setInterval(() => undefined, 1000);
// No migrate: the table is missing, so the sweep fails; the handler's own reporting fails too.
const store = postgresStore({
  pool,
  schemaName: ${JSON.stringify(db.schema)},
  tableName: 'never_migrated',
  sweepIntervalMs: 10,
  onSweepError: async (error) => {
    reported(error.cause.code);
    throw new Error('the log shipper is down');
  },
});
console.log('reported', await handled);
clearInterval(alive);
await store.close();
await pool.end();
// A turn of the event loop, in which an unhandled rejection would end the process.
await new Promise(setImmediate);
console.log('running');`;
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, DATABASE_URL }, timeout: 20_000 },
          (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }),
        );
      });
      expect(stderr).not.toMatch(/the log shipper is down/);
      expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'reported 42P01\nrunning' });
    }, 30_000);

    it('skips rows another transaction holds instead of waiting for them', async () => {
      const store = await fresh();
      const held = freshId('held');
      await store.set(held, makeRecord({}, now), 1_000);
      await withExpired(store, 2, 0);
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT 1 FROM ${tableOf(store)} WHERE id = $1 FOR UPDATE`, [held]);
        expect(await store.sweep()).toBe(2);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      expect(await store.sweep()).toBe(1);
    });

    it('close() waits for a sweep in flight, can be called twice, and leaves the pool open and usable', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      let release: () => void = () => undefined;
      let finished = false;
      const slow: PostgresPool = {
        async query(text, values) {
          await new Promise<void>((resolve) => (release = resolve));
          try {
            return await db.pool.query(text, values);
          } finally {
            finished = true;
          }
        },
      };
      // Not migrated, so the sweep fails: logged once, as the store does without onSweepError.
      vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      const store = await fresh({ pool: slow, sweepIntervalMs: 100 }, false);
      vi.advanceTimersByTime(100);
      let closed = false;
      const closing = store.close().then(() => (closed = true));
      // A turn of the event loop: a close() that did not wait for the sweep would have settled by then.
      await new Promise(setImmediate);
      expect(closed).toBe(false);
      release();
      await closing;
      expect(finished).toBe(true);
      await store.close();
      expect((await db.pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(db.pool.ended).toBe(false);
    });
  });

  describe('sessions of a user', () => {
    it('lists and revokes by user, user ids kept exactly (lone surrogates do not collide), expired rows removed but not counted', async () => {
      const store = await fresh();
      const users = ['\uD800', '\uDC00', '\uFFFD', 'a\u0000'];
      const ids = new Map<string, string[]>();
      for (const user of users) {
        ids.set(user, []);
        for (let i = 0; i < 2; i += 1) {
          const id = freshId();
          ids.get(user)?.push(id);
          await store.set(id, makeRecord({ userId: user }, now + i), 600_000);
        }
      }
      const expired = freshId('expired');
      await store.set(expired, makeRecord({ userId: '\uD800' }, now), 1_000);
      now += 1_000;
      for (const user of users) expect((await store.sessionsOf!(user)).map((entry) => entry.id)).toEqual(ids.get(user));
      const [keep, revoke] = ids.get('\uD800') as [string, string];
      expect(await store.revokeUser!('\uD800', { except: keep })).toBe(1);
      expect(await store.get(revoke)).toBeUndefined();
      expect((await rows(store)).has(expired)).toBe(false);
      expect((await store.sessionsOf!('\uD800')).map((entry) => entry.id)).toEqual([keep]);
      expect((await store.sessionsOf!('\uDC00')).length).toBe(2);
    });

    it('follows the user id through delta saves, and reads it from userIdKey', async () => {
      const store = await fresh({ userIdKey: 'uid' });
      const id = freshId();
      await store.set(id, makeRecord({ uid: 'alice', userId: 'not this one' }, now), 60_000, created(['uid', 'userId']));
      expect((await store.sessionsOf!('alice')).length).toBe(1);
      await store.set(id, makeRecord({ uid: 'ignored: not listed', other: 1 }, now), 60_000, delta(['other']));
      expect((await store.sessionsOf!('alice')).length).toBe(1);
      await store.set(id, makeRecord({ uid: 'bob' }, now), 60_000, delta(['uid']));
      expect(await store.sessionsOf!('alice')).toEqual([]);
      expect((await store.sessionsOf!('bob')).length).toBe(1);
      await store.set(id, makeRecord({}, now), 60_000, delta([], ['uid']));
      expect(await store.sessionsOf!('bob')).toEqual([]);
      expect((await rows(store)).get(id)?.['user_id']).toBeNull();
    });

    it('keeps user ids up to 2048 bytes as stored, however they compress, and refuses longer ones before any query', async () => {
      const counted = counting(db.pool);
      const store = await fresh({ pool: counted.pool });
      // Random text, which PostgreSQL cannot compress: its btree refuses such an entry past 2704 bytes.
      const random = (length: number) => randomBytes(length).toString('base64url').slice(0, length);
      const longest = [random(2048), '\uD800'.repeat(292) + random(4), `${'€'.repeat(682)}${random(2)}`];
      for (const userId of longest) {
        const id = freshId();
        await store.set(id, makeRecord({ userId }, now), 60_000);
        expect((await store.get(id))?.data['userId']).toBe(userId);
        expect((await store.sessionsOf!(userId)).map((entry) => entry.id)).toEqual([id]);
        expect(await store.revokeUser!(userId)).toBe(1);
        expect(await store.get(id)).toBeUndefined();
      }
      // One byte more each (a lone surrogate is 7 bytes escaped, '€' is 3), 3000 and 10000 characters,
      // and a repetitive id that PostgreSQL would compress below its limit: all refused alike.
      const tooLong = [
        random(2049),
        '\uD800'.repeat(292) + random(5),
        `${'€'.repeat(683)}`,
        random(3000),
        random(10_000),
        'u'.repeat(10_000),
      ];
      const signedIn = freshId();
      await store.set(signedIn, makeRecord({ userId: 'alice', n: 1 }, now), 60_000);
      const before = await rows(store);
      counted.texts.length = 0;
      for (const userId of tooLong) {
        const bytes = Buffer.byteLength(userId.replaceAll('\uD800', '\uFFFFd800'));
        const refusal = new RegExp(`user id in "userId" is ${bytes} bytes as stored; the user index keeps at most 2048`);
        await expect(store.set(freshId(), makeRecord({ userId }, now), 60_000)).rejects.toThrow(refusal);
        await expect(store.set(signedIn, makeRecord({ userId, n: 2 }, now), 60_000, delta(['userId', 'n']))).rejects.toThrow(refusal);
      }
      expect(counted.texts).toEqual([]);
      expect(await rows(store)).toEqual(before);
      // Lookups of such an id answer: nothing is stored under it.
      for (const userId of tooLong) {
        expect(await store.sessionsOf!(userId)).toEqual([]);
        expect(await store.revokeUser!(userId)).toBe(0);
      }
      // A save that leaves the user id alone writes no user id, so it is not checked.
      expect(await store.set(signedIn, makeRecord({ userId: random(3000), n: 3 }, now), 60_000, delta(['n']))).toBe(true);
      expect((await store.sessionsOf!('alice')).map((entry) => entry.id)).toEqual([signedIn]);
    });

    it('with userIdKey: false keeps no user id at all', async () => {
      const store = await fresh({ userIdKey: false });
      const id = freshId();
      await store.set(id, makeRecord({ userId: 'alice' }, now), 60_000);
      expect((await rows(store)).get(id)?.['user_id']).toBeNull();
    });
  });

  describe("the README's pool", () => {
    /** The lines of the README's Usage example that make the pool, up to the store, as a reader would copy them. */
    function readmePoolSetup(): string {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const usage = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Usage')))?.[1] ?? '';
      const lines = usage.split('\n');
      const from = lines.findIndex((line) => line.startsWith('const pool ='));
      const to = lines.findIndex((line) => line.startsWith('const store ='));
      if (from < 0 || to < from) throw new Error('no pool setup in the README usage example');
      return lines.slice(from, to).join('\n');
    }

    it('survives the server dropping an idle connection (a restart, a failover) and serves the next query', async () => {
      // In a child process: an unhandled 'error' event would end it, as it would end the app.
      const script = `import pg from 'pg';
${readmePoolSetup()}
const { rows } = await pool.query('SELECT pg_backend_pid() AS pid');
// pg-pool emits 'error' for the dead idle client, then 'remove' once it has closed it. Not
// events.once, whose own 'error' listener would keep the process alive whatever the README says.
const removed = new Promise((resolve) => pool.once('remove', resolve));
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
await admin.end();
await removed;
const { rows: next } = await pool.query('SELECT 1 AS one');
console.log('served', next[0].one);
await pool.end();`;
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, DATABASE_URL }, timeout: 20_000 },
          (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }),
        );
      });
      expect(stderr).not.toMatch(/Unhandled 'error' event/);
      expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'served 1' });
    }, 30_000);

    // The store runs its statements on a connection it took from the pool, which pg-pool leaves
    // without an 'error' listener while it is out. A connection lost mid-statement without an
    // ErrorResponse (a network failure, a proxy or PgBouncer restarting, a crash restart of the
    // server) makes node-postgres emit 'error' on it: without a listener, that ends the process.
    it('survives a connection lost while a store statement runs on it (a network failure, a crash restart): that call fails, the next is served', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      // A TCP proxy to the server, so the test can cut the store's connection as a network would.
      const server = new URL(DATABASE_URL);
      const links = new Set<Socket>();
      const proxy = createServer((inbound) => {
        const outbound = connect(Number(server.port || 5432), server.hostname);
        links.add(inbound);
        inbound.pipe(outbound).pipe(inbound);
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
        inbound.on('close', () => outbound.destroy());
      });
      await new Promise<void>((listening) => proxy.listen(0, '127.0.0.1', listening));
      const proxied = new URL(DATABASE_URL);
      proxied.host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const script = `import pg from 'pg';
import { postgresStore } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
${readmePoolSetup()}
const store = postgresStore({ pool, schemaName: ${JSON.stringify(db.schema)}, tableName: ${JSON.stringify(tableNames.get(store))}, clock: () => ${now}, sweepIntervalMs: 0, timeoutMs: 20000 });
const meta = { createdAt: ${now}, touchedAt: ${now}, expiresAt: ${now + 60_000} };
const saved = await store
  .set(${JSON.stringify(id)}, { data: { kept: 'changed' }, meta }, 60000, { set: ['kept'], deleted: [], created: false })
  .then(() => 'saved', () => 'failed');
console.log(saved);
console.log('served', (await store.get(${JSON.stringify(id)}))?.data.kept);
await pool.end();`;
      const locker = await db.pool.connect();
      try {
        await locker.query('BEGIN');
        await locker.query(`SELECT 1 FROM ${tableOf(store)} WHERE id = $1 FOR UPDATE`, [id]);
        const child = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const running = execFile(
            process.execPath,
            ['--import', 'tsx', '--input-type=module', '-e', script],
            {
              cwd: fileURLToPath(new URL('..', import.meta.url)),
              env: { ...process.env, DATABASE_URL: proxied.href },
              timeout: 20_000,
            },
            (_error, out, err) => resolve({ code: running.exitCode, stdout: out, stderr: err }),
          );
        });
        // The save waits on the row on the server: its statement is in flight when the link goes.
        const waiting = async () => {
          const { rows: found } = await db.pool.query(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [
            `UPDATE "${db.schema}"."${tableNames.get(store)}"%`,
          ]);
          return found.map((row: { pid: number }) => row.pid);
        };
        await until(async () => (await waiting()).length === 1, 'the save to wait on the row');
        const [orphan] = await waiting();
        for (const link of links) link.resetAndDestroy();
        const { code, stdout, stderr } = await child;
        expect(stderr).not.toMatch(/Unhandled 'error' event/);
        expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'failed\nserved yes' });
        // The server has not noticed the lost client: its statement would run once the lock goes.
        await db.pool.query('SELECT pg_terminate_backend($1)', [orphan]);
      } finally {
        locker.release(true);
        await new Promise((closed) => proxy.close(closed));
      }
    }, 30_000);
  });

  describe('backends terminated under the store', () => {
    /** The lines of the README's Client example that make the Client, up to the store, as a reader would copy them. */
    function readmeClientSetup(): string {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const usage = readme.slice(readme.indexOf('## Usage'), readme.indexOf('## Options'));
      const block = [...usage.matchAll(/```ts\n([\s\S]*?)```/g)]
        .map((match) => match[1] ?? '')
        .find((code) => code.includes('const client ='));
      const lines = (block ?? '').split('\n');
      const from = lines.findIndex((line) => line.startsWith('const client ='));
      const to = lines.findIndex((line) => line.startsWith('const store ='));
      if (from < 0 || to < from) throw new Error('no pg.Client setup in the README usage');
      return lines.slice(from, to).join('\n');
    }

    // pg_terminate_backend answers the running statement with an error, then closes the
    // connection, which node-postgres reports as an 'error' event on the Client: the store's
    // connection out of a pool must not let that crash the process, and the README's Client must
    // have the listener that catches it.
    it('a store statement whose backend is terminated fails, and nothing ends the process: on a pool with no listener, and on the README Client (also terminated idle)', async () => {
      const store = await fresh();
      const id = freshId();
      await store.set(id, makeRecord({ kept: 'yes' }, now), 60_000, created(['kept']));
      const script = `import pg from 'pg';
import { postgresStore } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
const options = { schemaName: ${JSON.stringify(db.schema)}, tableName: ${JSON.stringify(tableNames.get(store))}, clock: () => ${now}, sweepIntervalMs: 0, timeoutMs: 20000 };
const id = ${JSON.stringify(id)};
const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
const locker = new pg.Client({ connectionString: process.env.DATABASE_URL });
await locker.connect();
const outcome = (call) => call.then((record) => 'served ' + record?.data.kept, (error) => error.code);
/** A get on the store, terminated while it waits on the locked table. */
async function terminatedGet(store) {
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE ${tableOf(store)} IN ACCESS EXCLUSIVE MODE');
  const call = outcome(store.get(id));
  let waiting = [];
  while (waiting.length === 0) {
    ({ rows: waiting } = await admin.query("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT data::text%' AND query LIKE $1", ['%"${db.schema}"."${tableNames.get(store)}"%']));
  }
  await admin.query('SELECT pg_terminate_backend($1)', [waiting[0].pid]);
  const result = await call;
  await locker.query('ROLLBACK');
  return result;
}
// No 'error' listener: the store's own connection must not need the app's.
const bare = new pg.Pool({ connectionString: process.env.DATABASE_URL });
const onPool = postgresStore({ pool: bare, ...options });
console.log('pool', await terminatedGet(onPool), await outcome(onPool.get(id)));
${readmeClientSetup()}
const onClient = postgresStore({ pool: client, ...options });
const ended = new Promise((resolve) => client.once('end', resolve));
console.log('client', await terminatedGet(onClient));
await ended;
console.log('client after', await outcome(onClient.get(id)));
const idle = await (async () => {
${readmeClientSetup()}
  return client;
})();
const onIdle = postgresStore({ pool: idle, ...options });
console.log('idle', await outcome(onIdle.get(id)));
const idleEnded = new Promise((resolve) => idle.once('end', resolve));
await admin.query('SELECT pg_terminate_backend($1)', [idle.processID]);
await idleEnded;
console.log('idle after', await outcome(onIdle.get(id)));
await Promise.all([bare.end(), admin.end(), locker.end()]);`;
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          { cwd: fileURLToPath(new URL('..', import.meta.url)), env: { ...process.env, DATABASE_URL }, timeout: 20_000 },
          (_error, out, err) => resolve({ code: child.exitCode, stdout: out, stderr: err }),
        );
      });
      expect(stderr).not.toMatch(/Unhandled 'error' event/);
      expect({ code, stdout: stdout.trim().split('\n') }).toEqual({
        code: 0,
        stdout: [
          'pool store_failed served yes',
          'client store_failed',
          'client after store_failed',
          'idle served yes',
          'idle after store_failed',
        ],
      });
    }, 30_000);
  });

  describe('migrating from connect-pg-simple (the README)', () => {
    /** The SQL block under the README's connect-pg-simple heading, as a reader would copy it. */
    function readmeSql(): string {
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      const section = readme.slice(readme.indexOf('## Migrating from connect-pg-simple'));
      const match = /```sql\n([\s\S]*?)```/.exec(section);
      if (match?.[1] === undefined) throw new Error('no sql block in the README section');
      return match[1];
    }

    it('converts the rows @sess/express wrote through connect-pg-simple, so those cookies keep their sessions', async () => {
      const pool = db.pathPool();
      await pool.query('DROP TABLE IF EXISTS session');
      await pool.query('CREATE TABLE session (sid varchar PRIMARY KEY NOT NULL, sess json NOT NULL, expire timestamp NOT NULL)');
      const store = postgresStore({ pool, sweepIntervalMs: 0 });
      await store.migrate();
      const wallNow = Date.now();
      const live = makeRecord({ userId: 'alice', cart: [1, 2] }, wallNow - 1_000, { expiry: { kind: 'browser' } });
      const stored = (meta: SessionMeta, data: Record<string, unknown>) =>
        JSON.stringify({ cookie: { originalMaxAge: 60_000, expires: new Date(meta.expiresAt).toISOString() }, data, meta });
      const rowsToConvert: [string, string][] = [
        ['live-id', stored(live.meta, live.data)],
        ['expired-id', stored({ ...live.meta, expiresAt: wallNow - 1 }, { userId: 'alice' })],
        // express-session wrote this one itself: no sess record inside, so nothing to convert.
        ['express-session-id', JSON.stringify({ cookie: { originalMaxAge: 60_000 }, userId: 'bob' })],
      ];
      for (const [sid, sess] of rowsToConvert) {
        await pool.query(`INSERT INTO session (sid, sess, expire) VALUES ($1, $2, now() + interval '1 hour')`, [sid, sess]);
      }
      const existing = makeRecord({ newer: true }, wallNow);
      await store.set('live-id-already-moved', existing, 60_000);
      await pool.query(`INSERT INTO session (sid, sess, expire) VALUES ('live-id-already-moved', $1, now())`, [
        stored(live.meta, live.data),
      ]);
      await pool.query(readmeSql());
      await pool.query(readmeSql()); // running it twice changes nothing
      expect(await store.get('live-id')).toEqual(live);
      expect(await store.get('expired-id')).toBeUndefined();
      expect(await store.get('express-session-id')).toBeUndefined();
      expect(await store.get('live-id-already-moved')).toEqual(existing);
      expect((await store.sessionsOf!('alice')).map((entry) => entry.id)).toEqual(['live-id']);
      await pool.query('DROP TABLE session');
    });
  });
});
