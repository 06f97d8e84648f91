/** Droplet rows and the one function through which every state change goes. */
import type { Pool, PoolClient } from 'pg';
import {
  canTransition,
  IllegalTransitionError,
  isTransitional,
  type DropletState,
} from '../domain/droplet-state';
import { withTransaction } from './transaction';

export interface DropletRow {
  id: number;
  workspace_id: string;
  region: string | null;
  ip_address: string | null;
  sidecar_url: string | null;
  sidecar_version: string | null;
  n8n_version: string | null;
  state: DropletState;
  state_changed_at: Date;
  last_heartbeat_at: Date | null;
  cpu_percent: number | null;
  memory_percent: number | null;
  disk_percent: number | null;
  n8n_status: string | null;
  /** the droplet_id claim the agent checks (migration 007) */
  agent_droplet_id: string | null;
  agent_droplet_id_source: 'handshake' | 'operator' | 'client' | 'migration' | null;
  agent_capabilities: string[] | null;
  agent_registered_at: Date | null;
  /** the DigitalOcean account the droplet lives in (migration 008; `default` before accounts) */
  account: string;
}

export class DropletNotFoundError extends Error {
  constructor(readonly dropletId: number) {
    super(`droplet ${dropletId} is not known to the control plane`);
    this.name = 'DropletNotFoundError';
  }
}

export async function getDroplet(db: Pool | PoolClient, id: number): Promise<DropletRow | undefined> {
  const { rows } = await db.query<DropletRow>('SELECT * FROM droplets WHERE id = $1', [id]);
  return rows[0] ? { ...rows[0], id: Number(rows[0].id) } : undefined;
}

export async function dropletExists(db: Pick<Pool, 'query'>, id: number): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM droplets WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

export interface TransitionRequest {
  dropletId: number;
  to: DropletState;
  /** Why: 'wake:user_login', 'watchdog', 'operator:alice', ... */
  cause: string;
  /** The Temporal workflow that made the change, when one did. */
  workflowId?: string;
  /** Refuse unless the droplet is currently in one of these states (optimistic guard). */
  expectedFrom?: readonly DropletState[];
  detail?: Record<string, unknown>;
}

export interface TransitionResult {
  from: DropletState;
  to: DropletState;
  changed: boolean;
}

