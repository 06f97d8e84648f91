/**
 * Side effects of scheduled power: storing the dashboard's schedules, planning a tick (Postgres:
 * schedules and droplets; Temporal visibility: what runs on them and recent interactive wakes),
 * starting the planned wakes and hibernations through the power contracts, and the tick's metrics.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { DropletIdKey } from '../contracts/search-attributes';
import { UnknownWorkspaceError } from '../src/db/power-schedules';
import {
  plannedPower,
  powerIntent,
  POWER_SCHEDULE_TICK_DEFAULTS,
  resolvePowerSchedule,
  type PlannedStart,
  type PowerIntent,
  type PowerSchedule,
  type PowerScheduleInput,
  type PowerSchedulePlan,
  type PowerScheduleTickInput,
  type PowerScheduleTickSummary,
  type ScheduledAction,
  type StoredPowerSchedule,
} from '../src/domain/power-schedule';
import { recordScheduleRun } from '../src/observability/schedule-runs';
import { SHARED } from '../src/observability/shared-metrics';
import { startHibernate, startWake } from '../src/temporal/power-starts';
import { portsOf, type ActivityDeps } from './deps';
import { required } from './errors';

/** Operations that hold a droplet: the power workflows and the changes (search attribute Operation). */
const BUSY_OPERATIONS = [
  'wake',
  'hibernate',
  'hard_reboot',
  'n8n_update',
  'workflow_update',
  'credential_injection',
];

/** Droplets a running power operation or change holds (one visibility query, paged). */
async function busyDroplets(client: Client): Promise<Set<number>> {
  const busy = new Set<number>();
  const query = `ExecutionStatus = "Running" AND Operation IN (${BUSY_OPERATIONS.map((o) => `"${o}"`).join(', ')})`;
  for await (const wf of client.workflow.list({ query, pageSize: 1000 })) {
    const id = wf.typedSearchAttributes.get(DropletIdKey);
    if (id !== undefined) busy.add(Number(id));
  }
  return busy;
}

/**
 * The newest interactive wake (user_login, admin_request) started since `since` per droplet,
 * including those that found the droplet already healthy and changed nothing in Postgres.
 */
async function interactiveWakes(client: Client, since: number): Promise<Map<number, number>> {
  const latest = new Map<number, number>();
  const query =
    `WorkflowType = "wakeDroplet" AND Reason IN ("user_login", "admin_request") AND ` +
    `StartTime > "${new Date(since).toISOString()}"`;
  for await (const wf of client.workflow.list({ query, pageSize: 1000 })) {
    const id = wf.typedSearchAttributes.get(DropletIdKey);
    if (id === undefined) continue;
    const at = wf.startTime.getTime();
    if (at > (latest.get(Number(id)) ?? 0)) latest.set(Number(id), at);
  }
  return latest;
}

