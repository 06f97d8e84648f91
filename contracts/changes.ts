/**
 * Changes pushed to one tenant: n8n container update, credential injection, n8n workflow update,
 * and recording the agent's droplet_id claim. Deterministic ids with USE_EXISTING: a retried
 * request from Vercel or a rollout joins the change already running instead of starting a second.
 *   n8n update           n8n-update-<dropletId>-<toTag>
 *   credential injection credential-injection-<dropletId>-<digest of the request> (a re-run with the
 *                        same input gets the same id and re-sends only what failed)
 *   workflow update      workflow-update-<dropletId>-<workflowName>-<version>
 *   agent droplet id     agent-droplet-id-<dropletId>-<digest of the claim>
 */
import {
  agentSelfUpdateRefusal,
  invalidAgentDropletId,
  invalidCredentialInjection,
  invalidN8nUpdate,
  invalidWorkflowUpdate,
  type ChangeStatus,
  type CredentialInjectionInput,
  type CredentialInjectionResult,
  type N8nUpdateInput,
  type N8nUpdateResult,
  type N8nUpdateStatus,
  type SetAgentDropletIdInput,
  type WorkflowUpdateInput,
  type WorkflowUpdateResult,
} from '../src/domain/changes';
import { defineQuery, defineSignal, defineUpdate, type WorkflowContract } from './define';
import { searchAttributes } from './search-attributes';

/** Why an agent update is refused (protocol v1 agents cannot update themselves). */
export { agentSelfUpdateRefusal };

export type {
  ChangeStatus,
  CredentialInjectionInput,
  CredentialInjectionResult,
  N8nUpdateInput,
  N8nUpdateResult,
  N8nUpdateStatus,
  SetAgentDropletIdInput,
  WorkflowUpdateInput,
  WorkflowUpdateResult,
};

export type N8nContainerUpdateWorkflow = (input: N8nUpdateInput) => Promise<N8nUpdateResult>;
export type CredentialInjectionWorkflow = (
  input: CredentialInjectionInput,
) => Promise<CredentialInjectionResult>;
export type WorkflowUpdateWorkflow = (input: WorkflowUpdateInput) => Promise<WorkflowUpdateResult>;
export type SetAgentDropletIdWorkflow = (
  input: SetAgentDropletIdInput,
) => Promise<{ agentDropletId: string }>;

/** Phase, tags and last error of a running n8n container update. */
export const n8nUpdateStatusQuery = defineQuery<N8nUpdateStatus>('status');
/** Manual gate: promote the verified new tag (rejected unless the update waits at the gate). */
export const promoteUpdate = defineUpdate<N8nUpdateStatus, [{ by?: string }]>('promote');
/** Abandon the update: before promotion it swaps back to the previous tag. */
export const abortSignal = defineSignal<[{ reason?: string }]>('abort');
/** Phase and last error of a credential injection or workflow update. */
export const changeStatusQuery = defineQuery<ChangeStatus>('status');

/** Deterministic ids of the change workflows (starts use USE_EXISTING). */
export const changeIds = {
  n8nUpdate: (dropletId: number, toTag: string) => `n8n-update-${dropletId}-${toTag}`,
  /** requestKey: a digest of the request (never the credentials themselves) */
  credentialInjection: (dropletId: number, requestKey: string) =>
    `credential-injection-${dropletId}-${requestKey}`,
  workflowUpdate: (dropletId: number, workflowName: string, version: string) =>
    `workflow-update-${dropletId}-${workflowName}-${version}`,
  /** claimKey: a digest of the agent's droplet_id claim */
  agentDropletId: (dropletId: number, claimKey: string) => `agent-droplet-id-${dropletId}-${claimKey}`,
};

/** A digest of a credential injection request: the same input always maps to the same workflow id. */
export function credentialRequestKey(
  input: CredentialInjectionInput,
  sha256Hex: (text: string) => string,
): string {
  let text = input.workspaceId;
  for (const c of input.credentials)
    text += `\u0000${c.type}\u0000${c.name}\u0000${c.credentialId ?? ''}\u0000${c.encryptedData}`;
  return sha256Hex(text).slice(0, 16);
}

/** The search attributes of a change to one tenant, with what else the Web UI shows of it. */
const changeAttributes =
  <I extends { workspaceId: string; dropletId: number }>(
    operation: string,
    more: (input: I) => { reason?: string; rolloutId?: string } = () => ({}),
  ) =>
  (input: I) =>
    searchAttributes({
      operation,
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      ...more(input),
    });

export const n8nUpdateContract: WorkflowContract<N8nContainerUpdateWorkflow> = {
  workflowType: 'n8nContainerUpdate',
  conflictPolicy: 'USE_EXISTING',
  workflowId: (input) => changeIds.n8nUpdate(input.dropletId, input.toTag),
  searchAttributes: changeAttributes('n8n_update', (input: N8nUpdateInput) => ({
    reason: `${input.fromTag ?? 'recorded'}->${input.toTag}`,
    rolloutId: input.rolloutId,
  })),
  validate: (input) => invalidN8nUpdate(input),
};

export const credentialInjectionContract: WorkflowContract<CredentialInjectionWorkflow> = {
  workflowType: 'credentialInjection',
  conflictPolicy: 'USE_EXISTING',
  workflowId: (input, { sha256Hex }) =>
    changeIds.credentialInjection(input.dropletId, credentialRequestKey(input, sha256Hex)),
  searchAttributes: changeAttributes('credential_injection'),
  validate: (input) => invalidCredentialInjection(input),
};

export const workflowUpdateContract: WorkflowContract<WorkflowUpdateWorkflow> = {
  workflowType: 'workflowUpdate',
  conflictPolicy: 'USE_EXISTING',
  workflowId: (input) => changeIds.workflowUpdate(input.dropletId, input.workflowName, input.version),
  searchAttributes: changeAttributes('workflow_update', (input: WorkflowUpdateInput) => ({
    reason: input.version,
  })),
  validate: (input) => invalidWorkflowUpdate(input),
};

/** One quick write the caller waits for; a later run with the same claim may run again. */
export const setAgentDropletIdContract: WorkflowContract<SetAgentDropletIdWorkflow> = {
  workflowType: 'setAgentDropletId',
  conflictPolicy: 'USE_EXISTING',
  reusePolicy: 'ALLOW_DUPLICATE',
  workflowId: (input, { sha256Hex }) =>
    changeIds.agentDropletId(input.dropletId, sha256Hex(input.agentDropletId).slice(0, 12)),
  searchAttributes: changeAttributes('set_agent_droplet_id'),
  validate: (input) => invalidAgentDropletId(input),
};
