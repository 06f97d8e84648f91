/**
 * Desired state per tenant (desired_components, desired_artifacts, desired_credentials) and the
 * reconciler's record of each tenant (reconcile_status), with the recorded state they are compared
 * with: tenant_versions (n8n tag, workflows), droplets.n8n_version before any update, and
 * n8n_credentials on the tenant's current droplet. Credential blobs are read only by
 * `desiredCredentialBlobs` (what an injection sends); no view returns them.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import {
  artifactText,
  computeDrift,
  driftKindsOf,
  type DesiredState,
  type DesiredStateView,
  type FleetDrift,
  type RecordedState,
  type ReconcileStatus,
  type SetDesiredStateInput,
  type TenantDrift,
} from '../domain/reconcile';
import type { Queryable } from './queryable';
import { withTransaction } from './transaction';

const digestOf = (text: string) => createHash('sha256').update(text).digest('hex');

/** Stores an artifact once (by digest) and returns its digest. */
async function storeArtifact(
  db: Queryable,
  workflowJson: Record<string, unknown>,
  credentialMap?: Record<string, string>,
): Promise<string> {
  const digest = digestOf(artifactText(workflowJson, credentialMap));
  await db.query(
    `INSERT INTO desired_artifacts (digest, workflow_json, credential_map) VALUES ($1, $2, $3)
     ON CONFLICT (digest) DO NOTHING`,
    [digest, JSON.stringify(workflowJson), credentialMap ? JSON.stringify(credentialMap) : null],
  );
  return digest;
}

/** A change of desired state starts the tenant's failure count afresh and lifts its mark. */
async function desiredChanged(db: Queryable, workspaceIds: string[]): Promise<void> {
  if (workspaceIds.length === 0) return;
  await db.query(
    `INSERT INTO reconcile_status AS s (workspace_id)
     SELECT unnest($1::text[])
     ON CONFLICT (workspace_id) DO UPDATE SET failures = 0, marked_at = NULL, updated_at = now()`,
    [workspaceIds],
  );
}

/**
 * Applies one change of a tenant's desired state (validated by the caller); false when the
 * workspace is not known. A row set here forgets any rollout it came from.
 */
export async function setDesiredState(pool: Pool, input: SetDesiredStateInput): Promise<boolean> {
  const setBy = input.setBy ?? 'client';
  return withTransaction(pool, async (db) => {
    const ws = await db.query(`SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE`, [input.workspaceId]);
    if (ws.rowCount === 0) return false;
    const upsert = (component: string, version: string, digest: string | null) =>
      db.query(
        `INSERT INTO desired_components (workspace_id, component, version, artifact_digest, set_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, component) DO UPDATE SET
           version = EXCLUDED.version, artifact_digest = EXCLUDED.artifact_digest,
           set_by = EXCLUDED.set_by, rollout_id = NULL, previous = NULL, updated_at = now()`,
        [input.workspaceId, component, version, digest, setBy],
      );
    if (input.n8nTag === null)
      await db.query(`DELETE FROM desired_components WHERE workspace_id = $1 AND component = 'n8n'`, [
        input.workspaceId,
      ]);
    else if (input.n8nTag !== undefined) await upsert('n8n', input.n8nTag, null);
    for (const w of input.workflows ?? [])
      await upsert(`workflow:${w.name}`, w.version, await storeArtifact(db, w.workflowJson, w.credentialMap));
    if (input.removeWorkflows?.length)
      await db.query(
        `DELETE FROM desired_components WHERE workspace_id = $1 AND component = ANY($2::text[])`,
        [input.workspaceId, input.removeWorkflows.map((n) => `workflow:${n}`)],
      );
    for (const c of input.credentials ?? [])
      await db.query(
        `INSERT INTO desired_credentials (workspace_id, credential_type, credential_name, encrypted_data, set_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, credential_type, credential_name) DO UPDATE SET
           encrypted_data = EXCLUDED.encrypted_data, set_by = EXCLUDED.set_by, updated_at = now()`,
        [input.workspaceId, c.type, c.name, c.encryptedData, setBy],
      );
    for (const c of input.removeCredentials ?? [])
      await db.query(
        `DELETE FROM desired_credentials WHERE workspace_id = $1 AND credential_type = $2 AND credential_name = $3`,
        [input.workspaceId, c.type, c.name],
      );
    await desiredChanged(db, [input.workspaceId]);
    return true;
  });
}

