/**
 * The worker groups that are really there: every worker polls with the identity
 * `<group>/<build id>/<pid>` (src/worker/worker.ts), and the server remembers each poller for a
 * few minutes after its last poll. `workers pause` checks a group against this list, so a mistyped
 * group is refused instead of paused while nothing stops.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

export interface LiveWorker {
  group: string;
  buildId: string;
  identity: string;
  lastPollAt?: Date;
}

export async function liveWorkers(
  client: Client,
  opts: { namespace: string; taskQueue: string },
): Promise<LiveWorker[]> {
  const byIdentity = new Map<string, LiveWorker>();
  for (const type of [
    temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  ]) {
    const res = await client.workflowService.describeTaskQueue({
      namespace: opts.namespace,
      taskQueue: { name: opts.taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: type,
    });
    for (const p of res.pollers ?? []) {
      const identity = p.identity ?? '';
      const [group, buildId] = identity.split('/');
      if (!group || !buildId) continue; // not one of ours (e.g. the temporal CLI)
      const seen =
        p.lastAccessTime?.seconds != null ? new Date(Number(p.lastAccessTime.seconds) * 1000) : undefined;
      const prev = byIdentity.get(identity);
      if (!prev || (seen && (!prev.lastPollAt || seen > prev.lastPollAt)))
        byIdentity.set(identity, { group, buildId, identity, lastPollAt: seen });
    }
  }
  return [...byIdentity.values()].sort((a, b) => a.identity.localeCompare(b.identity));
}
