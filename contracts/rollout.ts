/**
 * Fleet rollouts: one workflow per rollout id, steered by updates that answer the new progress.
 * A retried start joins the running rollout (USE_EXISTING), and a rollout id is never reused once
 * its rollout has ended (REJECT_DUPLICATE), so "start rollout X" cannot run X twice.
 */
import {
  invalidFleetRollout,
  type FleetRolloutInput,
  type FleetRolloutResult,
  type RolloutProgress,
} from '../src/domain/rollout';
import { defineQuery, defineUpdate, type WorkflowContract } from './define';
import { searchAttributes } from './search-attributes';

export type { FleetRolloutInput, FleetRolloutResult, RolloutProgress };

/** The second argument is the state a run carries to the next by continue-as-new (never given by a caller). */
export type FleetRolloutWorkflow = (input: FleetRolloutInput, carried?: never) => Promise<FleetRolloutResult>;

/** Failure type of a rollout that halted on its failure budget (details: the FleetRolloutResult). */
export const RolloutHalted = 'RolloutHalted';

export const rolloutProgressQuery = defineQuery<RolloutProgress>('progress');
/** Stop starting tenants (those in flight finish); the next wave waits for `resume`. */
export const pauseRolloutUpdate = defineUpdate<RolloutProgress, [{ reason?: string; by?: string }]>('pause');
/** Continue a paused rollout (also the promotion after the canary when autoPromote is false). */
export const resumeRolloutUpdate = defineUpdate<RolloutProgress, [{ by?: string }]>('resume');
/** Stop the rollout: in-flight updates are aborted, and what it changed is rolled back. */
export const abortRolloutUpdate = defineUpdate<RolloutProgress, [{ reason?: string; by?: string }]>('abort');

export const rolloutIds = {
  rollout: (rolloutId: string) => `rollout-${rolloutId}`,
  /** a tenant's return to its previous version after a halt or an abort */
  rollback: (rolloutId: string, dropletId: number) => `rollout-${rolloutId}-rollback-${dropletId}`,
};

export const fleetRolloutContract: WorkflowContract<FleetRolloutWorkflow> = {
  workflowType: 'fleetRollout',
  conflictPolicy: 'USE_EXISTING',
  reusePolicy: 'REJECT_DUPLICATE',
  workflowId: (input) => rolloutIds.rollout(input.rolloutId),
  searchAttributes: (input) =>
    searchAttributes({
      operation: 'fleet_rollout',
      rolloutId: input.rolloutId,
      reason: `${input.kind}->${input.targetVersion}`,
    }),
  validate: (input) => invalidFleetRollout(input),
};
