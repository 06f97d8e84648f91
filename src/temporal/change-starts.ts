/**
 * Starting change workflows with deterministic ids and USE_EXISTING: a retried request from Vercel
 * or a rollout joins the change already running instead of starting a second one.
 *   sidecar update       sidecar-update-<dropletId>-<toVersion>
 *   credential injection credential-injection-<dropletId>-<digest of the request> (a re-run with the
 *                        same input gets the same id and re-sends only what failed)
 *   workflow update      workflow-update-<dropletId>-<workflowName>-<version>
 */
import { createHash } from 'node:crypto';
import type { Client, Workflow, WorkflowHandle } from '@temporalio/client';
import type { CredentialInjectionInput, SidecarUpdateInput, WorkflowUpdateInput } from '../domain/changes';
import { credentialInjection } from '../../workflows/changes/credential-injection';
import { sidecarUpdate } from '../../workflows/changes/sidecar-update';
import { workflowUpdate } from '../../workflows/changes/workflow-update';
import { changeIds } from '../../workflows/messages';
import { searchAttributes } from './search-attributes';

export interface StartedChange<W extends Workflow> {
  workflowId: string;
  runId: string;
  /** True when the same change was already running and this call joined it. */
  joined: boolean;
  handle: WorkflowHandle<W>;
}

async function joinedOrStarted<W extends Workflow>(
  handle: WorkflowHandle<W>,
  calledAt: number,
): Promise<StartedChange<W>> {
  const d = await handle.describe();
  return {
    workflowId: handle.workflowId,
    runId: d.runId,
    joined: d.startTime.getTime() < calledAt - 1_000,
    handle,
  };
}

export async function startSidecarUpdate(
  client: Client,
  taskQueue: string,
  input: SidecarUpdateInput,
): Promise<StartedChange<typeof sidecarUpdate>> {
  const calledAt = Date.now();
  const handle = await client.workflow.start(sidecarUpdate, {
    taskQueue,
    workflowId: changeIds.sidecarUpdate(input.dropletId, input.toVersion),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation: 'sidecar_update',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      reason: `${input.fromVersion}->${input.toVersion}`,
      rolloutId: input.rolloutId,
    }),
  });
  return joinedOrStarted(handle, calledAt);
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
  const calledAt = Date.now();
  const handle = await client.workflow.start(credentialInjection, {
    taskQueue,
    workflowId: changeIds.credentialInjection(
      input.dropletId,
      opts.requestKey ?? credentialRequestKey(input),
    ),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation: 'credential_injection',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
    }),
  });
  return joinedOrStarted(handle, calledAt);
}

export async function startWorkflowUpdate(
  client: Client,
  taskQueue: string,
  input: WorkflowUpdateInput,
): Promise<StartedChange<typeof workflowUpdate>> {
  const calledAt = Date.now();
  const handle = await client.workflow.start(workflowUpdate, {
    taskQueue,
    workflowId: changeIds.workflowUpdate(input.dropletId, input.workflowName, input.version),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation: 'workflow_update',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      reason: input.version,
    }),
  });
  return joinedOrStarted(handle, calledAt);
}
