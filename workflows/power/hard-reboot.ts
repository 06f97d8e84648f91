/**
 * Hard reboot with retries, the runbook for a droplet that stopped answering:
 *   for each attempt: REBOOTING -> power_cycle (once per attempt, even across worker crashes) ->
 *   wait for the action -> verify (HEALTH_CHECK + fresh heartbeat) -> ACTIVE_HEALTHY/DEGRADED;
 *   between attempts exponential backoff from 10 s;
 *   after the last attempt: ZOMBIE, a lifecycle-log entry and one alert to a human.
 * Since 'power-calls-floor' the power_cycle is not polled: the agent verifies, and the action is
 * looked up only when it did not come back (still in progress: wait for it, verify again); the
 * next attempt is the retry.
 */
import { ApplicationFailure, log, patched, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  DEFAULT_REBOOT_ATTEMPTS,
  DEFAULT_REBOOT_BACKOFF_MS,
  PowerFailure,
  REBOOT_REASONS,
  type HardRebootInput,
  type PowerResult,
} from '../../src/domain/power';
import { actionWaitPolicy, dbPolicy, providerPolicy } from '../policies';
import { beginPowerOperation, timingsWith } from './input';
import { failOnRefusal, markVerified } from './outcomes';
import { verifyDroplet, type Verification } from './verify';
import { actionLook, PATCH_CALLS_FLOOR, startFloorAction } from './floor';
import { loadOwnedDroplet } from '../droplet-prologue';
import { restOnFailure } from '../settle';

const { transitionDroplet, raiseAlert } =
  proxyActivities<Pick<Activities, 'transitionDroplet' | 'raiseAlert'>>(dbPolicy);
const { powerAction } = proxyActivities<Pick<Activities, 'powerAction'>>(providerPolicy);

/** patched() id: the hard reboot runs the droplet-operation prologue (ownership check). */
const PATCH_OWNER_CHECK = 'hard-reboot-owner-check';

export async function hardReboot(input: HardRebootInput): Promise<PowerResult> {
  return restOnFailure(input, 'hard_reboot', () => reboot(input));
}

async function reboot(input: HardRebootInput): Promise<PowerResult> {
  const { status, watch } = beginPowerOperation(input, 'hard_reboot', {
    reasons: REBOOT_REASONS,
    phase: 'starting',
    attempt: 0,
    heartbeats: true,
  });
  const { dropletId, workspaceId, reason } = input;
  const maxAttempts = input.maxAttempts ?? DEFAULT_REBOOT_ATTEMPTS;
  const backoff = input.backoffInitialMs ?? DEFAULT_REBOOT_BACKOFF_MS;
  const timings = timingsWith(input.timings);
  const { workflowId, runId } = workflowInfo();
  const { waitForAction } = proxyActivities<Pick<Activities, 'waitForAction'>>(
    actionWaitPolicy(timings.actionTimeoutMs),
  );
  // Runs recorded before the ownership check had no getDropletRecord here (replay stays exact).
  if (patched(PATCH_OWNER_CHECK)) await loadOwnedDroplet(input);
  const floor = patched(PATCH_CALLS_FLOOR);
  /** the verified end of an attempt (the cohort, when there was one, in the lifecycle detail) */
  const rebooted = (verified: Extract<Verification, { ok: true }>, attempt: number, cohort?: string) => {
    log.info('hard reboot verified', { dropletId, workspaceId, attempt });
    return markVerified(verified, {
      dropletId,
      cause: `hard_reboot:${reason}:verified`,
      workflowId,
      status,
      attempts: attempt,
      detail: cohort ? { cohort } : undefined,
    });
  };

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    status.attempt = attempt;
    await transitionDroplet({
      dropletId,
      to: 'REBOOTING',
      cause: `hard_reboot:${reason}`,
      workflowId,
      detail: { attempt, maxAttempts },
    });
    const since = Date.now();
    try {
      status.phase = 'power_cycling';
      const key = `${runId}/attempt-${attempt}`;
      if (floor) {
        const purpose = { operation: 'hard_reboot', reason } as const;
        const cycle = await startFloorAction({ key, dropletId, type: 'power_cycle', purpose }, status);
        let verified = await verifyDroplet(dropletId, since, timings, watch, status);
        if (!verified.ok && cycle.actionId !== null) {
          status.phase = 'looking_up_action';
          const look = actionLook(timings.actionTimeoutMs).lookUpAction;
          const at = { dropletId, actionId: cycle.actionId, purpose, pollMs: timings.actionPollMs };
          let stands = await look({ ...at, timeoutMs: 0 });
          if (stands === 'in-progress') {
            stands = await look({
              ...at,
              firstLookMs: timings.actionPollMs,
              timeoutMs: Math.max(0, timings.actionTimeoutMs - (Date.now() - since)),
            });
            // it finished only now: the agent gets its window
            if (stands === 'completed')
              verified = await verifyDroplet(dropletId, since, timings, watch, status);
          }
          if (!verified.ok && stands !== 'completed')
            verified = { ok: false, reason: `power_cycle action ${cycle.actionId} ${stands}` };
        }
        if (verified.ok) return await rebooted(verified, attempt, status.cohort);
        status.lastError = verified.reason;
        throw new AttemptFailed(verified.reason);
      }
      const actionId = await powerAction({
        key,
        dropletId,
        type: 'power_cycle',
      });
      // power_cycle has no goal state, so null never comes back for it; guarded all the same
      if (actionId !== null) {
        status.phase = 'waiting_for_action';
        await waitForAction({
          actionId,
          timeoutMs: timings.actionTimeoutMs,
          pollMs: timings.actionPollMs,
        });
      }
      const verified = await verifyDroplet(dropletId, since, timings, watch, status);
      if (verified.ok) return await rebooted(verified, attempt);
      status.lastError = verified.reason;
    } catch (err) {
      if (err instanceof AttemptFailed) status.lastError = err.message;
      else
        status.lastError = await failOnRefusal(err, {
          dropletId,
          cause: `hard_reboot:${reason}:provider_refused`,
          workflowId,
          status,
        });
    }
    log.warn('hard reboot attempt failed', { dropletId, attempt, maxAttempts, error: status.lastError });
    if (attempt < maxAttempts) {
      status.phase = 'backing_off';
      await sleep(backoff * 2 ** (attempt - 1));
    }
  }

  status.phase = 'failed';
  await transitionDroplet({
    dropletId,
    to: 'ZOMBIE',
    cause: `hard_reboot:${reason}:exhausted`,
    workflowId,
    detail: { attempts: maxAttempts, lastError: status.lastError },
  });
  await raiseAlert({
    key: `droplet:${dropletId}:zombie`,
    kind: 'droplet_zombie',
    severity: 'critical',
    title: `Droplet ${dropletId} is a zombie`,
    message: `Hard reboot (${reason}) failed ${maxAttempts} times: ${status.lastError ?? 'unknown error'}. A human must look.`,
    workspaceId,
    dropletId,
    workflowId,
    reason,
  });
  throw ApplicationFailure.nonRetryable(
    `droplet ${dropletId} did not recover after ${maxAttempts} power cycles: ${status.lastError}`,
    PowerFailure.zombie,
  );
}

/** An attempt that ended unverified (not a provider refusal): the next attempt is the retry. */
class AttemptFailed extends Error {}
