/**
 * The real Redis and PostgreSQL the migration tests run against (`REDIS_URL`, `DATABASE_URL`,
 * default the local servers), and the peer libraries loaded two ways: as installed (with the real
 * express-session), and from a scratch folder whose `node_modules/express-session` is this
 * package, as an npm alias installs it. Without a server the tests that need it fail with the
 * reason: none of them skips.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { createClient } from 'redis';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

const newClient = () => createClient({ url: REDIS_URL, socket: { connectTimeout: 5_000, reconnectStrategy: false } });
export type RedisClient = ReturnType<typeof newClient>;

/** A connected node-redis client, or why there is none (CI=true: it throws at once). */
export async function redisClient(): Promise<RedisClient | string> {
  const client = newClient();
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    return unavailable(`no Redis at ${REDIS_URL}`, error);
  }
}

/** A pg pool on the test database, or why there is none. */
export async function postgresPool(): Promise<pg.Pool | string> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (error) {
    await pool.end().catch(() => undefined);
    return unavailable(`no PostgreSQL at ${DATABASE_URL}`, error);
  }
}

function unavailable(what: string, error: unknown): string {
  const reason = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: the migration tests must run)`);
  return reason;
}

const installed = createRequire(import.meta.url);

/** The folder of an installed package, from its entry point (connect-redis exports no `./package.json`). */
function packageRoot(name: string): string {
  let dir = dirname(installed.resolve(name));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const packageDir = resolve(import.meta.dirname, '..');

/** The peer libraries, each with `require` resolving `express-session` its own way. */
export interface Peers {
  /** `require` of the installed peers: express-session is express-session 1.19. */
  readonly installed: NodeRequire;
  /** `require` of copies of the stores whose `express-session` is this package (built). */
  readonly aliased: NodeRequire;
  remove(): void;
}

/**
 * A scratch folder as `npm install express-session@npm:@sess/express-session` leaves it: the
 * stores are copied in (a symlink would resolve back into the pnpm store, next to the real
 * express-session), `node_modules/express-session` links to this package.
 */
export function peers(): Peers {
  const dir = mkdtempSync(join(tmpdir(), 'sess-express-session-alias-'));
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  symlinkSync(packageDir, join(modules, 'express-session'), 'dir');
  for (const name of ['connect-redis', 'connect-pg-simple']) {
    const source = packageRoot(name);
    cpSync(source, join(modules, name), {
      recursive: true,
      dereference: true,
      filter: (path) => !path.slice(source.length).includes('node_modules'),
    });
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'alias-scratch', private: true }));
  return {
    installed,
    aliased: createRequire(join(dir, 'index.js')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
