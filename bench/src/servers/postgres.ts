/**
 * PostgreSQL pools and stores for the server children. The URL is the one the runner checked
 * (`BENCH_DATABASE_URL`); each store keeps its rows in a table of its own in the bench's schema,
 * emptied when its server starts.
 */
import pg from 'pg';
import type { Store } from '@sess/core';
import type { SessionOptions } from 'express-session';
import type expressSession from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { BENCH_SCHEMA } from '../postgres.js';
import { Unavailable, importOptional } from './optional.js';

function databaseUrl(): string {
  const url = process.env.BENCH_DATABASE_URL;
  if (url === undefined || url === '') throw new Unavailable('no PostgreSQL (BENCH_DATABASE_URL unset)');
  return url;
}

/** Queries the server's pool has sent, read by the runner to count queries per request. */
let queriesSent = 0;
export const queryCount = (): number => queriesSent;

/**
 * One node-postgres pool (its default size, 10), as both stores' READMEs set one up. Queries are
 * counted on each connection the pool opens, so a query sent through `pool.query` (connect-pg-simple)
 * and one sent on a checked-out client (@sess/store-postgres, which can cancel it) count alike,
 * at the same cost to both.
 */
export function connectPostgres(): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl() });
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      queriesSent++;
      return query(...args);
    }) as typeof client.query;
  });
  return pool;
}

interface PostgresStore extends Store {
  migrate(): Promise<void>;
}

interface StorePostgresModule {
  postgresStore(options: { pool: pg.Pool; schemaName?: string; tableName?: string }): PostgresStore;
}

/** `@sess/store-postgres` with its defaults, migrated once at start-up (never per request). */
export async function sessPostgresStore(pool: pg.Pool): Promise<Store> {
  const { postgresStore } = await importOptional<StorePostgresModule>('@sess/store-postgres', ['postgresStore']);
  const store = postgresStore({ pool, schemaName: BENCH_SCHEMA, tableName: 'bench_sess' });
  await store.migrate();
  await pool.query(`TRUNCATE ${BENCH_SCHEMA}.bench_sess`);
  return store;
}

/**
 * connect-pg-simple with its defaults, its table made by its own `createTableIfMissing` (on the
 * store's first query, sent here at start-up so no request pays for it).
 */
export async function connectPgSimpleStore(session: typeof expressSession, pool: pg.Pool): Promise<NonNullable<SessionOptions['store']>> {
  const PgStore = connectPgSimple(session);
  const store = new PgStore({ pool, schemaName: BENCH_SCHEMA, tableName: 'bench_pg_simple', createTableIfMissing: true });
  await new Promise<void>((resolve, reject) => store.get('bench-start', (error) => (error ? reject(error) : resolve())));
  await pool.query(`TRUNCATE ${BENCH_SCHEMA}.bench_pg_simple`);
  return store;
}
