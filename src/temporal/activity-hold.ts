/**
 * Holds all activity work fleet-wide (a provider outage: no more DigitalOcean calls, no sidecar
 * commands) by setting the activity dispatch rate of each of the control plane's task queues (the
 * base one and its siblings, contracts/task-queues.ts) to zero on the server, and releases it by
 * removing the limit. Workflows keep running and simply wait; nothing is lost.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { controlPlaneTaskQueues } from '../../contracts/task-queues';

export interface ActivityHoldRequest {
  namespace: string;
  hold: boolean;
  reason: string;
  identity?: string;
}

export async function setActivityHold(
  client: Client,
  opts: ActivityHoldRequest & { taskQueue: string },
): Promise<void> {
  for (const { queue } of controlPlaneTaskQueues(opts.taskQueue))
    await setQueueActivityHold(client, queue, opts);
}

/** Holds (or releases) the activity dispatch of one task queue. */
export async function setQueueActivityHold(
  client: Client,
  queue: string,
  opts: ActivityHoldRequest,
): Promise<void> {
  await client.workflowService.updateTaskQueueConfig({
    namespace: opts.namespace,
    identity: opts.identity ?? 'genesis-cp',
    taskQueue: queue,
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    // A rate limit of 0 dispatches nothing; no rateLimit at all removes the limit.
    updateQueueRateLimit: opts.hold
      ? { rateLimit: { requestsPerSecond: 0 }, reason: opts.reason }
      : { reason: opts.reason },
  });
}

export interface ActivityHold {
  held: boolean;
  /** the queues held when not all are */
  partly?: string[];
  reason?: string;
  by?: string;
  since?: Date;
}

/**
 * Whether the control plane's activities are held (dispatch rate 0 on every one of its task
 * queues), by whom and why (as the base queue records it). `partly` names the queues held when
 * only some are (a hold interrupted between its requests: hold or release again).
 */
export async function activityHold(
  client: Client,
  opts: { namespace: string; taskQueue: string },
): Promise<ActivityHold> {
  const limits = await Promise.all(
    controlPlaneTaskQueues(opts.taskQueue).map(async ({ queue }) => {
      const res = await client.workflowService.describeTaskQueue({
        namespace: opts.namespace,
        taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        reportConfig: true,
      });
      const limit = res.config?.queueRateLimit;
      const rps = limit?.rateLimit?.requestsPerSecond;
      return { queue, limit, held: limit?.rateLimit != null && (rps ?? 0) === 0 };
    }),
  );
  const held = limits.every((l) => l.held);
  const heldQueues = limits.filter((l) => l.held).map((l) => l.queue);
  const limit = limits[0]!.limit;
  const at = limit?.metadata?.updateTime?.seconds;
  return {
    held,
    ...(!held && heldQueues.length > 0 ? { partly: heldQueues } : {}),
    reason: held ? limit?.metadata?.reason || undefined : undefined,
    by: held ? limit?.metadata?.updateIdentity || undefined : undefined,
    since: held && at != null ? new Date(Number(at) * 1000) : undefined,
  };
}
