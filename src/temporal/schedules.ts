/**
 * The control plane's Temporal Schedules, created when a worker starts (idempotent: an existing
 * schedule is updated to the configured spec, so a changed interval takes effect on deploy). Each
 * schedule starts its workflow by name from the workflow's contract.
 */
import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { WorkflowContract } from '../../contracts/define';
import { powerScheduleIds, powerScheduleTickContract } from '../../contracts/power-schedule';
import { fleetProbeContract, fleetProbeIds } from '../../contracts/fleet-probe';
import { reconcileIds, reconcilerContract } from '../../contracts/reconcile';
import { scaleAlertIds, scaleAlertsContract } from '../../contracts/scale-alerts';
import { watchdogContract, watchdogIds } from '../../contracts/watchdog';
import type { PowerScheduleTickInput } from '../domain/power-schedule';
import { SCALE_SCHEDULE_EVERY_MS, type ScaleAlertInput } from '../domain/scale';
import type { FleetProbeInput } from '../domain/fleet-probe';
import type { ReconcilerInput } from '../domain/reconcile';
import type { WatchdogInput } from '../domain/watchdog';
import { contractWorkflowId } from './start';

/** Creates the schedule, or updates an existing one to this spec and action (overlap SKIP). */
export async function ensureSchedule<W extends Workflow>(
  client: Client,
  contract: WorkflowContract<W>,
  opts: {
    scheduleId: string;
    taskQueue: string;
    everyMs: number;
    input: Parameters<W>[0];
    paused?: boolean;
    note: string;
  },
): Promise<string> {
  const action = {
    type: 'startWorkflow',
    workflowType: contract.workflowType,
    args: [opts.input] as Parameters<W>,
    taskQueue: opts.taskQueue,
    workflowId: contractWorkflowId(contract, opts.input, opts.taskQueue),
    typedSearchAttributes: contract.searchAttributes(opts.input),
  } as unknown as ScheduleOptionsStartWorkflowAction<W>;
  const spec = { intervals: [{ every: opts.everyMs }] };
  try {
    await client.schedule.create<W>({
      scheduleId: opts.scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      state: { paused: opts.paused ?? false, note: opts.note },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(opts.scheduleId).update<W>((prev) => ({
      ...prev,
      spec,
      action,
      policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP },
    }));
  }
  return opts.scheduleId;
}

export function ensureWatchdogSchedule(
  client: Client,
  opts: { taskQueue: string; everyMs: number; input: WatchdogInput; paused?: boolean },
): Promise<string> {
  return ensureSchedule(client, watchdogContract, {
    ...opts,
    scheduleId: watchdogIds.schedule(opts.taskQueue),
    note: 'genesis watchdog: stale heartbeats and resource breaches',
  });
}

/** Every 15 min by default. */
export function ensureScaleAlertsSchedule(
  client: Client,
  opts: { taskQueue: string; everyMs?: number; input?: ScaleAlertInput; paused?: boolean },
): Promise<string> {
  return ensureSchedule(client, scaleAlertsContract, {
    taskQueue: opts.taskQueue,
    everyMs: opts.everyMs ?? SCALE_SCHEDULE_EVERY_MS,
    input: opts.input ?? {},
    paused: opts.paused,
    scheduleId: scaleAlertIds.schedule(opts.taskQueue),
    note: 'genesis scale alerts: partitions, table sizes, connections, backlogs, failure ratio',
  });
}

/** The scheduled-power reconciler: every minute by default (overlap SKIP: one tick at a time). */
export function ensurePowerScheduleSchedule(
  client: Client,
  opts: { taskQueue: string; everyMs: number; input: PowerScheduleTickInput; paused?: boolean },
): Promise<string> {
  return ensureSchedule(client, powerScheduleTickContract, {
    ...opts,
    scheduleId: powerScheduleIds.schedule(opts.taskQueue),
    note: 'genesis scheduled power: wake ahead of awake windows, hibernate idle tenants outside them',
  });
}

/** The fleet probe: one run per period (its input's periodS), overlap SKIP. */
export function ensureFleetProbeSchedule(
  client: Client,
  opts: { taskQueue: string; input: FleetProbeInput & { periodS: number }; paused?: boolean },
): Promise<string> {
  return ensureSchedule(client, fleetProbeContract, {
    taskQueue: opts.taskQueue,
    everyMs: opts.input.periodS * 1000,
    input: opts.input,
    paused: opts.paused,
    scheduleId: fleetProbeIds.schedule(opts.taskQueue),
    note: 'genesis fleet probe: HEALTH_CHECK + COLLECT_METRICS of every ACTIVE droplet each period',
  });
}

/** The reconciler: desired state against the record, drifted tenants reconciled at a bounded rate. */
export function ensureReconcilerSchedule(
  client: Client,
  opts: { taskQueue: string; everyMs: number; input: ReconcilerInput; paused?: boolean },
): Promise<string> {
  return ensureSchedule(client, reconcilerContract, {
    ...opts,
    scheduleId: reconcileIds.schedule(opts.taskQueue),
    note: 'genesis reconciler: tenants brought to their desired state',
  });
}
