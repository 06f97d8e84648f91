/**
 * Pushes one n8n workflow to one tenant through protocol v1: DEPLOY_WORKFLOW (the agent applies
 * the credential map and answers the n8n id in `id`; at most once per run, see the activity) or,
 * when tenant_versions already knows the n8n workflow id, UPDATE_WORKFLOW with the credential ids
 * substituted here (the agent does not); then ACTIVATE_WORKFLOW, then GET_WORKFLOW must read back
 * active and equal to what was sent (name, nodes, connections, settings). The agent drops `meta`,
 * so the version is never read from n8n: only after the read-back does tenant_versions record
 * component 'workflow:<name>' at the version, with artifact {workflow_id, workflow_json}; the
 * previous artifact is kept so a rollback can redeploy it.
 */
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  ChangeFailure,
  invalidWorkflowUpdate,
  type ChangeStatus,
  type WorkflowUpdateInput,
  type WorkflowUpdateResult,
} from '../../src/domain/changes';
import { forwardedWorkflow, substituteCredentials } from '../../src/domain/n8n-workflow';
import { changeStatusQuery } from '../../contracts/changes';
import { dropletPrologue } from '../droplet-prologue';
import { failureMessage } from '../failures';
import { dbPolicy, sidecarPolicy } from '../policies';

const { getTenantVersion, recordTenantVersion } =
  proxyActivities<Pick<Activities, 'getTenantVersion' | 'recordTenantVersion'>>(dbPolicy);
const { sidecarUpdateWorkflow, sidecarDeployWorkflow, sidecarActivateWorkflow, sidecarReadBackWorkflow } =
  proxyActivities<
    Pick<
      Activities,
      | 'sidecarUpdateWorkflow'
      | 'sidecarDeployWorkflow'
      | 'sidecarActivateWorkflow'
      | 'sidecarReadBackWorkflow'
    >
  >(sidecarPolicy);

export async function workflowUpdate(input: WorkflowUpdateInput): Promise<WorkflowUpdateResult> {
  const { status } = await dropletPrologue(input, {
    problemOf: invalidWorkflowUpdate,
    statusQuery: changeStatusQuery,
    status: (i): ChangeStatus => ({ phase: 'checking', workflowName: i.workflowName, version: i.version }),
  });
  const { workspaceId, dropletId, workflowName, version } = input;
  const { workflowId } = workflowInfo();
  const component = `workflow:${workflowName}`;
  const workflowJson = input.workflowJson;
  // what n8n must hold afterwards: the forwarded fields, credential ids substituted
  const expected = forwardedWorkflow(substituteCredentials(workflowJson, input.credentialMap));

  const current = await getTenantVersion({ workspaceId, component });
  const knownId = current?.artifact?.workflow_id;
  let n8nWorkflowId: string;
  let action: 'deploy' | 'update';
  try {
    if (typeof knownId === 'string' && knownId) {
      status.phase = 'updating';
      action = 'update';
      n8nWorkflowId = knownId;
      await sidecarUpdateWorkflow({
        dropletId,
        n8nWorkflowId,
        workflowJson: substituteCredentials(workflowJson, input.credentialMap),
      });
    } else {
      status.phase = 'deploying';
      action = 'deploy';
      n8nWorkflowId = await sidecarDeployWorkflow({
        dropletId,
        workspaceId,
        workflowId,
        workflowName,
        workflowJson,
        credentialMap: input.credentialMap,
      });
    }
    status.n8nWorkflowId = n8nWorkflowId;
    status.phase = 'activating';
    await sidecarActivateWorkflow({ dropletId, n8nWorkflowId });
    status.phase = 'verifying';
    const read = await sidecarReadBackWorkflow({ dropletId, n8nWorkflowId, expected });
    if (read.differences.length > 0 || !read.active) {
      throw new Error(
        `workflow ${n8nWorkflowId} reads back ${read.active ? 'active' : 'inactive'}` +
          (read.differences.length
            ? ` with ${read.differences.join(', ')} differing from what was sent`
            : ''),
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
  await recordTenantVersion({
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
