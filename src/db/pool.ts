/** The Postgres pool. One per process; every query elsewhere takes it (or a client) as a parameter. */
import { Pool, type PoolConfig } from 'pg';
import type { Logger } from '../logger';

export function createPool(url: string, logger: Logger, extra: PoolConfig = {}): Pool {
  const pool = new Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'genesis-control-plane',
    ...extra,
  });
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'postgres idle client error'));
  return pool;
}