export interface RolloutDesiredMove {
  rolloutId: string;
  /** 'n8n' or 'workflow:<name>' */
  component: string;
  version: string;
  /** kind workflow: the artifact the rollout pushes */
  workflow?: { workflowJson: Record<string, unknown>; credentialMap?: Record<string, string> };
  /** the wave whose tenants move; -1: the tenants the plan skipped (moved when the rollout completes) */
  wave: number;
}

/**
 * A rollout moves desired state for the tenants of one of its waves (or, at its completion, for
 * those its plan skipped: hibernated, not healthy, already there). What each row held before is
 * kept in `previous` the first time this rollout moves it, so a retried move changes nothing and
 * `revertRolloutDesired` can put it back. Returns the tenants moved.
 */
export async function moveRolloutDesired(pool: Pool, m: RolloutDesiredMove): Promise<number> {
  return withTransaction(pool, async (db) => {
    const digest = m.workflow
      ? await storeArtifact(db, m.workflow.workflowJson, m.workflow.credentialMap)
      : null;
    const { rows } = await db.query<{ workspace_id: string }>(
      `WITH targets AS (
         SELECT DISTINCT workspace_id FROM rollout_targets WHERE rollout_id = $1 AND wave = $2
       )
       INSERT INTO desired_components AS d
         (workspace_id, component, version, artifact_digest, set_by, rollout_id, previous)
       SELECT t.workspace_id, $3, $4, $5, 'rollout:' || $1, $1, NULL FROM targets t
       ON CONFLICT (workspace_id, component) DO UPDATE SET
         previous = CASE WHEN d.rollout_id IS NOT DISTINCT FROM $1 THEN d.previous
                         ELSE jsonb_build_object('version', d.version, 'artifact_digest', d.artifact_digest,
                                                 'set_by', d.set_by, 'rollout_id', d.rollout_id) END,
         version = EXCLUDED.version, artifact_digest = EXCLUDED.artifact_digest,
         set_by = EXCLUDED.set_by, rollout_id = EXCLUDED.rollout_id, updated_at = now()
       WHERE d.version IS DISTINCT FROM EXCLUDED.version
          OR d.artifact_digest IS DISTINCT FROM EXCLUDED.artifact_digest
       RETURNING d.workspace_id`,
      [m.rolloutId, m.wave, m.component, m.version, digest],
    );
    await desiredChanged(
      db,
      rows.map((r) => r.workspace_id),
    );
    return rows.length;
  });
}

/**
 * A halted (or aborted) rollout leaves desired state as it was: every row it moved and nobody
 * changed since is put back (deleted when it did not exist). Returns the tenants reverted.
 */
export async function revertRolloutDesired(pool: Pool, rolloutId: string): Promise<number> {
  return withTransaction(pool, async (db) => {
    const deleted = await db.query<{ workspace_id: string }>(
      `DELETE FROM desired_components WHERE rollout_id = $1 AND previous IS NULL RETURNING workspace_id`,
      [rolloutId],
    );
    const restored = await db.query<{ workspace_id: string }>(
      `UPDATE desired_components SET
         version = previous->>'version', artifact_digest = previous->>'artifact_digest',
         set_by = previous->>'set_by', rollout_id = previous->>'rollout_id', previous = NULL, updated_at = now()
       WHERE rollout_id = $1 RETURNING workspace_id`,
      [rolloutId],
    );
    const ws = [...deleted.rows, ...restored.rows].map((r) => r.workspace_id);
    await desiredChanged(db, ws);
    return ws.length;
  });
}

