/**
 * Rollouts in Postgres: the plan (every target tenant and its wave), per-target outcomes and the
 * counters the dashboard reads (rollouts, rollout_waves). The workflow's history holds one wave at
 * a time; this is the whole record.
 */
import type { Pool } from 'pg';
import { withTransaction } from './transaction';
import type {
  RolloutKind,
  RolloutSelector,
  RolloutStatusName,
  RolloutTarget,
  TargetResult,
} from '../domain/rollout';

export interface PlanRolloutRequest {
  rolloutId: string;
  kind: RolloutKind;
  targetVersion: string;
  /** the component whose version decides "already there": 'n8n' or 'workflow:<name>' */
  component: string;
  selector: RolloutSelector;
  canarySize: number;
  waveSize: number;
  workflowId: string;
  /** what the dashboard shows of the request (never a workflow JSON or a credential) */
  spec: Record<string, unknown>;
}

export interface RolloutPlan {
  totalTenants: number;
  totalWaves: number;
  skipped: number;
  /** false when the rollout was planned by an earlier attempt (the plan is never redone) */
  created: boolean;
}

/** Droplets a rollout may change; the rest are recorded as skipped with their state. */
const UPDATABLE_STATE = 'ACTIVE_HEALTHY';

/**
 * Resolves the selector to droplets and assigns waves, once: a retried or repeated call returns
 * the plan already stored. Order inside the plan is a hash of rollout id and droplet id, so the
 * canary is a spread sample of the fleet, not its oldest tenants.
 */
export async function planRollout(pool: Pool, req: PlanRolloutRequest): Promise<RolloutPlan> {
  return withTransaction(pool, async (db) => {
    const inserted = await db.query(
      `INSERT INTO rollouts (id, kind, target_version, spec, status, workflow_id)
       VALUES ($1, $2, $3, $4, 'running', $5) ON CONFLICT (id) DO NOTHING`,
      [req.rolloutId, req.kind, req.targetVersion, JSON.stringify(req.spec), req.workflowId],
    );
    if (inserted.rowCount === 1) {
      const { where, params } = selectorSql(req.selector, 4);
      // versions are the control plane's own record (no v1 agent reports one): a workflow's in
      // tenant_versions, the n8n tag there or, before any update, the droplet's provisioned tag
      const recorded = `(SELECT tv.version FROM tenant_versions tv
                          WHERE tv.workspace_id = d.workspace_id AND tv.component = $3::text)`;
      const current = req.kind === 'n8n' ? `coalesce(${recorded}, d.n8n_version)` : recorded;
      await db.query(
        `WITH chosen AS (
           SELECT d.id, d.workspace_id, d.state, ${current} AS current_version
             FROM droplets d JOIN workspaces w ON w.id = d.workspace_id
            WHERE d.state <> 'TERMINATED' AND ${where}
         ), eligible AS (
           SELECT c.*, row_number() OVER (ORDER BY md5($1::text || ':' || c.id::text)) - 1 AS idx
             FROM chosen c
            WHERE c.state = '${UPDATABLE_STATE}' AND c.current_version IS DISTINCT FROM $2
         )
         INSERT INTO rollout_targets (rollout_id, workspace_id, droplet_id, wave, from_version, status, reason)
         SELECT $1, e.workspace_id, e.id,
                CASE WHEN e.idx < $${params.length + 4}::int THEN 0
                     ELSE 1 + (e.idx - $${params.length + 4}::int) / $${params.length + 5}::int END,
                e.current_version, 'pending', NULL
           FROM eligible e
         UNION ALL
         SELECT $1, c.workspace_id, c.id, -1, c.current_version, 'skipped',
                CASE WHEN c.current_version IS NOT DISTINCT FROM $2 THEN 'already on ' || $2
                     ELSE 'droplet is ' || c.state::text END
           FROM chosen c
          WHERE NOT (c.state = '${UPDATABLE_STATE}' AND c.current_version IS DISTINCT FROM $2)`,
        [req.rolloutId, req.targetVersion, req.component, ...params, req.canarySize, req.waveSize],
      );
      await refreshCounters(db, req.rolloutId);
    }
    const plan = await db.query<{ total: string; waves: string; skipped: string }>(
      `SELECT count(*) FILTER (WHERE wave >= 0) AS total,
              coalesce(max(wave) + 1, 0) AS waves,
              count(*) FILTER (WHERE wave < 0) AS skipped
         FROM rollout_targets WHERE rollout_id = $1`,
      [req.rolloutId],
    );
    const p = plan.rows[0]!;
    return {
      totalTenants: Number(p.total),
      totalWaves: Number(p.waves),
      skipped: Number(p.skipped),
      created: inserted.rowCount === 1,
    };
  });
}

