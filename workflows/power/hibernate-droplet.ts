/**
 * Hibernate, DigitalOcean's own advice: a graceful shutdown first, power_off only when the
 * shutdown did not finish within its timeout. Refused while an update or a credential injection
 * is running on the droplet.
 *
 * Since 'power-calls-floor': the shutdown is sent without a status read (the record says the
 * droplet is up; "already powered off" is success), in a cohort for idle/scheduled hibernations,
 * and its action is looked up after `actionFirstLookMs` (completed means off) instead of polled;
 * no status read after it either. Runs recorded before keep the old branch.
 */
import { ApplicationFailure, log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  DEFAULT_GRACEFUL_SHUTDOWN_MS,
  HIBERNATE_REASONS,
  PowerFailure,
  type HibernateDropletInput,
  type PowerResult,
} from '../../src/domain/power';
import { failureMessage } from '../failures';
import { actionWaitPolicy, dbPolicy, providerPolicy } from '../policies';
import { beginPowerOperation, timingsWith } from './input';
import { actionLook, PATCH_CALLS_FLOOR, startFloorAction } from './floor';
import type { PowerStatus, PowerTimings } from '../../src/domain/power';
import { loadOwnedDroplet } from '../droplet-prologue';
import { restOnFailure } from '../settle';

const { transitionDroplet, runningChangesOn } =
  proxyActivities<Pick<Activities, 'transitionDroplet' | 'runningChangesOn'>>(dbPolicy);
const { getProviderStatus, powerAction } =
  proxyActivities<Pick<Activities, 'getProviderStatus' | 'powerAction'>>(providerPolicy);
/** The wait for an action; the graceful shutdown's ends at its own timeout (that is the answer). */
const actionWaiter = (timeoutMs: number, maximumAttempts?: number, alsoFinal?: string[]) =>
  proxyActivities<Pick<Activities, 'waitForAction'>>(actionWaitPolicy(timeoutMs, maximumAttempts, alsoFinal));

export async function hibernateDroplet(input: HibernateDropletInput): Promise<PowerResult> {
  return restOnFailure(input, 'hibernate', () => hibernate(input));
}

async function hibernate(input: HibernateDropletInput): Promise<PowerResult> {
  const { status } = beginPowerOperation(input, 'hibernate', {
    // absent means admin_request; a given one must be known
    reasons: input?.reason === undefined ? undefined : HIBERNATE_REASONS,
    phase: 'checking',
    attempt: 1,
  });
  const droplet = await loadOwnedDroplet(input);
  const { dropletId } = input;
  const timings = timingsWith(input.timings);
  const graceful = input.gracefulTimeoutMs ?? DEFAULT_GRACEFUL_SHUTDOWN_MS;
  const { workflowId, runId } = workflowInfo();
  if (droplet.state === 'HIBERNATED') {
    status.phase = 'done';
    return { dropletId, outcome: 'already_hibernated', attempts: 0 };
  }
  const busy = droplet.state === 'UPDATING' ? ['droplet state UPDATING'] : await runningChangesOn(dropletId);
  if (busy.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `droplet ${dropletId} cannot hibernate while a change is running: ${busy.join(', ')}`,
      PowerFailure.busy,
    );
  }

  await transitionDroplet({ dropletId, to: 'HIBERNATING', cause: 'hibernate', workflowId });
  if (patched(PATCH_CALLS_FLOOR)) {
    const cohort = await hibernateAtFloor(input, { runId, timings, graceful, status });
    const detail = { ...(input.reason ? { reason: input.reason } : {}), ...(cohort ? { cohort } : {}) };
    await transitionDroplet({
      dropletId,
      to: 'HIBERNATED',
      cause: 'hibernate',
      workflowId,
      ...(Object.keys(detail).length > 0 ? { detail } : {}),
    });
    status.phase = 'done';
    status.outcome = 'HIBERNATED';
    return { dropletId, outcome: 'hibernated', attempts: 1 };
  }
  if ((await getProviderStatus(dropletId)) !== 'off') {
    status.phase = 'shutting_down';
    let off = false;
    try {
      const shutdown = await powerAction({ key: `${runId}/shutdown`, dropletId, type: 'shutdown' });
      // null: already powered off (the goal holds); the status check below confirms it
      if (shutdown !== null)
        await actionWaiter(graceful, 3, ['DigitalOceanActionTimeoutError']).waitForAction({
          actionId: shutdown,
          timeoutMs: graceful,
          pollMs: timings.actionPollMs,
        });
      off = (await getProviderStatus(dropletId)) === 'off';
    } catch (err) {
      status.lastError = failureMessage(err);
      log.warn('graceful shutdown did not finish; falling back to power_off', {
        dropletId,
        error: status.lastError,
      });
    }
    if (!off) {
      status.phase = 'powering_off';
      const powerOff = await powerAction({
        key: `${runId}/power_off`,
        dropletId,
        type: 'power_off',
      });
      // null: the shutdown finished meanwhile ("Droplet is already powered off"): done
      if (powerOff !== null)
        await actionWaiter(timings.actionTimeoutMs).waitForAction({
          actionId: powerOff,
          timeoutMs: timings.actionTimeoutMs,
          pollMs: timings.actionPollMs,
        });
    }
  }
  await transitionDroplet({ dropletId, to: 'HIBERNATED', cause: 'hibernate', workflowId });
  status.phase = 'done';
  status.outcome = 'HIBERNATED';
  return { dropletId, outcome: 'hibernated', attempts: 1 };
}

