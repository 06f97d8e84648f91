/**
 * Blue-green sidecar update of one droplet (fromVersion -> toVersion):
 *   UPDATING -> PULL_IMAGE -> SWAP_CONTAINER -> health gate within verifyWindowMs (HEALTH_CHECK
 *   says n8n healthy AND a heartbeat newer than the swap reports sidecar_version == toVersion)
 *   -> autoPromote, or wait for the `promote` update / `abort` signal until promotionDeadlineMs
 *   -> record tenant_versions -> ACTIVE_HEALTHY.
 * Any failure after the swap rolls back: SWAP_CONTAINER fromVersion, verify the old version the
 * same way, ACTIVE_HEALTHY, and fail with UpdateRolledBack naming the reason. A rollback that does
 * not verify leaves the droplet FAILED (RollbackFailed) for a human.
 */
import { ApplicationFailure, condition, log, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  ChangeFailure,
  DEFAULT_PROMOTION_DEADLINE_MS,
  DEFAULT_UPDATE_VERIFY_POLL_MS,
  DEFAULT_UPDATE_VERIFY_WINDOW_MS,
  invalidSidecarUpdate,
  type SidecarUpdateInput,
  type SidecarUpdateResult,
  type SidecarUpdateStatus,
} from '../../src/domain/changes';
import { abortSignal, promoteUpdate, sidecarUpdateStatusQuery } from '../messages';
import { db, probe, sidecar } from './activities';
import { failureMessage } from './input';
import { loadOwnedDroplet, requireValidDropletInput } from '../droplet-owner';
import { restOnFailure } from '../settle';

export async function sidecarUpdate(input: SidecarUpdateInput): Promise<SidecarUpdateResult> {
  return restOnFailure(input, 'sidecar_update', () => update(input));
}

