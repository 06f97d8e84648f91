/**
 * Blue-green update of one droplet's n8n container, as the deployed agent can do it (protocol v1):
 *   read the recorded tag (the control plane's own record: the agent reports no version)
 *   -> UPDATING -> SWAP_CONTAINER toTag (the agent pulls n8nio/n8n:<toTag>, starts it beside the
 *   old container, waits for docker health, retires the old one; `result.success: false` means the
 *   new container never came up and the old one still serves: the update fails, nothing to undo)
 *   -> health gate within verifyWindowMs (HEALTH_CHECK n8n healthy, container running where
 *   reported, AND a keep-alive received after the swap)
 *   -> autoPromote, or wait for the `promote` update / `abort` signal until promotionDeadlineMs
 *   -> record the tag (tenant_versions 'n8n' with the previous tag, droplets.n8n_version)
 *   -> ACTIVE_HEALTHY.
 * Any failure after a good swap rolls back: SWAP_CONTAINER to the previous tag, verified the same
 * way, ACTIVE_HEALTHY, and fail with UpdateRolledBack naming the reason. A rollback that does not
 * verify leaves the droplet FAILED (RollbackFailed) for a human.
 */
import {
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  ChangeFailure,
  DEFAULT_PROMOTION_DEADLINE_MS,
  DEFAULT_UPDATE_VERIFY_POLL_MS,
  DEFAULT_UPDATE_VERIFY_WINDOW_MS,
  invalidN8nUpdate,
  type N8nUpdateInput,
  type N8nUpdateResult,
  type N8nUpdateStatus,
} from '../../src/domain/changes';
import { abortSignal, n8nUpdateStatusQuery, promoteUpdate } from '../../contracts/changes';
import { dropletPrologue } from '../droplet-prologue';
import { failureMessage } from '../failures';
import { healthGate } from '../health-gate';
import { dbPolicy, probePolicy, sidecarPolicy } from '../policies';
import { restOnFailure } from '../settle';

const { recordedN8nTag, transitionDroplet, recordN8nTag } =
  proxyActivities<Pick<Activities, 'recordedN8nTag' | 'transitionDroplet' | 'recordN8nTag'>>(dbPolicy);
const { sidecarSwapN8nContainer } =
  proxyActivities<Pick<Activities, 'sidecarSwapN8nContainer'>>(sidecarPolicy);
const { sidecarHealthCheck, dropletHeartbeat } =
  proxyActivities<Pick<Activities, 'sidecarHealthCheck' | 'dropletHeartbeat'>>(probePolicy);

export async function n8nContainerUpdate(input: N8nUpdateInput): Promise<N8nUpdateResult> {
  return restOnFailure(input, 'n8n_update', () => update(input));
}

