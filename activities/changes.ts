/**
 * Side effects of the change workflows (n8n container update, credential injection, n8n workflow
 * update): sidecar commands through the signed client (protocol v1: the agent's droplet_id claim,
 * two-level success), what the heartbeat drain recorded about the droplet, tenant_versions, the
 * n8n workflow ids a deploy created, the n8n credential ids and the credential audit. Credential
 * blobs pass through to the sidecar and are never logged or stored.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CredentialFailure, N8nTagRecord, TenantVersion, TenantVersionRecord } from '../src/db/changes';
import type { ConcurrencyKind } from '../src/concurrency/fleet-semaphore';
import type { CredentialOutcome, CredentialSpec } from '../src/domain/changes';
import { PowerFailure } from '../src/domain/power';
import type { SidecarTarget } from '../src/sidecar/client';
import { N8N_IMAGE, type N8nWorkflow } from '../src/sidecar/protocol';
import { sidecarTargetOf } from '../src/sidecar/target';
import { workflowDifferences } from '../src/domain/n8n-workflow';
import { bindLogContext } from '../src/observability/log-context';
import { portsOf, type ActivityDeps } from './deps';
import { asActivityFailure, required } from './errors';

export type { TenantVersion };

export interface DropletHeartbeatView {
  lastHeartbeatAt: string | null;
  n8nStatus: string | null;
}

/** SWAP_CONTAINER pulls, starts the new container and waits up to 60 s for docker health. */
const SWAP_TIMEOUT_MS = 5 * 60_000;