async function update(input: SidecarUpdateInput): Promise<SidecarUpdateResult> {
  requireValidDropletInput(input, invalidSidecarUpdate);
  const { workspaceId, dropletId, fromVersion, toVersion, image } = input;
  const verifyWindowMs = input.verifyWindowMs ?? DEFAULT_UPDATE_VERIFY_WINDOW_MS;
  const verifyPollMs = Math.min(input.verifyPollMs ?? DEFAULT_UPDATE_VERIFY_POLL_MS, verifyWindowMs);
  const promotionDeadlineMs = input.promotionDeadlineMs ?? DEFAULT_PROMOTION_DEADLINE_MS;
  const { workflowId } = workflowInfo();
  const status: SidecarUpdateStatus = { phase: 'starting', fromVersion, toVersion };
  let promotedBy: string | undefined;
  let aborted: string | undefined;
  setHandler(sidecarUpdateStatusQuery, () => status);
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
  const cause = (what: string) => `sidecar_update:${fromVersion}->${toVersion}:${what}`;
  await db.transitionDroplet({
    dropletId,
    to: 'UPDATING',
    cause: cause('start'),
    workflowId,
    detail: { fromVersion, toVersion, rolloutId: input.rolloutId, wave: input.wave },
  });

  // Before the swap nothing changed on the droplet: a failure or an abort just ends the update.
  try {
    status.phase = 'pulling';
    await sidecar.sidecarPullImage({ dropletId, image, tag: toVersion });
    if (aborted) throw new Error(aborted);
  } catch (err) {
    status.phase = 'failed';
    status.lastError = failureMessage(err);
    await db.transitionDroplet({ dropletId, to: 'ACTIVE_HEALTHY', cause: cause('not_started'), workflowId });
    throw ApplicationFailure.nonRetryable(
      `sidecar update of droplet ${dropletId} to ${toVersion} did not start: ${status.lastError}`,
      ChangeFailure.updateFailed,
    );
  }

  let failure: string | undefined;
  try {
    status.phase = 'swapping';
    await sidecar.sidecarSwapContainer({ dropletId, tag: toVersion });
    const swappedAt = Date.now();
    const gate = await healthGate(
      dropletId,
      toVersion,
      swappedAt,
      verifyWindowMs,
      verifyPollMs,
      status,
      () => aborted,
    );
    if (!gate.ok) failure = gate.reason;
    else if (!input.autoPromote) {
      status.phase = 'awaiting_promotion';
      log.info('sidecar update waits for promotion', { dropletId, toVersion });
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
  await db.recordTenantVersion({
    workspaceId,
    component: 'sidecar',
    version: toVersion,
    previousVersion: fromVersion,
    workflowId,
  });
  await db.transitionDroplet({ dropletId, to: 'ACTIVE_HEALTHY', cause: cause('promoted'), workflowId });
  status.phase = 'done';
  return {
    dropletId,
    version: toVersion,
    previousVersion: fromVersion,
    promotedBy: promotedBy ? 'manual' : 'auto',
  };

  async function rollback(reason: string): Promise<never> {
    status.phase = 'rolling_back';
    log.warn('sidecar update failed; rolling back', { dropletId, fromVersion, toVersion, reason });
    let rollbackError: string | undefined;
    try {
      await sidecar.sidecarSwapContainer({ dropletId, tag: fromVersion });
      const gate = await healthGate(dropletId, fromVersion, Date.now(), verifyWindowMs, verifyPollMs, status);
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
        `sidecar update of droplet ${dropletId} to ${toVersion} failed (${reason}) and the rollback to ${fromVersion} failed: ${rollbackError}`,
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
      `sidecar update of droplet ${dropletId} to ${toVersion} rolled back to ${fromVersion}: ${reason}`,
      ChangeFailure.rolledBack,
      { reason, fromVersion, toVersion },
    );
  }
}

/**
 * HEALTH_CHECK says n8n healthy AND the drain recorded a heartbeat newer than `sinceMs` reporting
 * `version`, both within `windowMs`. `stop` ends the wait early (abort).
 */
async function healthGate(
  dropletId: number,
  version: string,
  sinceMs: number,
  windowMs: number,
  pollMs: number,
  status: SidecarUpdateStatus,
  stop: () => string | undefined = () => undefined,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  status.phase = status.phase === 'rolling_back' ? 'rolling_back' : 'verifying';
  const deadline = Date.now() + windowMs;
  let healthy = false;
  let healthError = 'not probed yet';
  let heartbeat = false;
  for (;;) {
    const stopped = stop();
    if (stopped) return { ok: false, reason: stopped };
    // A probe that itself fails (e.g. its worker died: a StartToClose timeout) is no verdict on
    // the version: it counts as "not yet" and the window decides.
    if (!healthy) {
      try {
        const h = await probe.sidecarHealthCheck(dropletId);
        healthy = h.ok && h.n8nStatus === 'healthy';
        healthError = h.error ?? `n8n_status ${h.n8nStatus ?? 'unknown'}`;
      } catch (err) {
        healthError = `health probe failed: ${failureMessage(err)}`;
      }
    }
    if (!heartbeat) {
      try {
        const hb = await probe.dropletHeartbeat(dropletId);
        heartbeat =
          hb.sidecarVersion === version &&
          hb.lastHeartbeatAt !== null &&
          Date.parse(hb.lastHeartbeatAt) > sinceMs;
      } catch {
        /* asked again at the next poll */
      }
    }
    if (healthy && heartbeat) return { ok: true };
    const left = deadline - Date.now();
    if (left <= 0) break;
    // An abort ends the wait at once; otherwise probe again after pollMs.
    await condition(() => stop() !== undefined, Math.min(pollMs, left));
  }
  const reason = !healthy
    ? `version ${version} did not pass HEALTH_CHECK within ${windowMs} ms (${healthError})`
    : `no heartbeat reporting version ${version} within ${windowMs} ms`;
  status.lastError = reason;
  return { ok: false, reason };
}
