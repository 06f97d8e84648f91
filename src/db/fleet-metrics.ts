/**
 * What the fleet's /metrics reads from Postgres on a scrape (src/observability/fleet-metrics.ts):
 * droplets by state and stale, the latest watchdog run, rollout progress, open alerts. Cheap
 * indexed queries only.
 */
import type { Queryable } from './queryable';

export interface FleetMetricsRows {
  droplets: { state: string; n: number }[];
  stale: number;
  active: number;
  watchdog?: {
    at: Date;
    eligible: number;
    stale: number;
    breached: number;
    remediations_started: number;
    braked: boolean;
    query_ms: number;
  };
  rollouts: { status: string; n: number }[];
  rolloutTenants: {
    id: string;
    total_tenants: number;
    succeeded: number;
    failed: number;
    rolled_back: number;
    skipped: number;
  }[];
  alerts: { severity: string; n: number }[];
}

export async function readFleetMetricsRows(pool: Queryable, staleAfterS: number): Promise<FleetMetricsRows> {
  const q = <T extends object>(sql: string, params: unknown[] = []) =>
    pool.query<T>(sql, params).then((r) => r.rows);
  const [droplets, stale, watchdog, rollouts, rolloutTenants, alerts] = await Promise.all([
    q<{ state: string; n: number }>(
      'SELECT state::text AS state, count(*)::int AS n FROM droplets GROUP BY state',
    ),
    q<{ stale: number; active: number }>(
      `SELECT count(*) FILTER (WHERE last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1))::int AS stale,
                count(*)::int AS active
           FROM droplets WHERE state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED')`,
      [staleAfterS],
    ),
    q<NonNullable<FleetMetricsRows['watchdog']>>(
      `SELECT at, eligible, stale, breached, remediations_started, braked, query_ms
           FROM watchdog_runs ORDER BY id DESC LIMIT 1`,
    ),
    q<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM rollouts GROUP BY status'),
    q<FleetMetricsRows['rolloutTenants'][number]>(
      `SELECT id, total_tenants, succeeded, failed, rolled_back, skipped FROM rollouts
          WHERE status IN ('running', 'paused') ORDER BY created_at DESC LIMIT 20`,
    ),
    q<{ severity: string; n: number }>(
      `SELECT severity, count(*)::int AS n FROM alerts WHERE status = 'open' GROUP BY severity`,
    ),
  ]);
  return {
    droplets,
    stale: stale[0]?.stale ?? 0,
    active: stale[0]?.active ?? 0,
    watchdog: watchdog[0],
    rollouts,
    rolloutTenants,
    alerts,
  };
}