function selectorSql(s: RolloutSelector, firstParam: number): { where: string; params: unknown[] } {
  if ('all' in s) return { where: 'true', params: [] };
  if ('workspaceIds' in s) return { where: `w.id = ANY($${firstParam}::text[])`, params: [s.workspaceIds] };
  if ('plan' in s) return { where: `w.plan = $${firstParam}`, params: [s.plan] };
  // a stable bucket 0..9999 from the workspace id: widening the percentage keeps earlier tenants in
  return {
    where: `(('x' || substr(md5(w.id), 1, 8))::bit(32)::bigint % 10000) < $${firstParam}`,
    params: [Math.round(s.percentage * 100)],
  };
}

interface TargetRow {
  workspace_id: string;
  droplet_id: string;
  from_version: string | null;
}

const toTarget = (r: TargetRow): RolloutTarget => ({
  workspaceId: r.workspace_id,
  dropletId: Number(r.droplet_id),
  fromVersion: r.from_version,
});

/** The wave's tenants still to update (a wave restarted after a crash skips those already done). */
export async function waveTargets(pool: Pool, rolloutId: string, wave: number): Promise<RolloutTarget[]> {
  const { rows } = await pool.query<TargetRow>(
    `SELECT workspace_id, droplet_id, from_version FROM rollout_targets
      WHERE rollout_id = $1 AND wave = $2 AND status = 'pending' ORDER BY droplet_id`,
    [rolloutId, wave],
  );
  return rows.map(toTarget);
}

export async function startWave(
  pool: Pool,
  req: { rolloutId: string; wave: number; size: number },
): Promise<void> {
  await pool.query(
    `INSERT INTO rollout_waves (rollout_id, wave, size, status, canary)
     VALUES ($1, $2, $3, 'running', $2 = 0)
     ON CONFLICT (rollout_id, wave) DO UPDATE SET status = 'running'`,
    [req.rolloutId, req.wave, req.size],
  );
  await pool.query(`UPDATE rollouts SET current_wave = $2, updated_at = now() WHERE id = $1`, [
    req.rolloutId,
    req.wave,
  ]);
}

/** Records outcomes of targets and recomputes the rollout's and their waves' counters. */
export async function recordTargetResults(
  pool: Pool,
  rolloutId: string,
  results: TargetResult[],
): Promise<void> {
  if (results.length === 0) return;
  await withTransaction(pool, async (db) => {
    await db.query(
      `UPDATE rollout_targets t SET status = r.status, reason = r.reason,
              workflow_id = coalesce(r.workflow_id, t.workflow_id), updated_at = now()
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS r(droplet_id, status, reason, workflow_id)
        WHERE t.rollout_id = $1 AND t.droplet_id = r.droplet_id`,
      [
        rolloutId,
        results.map((r) => r.dropletId),
        results.map((r) => r.status),
        results.map((r) => r.reason?.slice(0, 1_000) ?? null),
        results.map((r) => r.workflowId ?? null),
      ],
    );
    await refreshCounters(db, rolloutId);
  });
}

