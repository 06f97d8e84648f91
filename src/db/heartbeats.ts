/**
 * Writes a batch of heartbeats in ONE statement: the arrays go in through UNNEST, the newest
 * heartbeat per droplet updates the droplet's latest state (only if it is newer than the stored
 * one), every heartbeat becomes a history row (duplicates ignored), and the statement reports what
 * it did so the drain can count unknown droplets, duplicates and out-of-order heartbeats.
 */
import type { Pool } from 'pg';
import { REMEDIATION_STATES, type DropletState } from '../domain/droplet-state';
import type { StreamHeartbeat } from '../heartbeats/heartbeat';

export interface ObservedHeartbeat {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  observedAt: string;
  n8nStatus: string | null;
  sidecarVersion: string | null;
}

export interface ApplyResult {
  received: number;
  applied: number;
  unknown: number;
  duplicates: number;
  outOfOrder: number;
  historyRows: number;
  /** Droplets whose fresh heartbeat arrived while a remediation was running or had given up. */
  inRemediation: ObservedHeartbeat[];
}

const APPLY_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::real[], $5::real[], $6::real[],
                       $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[],
                       $13::text[], $14::text[], $15::boolean[])
    AS t(droplet_id, workspace_id, observed_at, cpu_percent, memory_percent, disk_percent,
         n8n_status, sidecar_version, n8n_version, uptime_seconds, sidecar_url,
         agent_droplet_id, capabilities_json, registration)
),
resolved AS (
  SELECT d.id AS droplet_id, i.workspace_id, i.observed_at, i.cpu_percent, i.memory_percent, i.disk_percent,
         i.n8n_status, i.sidecar_version, i.n8n_version, i.uptime_seconds, i.sidecar_url,
         i.agent_droplet_id, i.capabilities_json, i.registration,
         d.state, d.last_heartbeat_at AS stored_at
  FROM input i
  JOIN droplets d
    ON d.id = COALESCE(i.droplet_id, (SELECT x.id FROM droplets x
                                       WHERE x.workspace_id = i.workspace_id AND x.state <> 'TERMINATED'
                                       ORDER BY x.created_at DESC LIMIT 1))
   AND d.workspace_id = i.workspace_id
),
newest AS (
  SELECT DISTINCT ON (droplet_id) * FROM resolved ORDER BY droplet_id, observed_at DESC
),
updated AS (
  UPDATE droplets d SET
    last_heartbeat_at = n.observed_at,
    cpu_percent       = COALESCE(n.cpu_percent, d.cpu_percent),
    memory_percent    = COALESCE(n.memory_percent, d.memory_percent),
    disk_percent      = COALESCE(n.disk_percent, d.disk_percent),
    n8n_status        = COALESCE(n.n8n_status, d.n8n_status),
    sidecar_version   = COALESCE(n.sidecar_version, d.sidecar_version),
    n8n_version       = COALESCE(n.n8n_version, d.n8n_version),
    uptime_seconds    = COALESCE(n.uptime_seconds, d.uptime_seconds),
    sidecar_url       = COALESCE(n.sidecar_url, d.sidecar_url),
    -- a handshake teaches the agent's droplet_id claim unless an operator or the dashboard set it
    agent_droplet_id  = CASE WHEN n.agent_droplet_id IS NOT NULL
                              AND COALESCE(d.agent_droplet_id_source, 'handshake') IN ('handshake', 'migration')
                             THEN n.agent_droplet_id ELSE d.agent_droplet_id END,
    agent_droplet_id_source = CASE WHEN n.agent_droplet_id IS NOT NULL
                              AND COALESCE(d.agent_droplet_id_source, 'handshake') IN ('handshake', 'migration')
                             THEN 'handshake' ELSE d.agent_droplet_id_source END,
    agent_capabilities = CASE WHEN n.capabilities_json IS NULL THEN d.agent_capabilities
                              ELSE ARRAY(SELECT json_array_elements_text(n.capabilities_json::json)) END,
    agent_registered_at = COALESCE((SELECT max(r.observed_at) FROM resolved r
                                     WHERE r.droplet_id = n.droplet_id AND r.registration),
                                   d.agent_registered_at),
    updated_at        = now()
  FROM newest n
  WHERE d.id = n.droplet_id AND (d.last_heartbeat_at IS NULL OR d.last_heartbeat_at < n.observed_at)
  RETURNING d.id, d.workspace_id, d.state, n.observed_at, n.n8n_status, n.sidecar_version
),
history AS (
  INSERT INTO heartbeat_history (droplet_id, workspace_id, observed_at, cpu_percent, memory_percent, disk_percent,
                                 n8n_status, sidecar_version, n8n_version, uptime_seconds)
  SELECT droplet_id, workspace_id, observed_at, cpu_percent, memory_percent, disk_percent,
         n8n_status, sidecar_version, n8n_version, uptime_seconds
  FROM resolved
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT
  (SELECT count(*) FROM resolved)::int AS known,
  (SELECT count(*) FROM history)::int AS history_rows,
  (SELECT count(*) FROM updated)::int AS applied,
  (SELECT count(*) FROM resolved WHERE stored_at > observed_at)::int AS out_of_order,
  (SELECT coalesce(json_agg(json_build_object(
      'dropletId', id, 'workspaceId', workspace_id, 'state', state, 'observedAt', observed_at,
      'n8nStatus', n8n_status, 'sidecarVersion', sidecar_version)), '[]'::json)
   FROM updated WHERE state = ANY($12::droplet_state[])) AS in_remediation
`;

/**
 * A named (prepared) statement: each pool connection parses and plans the statement once instead
 * of receiving its ~4 KB text and planning it again for every batch.
 */
const APPLY_STATEMENT = 'genesis_apply_heartbeats_v1';

export async function applyHeartbeats(pool: Pool, hbs: StreamHeartbeat[]): Promise<ApplyResult> {
  if (hbs.length === 0) {
    return {
      received: 0,
      applied: 0,
      unknown: 0,
      duplicates: 0,
      outOfOrder: 0,
      historyRows: 0,
      inRemediation: [],
    };
  }
  const n = hbs.length;
  const cols = Array.from({ length: 11 }, () => new Array<unknown>(n));
  const handshakeCols = Array.from({ length: 3 }, () => new Array<unknown>(n));
  hbs.forEach((h, i) => {
    cols[0]![i] = h.d ?? null;
    cols[1]![i] = h.w;
    cols[2]![i] = new Date(h.t).toISOString();
    cols[3]![i] = h.cpu ?? null;
    cols[4]![i] = h.mem ?? null;
    cols[5]![i] = h.disk ?? null;
    cols[6]![i] = h.n8n ?? null;
    cols[7]![i] = h.sv ?? null;
    cols[8]![i] = h.nv ?? null;
    cols[9]![i] = h.up ?? null;
    cols[10]![i] = h.url ?? null;
    handshakeCols[0]![i] = h.aid ?? null;
    handshakeCols[1]![i] = h.caps ? JSON.stringify(h.caps) : null;
    handshakeCols[2]![i] = h.reg === 1;
  });
  const { rows } = await pool.query<{
    known: number;
    history_rows: number;
    applied: number;
    out_of_order: number;
    in_remediation: ObservedHeartbeat[];
  }>({ name: APPLY_STATEMENT, text: APPLY_SQL, values: [...cols, REMEDIATION_STATES, ...handshakeCols] });
  const r = rows[0]!;
  return {
    received: n,
    applied: r.applied,
    unknown: n - r.known,
    duplicates: r.known - r.history_rows,
    outOfOrder: r.out_of_order,
    historyRows: r.history_rows,
    inRemediation: r.in_remediation.map((o) => ({ ...o, dropletId: Number(o.dropletId) })),
  };
}
