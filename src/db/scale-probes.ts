/**
 * What the scale probes read from Postgres (src/scale/probes.ts turns it into results). Table names
 * go to to_regclass as parameters, never spliced into SQL.
 */
import type { Pool } from 'pg';
import type { Queryable } from './queryable';

/** The table's relkind and its direct partitions (pg_inherits); undefined when it does not exist. */
export async function tablePartitions(
  db: Queryable,
  table: string,
): Promise<{ relkind: string; partitions: number } | undefined> {
  const { rows } = await db.query<{ relkind: string; partitions: number }>(
    `SELECT c.relkind, (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid)::int AS partitions
     FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [table],
  );
  return rows[0];
}

/**
 * The planner's row estimate of a table (pg_class.reltuples, summed over the leaf partitions of a
 * partitioned table), with how many leaves were never analyzed; undefined when it does not exist.
 */
export async function tableRowEstimate(
  db: Queryable,
  table: string,
): Promise<{ relkind: string; estimate: number; leaves: number; unanalyzed: number } | undefined> {
  const { rows } = await db.query<{
    relkind: string;
    estimate: number;
    leaves: number;
    unanalyzed: number;
  }>(
    `WITH t AS (SELECT c.oid, c.relkind, c.reltuples FROM pg_class c WHERE c.oid = to_regclass($1)),
          leaves AS (
            SELECT p.reltuples FROM t, pg_partition_tree(t.oid) pt JOIN pg_class p ON p.oid = pt.relid
            WHERE t.relkind = 'p' AND pt.isleaf
            UNION ALL
            SELECT t.reltuples FROM t WHERE t.relkind <> 'p')
     SELECT t.relkind,
            (SELECT coalesce(sum(greatest(reltuples, 0)), 0) FROM leaves)::float8 AS estimate,
            (SELECT count(*) FROM leaves)::int AS leaves,
            (SELECT count(*) FILTER (WHERE reltuples < 0) FROM leaves)::int AS unanalyzed
     FROM t`,
    [table],
  );
  return rows[0];
}

/** Client connections in use and the server's max_connections. */
export async function clientConnections(db: Queryable): Promise<{ used: number; max: number }> {
  const { rows } = await db.query<{ used: number; max: number }>(
    `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS used,
            current_setting('max_connections')::int AS max`,
  );
  return rows[0]!;
}

/** The database's size and its five largest tables (bytes as text: they exceed 2^53 in theory). */
export async function databaseSize(
  db: Queryable,
): Promise<{ bytes: string; largest: { name: string; bytes: string }[] }> {
  const [size, largest] = await Promise.all([
    db.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes'),
    db.query<{ name: string; bytes: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname NOT LIKE 'pg_toast%'
       ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 5`,
    ),
  ]);
  return { bytes: size.rows[0]!.bytes, largest: largest.rows };
}

/**
 * Droplets expected to heartbeat and those of them whose heartbeat is older than staleAfterS: the
 * same eligibility and staleness rules as the watchdog's scan (./watchdog.ts).
 */
export async function fleetStaleCounts(
  db: Queryable,
  staleAfterS: number,
): Promise<{ eligible: number; stale: number }> {
  const { rows } = await db.query<{ eligible: number; stale: number }>(
    `SELECT count(*) FILTER (WHERE state NOT IN ('HIBERNATING', 'HIBERNATED', 'PROVISIONING', 'TERMINATED'))::int AS eligible,
            count(*) FILTER (WHERE state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED')
              AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1)))::int AS stale
     FROM droplets`,
    [staleAfterS],
  );
  return rows[0]!;
}

export function scaleProbeQueries(db: Pool) {
  return {
    tablePartitions: (table: string) => tablePartitions(db, table),
    tableRowEstimate: (table: string) => tableRowEstimate(db, table),
    clientConnections: () => clientConnections(db),
    databaseSize: () => databaseSize(db),
    fleetStaleCounts: (staleAfterS: number) => fleetStaleCounts(db, staleAfterS),
  };
}

export type ScaleProbeQueries = ReturnType<typeof scaleProbeQueries>;