async function refreshCounters(db: Pick<Pool, 'query'>, rolloutId: string): Promise<void> {
  await db.query(
    `UPDATE rollouts r SET
        total_tenants = c.total, succeeded = c.succeeded, failed = c.failed,
        rolled_back = c.rolled_back, skipped = c.skipped, updated_at = now()
       FROM (SELECT count(*) FILTER (WHERE wave >= 0) AS total,
                    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                    count(*) FILTER (WHERE status = 'failed') AS failed,
                    count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,
                    count(*) FILTER (WHERE status = 'skipped') AS skipped
               FROM rollout_targets WHERE rollout_id = $1) c
      WHERE r.id = $1`,
    [rolloutId],
  );
  await db.query(
    `UPDATE rollout_waves w SET succeeded = c.succeeded, failed = c.failed,
            rolled_back = c.rolled_back, skipped = c.skipped, failures = c.failures
       FROM (SELECT wave,
                    count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                    count(*) FILTER (WHERE status = 'failed') AS failed,
                    count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,
                    count(*) FILTER (WHERE status = 'skipped') AS skipped,
                    coalesce(jsonb_agg(jsonb_build_object('workspaceId', workspace_id,
                               'dropletId', droplet_id, 'reason', reason) ORDER BY droplet_id)
                             FILTER (WHERE status = 'failed'), '[]') AS failures
               FROM rollout_targets WHERE rollout_id = $1 AND wave >= 0 GROUP BY wave) c
      WHERE w.rollout_id = $1 AND w.wave = c.wave`,
    [rolloutId],
  );
}

export async function finishWave(
  pool: Pool,
  req: { rolloutId: string; wave: number; status: 'succeeded' | 'halted' | 'aborted' },
): Promise<void> {
  await pool.query(
    `UPDATE rollout_waves SET status = $3, finished_at = coalesce(finished_at, now())
      WHERE rollout_id = $1 AND wave = $2`,
    [req.rolloutId, req.wave, req.status],
  );
}

export async function setRolloutStatus(
  pool: Pool,
  req: { rolloutId: string; status: RolloutStatusName; reason?: string | null },
): Promise<void> {
  const final = req.status === 'halted' || req.status === 'aborted' || req.status === 'completed';
  await pool.query(
    `UPDATE rollouts SET status = $2, halt_reason = $3, updated_at = now(),
            finished_at = CASE WHEN $4 THEN coalesce(finished_at, now()) ELSE finished_at END
      WHERE id = $1`,
    [req.rolloutId, req.status, req.reason ?? null, final],
  );
}

/**
 * Tenants this rollout left on the new version, to roll back after a halt or an abort: the given
 * wave's, or (wave undefined) every wave's. Paged by droplet id.
 */
export async function succeededTargets(
  pool: Pool,
  req: { rolloutId: string; wave?: number; afterDropletId: number; limit: number },
): Promise<RolloutTarget[]> {
  const { rows } = await pool.query<TargetRow>(
    `SELECT workspace_id, droplet_id, from_version FROM rollout_targets
      WHERE rollout_id = $1 AND status = 'succeeded' AND ($2::int IS NULL OR wave = $2)
        AND droplet_id > $3
      ORDER BY droplet_id LIMIT $4`,
    [req.rolloutId, req.wave ?? null, req.afterDropletId, req.limit],
  );
  return rows.map(toTarget);
}

export interface RolloutRow {
  id: string;
  kind: RolloutKind;
  target_version: string;
  status: RolloutStatusName;
  total_tenants: number;
  succeeded: number;
  failed: number;
  rolled_back: number;
  skipped: number;
  current_wave: number | null;
  halt_reason: string | null;
  workflow_id: string | null;
  spec: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export async function listRollouts(pool: Pool, limit = 20): Promise<RolloutRow[]> {
  const { rows } = await pool.query<RolloutRow>(`SELECT * FROM rollouts ORDER BY created_at DESC LIMIT $1`, [
    limit,
  ]);
  return rows;
}