/** One tenant's desired and recorded state, its current droplet and the reconciler's record. */
export interface TenantReconcileRow {
  desired: DesiredState;
  recorded: RecordedState;
  droplet: { id: number; state: string; lastHeartbeatAt: string | null } | null;
  /** a running or paused rollout is working on the tenant's droplet (it owns the change) */
  inRollout: boolean;
  status: ReconcileStatus;
}

/**
 * A page of tenants that have a desired state, by workspace id after `afterWorkspaceId` (all of
 * them with `workspaceIds`), with everything drift is computed from: five indexed queries a page.
 */
export async function tenantReconcileRows(
  db: Queryable,
  page: { afterWorkspaceId?: string; limit: number } | { workspaceIds: string[] },
): Promise<TenantReconcileRow[]> {
  const ids =
    'workspaceIds' in page
      ? page.workspaceIds
      : (
          await db.query<{ workspace_id: string }>(
            // each branch an ordered, limited scan of its primary key: a page costs its size
            `SELECT workspace_id FROM (
               (SELECT DISTINCT workspace_id FROM desired_components WHERE workspace_id > $1
                 ORDER BY workspace_id LIMIT $2)
               UNION
               (SELECT DISTINCT workspace_id FROM desired_credentials WHERE workspace_id > $1
                 ORDER BY workspace_id LIMIT $2)) t
             ORDER BY workspace_id LIMIT $2`,
            [page.afterWorkspaceId ?? '', page.limit],
          )
        ).rows.map((r) => r.workspace_id);
  if (ids.length === 0) return [];
  const [components, credentials, droplets, versions, status] = await Promise.all([
    db.query<{ workspace_id: string; component: string; version: string; artifact_digest: string | null }>(
      `SELECT workspace_id, component, version, artifact_digest FROM desired_components
        WHERE workspace_id = ANY($1::text[]) ORDER BY component`,
      [ids],
    ),
    db.query<{ workspace_id: string; credential_type: string; credential_name: string }>(
      `SELECT workspace_id, credential_type, credential_name FROM desired_credentials
        WHERE workspace_id = ANY($1::text[]) ORDER BY credential_type, credential_name`,
      [ids],
    ),
    db.query<{
      workspace_id: string;
      id: string;
      state: string;
      last_heartbeat_at: Date | null;
      n8n_version: string | null;
      in_rollout: boolean;
    }>(
      `SELECT DISTINCT ON (d.workspace_id) d.workspace_id, d.id, d.state::text AS state,
              d.last_heartbeat_at, d.n8n_version,
              EXISTS (SELECT 1 FROM rollout_targets t JOIN rollouts r ON r.id = t.rollout_id
                       WHERE t.droplet_id = d.id AND t.wave >= 0 AND r.status IN ('running', 'paused'))
                AS in_rollout
         FROM droplets d WHERE d.workspace_id = ANY($1::text[]) AND d.state <> 'TERMINATED'
        ORDER BY d.workspace_id, d.created_at DESC, d.id DESC`,
      [ids],
    ),
    db.query<{ workspace_id: string; component: string; version: string; workflow_id: string | null }>(
      `SELECT workspace_id, component, version, artifact->>'workflow_id' AS workflow_id
         FROM tenant_versions
        WHERE workspace_id = ANY($1::text[]) AND (component = 'n8n' OR component LIKE 'workflow:%')`,
      [ids],
    ),
    db.query<{
      workspace_id: string;
      failures: number;
      marked_at: Date | null;
      last_outcome: string | null;
      last_error: string | null;
      last_attempt_at: Date | null;
      last_verified_at: Date | null;
    }>(
      `SELECT workspace_id, failures, marked_at, last_outcome, last_error, last_attempt_at, last_verified_at
         FROM reconcile_status WHERE workspace_id = ANY($1::text[])`,
      [ids],
    ),
  ]);
  const dropletOf = new Map(droplets.rows.map((d) => [d.workspace_id, d]));
  const creds = await db.query<{ workspace_id: string; credential_type: string; credential_name: string }>(
    `SELECT workspace_id, credential_type, credential_name FROM n8n_credentials
      WHERE (workspace_id, droplet_id) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))`,
    [droplets.rows.map((d) => d.workspace_id), droplets.rows.map((d) => d.id)],
  );
  const statusOf = new Map(status.rows.map((s) => [s.workspace_id, s]));
  const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
  // each result set grouped once by workspace (a page is up to 500 tenants)
  const grouped = new Map<unknown[], Map<string, unknown[]>>();
  const byWorkspace = <T extends { workspace_id: string }>(rows: T[]): Map<string, unknown[]> => {
    let m = grouped.get(rows);
    if (!m) {
      m = new Map();
      for (const r of rows) {
        const list = m.get(r.workspace_id);
        if (list) list.push(r);
        else m.set(r.workspace_id, [r]);
      }
      grouped.set(rows, m);
    }
    return m;
  };
  return ids.map((workspaceId) => {
    const d = dropletOf.get(workspaceId);
    const s = statusOf.get(workspaceId);
    const mine = <T extends { workspace_id: string }>(rows: T[]): T[] =>
      (byWorkspace(rows).get(workspaceId) as T[] | undefined) ?? [];
    const comps = mine(components.rows);
    const recordedVersions = mine(versions.rows);
    return {
      desired: {
        workspaceId,
        n8nTag: comps.find((c) => c.component === 'n8n')?.version ?? null,
        workflows: comps
          .filter((c) => c.component.startsWith('workflow:'))
          .map((c) => ({
            name: c.component.slice('workflow:'.length),
            version: c.version,
            artifactDigest: c.artifact_digest!,
          })),
        credentials: mine(credentials.rows).map((c) => ({
          type: c.credential_type,
          name: c.credential_name,
        })),
      },
      recorded: {
        n8nTag: recordedVersions.find((v) => v.component === 'n8n')?.version ?? d?.n8n_version ?? null,
        workflows: recordedVersions
          .filter((v) => v.component.startsWith('workflow:'))
          .map((v) => ({
            name: v.component.slice('workflow:'.length),
            version: v.version,
            n8nWorkflowId: v.workflow_id,
          })),
        credentials: mine(creds.rows).map((c) => ({ type: c.credential_type, name: c.credential_name })),
      },
      droplet: d ? { id: Number(d.id), state: d.state, lastHeartbeatAt: iso(d.last_heartbeat_at) } : null,
      inRollout: d?.in_rollout ?? false,
      status: {
        failures: s?.failures ?? 0,
        marked: !!s?.marked_at,
        lastOutcome: s?.last_outcome ?? null,
        lastError: s?.last_error ?? null,
        lastAttemptAt: iso(s?.last_attempt_at),
        lastVerifiedAt: iso(s?.last_verified_at),
      },
    };
  });
}

