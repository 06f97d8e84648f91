/**
 * One tenant brought to its desired state (reconcile-<dropletId>, single flight):
 *   load desired, recorded, droplet and the reconciler's record
 *   -> skip (nothing counted) when there is no desired state, the tenant is marked, the droplet is
 *      not ACTIVE_HEALTHY (hibernated, waking, failed, ...), a rollout or another change or power
 *      operation is working on it
 *   -> with `verify`, read its workflows back (GET_WORKFLOW against the desired artifacts: a
 *      workflow edited by hand on the droplet is drift too)
 *   -> for each drift, the existing change workflow as a child under its usual id: credential
 *      injection, n8nContainerUpdate (autoPromote), workflowUpdate; one after the other
 *   -> record the outcome: a success resets the failure count and resolves the tenant's alert; a
 *      failure adds one, and the maxFailures-th marks the tenant and alerts (no retry until an
 *      operator clears it or desired state changes).
 * Children are ABANDONed: a change half-way through finishes its own gate or rollback.
 */
import { executeChild, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { changeIds } from '../../contracts/changes';
import { searchAttributes } from '../../contracts/search-attributes';
import {
  computeDrift,
  describeDrift,
  invalidReconcileTenant,
  RECONCILER_DEFAULTS,
  verifiableWorkflows,
  type DriftItem,
  type ReconcileTenantInput,
  type ReconcileTenantResult,
} from '../../src/domain/reconcile';
import { credentialInjection } from '../changes/credential-injection';
import { n8nContainerUpdate } from '../changes/n8n-container-update';
import { workflowUpdate } from '../changes/workflow-update';
import { failureMessage } from '../failures';
import { requireValidInput } from '../input';
import { dbPolicy, sidecarPolicy } from '../policies';

const { loadTenantReconcile, reconcileBusy, desiredArtifact, desiredCredentials, recordReconcileAttempt } =
  proxyActivities<
    Pick<
      Activities,
      | 'loadTenantReconcile'
      | 'reconcileBusy'
      | 'desiredArtifact'
      | 'desiredCredentials'
      | 'recordReconcileAttempt'
    >
  >(dbPolicy);
const { readBackDesiredWorkflows } =
  proxyActivities<Pick<Activities, 'readBackDesiredWorkflows'>>(sidecarPolicy);

/** A child that could not start because the same change already runs (a rollout, a caller). */
const isAlreadyStarted = (err: unknown) =>
  (err as { name?: string } | undefined)?.name === 'WorkflowExecutionAlreadyStartedError';

export async function reconcileTenant(input: ReconcileTenantInput): Promise<ReconcileTenantResult> {
  requireValidInput(input, invalidReconcileTenant);
  const { workspaceId, dropletId } = input;
  const { workflowId } = workflowInfo();
  const maxFailures = input.maxFailures ?? RECONCILER_DEFAULTS.maxFailures;
  const row = await loadTenantReconcile(workspaceId);
  const failures = row?.status.failures ?? 0;
  const result = (
    outcome: ReconcileTenantResult['outcome'],
    drift: DriftItem[],
    extra: Partial<ReconcileTenantResult> = {},
  ) =>
    ({
      workspaceId,
      dropletId,
      outcome,
      drift,
      changes: [],
      failures,
      ...extra,
    }) satisfies ReconcileTenantResult;

  if (!row) return result('skipped', [], { reason: 'no desired state' });
  if (!row.droplet || row.droplet.id !== dropletId)
    return result('skipped', [], { reason: `droplet ${dropletId} is not the workspace's current droplet` });
  if (row.status.marked)
    return result('skipped', [], { reason: `marked after ${failures} failed reconciliations` });
  if (row.droplet.state !== 'ACTIVE_HEALTHY')
    return result('skipped', computeDrift(row.desired, row.recorded), {
      reason: `droplet is ${row.droplet.state}`,
    });
  if (row.inRollout) return result('skipped', [], { reason: 'a rollout is working on the droplet' });
  // a wake that verified starts this just before it returns: its own power workflow is no reason to wait
  const busy = await reconcileBusy({ dropletId, ignorePower: input.reason === 'after_wake' });
  if (busy) return result('skipped', [], { reason: busy });

  let modified = new Set<string>();
  if (input.verify && verifiableWorkflows(row.desired, row.recorded).length > 0)
    modified = new Set((await readBackDesiredWorkflows({ workspaceId, dropletId })).modified);
  const drift = computeDrift(row.desired, row.recorded, modified);
  if (drift.length === 0) {
    await recordReconcileAttempt({ workspaceId, dropletId, outcome: 'in_sync', workflowId, maxFailures });
    return result('in_sync', drift, { failures: 0 });
  }
  log.info('tenant drifted; reconciling', { workspaceId, dropletId, drift: drift.map(describeDrift) });

  const changes: string[] = [];
  const errors: string[] = [];
  const busyWith: string[] = [];
  const attrs = (operation: string, reason?: string) =>
    searchAttributes({ operation, workspaceId, dropletId, reason: reason ?? `reconcile:${input.reason}` });
  const run = async (id: string, what: string, child: () => Promise<unknown>) => {
    changes.push(id);
    try {
      await child();
    } catch (err) {
      if (isAlreadyStarted(err)) busyWith.push(id);
      else errors.push(`${what}: ${failureMessage(err)}`);
    }
  };

  const creds = drift.filter((d): d is Extract<DriftItem, { kind: 'credential' }> => d.kind === 'credential');
  if (creds.length > 0) {
    const c = await desiredCredentials({
      workspaceId,
      dropletId,
      wanted: creds.map(({ type, name }) => ({ type, name })),
    });
    if (c.credentials.length > 0)
      await run(changeIds.credentialInjection(dropletId, c.requestKey), 'credentials', () =>
        executeChild(credentialInjection, {
          workflowId: changeIds.credentialInjection(dropletId, c.requestKey),
          args: [{ workspaceId, dropletId, credentials: c.credentials }],
          parentClosePolicy: 'ABANDON',
          typedSearchAttributes: attrs('credential_injection'),
        }),
      );
  }
  for (const d of drift) {
    if (d.kind === 'n8n') {
      const id = changeIds.n8nUpdate(dropletId, d.to);
      await run(id, `n8n ${d.to}`, () =>
        executeChild(n8nContainerUpdate, {
          workflowId: id,
          args: [
            {
              workspaceId,
              dropletId,
              toTag: d.to,
              autoPromote: true,
              verifyWindowMs: input.n8n?.verifyWindowMs,
              verifyPollMs: input.n8n?.verifyPollMs,
            },
          ],
          parentClosePolicy: 'ABANDON',
          typedSearchAttributes: attrs('n8n_update', `reconcile ${d.from ?? 'recorded'}->${d.to}`),
        }),
      );
    } else if (d.kind === 'workflow') {
      const id = changeIds.workflowUpdate(dropletId, d.name, d.to);
      const digest = row.desired.workflows.find((w) => w.name === d.name)!.artifactDigest;
      await run(id, `workflow ${d.name} ${d.to}`, async () => {
        const artifact = await desiredArtifact(digest);
        await executeChild(workflowUpdate, {
          workflowId: id,
          args: [
            {
              workspaceId,
              dropletId,
              workflowName: d.name,
              workflowJson: artifact.workflowJson,
              version: d.to,
              credentialMap: artifact.credentialMap,
            },
          ],
          parentClosePolicy: 'ABANDON',
          typedSearchAttributes: attrs('workflow_update', `reconcile ${d.why}`),
        });
      });
    }
  }

  if (errors.length === 0 && busyWith.length > 0)
    return result('skipped', drift, { reason: `changes already running: ${busyWith.join(', ')}`, changes });
  const failed = errors.length > 0;
  const error = errors.join('; ');
  const rec = await recordReconcileAttempt({
    workspaceId,
    dropletId,
    outcome: failed ? 'failed' : 'reconciled',
    error: failed ? error : undefined,
    workflowId,
    maxFailures,
  });
  if (failed) log.warn('reconciliation failed', { workspaceId, dropletId, failures: rec.failures, error });
  return result(rec.markedNow ? 'marked' : failed ? 'failed' : 'reconciled', drift, {
    changes,
    failures: rec.failures,
    ...(failed ? { reason: error } : {}),
  });
}
