/**
 * The real PostgreSQL the tests run against (`DATABASE_URL`, default the local `test` database),
 * and a schema of its own for each test file's run, so runs and files never share a table.
 * Without a server the tests skip with the reason; with CI=true they fail instead.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';

export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why PostgreSQL cannot be used here, or undefined when it can. With CI=true, no reason: it throws. */
async function unavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    const reason = `no PostgreSQL at ${DATABASE_URL}: ${error instanceof Error ? error.message : String(error)}`;
    // CI=true: nothing may skip for lack of the database.
    if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: the PostgreSQL tests must run)`);
    return reason;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const reason = await unavailable();

export interface TestDatabase {
  /** The pool for this file, made in `beforeAll`. */
  readonly pool: pg.Pool;
  /** This file's schema, created before its tests and dropped with everything in it afterwards. */
  readonly schema: string;
  /** A pool whose `search_path` is this file's schema, for SQL written without a schema (the README's). */
  pathPool(): pg.Pool;
}

/**
 * `describe` against the database: `body` gets the file's pool and schema once `beforeAll` ran.
 * Skips with the reason in its title when there is no database (never under CI=true).
 */
export function describeDb(title: string, body: (db: TestDatabase) => void): void {
  if (reason !== undefined) {
    describe.skip(`${title} (skipped: ${reason})`, () => body(undefined as unknown as TestDatabase));
    return;
  }
  describe(title, () => {
    const schema = `sess_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const pools: pg.Pool[] = [];
    const db = {
      schema,
      pool: undefined as unknown as pg.Pool,
      pathPool() {
        const pool = new pg.Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
        pools.push(pool);
        return pool;
      },
    };
    beforeAll(async () => {
      db.pool = new pg.Pool({ connectionString: DATABASE_URL });
      pools.push(db.pool);
      await db.pool.query(`CREATE SCHEMA ${schema}`);
    });
    afterAll(async () => {
      try {
        await db.pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    });
    body(db);
  });
}
