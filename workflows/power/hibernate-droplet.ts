/**
 * Hibernate, DigitalOcean's own advice: a graceful shutdown first, power_off only when the
 * shutdown did not finish within its timeout. Refused while an update or a credential injection
 * is running on the droplet.
 */
import { ApplicationFailure, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  DEFAULT_GRACEFUL_SHUTDOWN_MS,
  PowerFailure,
  type HibernateDropletInput,
  type PowerResult,
} from '../../src/domain/power';
import { failureMessage } from '../failures';
import { actionWaitPolicy, dbPolicy, providerPolicy } from '../policies';
import { beginPowerOperation, timingsWith } from './input';
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
  const { status } = beginPowerOperation(input, 'hibernate', { phase: 'checking', attempt: 1 });
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