/** The artifact a desired workflow names (what workflowUpdate takes). */
export async function desiredArtifact(
  db: Queryable,
  digest: string,
): Promise<{ workflowJson: Record<string, unknown>; credentialMap?: Record<string, string> } | null> {
  const { rows } = await db.query<{
    workflow_json: Record<string, unknown>;
    credential_map: Record<string, string> | null;
  }>(`SELECT workflow_json, credential_map FROM desired_artifacts WHERE digest = $1`, [digest]);
  const r = rows[0];
  return r
    ? { workflowJson: r.workflow_json, ...(r.credential_map ? { credentialMap: r.credential_map } : {}) }
    : null;
}

/** The encrypted blobs of desired credentials (what an injection sends; never shown). */
export async function desiredCredentialBlobs(
  db: Queryable,
  workspaceId: string,
): Promise<{ type: string; name: string; encryptedData: string }[]> {
  const { rows } = await db.query<{
    credential_type: string;
    credential_name: string;
    encrypted_data: string;
  }>(
    `SELECT credential_type, credential_name, encrypted_data FROM desired_credentials
      WHERE workspace_id = $1 ORDER BY credential_type, credential_name`,
    [workspaceId],
  );
  return rows.map((r) => ({
    type: r.credential_type,
    name: r.credential_name,
    encryptedData: r.encrypted_data,
  }));
}

