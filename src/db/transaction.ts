/**
 * The one BEGIN / COMMIT / ROLLBACK. `fn` runs inside the transaction; its result commits, a throw
 * rolls back (a failing ROLLBACK is ignored: the connection is broken and the original error says
 * why) and is rethrown.
 */
import type { Pool, PoolClient } from 'pg';

/** Runs fn in a transaction on a connection the caller already holds (it stays the caller's). */
export async function inTransaction<T>(
  client: PoolClient,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Runs fn in a transaction on a connection of its own from the pool, released afterwards. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await inTransaction(client, fn);
  } finally {
    client.release();
  }
}