export function createPowerScheduleActivities(deps: ActivityDeps) {
  const { powerSchedules } = portsOf(deps);
  const now = deps.clock ?? Date.now;

  return {
    async setPowerSchedule(input: {
      schedule: PowerScheduleInput;
      by?: string;
    }): Promise<StoredPowerSchedule> {
      try {
        return await powerSchedules.upsert(resolvePowerSchedule(input.schedule), input.by);
      } catch (err) {
        if (err instanceof UnknownWorkspaceError)
          throw ApplicationFailure.nonRetryable(err.message, 'UnknownWorkspace');
        throw err;
      }
    },

    async getPowerSchedule(workspaceId: string): Promise<StoredPowerSchedule | null> {
      return (await powerSchedules.get(workspaceId)) ?? null;
    },

    async clearPowerSchedule(input: { workspaceId: string; by?: string }): Promise<boolean> {
      const cleared = await powerSchedules.delete(input.workspaceId);
      deps.logger.info({ workspaceId: input.workspaceId, by: input.by, cleared }, 'power schedule cleared');
      return cleared;
    },

    /**
     * What this tick should start: every scheduled droplet's planned power (src/domain), less the
     * droplets something runs on, wakes first then hibernations, oldest due first, bounded.
     */
    async planScheduledPower(input: { maxStartsPerTick?: number }): Promise<PowerSchedulePlan> {
      const { client } = required(deps.temporal, 'the Temporal client');
      const at = now();
      const limit = input.maxStartsPerTick ?? POWER_SCHEDULE_TICK_DEFAULTS.maxStartsPerTick;
      const fleet = await powerSchedules.scheduledFleet();
      const byWorkspace = new Map<string, { schedule: PowerSchedule; intent: PowerIntent }>();
      const cache = new Map<string, number>();
      for (const s of fleet.schedules)
        byWorkspace.set(s.workspaceId, { schedule: s, intent: powerIntent(s, at, cache) });

      // interactive wakes matter only to droplets that might hibernate: one visibility query when any might
      const idleHorizon = Math.max(
        0,
        ...fleet.schedules.filter((s) => s.idleMinutes !== null).map((s) => s.idleMinutes! * 60_000),
      );
      const mayHibernate = fleet.droplets.some(
        (d) =>
          byWorkspace.get(d.workspaceId)?.intent.kind === 'asleep' &&
          (d.state === 'ACTIVE_HEALTHY' || d.state === 'ACTIVE_DEGRADED'),
      );
      const interactive = mayHibernate
        ? await interactiveWakes(client, at - idleHorizon)
        : new Map<number, number>();

      const due: PlannedStart[] = [];
      for (const d of fleet.droplets) {
        const w = byWorkspace.get(d.workspaceId);
        if (!w) continue; // its schedule was cleared between the two reads
        const p = plannedPower(
          w.schedule,
          { ...d, lastInteractiveAt: interactive.get(d.dropletId) },
          at,
          w.intent,
        );
        if (p) due.push({ ...p, dropletId: d.dropletId, workspaceId: d.workspaceId });
      }
      const busySet = due.length > 0 ? await busyDroplets(client) : new Set<number>();
      const free = due.filter((p) => !busySet.has(p.dropletId));
      const rank = (a: ScheduledAction) => (a === 'wake' ? 0 : 1);
      free.sort(
        (a, b) => rank(a.action) - rank(b.action) || a.dueSince - b.dueSince || a.dropletId - b.dropletId,
      );
      return {
        at,
        schedules: fleet.schedules.length,
        droplets: fleet.droplets.length,
        due: {
          wake: due.filter((p) => p.action === 'wake').length,
          hibernate: due.filter((p) => p.action === 'hibernate').length,
        },
        busy: due.length - free.length,
        deferred: Math.max(0, free.length - limit),
        starts: free.slice(0, limit),
      };
    },

    /**
     * Starts each planned operation under the droplet's single-flight id (USE_EXISTING): a start
     * that finds power-<droplet> running joins it, so a retried activity or an overlapping tick
     * never doubles an operation. Wakes carry reason scheduled_campaign, hibernations scheduled
     * (both the bulk lane).
     */
    async startScheduledPower(
      input: Pick<PowerScheduleTickInput, 'timings' | 'gracefulTimeoutMs'> & { starts: PlannedStart[] },
    ): Promise<{
      started: Record<ScheduledAction, number>;
      joined: number;
      maxLagMs: Record<ScheduledAction, number>;
    }> {
      const { client, taskQueue } = required(deps.temporal, 'the Temporal client');
      const started = { wake: 0, hibernate: 0 };
      const maxLagMs = { wake: 0, hibernate: 0 };
      let joined = 0;
      // a few starts in flight at once: 1,000 starts take seconds, not a minute
      const queue = [...input.starts];
      const one = async (p: PlannedStart) => {
        const base = { workspaceId: p.workspaceId, dropletId: p.dropletId, timings: input.timings };
        const r =
          p.action === 'wake'
            ? await startWake(client, taskQueue, { ...base, reason: 'scheduled_campaign' })
            : await startHibernate(client, taskQueue, {
                ...base,
                reason: 'scheduled',
                gracefulTimeoutMs: input.gracefulTimeoutMs,
              });
        if (r.joined) joined++;
        else {
          started[p.action]++;
          maxLagMs[p.action] = Math.max(maxLagMs[p.action], now() - p.dueSince);
        }
        Context.current().heartbeat(started.wake + started.hibernate + joined);
      };
      await Promise.all(
        Array.from({ length: Math.min(16, queue.length) }, async () => {
          for (let p = queue.shift(); p; p = queue.shift()) await one(p);
        }),
      );
      return { started, joined, maxLagMs };
    },

    /** The tick's counts on /metrics (shared counters and gauges) and in the log. */
    async recordPowerScheduleTick(summary: PowerScheduleTickSummary): Promise<void> {
      const m = deps.sharedMetrics;
      if (m) {
        for (const action of ['wake', 'hibernate'] as const) {
          m.inc(SHARED.powerScheduleStarts, { action, result: 'started' }, summary.started[action]);
          m.set(SHARED.powerScheduleDue, { action }, summary.due[action]);
          m.set(SHARED.powerScheduleLag, { action }, summary.maxLagMs[action] / 1000);
        }
        m.inc(SHARED.powerScheduleStarts, { action: 'any', result: 'joined' }, summary.joined);
        m.set(SHARED.powerScheduleBusy, {}, summary.busy);
        m.set(SHARED.powerScheduleDeferred, {}, summary.deferred);
        m.set(SHARED.powerScheduleLastTick, {}, Date.parse(summary.at) / 1000);
        recordScheduleRun(m, 'power_schedule', undefined, Date.parse(summary.at));
      }
      deps.logger.info(summary, 'power schedule tick');
    },
  };
}
