/**
 * Wake then verify, the runbook for bringing a tenant's droplet up:
 *   1. already ACTIVE_HEALTHY with a recent heartbeat -> done at once;
 *   2. WAKING; power_on (no status read first: "already powered on" is success), in a cohort when
 *      the reason is remediation or bulk work (src/digitalocean/cohorts.ts);
 *   3. verify: HEALTH_CHECK answers and a heartbeat newer than the wake's start arrives; only when
 *      it does not is the action looked up, and an errored or never-booted one retried once
 *      singly (./floor.ts). Runs recorded before 'power-calls-floor' read the status first and
 *      polled the action (the old branch below).
 *   4. ACTIVE_HEALTHY (or ACTIVE_DEGRADED when n8n says degraded).
 * On failure a watchdog_recovery wake escalates to a hard reboot (child workflow); any other reason
 * fails with a typed reason (VerificationFailed) and leaves the droplet FAILED for a human.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { PowerFailure, WAKE_REASONS, type PowerResult, type WakeDropletInput } from '../../src/domain/power';
import { isFresh } from '../../src/domain/liveness';
import { heartbeatObservedSignal, powerIds } from '../../contracts/power';
import { actionWaitPolicy, dbPolicy, providerPolicy } from '../policies';
import { actThenVerify, PATCH_CALLS_FLOOR } from './floor';
import { hardReboot } from './hard-reboot';
import { beginPowerOperation, timingsWith } from './input';
import { failOnRefusal, markVerified } from './outcomes';
import { verifyDroplet, type HeartbeatWatch, type Verification } from './verify';
import type { PowerStatus, PowerTimings } from '../../src/domain/power';
import { loadOwnedDroplet } from '../droplet-prologue';
import { restOnFailure } from '../settle';
import { PATCH_RECONCILE_AFTER_WAKE, reconcileAfterWake } from '../reconcile/after-wake';

const { transitionDroplet } = proxyActivities<Pick<Activities, 'transitionDroplet'>>(dbPolicy);
const { getProviderStatus, powerAction } =
  proxyActivities<Pick<Activities, 'getProviderStatus' | 'powerAction'>>(providerPolicy);
/** The wait for power_on: its policy depends on the input's action timeout. */
const actionWaiter = (timeoutMs: number) =>
  proxyActivities<Pick<Activities, 'waitForAction'>>(actionWaitPolicy(timeoutMs));

export async function wakeDroplet(input: WakeDropletInput): Promise<PowerResult> {
  return restOnFailure(input, 'wake', () => wake(input));
}

