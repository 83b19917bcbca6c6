/** The part of connect-pg-simple 10 the bench uses (the package ships no types). */
declare module 'connect-pg-simple' {
  import type expressSession from 'express-session';
  import type { Pool } from 'pg';

  interface PgStoreOptions {
    pool?: Pool;
    schemaName?: string;
    tableName?: string;
    createTableIfMissing?: boolean;
  }

  export default function connectPgSimple(session: typeof expressSession): new (options?: PgStoreOptions) => expressSession.Store;
}
