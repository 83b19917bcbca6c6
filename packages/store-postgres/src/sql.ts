/**
 * The SQL the store sends, built once per store for its table. Every write is one statement: the
 * check that refuses a write (no live row, a retired row) is part of its WHERE clause, so nothing
 * runs between the check and the write, and the affected row count is the verdict.
 *
 * Times are epoch ms from the app's clock, passed as parameters, never PostgreSQL's now(): the
 * store and the app agree on when a session ends, and tests can move the clock.
 */
import { createHash } from 'node:crypto';
import { quoteIdentifier } from './layout.js';

/**
 * Most deleted keys a delta removes with `jsonb - text[]`, which compares every key of the row
 * with every deleted key: 5,000 of 10,000 keys took 110 ms that way. Past this, the row's keys
 * are filtered through a hashed NOT IN instead (about 6 ms for those 5,000), which costs a
 * rebuild of the object that a short list does not repay.
 */
const FEW_DELETES = 128;

/** The columns of the table, in the order `migrate` creates them. */
export const COLUMNS = ['id', 'data', 'created_at', 'touched_at', 'meta_expires_at', 'expiry', 'retired', 'expires_at', 'user_id'] as const;

/** The columns a touch writes, with the parameters that hold them. */
const TOUCHED = [
  ['created_at', '$2'],
  ['touched_at', '$3'],
  ['meta_expires_at', '$4'],
  ['expiry', '$5::jsonb'],
  ['retired', '$6'],
  ['expires_at', '$7'],
] as const;

export interface Statements {
  /** The table as SQL names it: `"schema"."table"` or `"table"`. */
  readonly table: string;
  /** Multi-statement text (simple protocol, one implicit transaction): creates what is missing. */
  readonly migrate: string;
  /**
   * $1 the table, $2 and $3 its indexes, as `to_regclass` takes them: whether one is missing, so
   * `migrate` sends no DDL when nothing is. `CREATE INDEX IF NOT EXISTS` takes a SHARE lock on the
   * table before it looks for the index: it waits for every write transaction on the table (or an
   * anti-wraparound vacuum), and every save queues behind it meanwhile.
   */
  readonly incomplete: string;
  /** The indexes as `incomplete` takes them, schema-qualified when the table is. */
  readonly indexes: readonly [string, string];
  /** $1 the table as `to_regclass` takes it: the names of its columns. */
  readonly columns: string;
  /**
   * $1 id, $2 now: the live row. jsonb comes back as text, parsed by the store, whatever type
   * parsers the app set on its pool.
   */
  readonly get: string;
  /**
   * $1 id, $2 data, $3 created_at, $4 touched_at, $5 meta_expires_at, $6 expiry, $7 retired,
   * $8 expires_at, $9 user_id, $10 now. Writes the whole record unless a live, retired row is
   * stored and the new meta is not retired.
   */
  readonly save: string;
  /**
   * $1 id, $2 data to merge, $3 keys to delete, $4..$8 meta as in `save`, $9 expires_at,
   * $10 whether the user id changes, $11 user_id, $12 now. Merges into a live row only, and not
   * into a retired one unless the new meta is retired. Past `FEW_DELETES` deleted keys, the row's
   * keys are filtered through a hashed set of them instead of `jsonb - text[]`.
   */
  readonly delta: string;
  /**
   * $1 id, $2..$6 meta as in `save`, $7 expires_at, $8 now. Same conditions as `delta`. A touch
   * older than the stored meta (its touchedAt earlier) leaves the meta as it is, unless it retires
   * the row: see `touch` below.
   */
  readonly touch: string;
  /** $1 id. */
  readonly destroy: string;
  /**
   * $1 id, $2 now, $3 whether the new meta is retired: a touch that ends the record. Deletes the
   * row, returning whether it was live, unless it is live and retired and $3 is not (the same
   * refusal as `touch`: nothing is deleted, no row is returned).
   */
  readonly destroyLive: string;
  /** $1 now, $2 the last id listed (or null), $3 page size: live ids in order. */
  readonly ids: string;
  readonly clear: string;
  /** $1 user_id, $2 now. */
  readonly sessionsOf: string;
  /** $1 user_id, $2 the id to keep (or null), $3 now: deletes, returning whether each was live. */
  readonly revokeUser: string;
  /** $1 now, $2 batch: deletes up to $2 expired rows. */
  readonly sweep: string;
}

/**
 * A lock key for `pg_advisory_xact_lock`, the same for every process migrating this table, so
 * servers starting together do not race to create it (`CREATE ... IF NOT EXISTS` is not safe
 * against a concurrent create). From the table's name alone: one server may name the schema and
 * another reach the same table through `search_path`. Same-named tables in other schemas then
 * share the key, which only makes their migrations take turns.
 */
