/**
 * One tenant of a fleet rollout: its update (the tenant's n8nContainerUpdate or workflowUpdate
 * child under the change's usual id) and its rollback to the version it had (a child under
 * `rollout-<id>-rollback-<droplet>`). Children are ABANDONed by a terminated rollout: an update
 * half-way through still finishes its own gate or rollback.
 */
import { executeChild, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { FleetRolloutInput, RolloutTarget, TargetResult } from '../../src/domain/rollout';
import { searchAttributes } from '../../contracts/search-attributes';
import { n8nContainerUpdate } from '../changes/n8n-container-update';
import { workflowUpdate } from '../changes/workflow-update';
import { failureMessage } from '../failures';
import { changeIds } from '../../contracts/changes';
import { rolloutIds } from '../../contracts/rollout';
import { rolloutDbPolicy } from '../policies';

const { getTenantVersion } = proxyActivities<Pick<Activities, 'getTenantVersion'>>(rolloutDbPolicy);

/** Updates one tenant to the rollout's version; `inFlight` holds its child's id while it runs. */
export async function updateTenant(
  input: FleetRolloutInput,
  target: RolloutTarget,
  wave: number,
  inFlight: Set<string>,
): Promise<TargetResult> {
  const { kind, targetVersion } = input;
  const base = { workspaceId: target.workspaceId, dropletId: target.dropletId };
  if (kind === 'n8n' && !target.fromVersion)
    return { ...base, status: 'skipped', reason: 'n8n tag not recorded' };
  const childId = childIdOf(input, target);
  inFlight.add(childId);
  try {
    if (kind === 'n8n') {
      await n8nChild(
        input,
        target,
        childId,
        target.fromVersion!,
        targetVersion,
        `${target.fromVersion}->${targetVersion}`,
        wave,
      );
    } else {
      await workflowChild(input, target, childId, input.workflow!.workflowJson, targetVersion);
    }
    return { ...base, status: 'succeeded', workflowId: childId };
  } catch (err) {
    return { ...base, status: 'failed', reason: failureMessage(err) };
  } finally {
    inFlight.delete(childId);
  }
}

/** Returns one tenant to its previous version: the n8n tag it had, or the workflow's previous artifact. */
export async function rollbackTenant(input: FleetRolloutInput, target: RolloutTarget): Promise<TargetResult> {
  const { kind, targetVersion } = input;
  const base = { workspaceId: target.workspaceId, dropletId: target.dropletId };
  const workflowId = rolloutIds.rollback(input.rolloutId, target.dropletId);
  try {
    if (kind === 'n8n') {
      if (!target.fromVersion)
        return { ...base, status: 'succeeded', reason: 'not rolled back: previous tag unknown' };
      await n8nChild(
        input,
        target,
        workflowId,
        targetVersion,
        target.fromVersion,
        `rollback ${targetVersion}->${target.fromVersion}`,
      );
    } else {
      const tv = await getTenantVersion({
        workspaceId: target.workspaceId,
        component: `workflow:${input.workflow!.workflowName}`,
      });
      const previous = tv?.previousArtifact?.workflow_json;
      if (!tv || tv.version !== targetVersion || !tv.previousVersion || typeof previous !== 'object')
        return { ...base, status: 'succeeded', reason: 'not rolled back: no previous version recorded' };
      await workflowChild(
        input,
        target,
        workflowId,
        previous as Record<string, unknown>,
        tv.previousVersion,
        'rollback',
      );
    }
    return { ...base, status: 'rolled_back', workflowId };
  } catch (err) {
    return { ...base, status: 'failed', reason: `rollback failed: ${failureMessage(err)}` };
  }
}

/** One tenant's n8nContainerUpdate child, from -> to: the rollout's update or its rollback. */
function n8nChild(
  input: FleetRolloutInput,
  target: RolloutTarget,
  workflowId: string,
  fromTag: string,
  toTag: string,
  reason: string,
  wave?: number,
) {
  return executeChild(n8nContainerUpdate, {
    workflowId,
    args: [
      {
        workspaceId: target.workspaceId,
        dropletId: target.dropletId,
        fromTag,
        toTag,
        autoPromote: true,
        verifyWindowMs: input.n8n?.verifyWindowMs,
        verifyPollMs: input.n8n?.verifyPollMs,
        rolloutId: input.rolloutId,
        wave,
      },
    ],
    parentClosePolicy: 'ABANDON',
    typedSearchAttributes: searchAttributes({
      workspaceId: target.workspaceId,
      dropletId: target.dropletId,
      rolloutId: input.rolloutId,
      operation: 'n8n_update',
      reason,
    }),
  });
}

/** One tenant's workflowUpdate child: the rollout's version, or the previous one on rollback. */
function workflowChild(
  input: FleetRolloutInput,
  target: RolloutTarget,
  workflowId: string,
  workflowJson: Record<string, unknown>,
  version: string,
  reason?: string,
) {
  const wf = input.workflow!;
  return executeChild(workflowUpdate, {
    workflowId,
    args: [
      {
        workspaceId: target.workspaceId,
        dropletId: target.dropletId,
        workflowName: wf.workflowName,
        workflowJson,
        version,
        credentialMap: wf.credentialMap,
      },
    ],
    parentClosePolicy: 'ABANDON',
    typedSearchAttributes: searchAttributes({
      workspaceId: target.workspaceId,
      dropletId: target.dropletId,
      rolloutId: input.rolloutId,
      operation: 'workflow_update',
      reason,
    }),
  });
}

function childIdOf(input: FleetRolloutInput, target: RolloutTarget): string {
  const { kind, targetVersion } = input;
  return kind === 'n8n'
    ? changeIds.n8nUpdate(target.dropletId, targetVersion)
    : changeIds.workflowUpdate(target.dropletId, input.workflow!.workflowName, targetVersion);
}
