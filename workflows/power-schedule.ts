/**
 * Scheduled power.
 *
 * `powerScheduleTick`, run by a Temporal Schedule every POWER_SCHEDULE_INTERVAL_S (overlap SKIP):
 *   1. plan: every scheduled workspace's droplets against its windows, lead time and idle rule
 *      (src/domain/power-schedule.ts), less the droplets an operation runs on, bounded per tick;
 *   2. start the planned wakes (scheduled_campaign) and hibernations (scheduled) under each
 *      droplet's single-flight id power-<droplet> (USE_EXISTING: never doubled), all at once, so a
 *      09:00 crowd is one burst of bulk-lane work the power workflows batch into cohorts;
 *   3. record the tick (metrics).
 * Level-triggered: a tick that was skipped or failed is made good by the next one.
 *
 * `powerScheduleCommand`: set, get or clear a workspace's schedule for the dashboard's client.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  invalidPowerScheduleCommand,
  type PowerScheduleCommand,
  type PowerScheduleCommandResult,
} from '../contracts/power-schedule';
import type { PowerScheduleTickInput, PowerScheduleTickSummary } from '../src/domain/power-schedule';
import { requireValidInput } from './input';
import { dbPolicy, remediationPolicy, watchdogPolicy } from './policies';

const { planScheduledPower, recordPowerScheduleTick } =
  proxyActivities<Pick<Activities, 'planScheduledPower' | 'recordPowerScheduleTick'>>(watchdogPolicy);
const { startScheduledPower } = proxyActivities<Pick<Activities, 'startScheduledPower'>>(remediationPolicy);
const { setPowerSchedule, getPowerSchedule, clearPowerSchedule } =
  proxyActivities<Pick<Activities, 'setPowerSchedule' | 'getPowerSchedule' | 'clearPowerSchedule'>>(dbPolicy);

export async function powerScheduleTick(
  input: PowerScheduleTickInput = {},
): Promise<PowerScheduleTickSummary> {
  const plan = await planScheduledPower({ maxStartsPerTick: input.maxStartsPerTick });
  const none = { wake: 0, hibernate: 0 };
  const r =
    plan.starts.length > 0
      ? await startScheduledPower({
          starts: plan.starts,
          timings: input.timings,
          gracefulTimeoutMs: input.gracefulTimeoutMs,
        })
      : { started: none, joined: 0, maxLagMs: none };
  const summary: PowerScheduleTickSummary = {
    at: new Date(plan.at).toISOString(),
    schedules: plan.schedules,
    droplets: plan.droplets,
    due: plan.due,
    started: r.started,
    joined: r.joined,
    busy: plan.busy,
    deferred: plan.deferred,
    maxLagMs: r.maxLagMs,
  };
  await recordPowerScheduleTick(summary);
  return summary;
}

export async function powerScheduleCommand(input: PowerScheduleCommand): Promise<PowerScheduleCommandResult> {
  requireValidInput(input, invalidPowerScheduleCommand);
  const by = input.op === 'get' ? undefined : (input.by ?? `workflow:${workflowInfo().workflowId}`);
  switch (input.op) {
    case 'set':
      return { schedule: await setPowerSchedule({ schedule: input.schedule, by }) };
    case 'get':
      return { schedule: await getPowerSchedule(input.workspaceId) };
    case 'clear':
      return { schedule: null, cleared: await clearPowerSchedule({ workspaceId: input.workspaceId, by }) };
  }
}