/** One tenant's desired state as the client and CLI show it (no JSON, no blob). */
export async function desiredStateView(db: Queryable, workspaceId: string): Promise<DesiredStateView> {
  const [components, credentials] = await Promise.all([
    db.query<{
      component: string;
      version: string;
      artifact_digest: string | null;
      set_by: string;
      rollout_id: string | null;
      updated_at: Date;
    }>(
      `SELECT component, version, artifact_digest, set_by, rollout_id, updated_at FROM desired_components
        WHERE workspace_id = $1 ORDER BY component`,
      [workspaceId],
    ),
    db.query<{ credential_type: string; credential_name: string; set_by: string; updated_at: Date }>(
      `SELECT credential_type, credential_name, set_by, updated_at FROM desired_credentials
        WHERE workspace_id = $1 ORDER BY credential_type, credential_name`,
      [workspaceId],
    ),
  ]);
  return {
    workspaceId,
    n8nTag: components.rows.find((c) => c.component === 'n8n')?.version ?? null,
    workflows: components.rows
      .filter((c) => c.component.startsWith('workflow:'))
      .map((c) => ({
        name: c.component.slice('workflow:'.length),
        version: c.version,
        artifactDigest: c.artifact_digest!,
        setBy: c.set_by,
        rolloutId: c.rollout_id,
        updatedAt: c.updated_at.toISOString(),
      })),
    credentials: credentials.rows.map((c) => ({
      type: c.credential_type,
      name: c.credential_name,
      setBy: c.set_by,
      updatedAt: c.updated_at.toISOString(),
    })),
  };
}

export interface ReconcileAttempt {
  workspaceId: string;
  outcome: 'in_sync' | 'reconciled' | 'failed';
  error?: string;
  workflowId: string;
  /** failures at which the tenant is marked */
  maxFailures: number;
}

/**
 * Records one reconciliation: a success resets the count; a failure adds one and marks the tenant
 * when it reaches maxFailures. Returns the count and whether this attempt marked it.
 */
export async function recordReconcileAttempt(
  db: Queryable,
  a: ReconcileAttempt,
): Promise<{ failures: number; markedNow: boolean }> {
  const failed = a.outcome === 'failed';
  const { rows } = await db.query<{ failures: number; marked_now: boolean }>(
    `WITH prev AS (SELECT marked_at FROM reconcile_status WHERE workspace_id = $1)
     INSERT INTO reconcile_status AS s
       (workspace_id, failures, marked_at, last_outcome, last_error, last_workflow_id, last_attempt_at)
     VALUES ($1, CASE WHEN $2 THEN 1 ELSE 0 END, CASE WHEN $2 AND 1 >= $5 THEN now() END, $3, $4, $6, now())
     ON CONFLICT (workspace_id) DO UPDATE SET
       failures = CASE WHEN $2 THEN s.failures + 1 ELSE 0 END,
       marked_at = CASE WHEN NOT $2 THEN NULL
                        WHEN s.failures + 1 >= $5 THEN coalesce(s.marked_at, now()) ELSE s.marked_at END,
       last_outcome = EXCLUDED.last_outcome, last_error = EXCLUDED.last_error,
       last_workflow_id = EXCLUDED.last_workflow_id, last_attempt_at = now(), updated_at = now()
     RETURNING s.failures, (s.marked_at IS NOT NULL AND (SELECT marked_at FROM prev) IS NULL) AS marked_now`,
    [a.workspaceId, failed, a.outcome, a.error?.slice(0, 1_000) ?? null, a.maxFailures, a.workflowId],
  );
  return { failures: rows[0]!.failures, markedNow: rows[0]!.marked_now };
}