/** Shutdown, looked up once it had time; power_off when it did not finish. Answers the cohort tag. */
async function hibernateAtFloor(
  input: HibernateDropletInput,
  ctx: { runId: string; timings: PowerTimings; graceful: number; status: PowerStatus },
): Promise<string | undefined> {
  const { dropletId } = input;
  const { runId, timings, graceful, status } = ctx;
  const purpose = { operation: 'hibernate', reason: input.reason } as const;
  status.phase = 'shutting_down';
  let off = false;
  let cohort: string | undefined;
  try {
    const shutdown = await startFloorAction(
      { key: `${runId}/shutdown`, dropletId, type: 'shutdown', purpose },
      status,
    );
    cohort = shutdown.cohort;
    // null: already powered off (the goal holds)
    if (shutdown.actionId === null) off = true;
    else {
      status.phase = 'looking_up_action';
      const stands = await actionLook(graceful).lookUpAction({
        dropletId,
        actionId: shutdown.actionId,
        purpose,
        firstLookMs: Math.min(timings.actionFirstLookMs, graceful),
        pollMs: Math.max(timings.actionPollMs, Math.floor(graceful / 4)),
        timeoutMs: graceful,
      });
      off = stands === 'completed';
      if (!off) status.lastError = `shutdown action ${shutdown.actionId} ${stands}`;
    }
  } catch (err) {
    status.lastError = failureMessage(err);
  }
  if (off) return cohort;
  log.warn('graceful shutdown did not finish; falling back to power_off', {
    dropletId,
    error: status.lastError,
  });
  status.phase = 'powering_off';
  const powerOff = await startFloorAction(
    { key: `${runId}/power_off`, dropletId, type: 'power_off', purpose },
    status,
    true,
  );
  // null: the shutdown finished meanwhile ("Droplet is already powered off"): done
  if (powerOff.actionId === null) return cohort;
  status.phase = 'looking_up_action';
  const stands = await actionLook(timings.actionTimeoutMs).lookUpAction({
    dropletId,
    actionId: powerOff.actionId,
    purpose,
    firstLookMs: timings.actionPollMs,
    pollMs: timings.actionPollMs,
    timeoutMs: timings.actionTimeoutMs,
  });
  if (stands !== 'completed')
    throw ApplicationFailure.nonRetryable(
      `power_off action ${powerOff.actionId} of droplet ${dropletId} ${stands}`,
      PowerFailure.provider,
    );
  return cohort;
}