export function createChangeActivities(deps: ActivityDeps) {
  const sidecar = () => required(deps.sidecar, 'the sidecar client');
  const signal = () => Context.current().cancellationSignal;
  const { droplets, tenantVersions, credentials, workflowDeploys } = portsOf(deps);

  async function targetOf(dropletId: number): Promise<SidecarTarget> {
    const row = await droplets.get(dropletId);
    if (!row)
      throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
    bindLogContext({ workspaceId: row.workspace_id, dropletId });
    const target = sidecarTargetOf(row);
    if (!target)
      throw ApplicationFailure.nonRetryable(
        `droplet ${dropletId} has no registered sidecar_url yet`,
        'SidecarUnknown',
      );
    return target;
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
    /**
     * SWAP_CONTAINER: the agent swaps the n8n container to `n8nio/n8n:<tag>` (pull, start beside
     * the old one, docker health wait, retire the old one). `result.success: false` means the new
     * container did not come up and the old one keeps serving: a non-retryable failure naming it.
     */
    async sidecarSwapN8nContainer(input: { dropletId: number; tag: string }): Promise<{ image: string }> {
      const t = await targetOf(input.dropletId);
      await call('n8n_update', (s) =>
        sidecar().swapContainer(t, { new_image_tag: input.tag }, { signal: s, timeoutMs: SWAP_TIMEOUT_MS }),
      );
      return { image: `${N8N_IMAGE}:${input.tag}` };
    },

    /** The n8n image tag the control plane last recorded for the droplet (its own record). */
    async recordedN8nTag(dropletId: number): Promise<string | null> {
      const row = await droplets.get(dropletId);
      if (!row)
        throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
      return (await tenantVersions.recordedN8nVersion(row.workspace_id)) ?? row.n8n_version ?? null;
    },

    /** Records the n8n tag now running: tenant_versions (with the previous tag) and the droplet row. */
    async recordN8nTag(input: N8nTagRecord): Promise<void> {
      await tenantVersions.recordN8nTag(input);
    },

    /** Records the droplet_id claim the droplet's agent expects (an operator's or the dashboard's word). */
    async recordAgentDropletId(input: {
      dropletId: number;
      agentDropletId: string;
      source: 'operator' | 'client';
    }): Promise<void> {
      if (!(await droplets.setAgentDropletId(input.dropletId, input.agentDropletId, input.source)))
        throw ApplicationFailure.nonRetryable(
          `droplet ${input.dropletId} is not known`,
          PowerFailure.notFound,
        );
    },

    /** The droplet's newest keep-alive as the drain recorded it. */
    async dropletHeartbeat(dropletId: number): Promise<DropletHeartbeatView> {
      const row = await droplets.get(dropletId);
      if (!row)
        throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
      return {
        lastHeartbeatAt: row.last_heartbeat_at?.toISOString() ?? null,
        n8nStatus: row.n8n_status,
      };
    },

    async getTenantVersion(input: { workspaceId: string; component: string }): Promise<TenantVersion | null> {
      return tenantVersions.get(input);
    },

    /**
     * Records what now runs. The previous version/artifact are the row's current ones; a retry of
     * the same record (same version and artifact) changes nothing.
     */
    async recordTenantVersion(input: TenantVersionRecord): Promise<void> {
      await tenantVersions.record(input);
    },

    /** Credentials this workflow id already injected or rotated successfully (a re-run skips them). */
    async credentialsSucceededFor(workflowId: string): Promise<CredentialOutcome[]> {
      return credentials.succeededFor(workflowId);
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
        // ROTATE_CREDENTIAL answers {success}; the credential keeps its id
        await call('credential', (s) =>
          sidecar().rotateCredential(
            t,
            { credential_id: id, encrypted_data: c.encryptedData },
            { signal: s },
          ),
        );
        credentialId = id;
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
      await credentials.recordPushed({
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        workflowId: input.workflowId,
        type: c.type,
        name: c.name,
        credentialId,
        action,
      });
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
    async auditCredentialFailure(input: CredentialFailure): Promise<void> {
      await credentials.auditFailure(input);
    },

    /**
     * DEPLOY_WORKFLOW at most once per (change workflow, droplet): the intent is recorded before
     * the command and the n8n id the agent answers (`id`) the moment it arrives, so a retried
     * attempt reuses the workflow the first one created. An attempt that sent the command and
     * died before recording its answer leaves an unknown outcome (protocol v1 cannot list
     * workflows to find it): that is refused for a human rather than risking a second workflow.
     */
    async sidecarDeployWorkflow(input: {
      dropletId: number;
      workspaceId: string;
      workflowId: string;
      workflowName: string;
      workflowJson: Record<string, unknown>;
      credentialMap?: Record<string, string>;
    }): Promise<string> {
      const t = await targetOf(input.dropletId);
      const row = await workflowDeploys.claim({
        workflowId: input.workflowId,
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        workflowName: input.workflowName,
      });
      if (row.n8nWorkflowId) return row.n8nWorkflowId;
      if (!row.fresh)
        throw ApplicationFailure.nonRetryable(
          `an earlier attempt sent DEPLOY_WORKFLOW for "${input.workflowName}" to droplet ${input.dropletId} and ` +
            `its answer was never recorded; check the tenant's n8n for that workflow before deploying again`,
          'DeployOutcomeUnknown',
        );
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
      await workflowDeploys.recordN8nWorkflowId({
        workflowId: input.workflowId,
        dropletId: input.dropletId,
        n8nWorkflowId: result.id,
      });
      return result.id;
    },

    /** UPDATE_WORKFLOW; the agent applies no credential_map, so the JSON arrives substituted. */
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

    /**
     * GET_WORKFLOW, compared with what was sent (name, nodes, connections, settings): the agent
     * keeps no version (it drops `meta`), so this is how a deploy is verified. Only the verdict and
     * the differences leave the activity; the JSON stays out of the history.
     */
    async sidecarReadBackWorkflow(input: {
      dropletId: number;
      n8nWorkflowId: string;
      expected: Record<string, unknown>;
    }): Promise<{ active: boolean; differences: string[] }> {
      const t = await targetOf(input.dropletId);
      const { result } = await call('workflow_update', (s) =>
        sidecar().getWorkflow(t, { workflow_id: input.n8nWorkflowId }, { signal: s }),
      );
      const workflow: N8nWorkflow = result.workflow;
      return { active: workflow.active, differences: workflowDifferences(input.expected, workflow) };
    },
  };
}
