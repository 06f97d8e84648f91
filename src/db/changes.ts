/**
 * What the change workflows record: tenant_versions (what runs on a tenant, with the previous
 * version for rollback), the n8n credential ids and the credential audit, and the n8n workflow ids
 * a deploy created (workflow_deploys).
 */
import type { Pool } from 'pg';
import type { CredentialOutcome } from '../domain/changes';
import type { Queryable } from './queryable';
import { withTransaction } from './transaction';

export interface TenantVersion {
  version: string;
  previousVersion: string | null;
  artifact: Record<string, unknown> | null;
  previousArtifact: Record<string, unknown> | null;
}

/** The n8n tag tenant_versions holds for the workspace, or null. */
export async function recordedN8nVersion(db: Queryable, workspaceId: string): Promise<string | null> {
  const { rows } = await db.query<{ version: string }>(
    `SELECT version FROM tenant_versions WHERE workspace_id = $1 AND component = 'n8n'`,
    [workspaceId],
  );
  return rows[0]?.version ?? null;
}

export interface N8nTagRecord {
  workspaceId: string;
  dropletId: number;
  tag: string;
  previousTag: string;
  workflowId: string;
}

/** Records the n8n tag now running: tenant_versions (with the previous tag) and the droplet row. */
export async function recordN8nTag(db: Queryable, input: N8nTagRecord): Promise<void> {
  await db.query(
    `WITH v AS (
       INSERT INTO tenant_versions AS t
         (workspace_id, component, version, previous_version, workflow_id, updated_at)
       VALUES ($1, 'n8n', $3, $4, $5, now())
       ON CONFLICT (workspace_id, component) DO UPDATE SET
         previous_version = CASE WHEN t.workflow_id = EXCLUDED.workflow_id AND t.version = EXCLUDED.version
                                 THEN t.previous_version ELSE t.version END,
         version = EXCLUDED.version, workflow_id = EXCLUDED.workflow_id, updated_at = now()
       RETURNING 1)
     UPDATE droplets SET n8n_version = $3, updated_at = now() WHERE id = $2`,
    [input.workspaceId, input.dropletId, input.tag, input.previousTag, input.workflowId],
  );
}

export async function getTenantVersion(
  db: Queryable,
  input: { workspaceId: string; component: string },
): Promise<TenantVersion | null> {
  const { rows } = await db.query<{
    version: string;
    previous_version: string | null;
    artifact: Record<string, unknown> | null;
    previous_artifact: Record<string, unknown> | null;
  }>(
    `SELECT version, previous_version, artifact, previous_artifact FROM tenant_versions
      WHERE workspace_id = $1 AND component = $2`,
    [input.workspaceId, input.component],
  );
  const r = rows[0];
  return r
    ? {
        version: r.version,
        previousVersion: r.previous_version,
        artifact: r.artifact,
        previousArtifact: r.previous_artifact,
      }
    : null;
}

/**
 * Records what now runs. The previous version/artifact are the row's current ones; a retry of the
 * same record (same version and artifact) changes nothing.
 */
export interface TenantVersionRecord {
  workspaceId: string;
  component: string;
  version: string;
  /** used when no row exists yet (e.g. the sidecar's fromVersion) */
  previousVersion?: string | null;
  artifact?: Record<string, unknown> | null;
  workflowId: string;
}

export async function recordTenantVersion(db: Queryable, input: TenantVersionRecord): Promise<void> {
  await db.query(
    `INSERT INTO tenant_versions AS t
       (workspace_id, component, version, previous_version, artifact, workflow_id, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (workspace_id, component) DO UPDATE SET
       previous_version  = CASE WHEN t.workflow_id = EXCLUDED.workflow_id AND t.version = EXCLUDED.version
                                THEN t.previous_version ELSE t.version END,
       previous_artifact = CASE WHEN t.workflow_id = EXCLUDED.workflow_id AND t.version = EXCLUDED.version
                                THEN t.previous_artifact ELSE t.artifact END,
       version = EXCLUDED.version, artifact = EXCLUDED.artifact,
       workflow_id = EXCLUDED.workflow_id, updated_at = now()`,
    [
      input.workspaceId,
      input.component,
      input.version,
      input.previousVersion ?? null,
      input.artifact ? JSON.stringify(input.artifact) : null,
      input.workflowId,
    ],
  );
}

