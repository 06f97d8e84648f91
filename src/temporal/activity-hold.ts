/**
 * Holds all activity work fleet-wide (a provider outage: no more DigitalOcean calls, no sidecar
 * commands) by setting the task queue's activity dispatch rate to zero on the server, and releases
 * it by removing the limit. Workflows keep running and simply wait; nothing is lost.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export async function setActivityHold(
  client: Client,
  opts: { namespace: string; taskQueue: string; hold: boolean; reason: string; identity?: string },
): Promise<void> {
  await client.workflowService.updateTaskQueueConfig({
    namespace: opts.namespace,
    identity: opts.identity ?? 'genesis-cp',
    taskQueue: opts.taskQueue,
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    // A rate limit of 0 dispatches nothing; no rateLimit at all removes the limit.
    updateQueueRateLimit: opts.hold
      ? { rateLimit: { requestsPerSecond: 0 }, reason: opts.reason }
      : { reason: opts.reason },
  });
}

export interface ActivityHold {
  held: boolean;
  reason?: string;
  by?: string;
  since?: Date;
}

/** Whether the task queue's activities are held (dispatch rate 0), by whom and why. */
export async function activityHold(
  client: Client,
  opts: { namespace: string; taskQueue: string },
): Promise<ActivityHold> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: opts.namespace,
    taskQueue: { name: opts.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    reportConfig: true,
  });
  const limit = res.config?.queueRateLimit;
  const rps = limit?.rateLimit?.requestsPerSecond;
  const held = limit?.rateLimit != null && (rps ?? 0) === 0;
  const at = limit?.metadata?.updateTime?.seconds;
  return {
    held,
    reason: held ? limit?.metadata?.reason || undefined : undefined,
    by: held ? limit?.metadata?.updateIdentity || undefined : undefined,
    since: held && at != null ? new Date(Number(at) * 1000) : undefined,
  };
}
