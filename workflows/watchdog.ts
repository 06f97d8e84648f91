/**
 * The watchdog, run by a Temporal Schedule every 60 s with overlap SKIP:
 *   1. scan: stale droplets (one indexed query) and resource breaches;
 *   2. storm brake: if too much of the fleet is stale at once, suspect our own ingest or the
 *      provider, not the droplets -- start nothing, open one critical alert, resume by itself when
 *      the fraction falls (as Kubernetes' node controller stops evicting when every zone looks down);
 *   3. otherwise start (or join) a watchdog_recovery wake per stale droplet, at most
 *      maxStartsPerTick per tick, the rest next tick;
 *   4. breaches open alerts (never reboots); a heartbeat-buffer backlog above its threshold opens
 *      one too; a summary row per run.
 */
import { log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  remediationWakeInput,
  STORM_ALERT_KEY,
  stormBrake,
  WATCHDOG_DEFAULTS,
  type WatchdogInput,
  type WatchdogSummary,
} from '../src/domain/watchdog';
import { remediationPolicy, watchdogPolicy } from './policies';

const { scanFleet, syncBreachAlerts, recordWatchdogRun, raiseAlert, resolveAlert, checkHeartbeatBacklog } =
  proxyActivities<
    Pick<
      Activities,
      | 'scanFleet'
      | 'syncBreachAlerts'
      | 'recordWatchdogRun'
      | 'raiseAlert'
      | 'resolveAlert'
      | 'checkHeartbeatBacklog'
    >
  >(watchdogPolicy);
const { startRemediations, redriveStuckDroplets } =
  proxyActivities<Pick<Activities, 'startRemediations' | 'redriveStuckDroplets'>>(remediationPolicy);

export async function watchdog(input: WatchdogInput = {}): Promise<WatchdogSummary> {
  const cfg = {
    ...WATCHDOG_DEFAULTS,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
    thresholds: { ...WATCHDOG_DEFAULTS.thresholds, ...input.thresholds },
  };
  const { workflowId } = workflowInfo();

  const scan = await scanFleet({
    timeoutS: cfg.heartbeatTimeoutS,
    limit: cfg.maxStartsPerTick,
    cpu: cfg.thresholds.cpu,
    memory: cfg.thresholds.memory,
    disk: cfg.thresholds.disk,
  });
  const braked = stormBrake(scan.staleCount, scan.eligible, cfg);
  let started = 0;
  let joined = 0;
  let stuckRedriven = 0;
  if (braked) {
    log.warn('storm brake: no remediation this tick', { stale: scan.staleCount, eligible: scan.eligible });
    await raiseAlert({
      key: STORM_ALERT_KEY,
      kind: 'watchdog_storm',
      severity: 'critical',
      title: `${scan.staleCount} of ${scan.eligible} droplets stale at once`,
      message:
        `${scan.staleCount} of ${scan.eligible} droplets have no heartbeat for ${cfg.heartbeatTimeoutS} s. ` +
        'Suspect an ingest or provider outage, not droplets: the watchdog starts no remediation until this clears.',
      workflowId,
      reason: 'storm_brake',
      value: scan.eligible ? scan.staleCount / scan.eligible : 0,
      threshold: cfg.stormFraction,
    });
  } else {
    await resolveAlert(STORM_ALERT_KEY);
    if (scan.stale.length > 0) {
      const r = await startRemediations({
        droplets: scan.stale,
        wake: remediationWakeInput(cfg.heartbeatTimeoutS, input.wake),
      });
      started = r.started;
      joined = r.joined;
    }
    // No failure path leaves a droplet transitional; what terminate or a timeout left is re-driven.
    const stuck = await redriveStuckDroplets({
      olderThanS: cfg.transitionalDeadlineS,
      limit: cfg.maxStartsPerTick,
      wake: input.wake ?? {},
    });
    stuckRedriven = stuck.redriven;
  }
  await syncBreachAlerts(scan.breaches);
  const backlog = await checkHeartbeatBacklog(cfg.heartbeatBacklogAlert);
  const summary: WatchdogSummary = {
    eligible: scan.eligible,
    stale: scan.staleCount,
    breached: scan.breaches.length,
    remediationsStarted: started,
    remediationsJoined: joined,
    stuckRedriven,
    braked,
    queryMs: scan.queryMs,
    heartbeatBacklog: backlog.length,
  };
  await recordWatchdogRun({
    workflowId,
    eligible: summary.eligible,
    stale: summary.stale,
    breached: summary.breached,
    started,
    joined,
    braked,
    queryMs: summary.queryMs,
  });
  return summary;
}
