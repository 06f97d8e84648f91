/**
 * Starts the heartbeat drain workflows (one per consumer) when the control plane starts. Idempotent:
 * each has a fixed id and USE_EXISTING (contracts/heartbeat-drain.ts), so every worker replica may
 * call this at start.
 *
 * A drain found running on another task queue than its contract routes it to (one started before
 * the drain moved to the interactive queue) is moved: told to stop (stopDrain cancels its activity;
 * what it read and did not acknowledge stays pending in its consumer group, which the next drain of
 * that consumer reads first), then started again on its queue once it has closed. Another replica
 * moving it at the same time joins the same new run (USE_EXISTING).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  drainConsumer,
  heartbeatDrainContract,
  stopDrainSignal,
  type HeartbeatDrainInput,
} from '../../contracts/heartbeat-drain';
import { startOptions } from '../temporal/start';

export interface EnsuredDrains {
  workflowIds: string[];
  /** drains that were running on another queue and now run on theirs */
  moved: string[];
  /** drains that were told to move but did not close within `moveTimeoutMs` (the next start retries) */
  notMoved: string[];
}

export async function ensureDrainWorkflows(
  client: Client,
  opts: {
    taskQueue: string;
    consumers: number;
    batchSize: number;
    overrides?: Partial<HeartbeatDrainInput>;
    /** how long a drain told to move may take to close */
    moveTimeoutMs?: number;
  },
): Promise<EnsuredDrains> {
  const out: EnsuredDrains = { workflowIds: [], moved: [], notMoved: [] };
  for (let i = 0; i < opts.consumers; i++) {
    const input = { consumer: drainConsumer(i), batchSize: opts.batchSize, ...opts.overrides };
    const options = startOptions(heartbeatDrainContract, input, { taskQueue: opts.taskQueue });
    const start = () => client.workflow.start(heartbeatDrainContract.workflowType, options);
    const handle = await start();
    out.workflowIds.push(handle.workflowId);
    const running = await handle.describe();
    if (running.status.name !== 'RUNNING' || running.taskQueue === options.taskQueue) continue;
    await handle.signal(stopDrainSignal);
    if (await closedWithin(handle, opts.moveTimeoutMs ?? 60_000)) {
      await start();
      out.moved.push(handle.workflowId);
    } else out.notMoved.push(handle.workflowId);
  }
  return out;
}

async function closedWithin(handle: WorkflowHandle, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      handle.result().then(
        () => true,
        () => true, // closed some other way (terminated, failed): it no longer runs either
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
