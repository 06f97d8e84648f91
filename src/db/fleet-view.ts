/**
 * The fleet as an operator reads it (`genesis-cp droplets list|show`, `fleet status`): one
 * repository of read-only queries. Staleness is computed here with the same timeout and the same
 * states as the watchdog (src/domain/liveness.ts): a droplet whose stored state says
 * ACTIVE_HEALTHY but whose keep-alives stopped is listed as stale.
 */
import type { Pool } from 'pg';
import type { DropletState } from '../domain/droplet-state';
import { HEARTBEAT_EXEMPT_STATES } from '../domain/liveness';

export interface DropletRow {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  stateSince: Date;
  lastHeartbeatAt: Date | null;
  /** Seconds since the last keep-alive (null: never). */
  heartbeatAgeS: number | null;
  /** Expected to send keep-alives and none within the heartbeat timeout, whatever the state says. */
  stale: boolean;
  n8nStatus: string | null;
  cpuPercent: number | null;
  memoryPercent: number | null;
  diskPercent: number | null;
}

export interface DropletFilter {
  state?: DropletState;
  stale?: boolean;
  workspaceId?: string;
  limit?: number;
}

const EXEMPT = `ARRAY[${HEARTBEAT_EXEMPT_STATES.map((s) => `'${s}'`).join(', ')}]::droplet_state[]`;
/** $1 is the heartbeat timeout in seconds. */
const STALE = `(d.state <> ALL (${EXEMPT})
  AND (d.last_heartbeat_at IS NULL OR d.last_heartbeat_at < now() - make_interval(secs => $1)))`;

const COLUMNS = `d.id, d.workspace_id, d.state, d.state_changed_at, d.last_heartbeat_at,
  extract(epoch FROM now() - d.last_heartbeat_at)::int AS heartbeat_age_s, ${STALE} AS stale,
  d.n8n_status, d.cpu_percent, d.memory_percent, d.disk_percent`;

interface RawRow {
  id: string;
  workspace_id: string;
  state: DropletState;
  state_changed_at: Date;
  last_heartbeat_at: Date | null;
  heartbeat_age_s: number | null;
  stale: boolean;
  n8n_status: string | null;
  cpu_percent: number | null;
  memory_percent: number | null;
  disk_percent: number | null;
}

const toRow = (r: RawRow): DropletRow => ({
  dropletId: Number(r.id),
  workspaceId: r.workspace_id,
  state: r.state,
  stateSince: r.state_changed_at,
  lastHeartbeatAt: r.last_heartbeat_at,
  heartbeatAgeS: r.heartbeat_age_s,
  stale: r.stale,
  n8nStatus: r.n8n_status,
  cpuPercent: r.cpu_percent,
  memoryPercent: r.memory_percent,
  diskPercent: r.disk_percent,
});

export async function listDroplets(
  pool: Pool,
  heartbeatTimeoutS: number,
  filter: DropletFilter = {},
): Promise<DropletRow[]> {
  const where: string[] = [];
  const args: unknown[] = [heartbeatTimeoutS];
  if (filter.state) {
    args.push(filter.state);
    where.push(`d.state = $${args.length}`);
  }
  if (filter.workspaceId) {
    args.push(filter.workspaceId);
    where.push(`d.workspace_id = $${args.length}`);
  }
  if (filter.stale) where.push(STALE);
  args.push(filter.limit ?? 1000);
  const { rows } = await pool.query<RawRow>(
    `SELECT ${COLUMNS} FROM droplets d ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY d.id LIMIT $${args.length}`,
    args,
  );
  return rows.map(toRow);
}

export interface DropletDetail extends DropletRow {
  sidecarUrl: string | null;
  region: string | null;
  uptimeSeconds: number | null;
  /** The versions the droplet's row holds (seeded at provisioning, updated by changes). */
  row: { sidecarVersion: string | null; n8nVersion: string | null };
  /** What the control plane recorded as deployed (the agent cannot report versions). */
  versions: { component: string; version: string; previousVersion: string | null; updatedAt: Date }[];
  /** Targets of running or paused rollouts that this tenant has not reached yet. */
  desired: { rolloutId: string; kind: string; targetVersion: string; status: string; wave: number }[];
  lifecycle: {
    at: Date;
    from: DropletState | null;
    to: DropletState;
    cause: string;
    workflowId: string | null;
  }[];
  alerts: { key: string; severity: string; message: string; openedAt: Date }[];
}

