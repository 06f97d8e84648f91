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
import { ApplicationFailure, condition, log, setHandler, workflowInfo } from '@temporalio/workflow';
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
import { db, probe, sidecar } from './activities';
import { failureMessage } from './input';
import { loadOwnedDroplet, requireValidDropletInput } from '../droplet-owner';
import { restOnFailure } from '../settle';

export async function n8nContainerUpdate(input: N8nUpdateInput): Promise<N8nUpdateResult> {
  return restOnFailure(input, 'n8n_update', () => update(input));
}

async function update(input: N8nUpdateInput): Promise<N8nUpdateResult> {
  requireValidDropletInput(input, invalidN8nUpdate);
  const { workspaceId, dropletId, toTag } = input;
  const verifyWindowMs = input.verifyWindowMs ?? DEFAULT_UPDATE_VERIFY_WINDOW_MS;
  const verifyPollMs = Math.min(input.verifyPollMs ?? DEFAULT_UPDATE_VERIFY_POLL_MS, verifyWindowMs);
  const promotionDeadlineMs = input.promotionDeadlineMs ?? DEFAULT_PROMOTION_DEADLINE_MS;
  const { workflowId } = workflowInfo();
  const status: N8nUpdateStatus = { phase: 'starting', fromTag: input.fromTag, toTag };
  let promotedBy: string | undefined;
  let aborted: string | undefined;
  setHandler(n8nUpdateStatusQuery, () => status);
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

  await loadOwnedDroplet(input);
  const recorded = await db.recordedN8nTag(dropletId);
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
  await db.transitionDroplet({
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
    await sidecar.sidecarSwapN8nContainer({ dropletId, tag: toTag });
    swappedAt = Date.now();
  } catch (err) {
    status.phase = 'failed';
    status.lastError = `SWAP_CONTAINER to ${toTag} failed, n8n ${fromTag} still serving: ${failureMessage(err)}`;
    await db.transitionDroplet({
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
    const gate = await healthGate(
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
  await db.recordN8nTag({ workspaceId, dropletId, tag: toTag, previousTag: fromTag, workflowId });
  await db.transitionDroplet({ dropletId, to: 'ACTIVE_HEALTHY', cause: cause('promoted'), workflowId });
  status.phase = 'done';
  return { dropletId, tag: toTag, previousTag: fromTag, promotedBy: promotedBy ? 'manual' : 'auto' };

  /** Swap back to the recorded tag, verified the same way; its own failure needs a human. */
  async function rollback(reason: string): Promise<never> {
    status.phase = 'rolling_back';
    log.warn('n8n update failed; swapping back', { dropletId, fromTag, toTag, reason });
    let rollbackError: string | undefined;
    try {
      await sidecar.sidecarSwapN8nContainer({ dropletId, tag: fromTag });
      const gate = await healthGate(dropletId, fromTag, Date.now(), verifyWindowMs, verifyPollMs, status);
      if (!gate.ok) rollbackError = gate.reason;
    } catch (err) {
      rollbackError = failureMessage(err);
    }
    if (rollbackError !== undefined) {
      status.phase = 'failed';
      status.lastError = `${reason}; rollback failed: ${rollbackError}`;
      await db.transitionDroplet({
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
    await db.transitionDroplet({
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
 * HEALTH_CHECK healthy (n8n healthy, container running where docker reports it) AND the drain
 * recorded a keep-alive received after `sinceMs`, both within `windowMs`. `stop` ends the wait early.
 */
async function healthGate(
  dropletId: number,
  tag: string,
  sinceMs: number,
  windowMs: number,
  pollMs: number,
  status: N8nUpdateStatus,
  stop: () => string | undefined = () => undefined,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  status.phase = status.phase === 'rolling_back' ? 'rolling_back' : 'verifying';
  const deadline = Date.now() + windowMs;
  let healthy = false;
  let healthError = 'not probed yet';
  let keepAlive = false;
  for (;;) {
    const stopped = stop();
    if (stopped) return { ok: false, reason: stopped };
    // A probe that itself fails (e.g. its worker died: a StartToClose timeout) is no verdict on
    // the container: it counts as "not yet" and the window decides.
    if (!healthy) {
      try {
        const h = await probe.sidecarHealthCheck(dropletId);
        healthy = h.ok;
        healthError = h.error ?? `n8n_status ${h.n8nStatus ?? 'unknown'}`;
      } catch (err) {
        healthError = `health probe failed: ${failureMessage(err)}`;
      }
    }
    if (!keepAlive) {
      try {
        const hb = await probe.dropletHeartbeat(dropletId);
        keepAlive = hb.lastHeartbeatAt !== null && Date.parse(hb.lastHeartbeatAt) > sinceMs;
      } catch {
        /* asked again at the next poll */
      }
    }
    if (healthy && keepAlive) return { ok: true };
    const left = deadline - Date.now();
    if (left <= 0) break;
    // An abort ends the wait at once; otherwise probe again after pollMs.
    await condition(() => stop() !== undefined, Math.min(pollMs, left));
  }
  const reason = !healthy
    ? `n8n ${tag} did not pass HEALTH_CHECK within ${windowMs} ms (${healthError})`
    : `no keep-alive from the agent within ${windowMs} ms of the swap to ${tag}`;
  status.lastError = reason;
  return { ok: false, reason };
}
