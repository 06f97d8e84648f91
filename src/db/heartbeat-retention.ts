/**
 * Heartbeat history retention: one partition per UTC day, created a few days ahead, dropped whole
 * once older than the retention. 15,000 agents every 30 s write 43 M rows a day; dropping a
 * partition is instant where a DELETE of that many rows would bloat the table for hours.
 * Rows that reached the default partition (a day not created in time, clock-skewed agents) are
 * moved into their day's partition when it is created, and deleted in batches once too old.
 * Two processes never do it at once: a transaction-scoped advisory lock guards every step.
 * The same upkeep serves every day-partitioned history (`DailyPartitionedTable`): the fleet
 * probe's probe_history is the other one.
 */
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from './transaction';

const DAY_MS = 86_400_000;

/** A history table partitioned by UTC day on `column`, with a `<name>_default` partition. */
export interface DailyPartitionedTable {
  name: string;
  column: string;
  /** the advisory lock of its upkeep */
  lock: number;
}

export const HEARTBEAT_HISTORY: DailyPartitionedTable = {
  name: 'heartbeat_history',
  column: 'observed_at',
  lock: 727_002,
};

export interface RetentionResult {
  created: string[];
  dropped: string[];
  movedFromDefault: number;
  deletedFromDefault: number;
}

export function partitionName(day: Date, table: DailyPartitionedTable = HEARTBEAT_HISTORY): string {
  return `${table.name}_p${day.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

function utcDay(ms: number): Date {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS);
}

export interface RetentionOptions {
  retentionDays: number;
  daysAhead?: number;
  now?: Date;
  deleteBatch?: number;
}

export function maintainHeartbeatHistory(pool: Pool, opts: RetentionOptions): Promise<RetentionResult> {
  return maintainDailyPartitions(pool, HEARTBEAT_HISTORY, opts);
}

export async function maintainDailyPartitions(
  pool: Pool,
  table: DailyPartitionedTable,
  opts: RetentionOptions,
): Promise<RetentionResult> {
  const now = (opts.now ?? new Date()).getTime();
  const result: RetentionResult = { created: [], dropped: [], movedFromDefault: 0, deletedFromDefault: 0 };
  const oldestKept = utcDay(now - opts.retentionDays * DAY_MS);
  const batch = opts.deleteBatch ?? 10_000;
  const client = await pool.connect();
  try {
    // Each step is one transaction holding the lock (transaction-scoped: it ends with the
    // transaction, whatever pooler is in between); another process holding it means it is doing
    // this right now, so this one stops. Every step reads the partitions again under the lock.
    for (let d = 0; d <= (opts.daysAhead ?? 3); d++) {
      const day = utcDay(now + d * DAY_MS);
      const name = partitionName(day, table);
      const step = await underRetentionLock(client, table, async () => {
        if ((await partitions(client, table)).has(name)) return;
        result.movedFromDefault += await createDayPartition(client, table, day, name);
        result.created.push(name);
      });
      if (!step) return result;
    }
    const dayOf = new RegExp(`^${table.name}_p(\\d{4})(\\d{2})(\\d{2})$`);
    for (const name of await partitions(client, table)) {
      const m = dayOf.exec(name);
      if (!m) continue;
      const day = new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
      if (day.getTime() >= oldestKept.getTime()) continue;
      const step = await underRetentionLock(client, table, async () => {
        if (!(await partitions(client, table)).has(name)) return;
        await client.query(`DROP TABLE ${name}`);
        result.dropped.push(name);
      });
      if (!step) return result;
    }
    for (let more = true; more;) {
      const step = await underRetentionLock(client, table, async () => {
        const del = await client.query(
          `DELETE FROM ${table.name}_default WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM ${table.name}_default WHERE ${table.column} < $1 LIMIT $2))`,
          [oldestKept.toISOString(), batch],
        );
        result.deletedFromDefault += del.rowCount ?? 0;
        more = (del.rowCount ?? 0) >= batch;
      });
      if (!step) return result;
    }
    return result;
  } finally {
    client.release();
  }
}

/** Runs fn in a transaction holding the retention lock; false (nothing run) when another holds it. */
async function underRetentionLock(
  client: PoolClient,
  table: DailyPartitionedTable,
  fn: () => Promise<void>,
): Promise<boolean> {
  return inTransaction(client, async () => {
    const locked = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
      table.lock,
    ]);
    if (locked.rows[0]?.ok) await fn();
    return locked.rows[0]?.ok === true;
  });
}

/** Partitions of the table (the one search_path resolves: the control plane's schema). */
async function partitions(client: PoolClient, table: DailyPartitionedTable): Promise<Set<string>> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = $1::regclass`,
    [table.name],
  );
  return new Set(rows.map((r) => r.name));
}

/** Creates one day's partition, moving rows the default partition already holds for that day. */
async function createDayPartition(
  client: PoolClient,
  table: DailyPartitionedTable,
  day: Date,
  name: string,
): Promise<number> {
  const from = day.toISOString();
  const to = new Date(day.getTime() + DAY_MS).toISOString();
  await client.query(`CREATE TABLE ${name} (LIKE ${table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
  const moved = await client.query(
    `WITH moved AS (DELETE FROM ${table.name}_default WHERE ${table.column} >= $1 AND ${table.column} < $2 RETURNING *)
     INSERT INTO ${name} SELECT * FROM moved`,
    [from, to],
  );
  await client.query(
    `ALTER TABLE ${table.name} ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`,
  );
  return moved.rowCount ?? 0;
}
