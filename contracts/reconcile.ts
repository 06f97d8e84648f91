/**
 * Desired state and the reconciler.
 *   reconciler           a Schedule (reconciler/<task queue>, overlap SKIP) runs reconciler-run/<task
 *                        queue>: fleet drift, then reconcileTenant for drifted tenants, bounded
 *   reconcileTenant      reconcile-<dropletId>, USE_EXISTING: one reconciliation per tenant at a time
 *                        (the schedule, a wake that verified and an operator join it)
 *   setDesiredState      desired-state-<workspaceId>-<digest of the change>: one write the caller
 *                        waits for (a retried request joins it; a later identical one runs again)
 *   desiredStateView     desired-view-<workspaceId|fleet>: the client's read of desired state and drift
 */
import {
  invalidReconcileTenant,
  invalidSetDesiredState,
  reconcileAlertKey,
  type DesiredStateView,
  type FleetDrift,
  type ReconcilerInput,
  type ReconcilerSummary,
  type ReconcileTenantInput,
  type ReconcileTenantResult,
  type SetDesiredStateInput,
  type TenantDrift,
} from '../src/domain/reconcile';
import type { WorkflowContract } from './define';
import { scheduledRunContract } from './scheduled';
import { searchAttributes } from './search-attributes';

export { reconcileAlertKey };
export type {
  DesiredStateView,
  FleetDrift,
  ReconcilerInput,
  ReconcilerSummary,
  ReconcileTenantInput,
  ReconcileTenantResult,
  SetDesiredStateInput,
  TenantDrift,
};

export type ReconcilerWorkflow = (input?: ReconcilerInput) => Promise<ReconcilerSummary>;
export type ReconcileTenantWorkflow = (input: ReconcileTenantInput) => Promise<ReconcileTenantResult>;
export type SetDesiredStateWorkflow = (input: SetDesiredStateInput) => Promise<DesiredStateView>;

export interface DesiredStateViewInput {
  /** one tenant; absent: the fleet */
  workspaceId?: string;
  /** fleet: drifted tenants listed at most; default 100 */
  limit?: number;
}
export interface DesiredStateViewResult {
  desired?: DesiredStateView;
  drift?: TenantDrift;
  fleet?: FleetDrift;
}
export type DesiredStateViewWorkflow = (input: DesiredStateViewInput) => Promise<DesiredStateViewResult>;

export const reconcileIds = {
  schedule: (taskQueue: string) => `reconciler/${taskQueue}`,
  run: (taskQueue: string) => `reconciler-run/${taskQueue}`,
  tenant: (dropletId: number) => `reconcile-${dropletId}`,
  setDesired: (workspaceId: string, changeKey: string) => `desired-state-${workspaceId}-${changeKey}`,
  view: (workspaceId?: string) => `desired-view-${workspaceId ?? 'fleet'}`,
};

export const reconcilerContract = scheduledRunContract<ReconcilerWorkflow>(
  'reconciler',
  'reconciler',
  reconcileIds.run,
);

export const reconcileTenantContract: WorkflowContract<ReconcileTenantWorkflow> = {
  workflowType: 'reconcileTenant',
  conflictPolicy: 'USE_EXISTING',
  reusePolicy: 'ALLOW_DUPLICATE',
  workflowId: (input) => reconcileIds.tenant(input.dropletId),
  searchAttributes: (input) =>
    searchAttributes({
      operation: 'reconcile',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      reason: input.reason,
    }),
  validate: (input) => invalidReconcileTenant(input),
};

export const setDesiredStateContract: WorkflowContract<SetDesiredStateWorkflow> = {
  workflowType: 'setDesiredState',
  conflictPolicy: 'USE_EXISTING',
  reusePolicy: 'ALLOW_DUPLICATE',
  // the digest covers the whole change (blobs included) and never shows it
  workflowId: (input, { sha256Hex }) =>
    reconcileIds.setDesired(input.workspaceId, sha256Hex(JSON.stringify(input)).slice(0, 16)),
  searchAttributes: (input) =>
    searchAttributes({ operation: 'set_desired_state', workspaceId: input.workspaceId }),
  validate: (input) => invalidSetDesiredState(input),
};

export const desiredStateViewContract: WorkflowContract<DesiredStateViewWorkflow> = {
  workflowType: 'desiredStateView',
  conflictPolicy: 'USE_EXISTING',
  reusePolicy: 'ALLOW_DUPLICATE',
  workflowId: (input) => reconcileIds.view(input.workspaceId),
  searchAttributes: (input) =>
    searchAttributes({ operation: 'desired_state_view', workspaceId: input.workspaceId }),
  validate: (input) =>
    input.workspaceId !== undefined && !(typeof input.workspaceId === 'string' && input.workspaceId)
      ? 'workspaceId must be a non-empty string'
      : input.limit !== undefined && !(Number.isSafeInteger(input.limit) && input.limit > 0)
        ? 'limit must be a positive integer'
        : undefined,
};
