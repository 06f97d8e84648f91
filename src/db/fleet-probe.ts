/**
 * The fleet probe's statements: the droplets of one slice (ACTIVE only: hibernated, transitional
 * and failed droplets are never probed), the results of a slice in one statement (latest on the
 * droplet, every result in probe_history), the open probe alerts of a slice's droplets, the run
 * summary, and the history's upkeep (day partitions, like heartbeat_history).
 */
import type { Pool } from 'pg';
import type { ProbeProblem, ProbeVerdict } from '../domain/fleet-probe';
import type { DropletState } from '../domain/droplet-state';
import {
  maintainDailyPartitions,
  type DailyPartitionedTable,
  type RetentionOptions,
} from './heartbeat-retention';

export const PROBE_HISTORY: DailyPartitionedTable = {
  name: 'probe_history',
  column: 'probed_at',
  lock: 727_010,
};

export interface ProbeTarget {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  sidecarUrl: string | null;
  agentDropletId: string | null;
}

/** The ACTIVE droplets of slice `slice` of `slices` (droplet id modulo slices), by id. */
export async function probeTargets(
  pool: Pool,
  opts: { slice: number; slices: number },
): Promise<ProbeTarget[]> {
  const { rows } = await pool.query<{
    id: string;
    workspace_id: string;
    state: DropletState;
    sidecar_url: string | null;
    agent_droplet_id: string | null;
  }>(
    `SELECT id, workspace_id, state, sidecar_url, agent_droplet_id FROM droplets
      WHERE state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED') AND id % $2 = $1
      ORDER BY id`,
    [opts.slice, opts.slices],
  );
  return rows.map((r) => ({
    dropletId: Number(r.id),
    workspaceId: r.workspace_id,
    state: r.state,
    sidecarUrl: r.sidecar_url,
    agentDropletId: r.agent_droplet_id,
  }));
}

export interface ProbeRecord {
  dropletId: number;
  workspaceId: string;
  probedAt: Date;
  verdict: ProbeVerdict;
  problems: ProbeProblem[];
  n8nStatus?: string;
  containerStatus?: string;
  cpuPercent?: number;
  memoryPercent?: number;
  executionsTotal?: number;
  executionsFailed?: number;
  latencyMs?: number;
  error?: string;
}

/**
 * Writes a slice's results: every one to probe_history; the latest onto droplets still ACTIVE
 * (one that started hibernating meanwhile keeps its row as it is). CPU and memory (the n8n
 * container's, from docker) are written where the agent reported them, so the watchdog's resource
 * thresholds see them; n8n_status is the probe's word. Returns the ACTIVE droplets written, with
 * their state.
 */
export async function recordProbeResults(
  pool: Pool,
  records: readonly ProbeRecord[],
): Promise<{ dropletId: number; state: DropletState }[]> {
  if (records.length === 0) return [];
  const col = <T>(f: (r: ProbeRecord) => T) => records.map(f);
  const { rows } = await pool.query<{ id: string; state: DropletState }>(
    `WITH input AS (
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                            $6::text[], $7::text[], $8::real[], $9::real[], $10::int[], $11::int[],
                            $12::real[], $13::text[])
         AS t(droplet_id, workspace_id, probed_at, verdict, problems, n8n_status, container_status,
              cpu_percent, memory_percent, executions_total, executions_failed, latency_ms, error)
     ), hist AS (
       INSERT INTO probe_history (droplet_id, workspace_id, probed_at, verdict, problems, n8n_status,
                                  container_status, cpu_percent, memory_percent, executions_total,
                                  executions_failed, latency_ms, error)
       SELECT droplet_id, workspace_id, probed_at, verdict, string_to_array(problems, ','), n8n_status,
              container_status, cpu_percent, memory_percent, executions_total, executions_failed,
              latency_ms, error
         FROM input
       ON CONFLICT DO NOTHING
     )
     UPDATE droplets d SET
       probed_at = i.probed_at,
       probe_verdict = i.verdict,
       probe_problems = string_to_array(i.problems, ','),
       probe_container_status = i.container_status,
       probe_error = i.error,
       executions_total = i.executions_total,
       executions_failed = i.executions_failed,
       n8n_status = COALESCE(i.n8n_status, d.n8n_status),
       cpu_percent = COALESCE(i.cpu_percent, d.cpu_percent),
       memory_percent = COALESCE(i.memory_percent, d.memory_percent),
       updated_at = now()
     FROM input i
     WHERE d.id = i.droplet_id AND d.state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED')
       AND (d.probed_at IS NULL OR d.probed_at <= i.probed_at)
     RETURNING d.id, d.state`,
    [
      col((r) => r.dropletId),
      col((r) => r.workspaceId),
      col((r) => r.probedAt),
      col((r) => r.verdict),
      col((r) => r.problems.join(',')),
      col((r) => r.n8nStatus ?? null),
      col((r) => r.containerStatus ?? null),
      col((r) => r.cpuPercent ?? null),
      col((r) => r.memoryPercent ?? null),
      col((r) => r.executionsTotal ?? null),
      col((r) => r.executionsFailed ?? null),
      col((r) => r.latencyMs ?? null),
      col((r) => r.error ?? null),
    ],
  );
  return rows.map((r) => ({ dropletId: Number(r.id), state: r.state }));
}

/** Open alerts of these kinds on these droplets (so the probe resolves those that cleared). */
export async function openProbeAlerts(
  pool: Pool,
  opts: { dropletIds: readonly number[]; kinds: readonly string[] },
): Promise<{ key: string; dropletId: number; kind: string }[]> {
  if (opts.dropletIds.length === 0) return [];
  const { rows } = await pool.query<{ key: string; droplet_id: string; kind: string }>(
    `SELECT key, droplet_id, kind FROM alerts
      WHERE status = 'open' AND kind = ANY($2::text[]) AND droplet_id = ANY($1::bigint[])`,
    [opts.dropletIds, opts.kinds],
  );
  return rows.map((r) => ({ key: r.key, dropletId: Number(r.droplet_id), kind: r.kind }));
}

export interface ProbeRun {
  workflowId: string;
  startedAt: Date;
  periodS: number;
  probed: number;
  answered: number;
  healthy: number;
  degraded: number;
  unreachable: number;
  skippedBusy: number;
  braked: boolean;
}

/** Records a run, with the p99 of its probes' latency (from the history since it started). */
export async function recordProbeRun(pool: Pool, run: ProbeRun): Promise<{ p99LatencyMs: number | null }> {
  const { rows } = await pool.query<{ p99: number | null }>(
    `INSERT INTO fleet_probe_runs (workflow_id, started_at, period_s, probed, answered, healthy, degraded,
                                   unreachable, skipped_busy, braked, p99_latency_ms)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
            (SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) FROM probe_history
              WHERE probed_at >= $2 AND latency_ms IS NOT NULL)
     RETURNING p99_latency_ms AS p99`,
    [
      run.workflowId,
      run.startedAt,
      run.periodS,
      run.probed,
      run.answered,
      run.healthy,
      run.degraded,
      run.unreachable,
      run.skippedBusy,
      run.braked,
    ],
  );
  return { p99LatencyMs: rows[0]?.p99 ?? null };
}

/** probe_history's day partitions: created ahead, dropped after the retention. */
export function maintainProbeHistory(pool: Pool, opts: RetentionOptions) {
  return maintainDailyPartitions(pool, PROBE_HISTORY, opts);
}