function lockKey(tableName: string): string {
  return createHash('sha256').update(`sess:migrate:${tableName}`).digest().readBigInt64BE(0).toString();
}

export function statements(tableName: string, schemaName: string | undefined): Statements {
  const schema = schemaName === undefined ? '' : `${quoteIdentifier(schemaName)}.`;
  const table = schema + quoteIdentifier(tableName);
  const index = (suffix: string) => quoteIdentifier(`${tableName}_${suffix}`);
  return {
    table,
    incomplete: 'SELECT to_regclass($1) IS NULL OR to_regclass($2) IS NULL OR to_regclass($3) IS NULL AS incomplete',
    indexes: [schema + index('expires_at_idx'), schema + index('user_id_idx')],
    migrate: [
      `SELECT pg_advisory_xact_lock(${lockKey(tableName)})`,
      `CREATE TABLE IF NOT EXISTS ${table} (
  id text PRIMARY KEY,
  data jsonb NOT NULL,
  created_at bigint NOT NULL,
  touched_at bigint NOT NULL,
  meta_expires_at bigint NOT NULL,
  expiry jsonb,
  retired boolean NOT NULL DEFAULT false,
  expires_at bigint NOT NULL,
  user_id text
)`,
      `CREATE INDEX IF NOT EXISTS ${index('expires_at_idx')} ON ${table} (expires_at)`,
      `CREATE INDEX IF NOT EXISTS ${index('user_id_idx')} ON ${table} (user_id) WHERE user_id IS NOT NULL`,
    ].join(';\n'),
    columns: 'SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped',
    get: `SELECT data::text AS data, created_at, touched_at, meta_expires_at, expiry::text AS expiry, retired FROM ${table} WHERE id = $1 AND expires_at > $2`,
    save: `INSERT INTO ${table} AS s (${COLUMNS.join(', ')})
VALUES ($1, $2::jsonb, $3, $4, $5, $6::jsonb, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET
  data = EXCLUDED.data, created_at = EXCLUDED.created_at, touched_at = EXCLUDED.touched_at,
  meta_expires_at = EXCLUDED.meta_expires_at, expiry = EXCLUDED.expiry, retired = EXCLUDED.retired,
  expires_at = EXCLUDED.expires_at, user_id = EXCLUDED.user_id
WHERE EXCLUDED.retired OR NOT s.retired OR s.expires_at <= $10`,
    delta: `UPDATE ${table} SET
  data = CASE WHEN cardinality($3::text[]) <= ${FEW_DELETES} THEN data - $3::text[] ELSE coalesce(
    (SELECT jsonb_object_agg(kept.key, kept.value) FROM jsonb_each(data) AS kept WHERE kept.key NOT IN (SELECT unnest($3::text[]))),
    '{}') END || $2::jsonb,
  created_at = $4, touched_at = $5, meta_expires_at = $6, expiry = $7::jsonb, retired = $8, expires_at = $9,
  user_id = CASE WHEN $10 THEN $11 ELSE user_id END
WHERE id = $1 AND expires_at > $12 AND ($8 OR NOT retired)`,
    // A touch computed before a save but reaching the row after it (it waited on the row's lock, or
    // its connection was slower) would put back the meta that save replaced: an earlier expiry, the
    // old setExpiry. So the meta changes only when the touch is at least as recent as the stored
    // one; the row is live all the same, so the touch still counts (a refusal would tell core the
    // session is dead). Retiring keeps the loaded, older touchedAt, and must always apply.
    touch: `UPDATE ${table} SET
  ${TOUCHED.map(([column, value]) => `${column} = CASE WHEN $6 OR touched_at <= $3 THEN ${value} ELSE ${column} END`).join(',\n  ')}
WHERE id = $1 AND expires_at > $8 AND ($6 OR NOT retired)`,
    destroy: `DELETE FROM ${table} WHERE id = $1`,
    destroyLive: `DELETE FROM ${table} WHERE id = $1 AND ($3 OR NOT retired OR expires_at <= $2) RETURNING expires_at > $2 AS live`,
    ids: `SELECT id FROM ${table} WHERE expires_at > $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    clear: `DELETE FROM ${table}`,
    sessionsOf: `SELECT id, created_at, touched_at, meta_expires_at FROM ${table} WHERE user_id = $1 AND expires_at > $2`,
    revokeUser: `DELETE FROM ${table} WHERE user_id = $1 AND id IS DISTINCT FROM $2 RETURNING expires_at > $3 AS live`,
    // SKIP LOCKED: servers sweeping at once take different rows, and a row a save is writing is
    // left alone. The outer condition is checked again on the row as it is when deleted, so a
    // row a save revived between the two is kept.
    sweep: `DELETE FROM ${table} WHERE id IN (
  SELECT id FROM ${table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
) AND expires_at <= $1`,
  };
}
