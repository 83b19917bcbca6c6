/**
 * An app moving from connect-pg-simple that points `tableName` at connect-pg-simple's table (its
 * `session`, or the `tableName` it gave connect-pg-simple) and skips `migrate()`, which would have
 * refused it: no call may touch that table's rows, and each failure must say what is wrong.
 */
import { expect, it } from 'vitest';
import { SessConfigError, SessStoreError } from '@sess/core';
import { freshId, makeRecord } from '@sess/store-test';
import { postgresStore } from '../src/index.js';
import { describeDb } from './db.js';

/** connect-pg-simple 10's table.sql, in a schema. */
const connectPgSimpleTable = (schema: string) => `CREATE TABLE ${schema}.session (
  sid varchar NOT NULL COLLATE "default" PRIMARY KEY,
  sess json NOT NULL,
  expire timestamp(6) NOT NULL
)`;

describeDb("connect-pg-simple's table given as tableName", (db) => {
  const oldRows = async () => Number((await db.pool.query(`SELECT count(*) AS n FROM ${db.schema}.session`)).rows[0].n);

  it('leaves its rows alone and says what the table is, from clear() and every session call', async () => {
    await db.pool.query(connectPgSimpleTable(db.schema));
    // What connect-pg-simple writes for an express-session session.
    await db.pool.query(`INSERT INTO ${db.schema}.session (sid, sess, expire) VALUES ($1, $2, now() + interval '1 day')`, [
      'AbCdEfGhIjKlMnOpQrStUvWxYz012345',
      JSON.stringify({ cookie: { originalMaxAge: 86_400_000, httpOnly: true, path: '/' }, userId: 'u1' }),
    ]);
    const store = postgresStore({ pool: db.pool, schemaName: db.schema, tableName: 'session', sweepIntervalMs: 0 });

    // clear() would otherwise DELETE every row of a table that is not sess's.
    await expect(store.clear()).rejects.toThrow(SessConfigError);
    await expect(store.clear()).rejects.toThrow(/connect-pg-simple's \(sid, sess, expire\)/);
    expect(await oldRows()).toBe(1);

    const id = freshId();
    const record = makeRecord({ a: 1 }, Date.now());
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(id)],
      ['set', () => store.set(id, record, 60_000)],
      ['touch', () => store.touch(id, record.meta, 60_000)],
      ['destroy', () => store.destroy(id)],
      ['sweep', () => store.sweep()],
    ];
    for (const [method, call] of calls) {
      const error = await call().then(
        () => expect.unreachable(`${method} resolved`),
        (caught: unknown) => caught,
      );
      expect(error, method).toBeInstanceOf(SessStoreError);
      // PostgreSQL's own words ("column "data" does not exist") do not say the table is the wrong one.
      expect((error as Error).message, method).toMatch(/not a sess table.*await store\.migrate\(\)/);
    }
    expect(await oldRows()).toBe(1);
  });
});

it("names the schema and the table apart for connect-pg-simple's old 'schema\".\"table' tableName", () => {
  const pool = { query: () => Promise.reject(new Error('no query expected')) };
  expect(() => postgresStore({ pool, tableName: 'auth"."session' })).toThrow(/pass \{ schemaName: 'auth', tableName: 'session' \}/);
  expect(() => postgresStore({ pool, tableName: 'auth.session' })).toThrow(/pass \{ schemaName: 'auth', tableName: 'session' \}/);
});