/** The tenant's workflows were read back now (the sample takes the oldest check first). */
export async function recordVerified(db: Queryable, workspaceId: string): Promise<void> {
  await db.query(
    `INSERT INTO reconcile_status AS s (workspace_id, last_verified_at) VALUES ($1, now())
     ON CONFLICT (workspace_id) DO UPDATE SET last_verified_at = now(), updated_at = now()`,
    [workspaceId],
  );
}

/** An operator clears a tenant the reconciler gave up on; false when it was not marked. */
export async function clearReconcileMark(db: Queryable, workspaceId: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE reconcile_status SET failures = 0, marked_at = NULL, updated_at = now()
      WHERE workspace_id = $1 AND (marked_at IS NOT NULL OR failures > 0)`,
    [workspaceId],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * Awake, in-sync-looking tenants with desired workflows whose read-back is oldest: the sample the
 * reconciler verifies with GET_WORKFLOW each run.
 */
export async function verifySampleCandidates(
  db: Queryable,
  opts: { limit: number; exclude: string[] },
): Promise<{ workspaceId: string; dropletId: number }[]> {
  if (opts.limit <= 0) return [];
  const { rows } = await db.query<{ workspace_id: string; droplet_id: string }>(
    `SELECT w.workspace_id, d.id AS droplet_id
       FROM (SELECT DISTINCT workspace_id FROM desired_components WHERE component LIKE 'workflow:%') w
       JOIN droplets d ON d.workspace_id = w.workspace_id AND d.state = 'ACTIVE_HEALTHY'
       LEFT JOIN reconcile_status s ON s.workspace_id = w.workspace_id
      WHERE s.marked_at IS NULL AND NOT (w.workspace_id = ANY($2::text[]))
      ORDER BY s.last_verified_at NULLS FIRST, w.workspace_id
      LIMIT $1`,
    [opts.limit, opts.exclude],
  );
  return rows.map((r) => ({ workspaceId: r.workspace_id, dropletId: Number(r.droplet_id) }));
}

/** A tenant's drift from its rows (recorded versions only: read-backs are the reconciler's). */
export function tenantDriftOf(row: TenantReconcileRow): TenantDrift {
  return {
    workspaceId: row.desired.workspaceId,
    dropletId: row.droplet?.id ?? null,
    dropletState: row.droplet?.state ?? null,
    drift: computeDrift(row.desired, row.recorded),
    ...row.status,
  };
}

/** Pages through every tenant with a desired state (keyset by workspace id). */
export async function* tenantPages(db: Queryable, pageSize = 500): AsyncGenerator<TenantReconcileRow[]> {
  let after = '';
  for (;;) {
    const page = await tenantReconcileRows(db, { afterWorkspaceId: after, limit: pageSize });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]!.desired.workspaceId;
    if (page.length < pageSize) return;
  }
}

/** Fleet-wide drift: counts by kind, marked tenants, and the first `limit` drifted tenants. */
export async function fleetDrift(db: Queryable, opts: { limit: number }): Promise<FleetDrift> {
  const fleet: FleetDrift = {
    tenants: 0,
    drifted: 0,
    byKind: { n8n: 0, workflow: 0, credential: 0 },
    marked: 0,
    driftedTenants: [],
  };
  for await (const page of tenantPages(db)) {
    for (const row of page) {
      const t = tenantDriftOf(row);
      fleet.tenants++;
      if (t.marked) fleet.marked++;
      if (t.drift.length === 0) continue;
      fleet.drifted++;
      for (const k of driftKindsOf(t.drift)) fleet.byKind[k]++;
      if (fleet.driftedTenants.length < opts.limit) fleet.driftedTenants.push(t);
    }
  }
  return fleet;
}

export async function workspaceExists(db: Queryable, workspaceId: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM workspaces WHERE id = $1`, [workspaceId])).rowCount === 1;
}