async function wake(input: WakeDropletInput): Promise<PowerResult> {
  let escalated = false;
  const { status, watch } = beginPowerOperation(input, 'wake', {
    reasons: WAKE_REASONS,
    phase: 'checking',
    attempt: 1,
    // The escalated hard reboot runs under its own id: pass the event on.
    heartbeats: async (hb) => {
      if (escalated)
        await getExternalWorkflowHandle(powerIds.escalation(input.dropletId))
          .signal(heartbeatObservedSignal, hb)
          .catch(() => undefined);
    },
  });
  const { dropletId, workspaceId, reason } = input;
  const timings = timingsWith(input.timings);
  const { workflowId, runId } = workflowInfo();
  // the wake's start: verification wants a heartbeat newer than this (taken before the first await)
  const started = Date.now();
  const droplet = await loadOwnedDroplet(input);
  // The same timeout as the watchdog's: a droplet it finds stale is never "already healthy" here.
  if (
    droplet.state === 'ACTIVE_HEALTHY' &&
    isFresh(droplet.lastHeartbeatAt, started, timings.heartbeatTimeoutMs)
  ) {
    status.phase = 'done';
    status.outcome = 'already_healthy';
    return { dropletId, outcome: 'already_healthy', attempts: 0 };
  }

  await transitionDroplet({ dropletId, to: 'WAKING', cause: `wake:${reason}`, workflowId });
  let failure: string;
  let detail: Record<string, unknown> = {};
  try {
    let verified: Verification;
    if (patched(PATCH_CALLS_FLOOR)) {
      status.phase = 'powering_on';
      const floor = await actThenVerify(
        { key: `${runId}/power_on`, dropletId, type: 'power_on', purpose: { operation: 'wake', reason } },
        { timings, watch, status, sinceMs: started, now: () => Date.now() },
      );
      verified = floor.verification;
      detail = {
        ...(floor.cohort ? { cohort: floor.cohort } : {}),
        ...(floor.retried ? { retried: true } : {}),
      };
    } else {
      verified = await powerOnAsBefore(dropletId, runId, timings, watch, status, started);
    }
    if (verified.ok)
      return await wakeVerified(verified, { workspaceId, dropletId, reason, workflowId, status, detail });
    failure = verified.reason;
  } catch (err) {
    failure = await failOnRefusal(err, {
      dropletId,
      cause: `wake:${reason}:provider_refused`,
      workflowId,
      status,
    });
  }
  status.lastError = failure;

  if (reason === 'watchdog_recovery') {
    status.phase = 'escalated';
    escalated = true;
    log.warn('wake failed; escalating to hard reboot', { dropletId, workspaceId, failure });
    const result = await executeChild(hardReboot, {
      workflowId: powerIds.escalation(dropletId),
      args: [
        {
          workspaceId,
          dropletId,
          reason: 'watchdog_heartbeat_timeout',
          timings: input.timings,
          ...input.reboot,
        },
      ],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
    status.phase = 'done';
    status.outcome = `escalated:${result.outcome}`;
    return { ...result, attempts: result.attempts + 1 };
  }

  status.phase = 'failed';
  await transitionDroplet({
    dropletId,
    to: 'FAILED',
    cause: `wake:${reason}:verification_failed`,
    workflowId,
    detail: { failure, ...detail },
  });
  throw ApplicationFailure.nonRetryable(
    `wake of droplet ${dropletId} failed: ${failure}`,
    PowerFailure.verificationFailed,
  );
}

/**
 * The verified exit of a wake: ACTIVE_HEALTHY (or ACTIVE_DEGRADED), the lifecycle entry naming the
 * cohort when one started the power_on. Every verified wake, old branch or new, ends here.
 */
/**
 * The verified exit of a wake: ACTIVE_HEALTHY (or DEGRADED) with the lifecycle detail, then the
 * tenant's reconciliation (desired state) is asked for at once: a tenant that slept through a
 * rollout is caught up right after it comes back (../reconcile/after-wake.ts).
 */
async function wakeVerified(
  verified: Extract<Verification, { ok: true }>,
  ctx: {
    workspaceId: string;
    dropletId: number;
    reason: string;
    workflowId: string;
    status: PowerStatus;
    detail: Record<string, unknown>;
  },
): Promise<PowerResult> {
  const woke = await markVerified(verified, {
    dropletId: ctx.dropletId,
    cause: `wake:${ctx.reason}:verified`,
    workflowId: ctx.workflowId,
    status: ctx.status,
    attempts: 1,
    detail: ctx.detail,
  });
  if (patched(PATCH_RECONCILE_AFTER_WAKE))
    await reconcileAfterWake({ workspaceId: ctx.workspaceId, dropletId: ctx.dropletId });
  return woke;
}

/** Runs recorded before 'power-calls-floor': status read, power_on unless active, action polled. */
async function powerOnAsBefore(
  dropletId: number,
  runId: string,
  timings: PowerTimings,
  watch: HeartbeatWatch,
  status: PowerStatus,
  started: number,
): Promise<Verification> {
  if ((await getProviderStatus(dropletId)) !== 'active') {
    status.phase = 'powering_on';
    const actionId = await powerAction({ key: `${runId}/power_on`, dropletId, type: 'power_on' });
    // null: DigitalOcean says it is already powered on, nothing to wait for
    if (actionId !== null) {
      status.phase = 'waiting_for_action';
      await actionWaiter(timings.actionTimeoutMs).waitForAction({
        actionId,
        timeoutMs: timings.actionTimeoutMs,
        pollMs: timings.actionPollMs,
      });
    }
  }
  return verifyDroplet(dropletId, started, timings, watch, status);
}
