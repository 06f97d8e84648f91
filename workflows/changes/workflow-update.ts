/**
 * Pushes one n8n workflow to one tenant: DEPLOY_WORKFLOW (or UPDATE_WORKFLOW when tenant_versions
 * already knows the n8n workflow id), ACTIVATE_WORKFLOW, then GET_WORKFLOW must read back the new
 * version (carried in workflow_json.meta.genesisVersion) and active. Only then tenant_versions
 * records component 'workflow:<name>' with artifact {workflow_id, workflow_json}; the previous
 * artifact is kept so a rollback can redeploy it.
 */
import { ApplicationFailure, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  ChangeFailure,
  invalidWorkflowUpdate,
  WORKFLOW_VERSION_META_KEY,
  type ChangeStatus,
  type WorkflowUpdateInput,
  type WorkflowUpdateResult,
} from '../../src/domain/changes';
import { changeStatusQuery } from '../messages';
import { db, sidecar } from './activities';
import { failureMessage } from './input';
import { loadOwnedDroplet, requireValidDropletInput } from '../droplet-owner';

export async function workflowUpdate(input: WorkflowUpdateInput): Promise<WorkflowUpdateResult> {
  requireValidDropletInput(input, invalidWorkflowUpdate);
  const { workspaceId, dropletId, workflowName, version } = input;
  const { workflowId } = workflowInfo();
  const component = `workflow:${workflowName}`;
  const status: ChangeStatus = { phase: 'checking', workflowName, version };
  setHandler(changeStatusQuery, () => status);

  await loadOwnedDroplet(input);
  const meta = (input.workflowJson.meta ?? {}) as Record<string, unknown>;
  const workflowJson = { ...input.workflowJson, meta: { ...meta, [WORKFLOW_VERSION_META_KEY]: version } };

  const current = await db.getTenantVersion({ workspaceId, component });
  const knownId = current?.artifact?.workflow_id;
  let n8nWorkflowId: string;
  let action: 'deploy' | 'update';
  try {
    if (typeof knownId === 'string' && knownId) {
      status.phase = 'updating';
      action = 'update';
      n8nWorkflowId = knownId;
      await sidecar.sidecarUpdateWorkflow({ dropletId, n8nWorkflowId, workflowJson });
    } else {
      status.phase = 'deploying';
      action = 'deploy';
      n8nWorkflowId = await sidecar.sidecarDeployWorkflow({
        dropletId,
        workflowJson,
        credentialMap: input.credentialMap,
      });
    }
    status.n8nWorkflowId = n8nWorkflowId;
    status.phase = 'activating';
    await sidecar.sidecarActivateWorkflow({ dropletId, n8nWorkflowId });
    status.phase = 'verifying';
    const read = await sidecar.sidecarWorkflowVersion({
      dropletId,
      n8nWorkflowId,
      metaKey: WORKFLOW_VERSION_META_KEY,
    });
    if (read.version !== version || !read.active) {
      throw new Error(
        `workflow ${n8nWorkflowId} reads back version ${read.version ?? 'none'}${read.active ? '' : ' (inactive)'}, expected ${version} active`,
      );
    }
  } catch (err) {
    status.phase = 'failed';
    status.lastError = failureMessage(err);
    throw ApplicationFailure.nonRetryable(
      `workflow update of droplet ${dropletId} to version ${version} failed: ${status.lastError}`,
      ChangeFailure.verificationFailed,
    );
  }

  status.phase = 'recording';
  await db.recordTenantVersion({
    workspaceId,
    component,
    version,
    artifact: { workflow_id: n8nWorkflowId, workflow_json: workflowJson },
    workflowId,
  });
  status.phase = 'done';
  return {
    dropletId,
    workflowName,
    n8nWorkflowId,
    version,
    previousVersion: current?.version ?? null,
    action,
  };
}
