/**
 * Fleet rollout: an n8n image tag or an n8n workflow version pushed to many tenants.
 *
 *   plan (once, in Postgres: every target and its wave; canary = wave 0)
 *   for each wave, one per run:
 *     wait while paused -> update each tenant through its own child workflow (n8nContainerUpdate or
 *     workflowUpdate), at most maxConcurrency at once -> judge the wave against its failure budget
 *     -> passed: pause between waves (after the canary, wait for `resume` unless autoPromote),
 *        continue as new with the next wave
 *     -> over budget (halt) or `abort`: stop starting tenants, abort the in-flight ones, roll back
 *        what the rollout changed (this wave's, or every wave's, by rollbackScope), one page per run
 *
 * History stays bounded: one wave (at most MAX_WAVE_SIZE children) or one rollback page per run,
 * the full record lives in Postgres (rollouts, rollout_waves, rollout_targets). Children outlive a
 * terminated rollout (ABANDON): an update half-way through still finishes its own gate or rollback.
 */
import {
  CancellationScope,
  patched,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import {
  invalidFleetRollout,
  type FleetRolloutInput,
  type FleetRolloutResult,
} from '../../src/domain/rollout';
import { requireValidInput } from '../input';
import {
  abortRolloutUpdate,
  pauseRolloutUpdate,
  resumeRolloutUpdate,
  rolloutProgressQuery,
} from '../../contracts/rollout';
import { initialRolloutState, Rollout, type FleetRolloutState } from './rollout';

export type { FleetRolloutState } from './rollout';

/**
 * patched() id: the rollout's status row has one writer, the status writer of the main flow; the
 * pause/resume handlers only change the workflow's state (and wait until it is written). Runs
 * recorded before had the handlers write through their own activities.
 */
const PATCH_SINGLE_STATUS_WRITER = 'rollout-single-status-writer';
/**
 * patched() id: a passed wave moves its tenants' desired state, a completed rollout that of the
 * tenants its plan skipped (hibernated ones included, reconciled when they wake), and a halted or
 * aborted one puts back what it moved. Runs recorded before moved nothing.
 */
const PATCH_MOVES_DESIRED_STATE = 'rollout-moves-desired-state';

export async function fleetRollout(
  input: FleetRolloutInput,
  carried?: FleetRolloutState,
): Promise<FleetRolloutResult> {
  requireValidInput(input, invalidFleetRollout);
  const rollout = new Rollout(
    input,
    workflowInfo().workflowId,
    carried ?? initialRolloutState(),
    patched(PATCH_SINGLE_STATUS_WRITER),
    patched(PATCH_MOVES_DESIRED_STATE),
  );

  // Handlers are registered before the first await, so a pause or abort sent right after the start
  // is never refused; until the plan is stored the state is an empty plan.
  setHandler(rolloutProgressQuery, () => rollout.progress());
  setHandler(pauseRolloutUpdate, (req) => rollout.pause(req), { validator: (_req) => rollout.refusePause() });
  setHandler(resumeRolloutUpdate, (_req) => rollout.resume(), {
    validator: (_req) => rollout.refuseResume(),
  });
  setHandler(abortRolloutUpdate, (req) => rollout.abort(req), { validator: (_req) => rollout.refuseAbort() });
  // Cancelling the workflow (Web UI, `temporal workflow cancel`) means abort: the run goes on,
  // shielded, aborting in-flight updates and rolling back like the `abort` update.
  CancellationScope.current().cancelRequested.catch(() => rollout.cancelled());

  // One step per run: a wave, or a page of rollbacks; then continue as new or finish.
  return CancellationScope.nonCancellable(async () => {
    rollout.startStatusWriter();
    if (!carried) await rollout.plan();

    if (!rollout.stopped) {
      await rollout.untilResumedOrAborted();
      if (rollout.abortWasRequested) rollout.stopIfAbortRequested();
      else if (rollout.wavesLeft) await rollout.runWave(rollout.state.nextWave);
    }

    const stop = rollout.stopped;
    if (stop) {
      await rollout.revertDesiredState();
      const more = await rollout.rollbackPage();
      if (more) return rollout.continueAsNew();
      return rollout.finish(stop.status, stop.reason);
    }
    if (!rollout.wavesLeft) return rollout.finish('completed');

    await rollout.betweenWaves();
    rollout.stopIfAbortRequested();
    return rollout.continueAsNew();
  });
}

// Worker Versioning: long-running and continued as new, so it follows the deployment's current
// version (short operations stay PINNED, the workers' default). Changes to it must stay
// replay-compatible (patched()), which the recorded histories in test/fixtures check.
// Only a versioned worker may declare a behaviour (an unversioned one fails the task).
setWorkflowOptions(
  () =>
    workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {},
  fleetRollout,
);
