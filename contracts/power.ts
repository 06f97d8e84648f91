/**
 * Power operations of one droplet: wake, hibernate, hard reboot. Every power workflow of a droplet
 * shares the id power-<dropletId> with USE_EXISTING (single flight per droplet): a second wake, a
 * watchdog tick or a retried request joins the operation already running.
 */
import {
  HIBERNATE_REASONS,
  invalidPowerInput,
  REBOOT_REASONS,
  WAKE_REASONS,
  type HardRebootInput,
  type HibernateDropletInput,
  type PowerResult,
  type PowerStatus,
  type WakeDropletInput,
} from '../src/domain/power';
import { laneOfHibernate, laneOfReboot, laneOfWake, type BudgetLane } from '../src/domain/budget-lanes';
import { defineQuery, defineSignal, type WorkflowContract } from './define';
import { searchAttributes } from './search-attributes';
import { interactiveTaskQueue } from './task-queues';

export type { HardRebootInput, HibernateDropletInput, PowerResult, PowerStatus, WakeDropletInput };

export type WakeDropletWorkflow = (input: WakeDropletInput) => Promise<PowerResult>;
export type HibernateDropletWorkflow = (input: HibernateDropletInput) => Promise<PowerResult>;
export type HardRebootWorkflow = (input: HardRebootInput) => Promise<PowerResult>;

/** The heartbeat drain tells the droplet's running power workflow a fresh heartbeat arrived. */
export interface HeartbeatObserved {
  observedAt: string;
  n8nStatus: string | null;
  sidecarVersion: string | null;
}
export const heartbeatObservedSignal = defineSignal<[HeartbeatObserved]>('heartbeatObserved');
/** Phase, attempt and last error of a running power workflow. */
export const powerStatusQuery = defineQuery<PowerStatus>('status');

export const powerIds = {
  /** Every power workflow of a droplet shares this id: single flight per droplet. */
  power: (dropletId: number) => `power-${dropletId}`,
  /** The hard reboot a failed watchdog wake escalates to runs as its child under this id. */
  escalation: (dropletId: number) => `power-${dropletId}-reboot`,
};

/** what every power input holds (a hibernate's reason is optional: admin_request) */
type PowerInput = { workspaceId: string; dropletId: number; reason?: string };

const powerWorkflowId = (input: PowerInput) => powerIds.power(input.dropletId);
const powerAttributes = (operation: string) => (input: PowerInput) =>
  searchAttributes({
    operation,
    workspaceId: input.workspaceId,
    dropletId: input.dropletId,
    reason: input.reason,
  });

/**
 * Someone waits for an interactive power operation (its budget lane, src/domain/budget-lanes.ts):
 * it runs on the interactive task queue, so no storm of bulk work queues ahead of it.
 */
const queueOfLane = (lane: BudgetLane, base: string) =>
  lane === 'interactive' ? interactiveTaskQueue(base) : base;

export const wakeContract: WorkflowContract<WakeDropletWorkflow> = {
  workflowType: 'wakeDroplet',
  conflictPolicy: 'USE_EXISTING',
  workflowId: powerWorkflowId,
  taskQueue: (input, base) => queueOfLane(laneOfWake(input.reason), base),
  searchAttributes: powerAttributes('wake'),
  validate: (input) => invalidPowerInput(input, WAKE_REASONS),
};

export const hibernateContract: WorkflowContract<HibernateDropletWorkflow> = {
  workflowType: 'hibernateDroplet',
  conflictPolicy: 'USE_EXISTING',
  workflowId: powerWorkflowId,
  taskQueue: (input, base) => queueOfLane(laneOfHibernate(input.reason), base),
  searchAttributes: (input) =>
    powerAttributes('hibernate')({ ...input, reason: input.reason ?? 'admin_request' }),
  validate: (input) =>
    input.reason === undefined ? invalidPowerInput(input) : invalidPowerInput(input, HIBERNATE_REASONS),
};

export const hardRebootContract: WorkflowContract<HardRebootWorkflow> = {
  workflowType: 'hardReboot',
  conflictPolicy: 'USE_EXISTING',
  workflowId: powerWorkflowId,
  taskQueue: (input, base) => queueOfLane(laneOfReboot(input.reason), base),
  searchAttributes: powerAttributes('hard_reboot'),
  validate: (input) => invalidPowerInput(input, REBOOT_REASONS),
};
