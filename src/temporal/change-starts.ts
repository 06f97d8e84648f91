/**
 * Starting change workflows with deterministic ids and USE_EXISTING: a retried request from Vercel
 * or a rollout joins the change already running instead of starting a second one.
 *   n8n update           n8n-update-<dropletId>-<toTag>
 *   credential injection credential-injection-<dropletId>-<digest of the request> (a re-run with the
 *                        same input gets the same id and re-sends only what failed)
 *   workflow update      workflow-update-<dropletId>-<workflowName>-<version>
 */
import { createHash } from 'node:crypto';
import type { Client, Workflow } from '@temporalio/client';
import type {
  CredentialInjectionInput,
  N8nUpdateInput,
  SetAgentDropletIdInput,
  WorkflowUpdateInput,
} from '../domain/changes';
import { setAgentDropletId } from '../../workflows/changes/set-agent-droplet-id';
import { credentialInjection } from '../../workflows/changes/credential-injection';
import { n8nContainerUpdate } from '../../workflows/changes/n8n-container-update';
import { workflowUpdate } from '../../workflows/changes/workflow-update';
import { changeIds } from '../../workflows/messages';
import { startOrJoin, type StartedWorkflow } from './idempotent-start';
import { searchAttributes } from './search-attributes';

export type StartedChange<W extends Workflow> = StartedWorkflow<W>;

export async function startN8nUpdate(
  client: Client,
  taskQueue: string,
  input: N8nUpdateInput,
): Promise<StartedChange<typeof n8nContainerUpdate>> {
  const workflowId = changeIds.n8nUpdate(input.dropletId, input.toTag);
  return startOrJoin(client, workflowId, () =>
    client.workflow.start(n8nContainerUpdate, {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: searchAttributes({
        operation: 'n8n_update',
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        reason: `${input.fromTag ?? 'recorded'}->${input.toTag}`,
        rolloutId: input.rolloutId,
      }),
    }),
  );
}

/** A digest of the request: the same input always maps to the same workflow id. */
export function credentialRequestKey(input: CredentialInjectionInput): string {
  const h = createHash('sha256');
  h.update(input.workspaceId);
  for (const c of input.credentials)
    h.update(`\u0000${c.type}\u0000${c.name}\u0000${c.credentialId ?? ''}\u0000${c.encryptedData}`);
  return h.digest('hex').slice(0, 16);
}

export async function startCredentialInjection(
  client: Client,
  taskQueue: string,
  input: CredentialInjectionInput,
  opts: { requestKey?: string } = {},
): Promise<StartedChange<typeof credentialInjection>> {
  const workflowId = changeIds.credentialInjection(
    input.dropletId,
    opts.requestKey ?? credentialRequestKey(input),
  );
  return startOrJoin(client, workflowId, () =>
    client.workflow.start(credentialInjection, {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: searchAttributes({
        operation: 'credential_injection',
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
      }),
    }),
  );
}

export async function startWorkflowUpdate(
  client: Client,
  taskQueue: string,
  input: WorkflowUpdateInput,
): Promise<StartedChange<typeof workflowUpdate>> {
  const workflowId = changeIds.workflowUpdate(input.dropletId, input.workflowName, input.version);
  return startOrJoin(client, workflowId, () =>
    client.workflow.start(workflowUpdate, {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: searchAttributes({
        operation: 'workflow_update',
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        reason: input.version,
      }),
    }),
  );
}

/** Records a droplet's agent droplet_id claim; waits for it (one quick write). */
export async function runSetAgentDropletId(
  client: Client,
  taskQueue: string,
  input: SetAgentDropletIdInput,
): Promise<{ agentDropletId: string }> {
  return client.workflow.execute(setAgentDropletId, {
    taskQueue,
    workflowId: `agent-droplet-id-${input.dropletId}-${createHash('sha256').update(input.agentDropletId).digest('hex').slice(0, 12)}`,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: searchAttributes({
      operation: 'set_agent_droplet_id',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
    }),
  });
}
