/**
 * Starts the heartbeat drain workflows (one per consumer) when the control plane starts. Idempotent:
 * each has a fixed id and USE_EXISTING (contracts/heartbeat-drain.ts), so every worker replica may
 * call this at start.
 */
import type { Client } from '@temporalio/client';
import {
  drainConsumer,
  heartbeatDrainContract,
  type HeartbeatDrainInput,
} from '../../contracts/heartbeat-drain';
import { startOptions } from '../temporal/start';

export async function ensureDrainWorkflows(
  client: Client,
  opts: { taskQueue: string; consumers: number; batchSize: number; overrides?: Partial<HeartbeatDrainInput> },
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < opts.consumers; i++) {
    const input = { consumer: drainConsumer(i), batchSize: opts.batchSize, ...opts.overrides };
    const handle = await client.workflow.start(
      heartbeatDrainContract.workflowType,
      startOptions(heartbeatDrainContract, input, { taskQueue: opts.taskQueue }),
    );
    ids.push(handle.workflowId);
  }
  return ids;
}
