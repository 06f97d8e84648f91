/**
 * The watchdog's queries. The stale query walks the partial index droplets_heartbeat_watch_idx
 * (only ACTIVE_* droplets are in it), so it stays fast at 15,000 droplets; states that are not
 * expected to heartbeat (HIBERNATING, HIBERNATED, WAKING, PROVISIONING, UPDATING) and droplets under
 * remediation (REBOOTING, ZOMBIE, FAILED) are never in it.
 */
import type { Pool } from 'pg';

export interface StaleDroplet {
  dropletId: number;
  workspaceId: string;
  lastHeartbeatAt: string | null;
}

export interface ResourceBreach {
  dropletId: number;
  workspaceId: string;
  kind: 'cpu' | 'memory' | 'disk';
  value: number;
  threshold: number;
}

export interface FleetScan {
  /** Droplets expected to heartbeat (the non-hibernated, non-terminated fleet). */
  eligible: number;
  staleCount: number;
  stale: StaleDroplet[];
  breaches: ResourceBreach[];
  queryMs: number;
}

export async function scanFleet(
  pool: Pool,
  opts: { timeoutS: number; limit: number; cpu: number; memory: number; disk: number },
): Promise<FleetScan> {
  const started = performance.now();
  const [stale, counts, breaches] = await Promise.all([
    pool.query<{ id: string; workspace_id: string; last_heartbeat_at: Date | null }>(
      `SELECT id, workspace_id, last_heartbeat_at FROM droplets
       WHERE state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED')
         AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1))
       ORDER BY last_heartbeat_at NULLS FIRST
       LIMIT $2`,
      [opts.timeoutS, opts.limit],
    ),
    pool.query<{ eligible: number; stale: number }>(
      `SELECT count(*) FILTER (WHERE state NOT IN ('HIBERNATING', 'HIBERNATED', 'PROVISIONING', 'TERMINATED'))::int AS eligible,
              count(*) FILTER (WHERE state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED')
                AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1)))::int AS stale
       FROM droplets`,
      [opts.timeoutS],
    ),
    pool.query<{
      id: string;
      workspace_id: string;
      kind: ResourceBreach['kind'];
      value: number;
      threshold: number;
    }>(
      `SELECT d.id, d.workspace_id, b.kind, b.value, b.threshold FROM droplets d
       CROSS JOIN LATERAL (VALUES ('cpu', d.cpu_percent, $1::real), ('memory', d.memory_percent, $2::real),
                                  ('disk', d.disk_percent, $3::real)) AS b(kind, value, threshold)
       WHERE d.state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED') AND b.value > b.threshold
         AND d.last_heartbeat_at >= now() - make_interval(secs => $4)`,
      [opts.cpu, opts.memory, opts.disk, opts.timeoutS],
    ),
  ]);
  return {
    eligible: counts.rows[0]!.eligible,
    staleCount: counts.rows[0]!.stale,
    stale: stale.rows.map((r) => ({
      dropletId: Number(r.id),
      workspaceId: r.workspace_id,
      lastHeartbeatAt: r.last_heartbeat_at?.toISOString() ?? null,
    })),
    breaches: breaches.rows.map((r) => ({
      dropletId: Number(r.id),
      workspaceId: r.workspace_id,
      kind: r.kind,
      value: r.value,
      threshold: r.threshold,
    })),
    queryMs: performance.now() - started,
  };
}

export interface WatchdogRun {
  workflowId: string;
  eligible: number;
  stale: number;
  breached: number;
  started: number;
  joined: number;
  braked: boolean;
  queryMs: number;
}

export async function recordWatchdogRun(pool: Pool, run: WatchdogRun): Promise<void> {
  await pool.query(
    `INSERT INTO watchdog_runs (workflow_id, eligible, stale, breached, remediations_started, remediations_joined, braked, query_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [run.workflowId, run.eligible, run.stale, run.breached, run.started, run.joined, run.braked, run.queryMs],
  );
}

/** Open resource-breach alert keys, so breaches that cleared can be resolved. */
export async function openBreachAlertKeys(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ key: string }>(
    `SELECT key FROM alerts WHERE status = 'open' AND kind = 'resource_breach'`,
  );
  return rows.map((r) => r.key);
}
