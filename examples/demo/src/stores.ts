/**
 * The session store, picked by `server.ts`: memory by default, Redis with `REDIS_URL`,
 * PostgreSQL with `DATABASE_URL`. A store that can't be reached at start-up ends the demo with
 * one message naming the variable to fix, instead of retrying in the background forever.
 */
import pg from 'pg';
import { createClient } from 'redis';
import { type MemoryStore, memoryStore } from '@sess/store-memory';
import { type PostgresStore, postgresStore } from '@sess/store-postgres';
import { type RedisStore, redisStore } from '@sess/store-redis';

export type SessionStore = MemoryStore | RedisStore | PostgresStore;
export const STORES = ['memory', 'redis', 'postgres'] as const;
export type StoreKind = (typeof STORES)[number];

export interface OpenStore {
  readonly store: SessionStore;
  /** "Redis at redis://127.0.0.1:6379" */
  readonly label: string;
  close(): Promise<void>;
}

/** Said when the demo can't start; `server.ts` prints the message and exits with 1. */
export class StartupError extends Error {}

/** How long to wait for a server that doesn't answer at all (a wrong host, a firewall). */
const CONNECT_TIMEOUT_MS = 3000;

export async function openStore(kind: StoreKind, url: string | undefined): Promise<OpenStore> {
  if (kind === 'memory') {
    const store = memoryStore();
    return { store, label: 'the memory store', close: () => store.close() };
  }
  const variable = kind === 'redis' ? 'REDIS_URL' : 'DATABASE_URL';
  if (url === undefined) throw new StartupError(`--store ${kind} needs ${variable} (for example ${variable}=${EXAMPLES[kind]})`);
  return kind === 'redis' ? openRedis(url) : openPostgres(url);
}

const EXAMPLES = { redis: 'redis://127.0.0.1:6379', postgres: 'postgres://postgres@127.0.0.1:5432/test' } as const;

async function openRedis(url: string): Promise<OpenStore> {
  let connected = false;
  try {
    const client = createClient({
      url,
      // While Redis is down, commands fail at once (a 503) instead of waiting in a queue.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        // Before the first connection, give up at once: connect() rejects and the demo says why.
        // Once connected, ride out a Redis restart, retrying at most every 2 s.
        reconnectStrategy: (retries, cause) => (connected ? Math.min(retries * 100, 2000) : cause),
      },
    });
    client.on('ready', () => {
      connected = true;
    });
    // node-redis crashes the process on an 'error' nobody listens to. Before the first
    // connection the same error rejects connect(), and is reported there, once.
    client.on('error', (error: Error) => {
      if (connected) console.error(`redis: ${error.message}`);
    });
    await client.connect();
    return { store: redisStore({ client, prefix: 'sess-demo:' }), label: `Redis at ${withoutPassword(url)}`, close: () => client.close() };
  } catch (error) {
    throw new StartupError(`cannot reach Redis at REDIS_URL=${withoutPassword(url)}: ${reasonOf(error)}`);
  }
}

async function openPostgres(url: string): Promise<OpenStore> {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  // An idle connection the server drops is reported here; without a listener it would crash the demo.
  pool.on('error', (error) => console.error(`postgres: ${error.message}`));
  // A table of its own, so the demo never touches an app's sessions in the same database.
  const store = postgresStore({ pool, tableName: 'sess_demo_sessions' });
  try {
    // The store never creates its table on its own: migrate() is the explicit step (idempotent).
    await store.migrate();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new StartupError(`cannot use PostgreSQL at DATABASE_URL=${withoutPassword(url)}: ${reasonOf(error)}`);
  }
  return {
    store,
    label: `PostgreSQL at ${withoutPassword(url)}`,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}

/** The URL as it may be printed: a password in it is masked. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}

/** A connection error's message; Node reports a refused `localhost` (two addresses) as an AggregateError without one. */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  if (!(error instanceof Error)) return String(error);
  // A store's failure (`store_failed`) names its call; the driver's error behind it says what to fix.
  if ((error as { code?: unknown }).code === 'store_failed' && error.cause !== undefined) return reasonOf(error.cause);
  return error.message || (error as { code?: string }).code || error.name;
}
