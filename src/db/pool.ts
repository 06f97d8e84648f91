/** The Postgres pool. One per process; every query elsewhere takes it (or a client) as a parameter. */
import { Pool, type ClientBase, type PoolConfig } from 'pg';
import type { Logger } from '../logger';
import { schemaIdent } from './schema';

export interface DatabaseTarget {
  url: string;
  /** the control plane's schema (DATABASE_SCHEMA), set as search_path on every connection */
  schema: string;
}

/** pg-pool awaits onConnect before handing the connection out (@types/pg declares it void). */
export interface SearchPathOptions {
  onConnect: (client: ClientBase) => Promise<void>;
}

/**
 * Pool options that pin a schema as the search_path of every connection the pool opens: a `SET`
 * run before the connection is handed out (a failure fails that connect). A SET, not the
 * `options=-c search_path=...` startup parameter: poolers (Supavisor, PgBouncer) drop or refuse
 * startup options, while a SET holds for the connection's life on a direct connection and in
 * Supavisor's session mode. Transaction mode shares a server connection between clients, so no
 * session setting holds there: config refuses that URL (src/config.ts).
 */
export function searchPathOptions(schema: string): SearchPathOptions {
  const sql = `SET search_path TO ${schemaIdent(schema)}`;
  return {
    onConnect: async (client) => {
      await client.query(sql);
    },
  };
}

export function createPool(db: DatabaseTarget, logger: Logger, extra: PoolConfig = {}): Pool {
  const pool = new Pool({
    connectionString: db.url,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'genesis-control-plane',
    ...extra,
    ...searchPathOptions(db.schema),
  });
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'postgres idle client error'));
  return pool;
}

/** One round trip: throws when the database cannot answer. */
export async function pingDatabase(pool: Pick<Pool, 'query'>): Promise<void> {
  await pool.query('SELECT 1');
}