/** Credentials this workflow id already injected or rotated successfully (a re-run skips them). */
export async function credentialsSucceededFor(
  db: Queryable,
  workflowId: string,
): Promise<CredentialOutcome[]> {
  const { rows } = await db.query<{
    credential_type: string;
    credential_name: string;
    n8n_credential_id: string | null;
    action: 'inject' | 'rotate';
  }>(
    `SELECT DISTINCT ON (credential_type, credential_name)
            credential_type, credential_name, n8n_credential_id, action
       FROM credential_audit WHERE workflow_id = $1 AND outcome = 'succeeded'
      ORDER BY credential_type, credential_name, at DESC`,
    [workflowId],
  );
  return rows.map((r) => ({
    type: r.credential_type,
    name: r.credential_name,
    action: r.action,
    credentialId: r.n8n_credential_id ?? undefined,
  }));
}

export interface CredentialPushed {
  workspaceId: string;
  dropletId: number;
  workflowId: string;
  type: string;
  name: string;
  credentialId: string;
  action: 'inject' | 'rotate';
}

/** The n8n credential id and a 'succeeded' audit row, in one transaction. */
export async function recordCredentialPushed(pool: Pool, c: CredentialPushed): Promise<void> {
  await withTransaction(pool, async (db) => {
    await db.query(
      `INSERT INTO n8n_credentials
         (workspace_id, credential_type, credential_name, droplet_id, n8n_credential_id, workflow_id, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (workspace_id, credential_type, credential_name) DO UPDATE SET
         droplet_id = EXCLUDED.droplet_id, n8n_credential_id = EXCLUDED.n8n_credential_id,
         workflow_id = EXCLUDED.workflow_id, updated_at = now()`,
      [c.workspaceId, c.type, c.name, c.dropletId, c.credentialId, c.workflowId],
    );
    await db.query(
      `INSERT INTO credential_audit
         (workspace_id, droplet_id, credential_type, credential_name, n8n_credential_id, action, outcome, workflow_id)
       VALUES ($1, $2, $3, $4, $5, $6, 'succeeded', $7)`,
      [c.workspaceId, c.dropletId, c.type, c.name, c.credentialId, c.action, c.workflowId],
    );
  });
}

export interface CredentialFailure {
  workspaceId: string;
  dropletId: number;
  workflowId: string;
  type: string;
  name: string;
  action: 'inject' | 'rotate';
  credentialId?: string;
  error: string;
}

/** A 'failed' audit row for a credential whose push gave up (the error, never the blob). */
export async function auditCredentialFailure(db: Queryable, input: CredentialFailure): Promise<void> {
  await db.query(
    `INSERT INTO credential_audit
       (workspace_id, droplet_id, credential_type, credential_name, n8n_credential_id, action, outcome, error, workflow_id)
     VALUES ($1, $2, $3, $4, $5, $6, 'failed', $7, $8)`,
    [
      input.workspaceId,
      input.dropletId,
      input.type,
      input.name,
      input.credentialId ?? null,
      input.action,
      input.error.slice(0, 1_000),
      input.workflowId,
    ],
  );
}

/**
 * The intent of a DEPLOY_WORKFLOW, recorded before the command: the n8n id an earlier attempt
 * recorded, and whether this call created the intent.
 */
export async function claimWorkflowDeploy(
  db: Queryable,
  input: { workflowId: string; workspaceId: string; dropletId: number; workflowName: string },
): Promise<{ n8nWorkflowId: string | null; fresh: boolean }> {
  const { rows } = await db.query<{ n8n_workflow_id: string | null; fresh: boolean }>(
    `INSERT INTO workflow_deploys (workflow_id, workspace_id, droplet_id, workflow_name)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (workflow_id, droplet_id) DO UPDATE SET workflow_name = EXCLUDED.workflow_name
     RETURNING n8n_workflow_id, (xmax = 0) AS fresh`,
    [input.workflowId, input.workspaceId, input.dropletId, input.workflowName],
  );
  const row = rows[0]!;
  return { n8nWorkflowId: row.n8n_workflow_id, fresh: row.fresh };
}

export async function recordDeployedWorkflowId(
  db: Queryable,
  input: { workflowId: string; dropletId: number; n8nWorkflowId: string },
): Promise<void> {
  await db.query(
    `UPDATE workflow_deploys SET n8n_workflow_id = $3, recorded_at = now()
      WHERE workflow_id = $1 AND droplet_id = $2`,
    [input.workflowId, input.dropletId, input.n8nWorkflowId],
  );
}
