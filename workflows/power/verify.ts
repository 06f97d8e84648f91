/**
 * Verification after a power change: the health gate (../health-gate.ts) with the sidecar's
 * HEALTH_CHECK (n8n not down) and a heartbeat newer than the change's start. Event-driven where it
 * can be (the heartbeat drain signals the running power workflow), polling as the fallback.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { PowerStatus, PowerTimings } from '../../src/domain/power';
import { healthGate } from '../health-gate';
import { probePolicy } from '../policies';

const { sidecarHealthCheck, heartbeatSince } =
  proxyActivities<Pick<Activities, 'sidecarHealthCheck' | 'heartbeatSince'>>(probePolicy);

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
  const gate = await healthGate(
    {
      health: () => sidecarHealthCheck(dropletId),
      heartbeat: async () => (await heartbeatSince({ dropletId, sinceMs })) !== null,
    },
    {
      windowMs: timings.verifyWindowMs,
      pollMs: timings.verifyPollMs,
      signalled: () => watch.latestMs > sinceMs,
      notYet: (look) => {
        status.lastError = !look.healthy
          ? `HEALTH_CHECK: ${look.healthError}`
          : 'no heartbeat since the power change';
      },
    },
  );
  if (gate.ok) return gate;
  const reason = !gate.look.healthy
    ? `sidecar did not pass HEALTH_CHECK within ${timings.verifyWindowMs} ms (${gate.look.healthError})`
    : `no heartbeat newer than the power change within ${timings.verifyWindowMs} ms`;
  log.warn('verification failed', { dropletId, reason });
  return { ok: false, reason };
}
