/** Side effects of the watchdog: the fleet scan, remediation starts, breach alerts, the run summary. */
import { Context } from '@temporalio/activity';
import type { FleetScan, ResourceBreach, WatchdogRun } from '../src/db/watchdog';
import type { WakeDropletInput } from '../src/domain/power';
import { HEARTBEAT_BACKLOG_ALERT_KEY } from '../src/domain/watchdog';
import { streamBacklog } from '../src/heartbeats/stream';
import { recordScheduleRun } from '../src/observability/schedule-runs';
import { startHardReboot, startHibernate, startWake, type StartedPower } from '../src/temporal/power-starts';
import { powerOperationRunning, runningChangesOn } from '../src/temporal/running-on-droplet';
import { portsOf, type ActivityDeps } from './deps';
import { required } from './errors';

const breachKey = (b: Pick<ResourceBreach, 'dropletId' | 'kind'>) => `droplet:${b.dropletId}:${b.kind}`;

export function createWatchdogActivities(deps: ActivityDeps) {
  const { droplets, alerts, watchdog } = portsOf(deps);
  return {
    async scanFleet(opts: {
      timeoutS: number;
      limit: number;
      cpu: number;
      memory: number;
      disk: number;
    }): Promise<FleetScan> {
      return watchdog.scanFleet(opts);
    },

    /** Starts (or joins) a watchdog_recovery wake per droplet under its single-flight id. */
    async startRemediations(input: {
      droplets: { dropletId: number; workspaceId: string }[];
      wake: Pick<WakeDropletInput, 'timings' | 'reboot'>;
    }): Promise<{ started: number; joined: number; workflowIds: string[] }> {
      const { client, taskQueue } = required(deps.temporal, 'the Temporal client');
      let started = 0;
      let joined = 0;
      const ids: string[] = [];
      for (const d of input.droplets) {
        Context.current().heartbeat(ids.length);
        const r = await startWake(client, taskQueue, {
          workspaceId: d.workspaceId,
          dropletId: d.dropletId,
          reason: 'watchdog_recovery',
          ...input.wake,
        });
        if (r.joined) joined++;
        else started++;
        ids.push(r.workflowId);
        deps.logger.info(
          { dropletId: d.dropletId, workspaceId: d.workspaceId, workflowId: r.workflowId, joined: r.joined },
          'watchdog remediation',
        );
      }
      return { started, joined, workflowIds: ids };
    },

    /**
     * Droplets stuck in a transitional state past the deadline with nothing running on them (their
     * workflow was terminated or timed out) are re-driven: HIBERNATING -> hibernate again,
     * WAKING -> a watchdog_recovery wake, REBOOTING -> a hard reboot, UPDATING -> FAILED with the
     * reason, then a watchdog_recovery wake (which verifies, or escalates to a reboot).
     */
    async redriveStuckDroplets(input: {
      olderThanS: number;
      limit: number;
      wake: Pick<WakeDropletInput, 'timings' | 'reboot'>;
    }): Promise<{ found: number; redriven: number; busy: number; workflowIds: string[] }> {
      const { client, taskQueue } = required(deps.temporal, 'the Temporal client');
      const stuck = await droplets.stuck({ olderThanS: input.olderThanS, limit: input.limit });
      const ids: string[] = [];
      let busy = 0;
      for (const d of stuck) {
        Context.current().heartbeat(ids.length);
        const base = { workspaceId: d.workspaceId, dropletId: d.dropletId };
        if (
          (await powerOperationRunning(client, d.dropletId)) ||
          (d.state === 'UPDATING' && (await runningChangesOn(client, d.dropletId)).length > 0)
        ) {
          busy++; // still being worked on: not stuck, just slow
          continue;
        }
        let started: StartedPower;
        if (d.state === 'HIBERNATING') {
          started = await startHibernate(client, taskQueue, { ...base, timings: input.wake.timings });
        } else if (d.state === 'REBOOTING') {
          started = await startHardReboot(client, taskQueue, {
            ...base,
            reason: 'watchdog_heartbeat_timeout',
            timings: input.wake.timings,
            ...input.wake.reboot,
          });
        } else {
          if (d.state === 'UPDATING')
            await droplets.transition({
              dropletId: d.dropletId,
              to: 'FAILED',
              expectedFrom: ['UPDATING'],
              cause: 'watchdog:stuck_in_UPDATING',
              detail: { since: d.since, deadlineS: input.olderThanS },
            });
          started = await startWake(client, taskQueue, {
            ...base,
            reason: 'watchdog_recovery',
            ...input.wake,
          });
        }
        ids.push(started.workflowId);
        deps.logger.warn(
          { ...base, state: d.state, since: d.since, workflowId: started.workflowId, joined: started.joined },
          'watchdog: droplet stuck in a transitional state re-driven',
        );
      }
      return { found: stuck.length, redriven: ids.length, busy, workflowIds: ids };
    },

    /** One alert per droplet and kind; alerts of breaches that cleared are resolved. */
    async syncBreachAlerts(breaches: ResourceBreach[]): Promise<{ raised: number; resolved: number }> {
      const current = new Set(breaches.map(breachKey));
      let raised = 0;
      let resolved = 0;
      for (const b of breaches) {
        const alert = {
          key: breachKey(b),
          kind: 'resource_breach',
          severity: 'warning' as const,
          title: `Droplet ${b.dropletId}: ${b.kind} ${b.value.toFixed(0)}% > ${b.threshold}%`,
          message: `${b.kind} at ${b.value.toFixed(1)}% (threshold ${b.threshold}%) on droplet ${b.dropletId} of workspace ${b.workspaceId}`,
          workspaceId: b.workspaceId,
          dropletId: b.dropletId,
          reason: `${b.kind}_above_threshold`,
          value: b.value,
          threshold: b.threshold,
        };
        if (deps.alerts) {
          if ((await deps.alerts.raise(alert)).notified) raised++;
        } else deps.logger.warn(alert, 'resource breach (no alert sink configured)');
      }
      if (deps.alerts) {
        for (const key of await alerts.openBreachKeys()) {
          if (!current.has(key) && (await deps.alerts.resolve(key)).resolved) resolved++;
        }
      }
      return { raised, resolved };
    },

    /** The heartbeat buffer's backlog: an alert above the threshold, resolved below it. */
    async checkHeartbeatBacklog(
      threshold: number,
    ): Promise<{ length: number; pending: number; alerting: boolean }> {
      const b = await streamBacklog(deps.redis, deps.heartbeatStream);
      const alerting = b.length > threshold;
      if (alerting) {
        const alert = {
          key: HEARTBEAT_BACKLOG_ALERT_KEY,
          kind: 'heartbeat_backlog',
          severity: 'warning' as const,
          title: `Heartbeat buffer backlog ${b.length} > ${threshold}`,
          message: `${b.length} heartbeat entries wait in the Redis stream (${b.pending} delivered, not acknowledged): the drain is behind or down.`,
          reason: 'heartbeat_backlog',
          value: b.length,
          threshold,
        };
        if (deps.alerts) await deps.alerts.raise(alert);
        else deps.logger.warn(alert, 'heartbeat backlog (no alert sink configured)');
      } else if (deps.alerts) {
        await deps.alerts.resolve(HEARTBEAT_BACKLOG_ALERT_KEY);
      }
      return { length: b.length, pending: b.pending, alerting };
    },

    async recordWatchdogRun(run: WatchdogRun): Promise<void> {
      await watchdog.recordRun(run);
      recordScheduleRun(deps.sharedMetrics, 'watchdog');
    },
  };
}
