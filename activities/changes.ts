/**
 * Side effects of the change workflows (sidecar update, credential injection, n8n workflow
 * update): sidecar commands through the signed client, what the heartbeat drain recorded about the
 * droplet, tenant_versions, the n8n credential ids and the credential audit. Credential blobs pass
 * through to the sidecar and are never logged or stored.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { getDroplet } from '../src/db/droplets';
import type { ConcurrencyKind } from '../src/concurrency/fleet-semaphore';
import type { CredentialOutcome, CredentialSpec } from '../src/domain/changes';
import { PowerFailure } from '../src/domain/power';
import type { SidecarTarget } from '../src/sidecar/client';
import { bindLogContext } from '../src/observability/log-context';
import type { ActivityDeps } from './deps';
import { asActivityFailure, required } from './errors';

export interface TenantVersion {
  version: string;
  previousVersion: string | null;
  artifact: Record<string, unknown> | null;
  previousArtifact: Record<string, unknown> | null;
}

export interface DropletHeartbeatView {
  lastHeartbeatAt: string | null;
  sidecarVersion: string | null;
  n8nStatus: string | null;
}

export function createChangeActivities(deps: ActivityDeps) {
  const sidecar = () => required(deps.sidecar, 'the sidecar client');
  const signal = () => Context.current().cancellationSignal;

  async function targetOf(dropletId: number): Promise<SidecarTarget> {
    const row = await getDroplet(deps.pool, dropletId);
    if (!row)
      throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
    bindLogContext({ workspaceId: row.workspace_id, dropletId });
    if (!row.sidecar_url)
      throw ApplicationFailure.nonRetryable(`droplet ${dropletId} has no sidecar_url`, 'SidecarUnknown');
    return { sidecarUrl: row.sidecar_url, workspaceId: row.workspace_id, dropletId };
  }

  /**
   * One sidecar command, holding a fleet-wide slot of its kind while it runs. The activity
   * heartbeats throughout (waiting for a slot included), so a worker that dies mid-command is
   * noticed within the heartbeat timeout instead of the whole start-to-close timeout. `fn` gets
   * the signal to pass to the sidecar client: aborted when the activity is cancelled or the slot's
   * lease is lost (then the activity fails with the retryable FleetLeaseLostError).
   */
  async function call<T>(kind: ConcurrencyKind, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    ctx.heartbeat();
    const beat = setInterval(() => ctx.heartbeat(), 2_000);
    try {
      return deps.concurrency ? await deps.concurrency.withSlot(kind, fn, signal()) : await fn(signal());
    } catch (err) {
      throw asActivityFailure(err);
    } finally {
      clearInterval(beat);
    }
  }

  return {
    async sidecarPullImage(input: { dropletId: number; image: string; tag: string }): Promise<void> {
      const t = await targetOf(input.dropletId);
      await call('sidecar_update', (s) =>
        sidecar().pullImage(t, { image_name: input.image, tag: input.tag }, { signal: s }),
      );
    },

    /** SWAP_CONTAINER; swapping to the tag already running is a no-op success (safe to retry). */
    async sidecarSwapContainer(input: { dropletId: number; tag: string }): Promise<{ changed: boolean }> {
      const t = await targetOf(input.dropletId);
      const { result } = await call('sidecar_update', (s) =>
        sidecar().swapContainer(t, { new_image_tag: input.tag }, { signal: s }),
      );
      return { changed: (result as { changed?: boolean }).changed !== false };
    },

    /** The droplet's newest heartbeat as the drain recorded it. */
    async dropletHeartbeat(dropletId: number): Promise<DropletHeartbeatView> {
      const row = await getDroplet(deps.pool, dropletId);
      if (!row)
        throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
      return {
        lastHeartbeatAt: row.last_heartbeat_at?.toISOString() ?? null,
        sidecarVersion: row.sidecar_version,
        n8nStatus: row.n8n_status,
      };
    },

    async getTenantVersion(input: { workspaceId: string; component: string }): Promise<TenantVersion | null> {
      const { rows } = await deps.pool.query<{
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
    },

    /**
     * Records what now runs. The previous version/artifact are the row's current ones; a retry of
     * the same record (same version and artifact) changes nothing.
     */
    async recordTenantVersion(input: {
      workspaceId: string;
      component: string;
      version: string;
      /** used when no row exists yet (e.g. the sidecar's fromVersion) */
      previousVersion?: string | null;
      artifact?: Record<string, unknown> | null;
      workflowId: string;
    }): Promise<void> {
      await deps.pool.query(
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
    },

    /** Credentials this workflow id already injected or rotated successfully (a re-run skips them). */
    async credentialsSucceededFor(workflowId: string): Promise<CredentialOutcome[]> {
      const { rows } = await deps.pool.query<{
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
    },

    /**
     * INJECT_CREDENTIAL (or ROTATE_CREDENTIAL with a credentialId) for ONE credential; on success
     * records the n8n credential id and a 'succeeded' audit row in one transaction.
     */
    async pushCredential(input: {
      workspaceId: string;
      dropletId: number;
      workflowId: string;
      credential: CredentialSpec;
    }): Promise<CredentialOutcome> {
      const { credential: c } = input;
      const t = await targetOf(input.dropletId);
      const action = c.credentialId ? 'rotate' : 'inject';
      let credentialId: string;
      if (c.credentialId) {
        const id = c.credentialId;
        const { result } = await call('credential', (s) =>
          sidecar().rotateCredential(
            t,
            { credential_id: id, encrypted_data: c.encryptedData },
            { signal: s },
          ),
        );
        credentialId = result.credential_id ?? id;
      } else {
        const { result } = await call('credential', (s) =>
          sidecar().injectCredential(
            t,
            { credential_type: c.type, credential_name: c.name, encrypted_data: c.encryptedData },
            { signal: s },
          ),
        );
        credentialId = result.credential_id;
      }
      const db = await deps.pool.connect();
      try {
        await db.query('BEGIN');
        await db.query(
          `INSERT INTO n8n_credentials
             (workspace_id, credential_type, credential_name, droplet_id, n8n_credential_id, workflow_id, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, now())
           ON CONFLICT (workspace_id, credential_type, credential_name) DO UPDATE SET
             droplet_id = EXCLUDED.droplet_id, n8n_credential_id = EXCLUDED.n8n_credential_id,
             workflow_id = EXCLUDED.workflow_id, updated_at = now()`,
          [input.workspaceId, c.type, c.name, input.dropletId, credentialId, input.workflowId],
        );
        await db.query(
          `INSERT INTO credential_audit
             (workspace_id, droplet_id, credential_type, credential_name, n8n_credential_id, action, outcome, workflow_id)
           VALUES ($1, $2, $3, $4, $5, $6, 'succeeded', $7)`,
          [input.workspaceId, input.dropletId, c.type, c.name, credentialId, action, input.workflowId],
        );
        await db.query('COMMIT');
      } catch (err) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        db.release();
      }
      deps.logger.info(
        {
          workspaceId: input.workspaceId,
          dropletId: input.dropletId,
          workflowId: input.workflowId,
          action,
          credentialType: c.type,
        },
        'credential pushed',
      );
      return { type: c.type, name: c.name, action, credentialId };
    },

    /** A 'failed' audit row for a credential whose push gave up (the error, never the blob). */
    async auditCredentialFailure(input: {
      workspaceId: string;
      dropletId: number;
      workflowId: string;
      type: string;
      name: string;
      action: 'inject' | 'rotate';
      credentialId?: string;
      error: string;
    }): Promise<void> {
      await deps.pool.query(
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
    },

    async sidecarDeployWorkflow(input: {
      dropletId: number;
      workflowJson: Record<string, unknown>;
      credentialMap?: Record<string, string>;
    }): Promise<string> {
      const t = await targetOf(input.dropletId);
      const { result } = await call('workflow_update', (s) =>
        sidecar().deployWorkflow(
          t,
          {
            workflow_json: input.workflowJson,
            ...(input.credentialMap ? { credential_map: input.credentialMap } : {}),
          },
          { signal: s },
        ),
      );
      return result.workflow_id;
    },

    async sidecarUpdateWorkflow(input: {
      dropletId: number;
      n8nWorkflowId: string;
      workflowJson: Record<string, unknown>;
    }): Promise<void> {
      const t = await targetOf(input.dropletId);
      await call('workflow_update', (s) =>
        sidecar().updateWorkflow(
          t,
          { workflow_id: input.n8nWorkflowId, workflow_json: input.workflowJson },
          { signal: s },
        ),
      );
    },

    async sidecarActivateWorkflow(input: { dropletId: number; n8nWorkflowId: string }): Promise<void> {
      const t = await targetOf(input.dropletId);
      await call('workflow_update', (s) =>
        sidecar().activateWorkflow(t, { workflow_id: input.n8nWorkflowId }, { signal: s }),
      );
    },

    /** GET_WORKFLOW, reduced to what verification needs (the JSON stays out of the history). */
    async sidecarWorkflowVersion(input: {
      dropletId: number;
      n8nWorkflowId: string;
      metaKey: string;
    }): Promise<{ active: boolean; version: string | null }> {
      const t = await targetOf(input.dropletId);
      const { result } = await call('workflow_update', (s) =>
        sidecar().getWorkflow(t, { workflow_id: input.n8nWorkflowId }, { signal: s }),
      );
      const meta = result.workflow_json.meta as Record<string, unknown> | undefined;
      const v = meta?.[input.metaKey];
      return { active: result.active, version: typeof v === 'string' ? v : null };
    },
  };
}
