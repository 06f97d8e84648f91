/**
 * Scheduled power. Two workflows:
 * - `powerScheduleTick`, run by a Temporal Schedule (power-schedule/<task queue>, overlap SKIP)
 *   that a worker creates or updates when it starts; each run is power-schedule-run/<task queue>.
 *   It starts the wakes (reason scheduled_campaign) and hibernations (reason scheduled) that the
 *   workspaces' schedules want, through the power contracts (single flight power-<droplet>).
 * - `powerScheduleCommand`: the dashboard's set/get/clear of a workspace's schedule (the client
 *   reaches Postgres only through a workflow); one quick activity the caller waits for.
 */
import {
  invalidPowerSchedule,
  type PowerScheduleInput,
  type PowerScheduleTickInput,
  type PowerScheduleTickSummary,
  type StoredPowerSchedule,
} from '../src/domain/power-schedule';
import type { WorkflowContract } from './define';
import { scheduledRunContract } from './scheduled';
import { searchAttributes } from './search-attributes';

export type { PowerScheduleInput, PowerScheduleTickInput, PowerScheduleTickSummary, StoredPowerSchedule };

export type PowerScheduleTickWorkflow = (input?: PowerScheduleTickInput) => Promise<PowerScheduleTickSummary>;

export const powerScheduleIds = {
  schedule: (taskQueue: string) => `power-schedule/${taskQueue}`,
  run: (taskQueue: string) => `power-schedule-run/${taskQueue}`,
  command: (workspaceId: string, op: string, digest: string) =>
    `power-schedule-${op}-${workspaceId}-${digest}`,
};

export const powerScheduleTickContract = scheduledRunContract<PowerScheduleTickWorkflow>(
  'powerScheduleTick',
  'power_schedule',
  powerScheduleIds.run,
);

export type PowerScheduleCommand =
  | { op: 'set'; schedule: PowerScheduleInput; by?: string }
  | { op: 'get'; workspaceId: string }
  | { op: 'clear'; workspaceId: string; by?: string };

export interface PowerScheduleCommandResult {
  /** the schedule after the command (set, get), or null when the workspace has none */
  schedule: StoredPowerSchedule | null;
  /** clear: whether there was a schedule to remove */
  cleared?: boolean;
}

export type PowerScheduleCommandWorkflow = (
  input: PowerScheduleCommand,
) => Promise<PowerScheduleCommandResult>;

const commandWorkspace = (c: PowerScheduleCommand) =>
  c.op === 'set' ? c.schedule?.workspaceId : c.workspaceId;

/** The first problem of a command a caller must not send, or undefined. */
export function invalidPowerScheduleCommand(c: PowerScheduleCommand): string | undefined {
  if (typeof c !== 'object' || c === null) return 'input must be an object';
  if (c.op === 'set') {
    if (typeof c.schedule !== 'object' || c.schedule === null) return 'schedule must be an object';
    return invalidPowerSchedule(c.schedule);
  }
  if (c.op !== 'get' && c.op !== 'clear') return 'op must be set, get or clear';
  if (typeof c.workspaceId !== 'string' || c.workspaceId.length === 0)
    return 'workspaceId must be a non-empty string';
  return undefined;
}

/** One quick command the caller waits for; the same request again joins it while it runs. */
export const powerScheduleCommandContract: WorkflowContract<PowerScheduleCommandWorkflow> = {
  workflowType: 'powerScheduleCommand',
  conflictPolicy: 'USE_EXISTING',
  reusePolicy: 'ALLOW_DUPLICATE',
  workflowId: (input, { sha256Hex }) =>
    powerScheduleIds.command(
      commandWorkspace(input),
      input.op,
      sha256Hex(JSON.stringify(input)).slice(0, 12),
    ),
  searchAttributes: (input) =>
    searchAttributes({
      operation: 'power_schedule_command',
      workspaceId: commandWorkspace(input),
      reason: input.op,
    }),
  validate: invalidPowerScheduleCommand,
};
