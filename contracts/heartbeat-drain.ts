/**
 * Heartbeat drain: one long-running consumer workflow per consumer slot, started when a worker
 * starts under a fixed id with USE_EXISTING (every replica may start them).
 */
import type { DrainStats } from '../src/domain/drain-stats';
import { defineQuery, defineSignal, type WorkflowContract } from './define';
import { searchAttributes } from './search-attributes';
import { interactiveTaskQueue } from './task-queues';

export interface HeartbeatDrainInput {
  consumer: string;
  /** How long one drain activity runs before it returns (production: 5 min). */
  activityRunMs?: number;
  /** Drain activity runs per workflow execution before continue-as-new. */
  runsPerExecution?: number;
  batchSize?: number;
  blockMs?: number;
  /** Entries pending longer than this in another consumer are taken over. */
  claimIdleMs?: number;
  /** A drain run that stops heartbeating for this long is considered dead and retried. */
  heartbeatTimeoutMs?: number;
  /** Running totals carried across continue-as-new. */
  totals?: DrainStats;
  runs?: number;
}

export interface DrainStatus {
  consumer: string;
  runs: number;
  totals: DrainStats;
  lastRun?: DrainStats;
  stopping: boolean;
}

export type HeartbeatDrainWorkflow = (input: HeartbeatDrainInput) => Promise<DrainStatus>;

export const drainStatusQuery = defineQuery<DrainStatus>('drainStatus');
/** Ends the drain after the current batch instead of continuing as new (used on shutdown of a consumer slot). */
export const stopDrainSignal = defineSignal('stopDrain');

export const drainIds = {
  /** Scoped by task queue so two control planes sharing a namespace never share a drain. */
  consumer: (taskQueue: string, consumerIndex: number) => `heartbeat-drain/${taskQueue}/${consumerIndex}`,
};

/** The consumer slot of a drain input: `drain-<index>`. */
export const drainConsumer = (consumerIndex: number) => `drain-${consumerIndex}`;

export const heartbeatDrainContract: WorkflowContract<HeartbeatDrainWorkflow> = {
  workflowType: 'heartbeatDrain',
  conflictPolicy: 'USE_EXISTING',
  workflowId: (input, { taskQueue }) => drainIds.consumer(taskQueue, consumerIndexOf(input.consumer)),
  // Every wake is verified by a keep-alive the drain lands: a storm's backlog must not delay it.
  taskQueue: (_input, base) => interactiveTaskQueue(base),
  searchAttributes: () => searchAttributes({ operation: 'heartbeat_drain' }),
};

function consumerIndexOf(consumer: string): number {
  const m = /^drain-(\d+)$/.exec(consumer);
  if (!m) throw new Error(`heartbeat drain consumer must be drain-<index>, got ${consumer}`);
  return Number(m[1]);
}