async function update(input: N8nUpdateInput): Promise<N8nUpdateResult> {
  let promotedBy: string | undefined;
  let aborted: string | undefined;
  const { status } = await dropletPrologue(input, {
    problemOf: invalidN8nUpdate,
    statusQuery: n8nUpdateStatusQuery,
    status: (i): N8nUpdateStatus => ({ phase: 'starting', fromTag: i.fromTag, toTag: i.toTag }),
    handlers: (status) => {
      setHandler(abortSignal, (a) => {
        aborted ??= a?.reason ? `aborted: ${a.reason}` : 'aborted by operator';
      });
      setHandler(
        promoteUpdate,
        (p) => {
          promotedBy = p?.by ?? 'operator';
          return status;
        },
        {
          validator: (_p) => {
            if (status.phase !== 'awaiting_promotion')
              throw new Error(`promote is only accepted at the promotion gate (phase is ${status.phase})`);
            if (aborted) throw new Error('the update was aborted');
          },
        },
      );
    },
  });
  const { workspaceId, dropletId, toTag } = input;
  const verifyWindowMs = input.verifyWindowMs ?? DEFAULT_UPDATE_VERIFY_WINDOW_MS;
  const verifyPollMs = Math.min(input.verifyPollMs ?? DEFAULT_UPDATE_VERIFY_POLL_MS, verifyWindowMs);
  const promotionDeadlineMs = input.promotionDeadlineMs ?? DEFAULT_PROMOTION_DEADLINE_MS;
  const { workflowId } = workflowInfo();
  const recorded = await recordedN8nTag(dropletId);
  if (!recorded) {
    throw ApplicationFailure.nonRetryable(
      `droplet ${dropletId} has no recorded n8n tag: without it there is nothing to roll back to`,
      ChangeFailure.updateFailed,
    );
  }
  if (input.fromTag !== undefined && input.fromTag !== recorded) {
    throw ApplicationFailure.nonRetryable(
      `droplet ${dropletId} runs n8n ${recorded} by the control plane's record, not ${input.fromTag}`,
      ChangeFailure.updateFailed,
    );
  }
  const fromTag = recorded;
  status.fromTag = fromTag;
  if (fromTag === toTag) {
    status.phase = 'done';
    return { dropletId, tag: toTag, previousTag: fromTag, promotedBy: 'auto' };
  }
  const cause = (what: string) => `n8n_update:${fromTag}->${toTag}:${what}`;
  await transitionDroplet({
    dropletId,
    to: 'UPDATING',
    cause: cause('start'),
    workflowId,
    detail: { fromTag, toTag, rolloutId: input.rolloutId, wave: input.wave },
  });

  // The swap either happened or left the old container serving: a failed swap changed nothing.
  status.phase = 'swapping';
  let swappedAt: number;
  try {
    if (aborted) throw new Error(aborted);
    await sidecarSwapN8nContainer({ dropletId, tag: toTag });
    swappedAt = Date.now();
  } catch (err) {
    status.phase = 'failed';
    status.lastError = `SWAP_CONTAINER to ${toTag} failed, n8n ${fromTag} still serving: ${failureMessage(err)}`;
    await transitionDroplet({
      dropletId,
      to: 'ACTIVE_HEALTHY',
      cause: cause('not_swapped'),
      workflowId,
      detail: { reason: status.lastError },
    });
    throw ApplicationFailure.nonRetryable(
      `n8n update of droplet ${dropletId} to ${toTag} failed: ${status.lastError}`,
      ChangeFailure.updateFailed,
    );
  }

  let failure: string | undefined;
  try {
    const gate = await swapGate(
      dropletId,
      toTag,
      swappedAt,
      verifyWindowMs,
      verifyPollMs,
      status,
      () => aborted,
    );
    if (!gate.ok) failure = gate.reason;
    else if (!input.autoPromote) {
      status.phase = 'awaiting_promotion';
      log.info('n8n update waits for promotion', { dropletId, toTag });
      const decided = await condition(
        () => promotedBy !== undefined || aborted !== undefined,
        promotionDeadlineMs,
      );
      if (aborted) failure = aborted;
      else if (!decided) failure = `not promoted within ${promotionDeadlineMs} ms`;
    } else if (aborted) failure = aborted;
  } catch (err) {
    failure = failureMessage(err);
  }

  if (failure !== undefined) {
    status.lastError = failure;
    await rollback(failure);
  }

  status.phase = 'recording';
  await recordN8nTag({ workspaceId, dropletId, tag: toTag, previousTag: fromTag, workflowId });
  await transitionDroplet({ dropletId, to: 'ACTIVE_HEALTHY', cause: cause('promoted'), workflowId });
  status.phase = 'done';
  return { dropletId, tag: toTag, previousTag: fromTag, promotedBy: promotedBy ? 'manual' : 'auto' };

  /** Swap back to the recorded tag, verified the same way; its own failure needs a human. */
  async function rollback(reason: string): Promise<never> {
    status.phase = 'rolling_back';
    log.warn('n8n update failed; swapping back', { dropletId, fromTag, toTag, reason });
    let rollbackError: string | undefined;
    try {
      await sidecarSwapN8nContainer({ dropletId, tag: fromTag });
      const gate = await swapGate(dropletId, fromTag, Date.now(), verifyWindowMs, verifyPollMs, status);
      if (!gate.ok) rollbackError = gate.reason;
    } catch (err) {
      rollbackError = failureMessage(err);
    }
    if (rollbackError !== undefined) {
      status.phase = 'failed';
      status.lastError = `${reason}; rollback failed: ${rollbackError}`;
      await transitionDroplet({
        dropletId,
        to: 'FAILED',
        cause: cause('rollback_failed'),
        workflowId,
        detail: { reason, rollbackError },
      });
      throw ApplicationFailure.nonRetryable(
        `n8n update of droplet ${dropletId} to ${toTag} failed (${reason}) and the swap back to ${fromTag} failed: ${rollbackError}`,
        ChangeFailure.rollbackFailed,
      );
    }
    await transitionDroplet({
      dropletId,
      to: 'ACTIVE_HEALTHY',
      cause: cause('rolled_back'),
      workflowId,
      detail: { reason },
    });
    status.phase = 'rolled_back';
    throw ApplicationFailure.nonRetryable(
      `n8n update of droplet ${dropletId} to ${toTag} rolled back to ${fromTag}: ${reason}`,
      ChangeFailure.rolledBack,
      { reason, fromTag, toTag },
    );
  }
}

/**
 * The health gate (../health-gate.ts) after a swap to `tag`: HEALTH_CHECK healthy (n8n healthy,
 * container running where docker reports it) AND the drain recorded a keep-alive received after
 * `sinceMs`, both within `windowMs`, with one last look when the window closes. `stop` (an abort)
 * ends the wait early.
 */
async function swapGate(
  dropletId: number,
  tag: string,
  sinceMs: number,
  windowMs: number,
  pollMs: number,
  status: N8nUpdateStatus,
  stop?: () => string | undefined,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  status.phase = status.phase === 'rolling_back' ? 'rolling_back' : 'verifying';
  const gate = await healthGate(
    {
      health: () => sidecarHealthCheck(dropletId),
      heartbeat: async () => {
        const hb = await dropletHeartbeat(dropletId);
        return hb.lastHeartbeatAt !== null && Date.parse(hb.lastHeartbeatAt) > sinceMs;
      },
    },
    { windowMs, pollMs, stop, lastLook: true },
  );
  if (gate.ok) return { ok: true };
  if (gate.stopped !== undefined) return { ok: false, reason: gate.stopped };
  const reason = !gate.look.healthy
    ? `n8n ${tag} did not pass HEALTH_CHECK within ${windowMs} ms (${gate.look.healthError})`
    : `no keep-alive from the agent within ${windowMs} ms of the swap to ${tag}`;
  status.lastError = reason;
  return { ok: false, reason };
}
