/** What a statement runs on: the pool, or a client inside a transaction. */
import type { Pool, PoolClient } from 'pg';

export type Queryable = Pick<Pool | PoolClient, 'query'>;