export async function dropletDetail(
  pool: Pool,
  dropletId: number,
  heartbeatTimeoutS: number,
  recent = 10,
): Promise<DropletDetail | undefined> {
  const { rows } = await pool.query<
    RawRow & {
      sidecar_url: string | null;
      region: string | null;
      uptime_seconds: string | null;
      sidecar_version: string | null;
      n8n_version: string | null;
    }
  >(
    `SELECT ${COLUMNS}, d.sidecar_url, d.region, d.uptime_seconds, d.sidecar_version, d.n8n_version
     FROM droplets d WHERE d.id = $2`,
    [heartbeatTimeoutS, dropletId],
  );
  const r = rows[0];
  if (!r) return undefined;
  const [versions, desired, lifecycle, alerts] = await Promise.all([
    pool.query<{ component: string; version: string; previous_version: string | null; updated_at: Date }>(
      `SELECT component, version, previous_version, updated_at FROM tenant_versions
       WHERE workspace_id = $1 ORDER BY component`,
      [r.workspace_id],
    ),
    pool.query<{ id: string; kind: string; target_version: string; status: string; wave: number }>(
      `SELECT r.id, r.kind, r.target_version, r.status, t.wave FROM rollout_targets t
       JOIN rollouts r ON r.id = t.rollout_id
       WHERE t.droplet_id = $1 AND t.status = 'pending' AND r.status IN ('running', 'paused')
       ORDER BY r.created_at DESC`,
      [dropletId],
    ),
    pool.query<{
      at: Date;
      from_state: DropletState | null;
      to_state: DropletState;
      cause: string;
      workflow_id: string | null;
    }>(
      `SELECT at, from_state, to_state, cause, workflow_id FROM droplet_lifecycle_log
       WHERE droplet_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [dropletId, recent],
    ),
    pool.query<{ key: string; severity: string; message: string; opened_at: Date }>(
      `SELECT key, severity, message, opened_at FROM alerts
       WHERE status = 'open' AND droplet_id = $1 ORDER BY opened_at DESC`,
      [dropletId],
    ),
  ]);
  return {
    ...toRow(r),
    sidecarUrl: r.sidecar_url,
    region: r.region,
    uptimeSeconds: r.uptime_seconds === null ? null : Number(r.uptime_seconds),
    row: { sidecarVersion: r.sidecar_version, n8nVersion: r.n8n_version },
    versions: versions.rows.map((v) => ({
      component: v.component,
      version: v.version,
      previousVersion: v.previous_version,
      updatedAt: v.updated_at,
    })),
    desired: desired.rows.map((d) => ({
      rolloutId: d.id,
      kind: d.kind,
      targetVersion: d.target_version,
      status: d.status,
      wave: d.wave,
    })),
    lifecycle: lifecycle.rows.map((l) => ({
      at: l.at,
      from: l.from_state,
      to: l.to_state,
      cause: l.cause,
      workflowId: l.workflow_id,
    })),
    alerts: alerts.rows.map((a) => ({
      key: a.key,
      severity: a.severity,
      message: a.message,
      openedAt: a.opened_at,
    })),
  };
}

/** Droplets by stored state, plus how many of each are silent (stale by keep-alives). */
export async function dropletsByState(
  pool: Pool,
  heartbeatTimeoutS: number,
): Promise<{ state: DropletState; droplets: number; stale: number }[]> {
  const { rows } = await pool.query<{ state: DropletState; n: number; stale: number }>(
    `SELECT d.state, count(*)::int AS n, count(*) FILTER (WHERE ${STALE})::int AS stale
     FROM droplets d GROUP BY d.state ORDER BY d.state`,
    [heartbeatTimeoutS],
  );
  return rows.map((r) => ({ state: r.state, droplets: r.n, stale: r.stale }));
}

/** Known droplet and its workspace, for commands that start an operation. */
export async function dropletWorkspace(pool: Pool, dropletId: number): Promise<string | undefined> {
  const { rows } = await pool.query<{ workspace_id: string }>(
    'SELECT workspace_id FROM droplets WHERE id = $1',
    [dropletId],
  );
  return rows[0]?.workspace_id;
}
