/**
 * The PostgreSQL the PostgreSQL scenarios use: the server at `DATABASE_URL` (the tests' default
 * otherwise). The bench does not start one of its own, as it does redis-server: it checks that
 * one answers and makes the bench's schema, where each store gets a table of its own.
 */
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * This run's schema, which keeps its tables (and connect-pg-simple's index names, which ignore
 * `tableName`) apart from anyone else's, another bench running beside it included. The runner
 * names it and its server children inherit the name through the environment.
 */
export const BENCH_SCHEMA = (process.env.SESS_BENCH_PG_SCHEMA ||= `sess_bench_${process.pid}`);

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  return url === undefined || url === '' ? DEFAULT_DATABASE_URL : url;
}

/** Connects, makes this run's schema; `unavailable` (with node-postgres's reason) when no server answers within `timeoutMs`. */
export async function preparePostgres(timeoutMs: number): Promise<{ readonly url: string } | { readonly unavailable: string }> {
  const url = databaseUrl();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A connection the server drops later must not take the runner down.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    const shown = url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
    return { unavailable: `no PostgreSQL answers at ${shown}: ${(error as Error).message}` };
  }
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${BENCH_SCHEMA}`);
    return { url };
  } finally {
    await client.end();
  }
}

/** Drops this run's schema and its tables; a server that is gone by then is not an error. */
export async function dropPostgresSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} CASCADE`);
  } catch {
    // Nothing to clean up on a server that went away.
  } finally {
    await client.end().catch(() => undefined);
  }
}
