/**
 * The scale-alerts Schedule, created or updated when a worker starts (the same create-or-update
 * approach as the watchdog's in ./schedules.ts): every 15 min by default, overlap SKIP.
 */
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { SCALE_SCHEDULE_EVERY_MS, type ScaleAlertInput } from '../domain/scale';
import { scaleAlerts } from '../../workflows/scale-alerts';
import { scaleAlertIds } from '../../workflows/messages';
import { searchAttributes } from './search-attributes';

export async function ensureScaleAlertsSchedule(
  client: Client,
  opts: { taskQueue: string; everyMs?: number; input?: ScaleAlertInput; paused?: boolean },
): Promise<string> {
  const scheduleId = scaleAlertIds.schedule(opts.taskQueue);
  const everyMs = opts.everyMs ?? SCALE_SCHEDULE_EVERY_MS;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: scaleAlerts,
    args: [opts.input ?? {}] as [ScaleAlertInput],
    taskQueue: opts.taskQueue,
    workflowId: scaleAlertIds.run(opts.taskQueue),
    typedSearchAttributes: searchAttributes({ operation: 'scale_alerts' }),
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: everyMs }] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      state: {
        paused: opts.paused ?? false,
        note: 'genesis scale alerts: partitions, table sizes, connections, backlogs, failure ratio',
      },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...prev,
      spec: { intervals: [{ every: everyMs }] },
      action,
      policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP },
    }));
  }
  return scheduleId;
}
