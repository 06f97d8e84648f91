/**
 * Every signal, query and update the workflows handle, defined once and reused by the client, the
 * CLI and the activities that signal workflows.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DrainStats } from '../src/domain/drain-stats';

// Heartbeat drain
export interface DrainStatus {
  consumer: string;
  runs: number;
  totals: DrainStats;
  lastRun?: DrainStats;
  stopping: boolean;
}
export const drainStatusQuery = defineQuery<DrainStatus>('drainStatus');
/** Ends the drain after the current batch instead of continuing as new (used on shutdown of a consumer slot). */
export const stopDrainSignal = defineSignal('stopDrain');

// Power workflows: the heartbeat drain tells the droplet's running power workflow a fresh heartbeat arrived.
export interface HeartbeatObserved {
  observedAt: string;
  n8nStatus: string | null;
  sidecarVersion: string | null;
}
export const heartbeatObservedSignal = defineSignal<[HeartbeatObserved]>('heartbeatObserved');

/** Workflow ids derived from what they act on, so starts are idempotent and single-flight. */
export const workflowIds = {
  /** Scoped by task queue so two control planes sharing a namespace never share a drain. */
  heartbeatDrain: (taskQueue: string, consumerIndex: number) =>
    `heartbeat-drain/${taskQueue}/${consumerIndex}`,
  power: (dropletId: number) => `power-${dropletId}`,
};