/** The state change itself and its lifecycle row, inside the caller's transaction (row locked). */
async function writeStateChange(
  client: PoolClient,
  from: DropletState,
  req: {
    dropletId: number;
    to: DropletState;
    cause: string;
    workflowId?: string;
    detail?: Record<string, unknown>;
  },
): Promise<void> {
  await client.query(
    `UPDATE droplets SET state = $2, state_changed_at = now(), updated_at = now() WHERE id = $1`,
    [req.dropletId, req.to],
  );
  await client.query(
    `INSERT INTO droplet_lifecycle_log (droplet_id, from_state, to_state, cause, workflow_id, detail)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [req.dropletId, from, req.to, req.cause, req.workflowId ?? null, req.detail ?? null],
  );
}

/**
 * Moves a droplet to a new state if the rules allow it, and logs the change in the same
 * transaction. Moving to the current state is a no-op (no log row), so retried activities are safe.
 */
export async function transitionDroplet(pool: Pool, req: TransitionRequest): Promise<TransitionResult> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ state: DropletState }>(
      'SELECT state FROM droplets WHERE id = $1 FOR UPDATE',
      [req.dropletId],
    );
    const from = rows[0]?.state;
    if (from === undefined) throw new DropletNotFoundError(req.dropletId);
    if (from === req.to) return { from, to: req.to, changed: false };
    if ((req.expectedFrom && !req.expectedFrom.includes(from)) || !canTransition(from, req.to)) {
      throw new IllegalTransitionError(req.dropletId, from, req.to);
    }
    await writeStateChange(client, from, req);
    return { from, to: req.to, changed: true };
  });
}

/**
 * The failure path of an operation: moves the droplet to `to` (a resting state) only if it is
 * still in a transitional state that THIS workflow put it in (the newest lifecycle entry is the
 * workflow's own). A droplet the operation already settled (ACTIVE, FAILED, ZOMBIE), or one another
 * workflow holds, is left alone. Logged like every transition.
 */
export async function settleTransitional(
  pool: Pool,
  req: {
    dropletId: number;
    workflowId: string;
    to: DropletState;
    cause: string;
    detail?: Record<string, unknown>;
  },
): Promise<TransitionResult> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ state: DropletState; last_workflow: string | null }>(
      `SELECT d.state,
              (SELECT l.workflow_id FROM droplet_lifecycle_log l
                WHERE l.droplet_id = d.id ORDER BY l.id DESC LIMIT 1) AS last_workflow
         FROM droplets d WHERE d.id = $1 FOR UPDATE`,
      [req.dropletId],
    );
    const row = rows[0];
    if (!row) throw new DropletNotFoundError(req.dropletId);
    const from = row.state;
    if (!isTransitional(from) || row.last_workflow !== req.workflowId || !canTransition(from, req.to))
      return { from, to: from, changed: false };
    await writeStateChange(client, from, req);
    return { from, to: req.to, changed: true };
  });
}

export interface StuckDroplet {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  since: string;
}

/** Droplets in a transitional state for longer than `olderThanS`, the longest-stuck first. */
export async function stuckDroplets(
  pool: Pool,
  opts: { olderThanS: number; limit: number },
): Promise<StuckDroplet[]> {
  const { rows } = await pool.query<{
    id: string;
    workspace_id: string;
    state: DropletState;
    state_changed_at: Date;
  }>(
    `SELECT id, workspace_id, state, state_changed_at FROM droplets
      WHERE state IN ('HIBERNATING', 'WAKING', 'REBOOTING', 'UPDATING')
        AND state_changed_at < now() - make_interval(secs => $1)
      ORDER BY state_changed_at LIMIT $2`,
    [opts.olderThanS, opts.limit],
  );
  return rows.map((r) => ({
    dropletId: Number(r.id),
    workspaceId: r.workspace_id,
    state: r.state,
    since: r.state_changed_at.toISOString(),
  }));
}

/**
 * Sets the droplet_id claim a droplet's agent expects (an operator's or the dashboard's word: a
 * handshake never overrides it). Returns false when the droplet is unknown.
 */
export async function setAgentDropletId(
  db: Pool,
  dropletId: number,
  agentDropletId: string,
  source: 'operator' | 'client',
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE droplets SET agent_droplet_id = $2, agent_droplet_id_source = $3, updated_at = now() WHERE id = $1`,
    [dropletId, agentDropletId, source],
  );
  return (rowCount ?? 0) > 0;
}

export interface WorkspaceDroplet {
  id: number;
  /** the n8n image tag by the control plane's record (tenant_versions 'n8n', else provisioning's) */
  n8nTag: string | null;
  capabilities: string[] | null;
}

/** A workspace's droplets (not terminated), with what a change needs to know about them. */
export async function listWorkspaceDroplets(db: Pool, workspaceId: string): Promise<WorkspaceDroplet[]> {
  const { rows } = await db.query<{
    id: string;
    n8n_tag: string | null;
    agent_capabilities: string[] | null;
  }>(
    `SELECT d.id, coalesce(tv.version, d.n8n_version) AS n8n_tag, d.agent_capabilities
       FROM droplets d
       LEFT JOIN tenant_versions tv ON tv.workspace_id = d.workspace_id AND tv.component = 'n8n'
      WHERE d.workspace_id = $1 AND d.state <> 'TERMINATED' ORDER BY d.id`,
    [workspaceId],
  );
  return rows.map((r) => ({ id: Number(r.id), n8nTag: r.n8n_tag, capabilities: r.agent_capabilities }));
}
