/**
 * Every signal, query and update the workflows handle, defined once and reused by the client, the
 * CLI and the activities that signal workflows.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { DrainStats } from '../src/domain/drain-stats';
import type { PowerStatus } from '../src/domain/power';

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
/** Phase, attempt and last error of a running power workflow. */
export const powerStatusQuery = defineQuery<PowerStatus>('status');

/** Workflow ids derived from what they act on, so starts are idempotent and single-flight. */
export const workflowIds = {
  /** Scoped by task queue so two control planes sharing a namespace never share a drain. */
  heartbeatDrain: (taskQueue: string, consumerIndex: number) =>
    `heartbeat-drain/${taskQueue}/${consumerIndex}`,
  /** Every power workflow of a droplet shares this id: single flight per droplet. */
  power: (dropletId: number) => `power-${dropletId}`,
  /** The hard reboot a failed watchdog wake escalates to runs as its child under this id. */
  powerEscalation: (dropletId: number) => `power-${dropletId}-reboot`,
  watchdogSchedule: (taskQueue: string) => `watchdog/${taskQueue}`,
};

// Changes pushed to one tenant: n8n container update, credential injection, n8n workflow update.
import { defineUpdate } from '@temporalio/workflow';
import type { ChangeStatus, N8nUpdateStatus } from '../src/domain/changes';

/** Phase, tags and last error of a running n8n container update. */
export const n8nUpdateStatusQuery = defineQuery<N8nUpdateStatus>('status');
/** Manual gate: promote the verified new tag (rejected unless the update waits at the gate). */
export const promoteUpdate = defineUpdate<N8nUpdateStatus, [{ by?: string }]>('promote');
/** Abandon the update: before promotion it swaps back to the previous tag. */
export const abortSignal = defineSignal<[{ reason?: string }]>('abort');
/** Phase and last error of a credential injection or workflow update. */
export const changeStatusQuery = defineQuery<ChangeStatus>('status');

/** Deterministic ids of the change workflows (starts use USE_EXISTING). */
export const changeIds = {
  n8nUpdate: (dropletId: number, toTag: string) => `n8n-update-${dropletId}-${toTag}`,
  /** requestKey: a digest of the request (never the credentials themselves) */
  credentialInjection: (dropletId: number, requestKey: string) =>
    `credential-injection-${dropletId}-${requestKey}`,
  workflowUpdate: (dropletId: number, workflowName: string, version: string) =>
    `workflow-update-${dropletId}-${workflowName}-${version}`,
};

// Scale alerts: a Schedule per task queue, one run at a time.
export const scaleAlertIds = {
  schedule: (taskQueue: string) => `scale-alerts/${taskQueue}`,
  run: (taskQueue: string) => `scale-alerts-run/${taskQueue}`,
};

// Fleet rollouts: one workflow per rollout id, steered by updates that answer the new progress.
import type { RolloutProgress } from '../src/domain/rollout';

export const rolloutProgressQuery = defineQuery<RolloutProgress>('progress');
/** Stop starting tenants (those in flight finish); the next wave waits for `resume`. */
export const pauseRolloutUpdate = defineUpdate<RolloutProgress, [{ reason?: string; by?: string }]>('pause');
/** Continue a paused rollout (also the promotion after the canary when autoPromote is false). */
export const resumeRolloutUpdate = defineUpdate<RolloutProgress, [{ by?: string }]>('resume');
/** Stop the rollout: in-flight updates are aborted, and what it changed is rolled back. */
export const abortRolloutUpdate = defineUpdate<RolloutProgress, [{ reason?: string; by?: string }]>('abort');

export const rolloutIds = {
  rollout: (rolloutId: string) => `rollout-${rolloutId}`,
  /** a tenant's return to its previous version after a halt or an abort */
  rollback: (rolloutId: string, dropletId: number) => `rollout-${rolloutId}-rollback-${dropletId}`,
};
