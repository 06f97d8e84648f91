/**
 * Starts the heartbeat drain workflows (one per consumer) when the control plane starts. Idempotent:
 * each has a fixed id and USE_EXISTING, so every worker replica may call this at start.
 */
import type { Client } from '@temporalio/client';
import { heartbeatDrain, type HeartbeatDrainInput } from '../../workflows/heartbeat-drain';
import { workflowIds } from '../../workflows/messages';
import { searchAttributes } from '../temporal/search-attributes';

export async function ensureDrainWorkflows(
  client: Client,
  opts: { taskQueue: string; consumers: number; batchSize: number; overrides?: Partial<HeartbeatDrainInput> },
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < opts.consumers; i++) {
    const handle = await client.workflow.start(heartbeatDrain, {
      workflowId: workflowIds.heartbeatDrain(opts.taskQueue, i),
      taskQueue: opts.taskQueue,
      args: [{ consumer: `drain-${i}`, batchSize: opts.batchSize, ...opts.overrides }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: searchAttributes({ operation: 'heartbeat_drain' }),
    });
    ids.push(handle.workflowId);
  }
  return ids;
}
