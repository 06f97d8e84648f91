/**
 * The control plane's Temporal Schedules, created when a worker starts (idempotent: an existing
 * schedule is updated to the configured spec, so a changed interval takes effect on deploy).
 */
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { WatchdogInput } from '../domain/watchdog';
import { watchdog } from '../../workflows/watchdog';
import { workflowIds } from '../../workflows/messages';
import { searchAttributes } from './search-attributes';

export async function ensureWatchdogSchedule(
  client: Client,
  opts: { taskQueue: string; everyMs: number; input: WatchdogInput; paused?: boolean },
): Promise<string> {
  const scheduleId = workflowIds.watchdogSchedule(opts.taskQueue);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: watchdog,
    args: [opts.input] as [WatchdogInput],
    taskQueue: opts.taskQueue,
    workflowId: `watchdog-run/${opts.taskQueue}`,
    typedSearchAttributes: searchAttributes({ operation: 'watchdog' }),
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: opts.everyMs }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      state: {
        paused: opts.paused ?? false,
        note: 'genesis watchdog: stale heartbeats and resource breaches',
      },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...prev,
      spec: { intervals: [{ every: opts.everyMs }] },
      action,
      policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP },
    }));
  }
  return scheduleId;
}
