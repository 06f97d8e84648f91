/**
 * Starting change workflows with the deterministic ids and USE_EXISTING of contracts/changes.ts:
 * a retried request from Vercel or a rollout joins the change already running.
 */
import type { Client } from '@temporalio/client';
import {
  changeIds,
  credentialInjectionContract,
  credentialRequestKey as requestKeyOf,
  n8nUpdateContract,
  setAgentDropletIdContract,
  workflowUpdateContract,
  type CredentialInjectionInput,
  type CredentialInjectionWorkflow,
  type N8nContainerUpdateWorkflow,
  type N8nUpdateInput,
  type SetAgentDropletIdInput,
  type WorkflowUpdateInput,
  type WorkflowUpdateWorkflow,
} from '../../contracts/changes';
import type { Workflow } from '@temporalio/common';
import { executeWorkflow, sha256Hex, startWorkflow, type StartedWorkflow } from './start';

export type StartedChange<W extends Workflow> = StartedWorkflow<W>;

export function startN8nUpdate(
  client: Client,
  taskQueue: string,
  input: N8nUpdateInput,
): Promise<StartedChange<N8nContainerUpdateWorkflow>> {
  return startWorkflow(client, n8nUpdateContract, input, { taskQueue });
}

/** A digest of the request: the same input always maps to the same workflow id. */
export function credentialRequestKey(input: CredentialInjectionInput): string {
  return requestKeyOf(input, sha256Hex);
}

export function startCredentialInjection(
  client: Client,
  taskQueue: string,
  input: CredentialInjectionInput,
  opts: { requestKey?: string } = {},
): Promise<StartedChange<CredentialInjectionWorkflow>> {
  const workflowId =
    opts.requestKey !== undefined
      ? changeIds.credentialInjection(input.dropletId, opts.requestKey)
      : undefined;
  return startWorkflow(client, credentialInjectionContract, input, { taskQueue, workflowId });
}

export function startWorkflowUpdate(
  client: Client,
  taskQueue: string,
  input: WorkflowUpdateInput,
): Promise<StartedChange<WorkflowUpdateWorkflow>> {
  return startWorkflow(client, workflowUpdateContract, input, { taskQueue });
}

/** Records a droplet's agent droplet_id claim; waits for it (one quick write). */
export function runSetAgentDropletId(
  client: Client,
  taskQueue: string,
  input: SetAgentDropletIdInput,
): Promise<{ agentDropletId: string }> {
  return executeWorkflow(client, setAgentDropletIdContract, input, { taskQueue });
}
