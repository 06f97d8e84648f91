/**
 * Verification after a power change: the sidecar answers HEALTH_CHECK (n8n not down) AND a
 * heartbeat newer than the change's start arrives, within a window. Event-driven where it can be
 * (the heartbeat drain signals the running power workflow), polling as the fallback.
 */
import { condition, log } from '@temporalio/workflow';
import type { PowerStatus, PowerTimings } from '../../src/domain/power';
import { probe } from './activities';

/** The newest heartbeat time a signal has reported to this workflow, epoch ms. */
export interface HeartbeatWatch {
  latestMs: number;
}

export type Verification = { ok: true; n8nStatus?: string } | { ok: false; reason: string };

export async function verifyDroplet(
  dropletId: number,
  sinceMs: number,
  timings: PowerTimings,
  watch: HeartbeatWatch,
  status: PowerStatus,
): Promise<Verification> {
  status.phase = 'verifying';
  const deadline = Date.now() + timings.verifyWindowMs;
  let health: { ok: boolean; n8nStatus?: string; error?: string } = { ok: false, error: 'not probed yet' };
  let heartbeat = watch.latestMs > sinceMs;
  while (Date.now() < deadline) {
    // A probe that itself fails (e.g. its worker died: a StartToClose timeout) is no verdict on
    // the droplet: it counts as "not yet" and the window decides.
    if (!health.ok) {
      try {
        health = await probe.sidecarHealthCheck(dropletId);
      } catch (err) {
        health = {
          ok: false,
          error: `health probe failed: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
    }
    if (!heartbeat) {
      try {
        heartbeat = watch.latestMs > sinceMs || (await probe.heartbeatSince({ dropletId, sinceMs })) !== null;
      } catch {
        heartbeat = watch.latestMs > sinceMs;
      }
    }
    if (health.ok && heartbeat) return { ok: true, n8nStatus: health.n8nStatus };
    status.lastError = !health.ok ? `HEALTH_CHECK: ${health.error}` : 'no heartbeat since the power change';
    const left = deadline - Date.now();
    if (left <= 0) break;
    // Wake early when the drain signals a fresh heartbeat; otherwise poll again.
    await condition(() => !heartbeat && watch.latestMs > sinceMs, Math.min(timings.verifyPollMs, left));
  }
  const reason = !health.ok
    ? `sidecar did not pass HEALTH_CHECK within ${timings.verifyWindowMs} ms (${health.error})`
    : `no heartbeat newer than the power change within ${timings.verifyWindowMs} ms`;
  log.warn('verification failed', { dropletId, reason });
  return { ok: false, reason };
}
