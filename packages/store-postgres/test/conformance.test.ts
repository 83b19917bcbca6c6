import { beforeAll } from 'vitest';
import { runStoreConformance } from '@sess/store-test';
import { postgresStore, type PostgresStoreOptions } from '../src/index.js';
import { describeDb } from './db.js';

// The store's clock, shared with the suite: it advances it to move past TTLs without sleeping.
let now = Date.UTC(2026, 0, 1);
const clock = { advance: (ms: number) => void (now += ms) };

/** Each run its own table in this file's schema; the real-time run uses the default clock. */
const RUNS: readonly { name: string; options: Partial<PostgresStoreOptions>; fakeClock: boolean }[] = [
  { name: 'postgres', options: {}, fakeClock: true },
  { name: 'postgres, hashIds', options: { hashIds: true }, fakeClock: true },
  { name: 'postgres, real time', options: {}, fakeClock: false },
];

describeDb('conformance on PostgreSQL', (db) => {
  for (const [index, run] of RUNS.entries()) {
    const options = (tableName = `conformance_${index}`) => ({
      pool: db.pool,
      schemaName: db.schema,
      tableName,
      ...run.options,
      ...(run.fakeClock ? { clock: () => now } : {}),
    });
    // The sibling: the same schema and pool, another table.
    const siblingOptions = () => options(`conformance_${index}_sibling`);
    beforeAll(async () => {
      await postgresStore(options()).migrate();
      await postgresStore(siblingOptions()).migrate();
    });
    runStoreConformance({
      name: run.name,
      create: () => postgresStore(options()),
      createSibling: () => postgresStore(siblingOptions()),
      // The suite's checks use their own ids; clearing the table keeps each check's leftovers out of the next.
      cleanup: (store) => store.clear?.(),
      ...(run.fakeClock ? { clock } : {}),
    });
  }
});
