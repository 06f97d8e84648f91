/**
 * Starting power workflows the single-flight way: the id is derived from the droplet and the
 * conflict policy returns the running workflow, so a second wake, a watchdog tick or a retried
 * HTTP request from Vercel joins the operation already running instead of starting another.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { HardRebootInput, HibernateDropletInput, WakeDropletInput } from '../domain/power';
import { hardReboot } from '../../workflows/power/hard-reboot';
import { hibernateDroplet } from '../../workflows/power/hibernate-droplet';
import { wakeDroplet } from '../../workflows/power/wake-droplet';
import { workflowIds } from '../../workflows/messages';
import { searchAttributes } from './search-attributes';

export interface StartedPower {
  workflowId: string;
  runId: string;
  /** True when an operation was already running for the droplet and this call joined it. */
  joined: boolean;
  workflowType: string;
  handle: WorkflowHandle;
}

async function joinedOrStarted(handle: WorkflowHandle, calledAt: number): Promise<StartedPower> {
  const d = await handle.describe();
  return {
    workflowId: handle.workflowId,
    runId: d.runId,
    joined: d.startTime.getTime() < calledAt - 1_000,
    workflowType: d.type,
    handle,
  };
}

/** Starts (or joins) a power workflow under the droplet's single-flight id. */
async function startPower<I extends { workspaceId: string; dropletId: number; reason?: string }>(
  client: Client,
  taskQueue: string,
  workflow: (input: I) => Promise<unknown>,
  operation: string,
  input: I,
): Promise<StartedPower> {
  const calledAt = Date.now();
  const handle = await client.workflow.start(workflow as (input: I) => Promise<unknown>, {
    taskQueue,
    workflowId: workflowIds.power(input.dropletId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation,
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      reason: input.reason,
    }),
  });
  return joinedOrStarted(handle, calledAt);
}

export function startWake(client: Client, taskQueue: string, input: WakeDropletInput): Promise<StartedPower> {
  return startPower(client, taskQueue, wakeDroplet, 'wake', input);
}

export function startHardReboot(
  client: Client,
  taskQueue: string,
  input: HardRebootInput,
): Promise<StartedPower> {
  return startPower(client, taskQueue, hardReboot, 'hard_reboot', input);
}

export function startHibernate(
  client: Client,
  taskQueue: string,
  input: HibernateDropletInput,
): Promise<StartedPower> {
  return startPower(client, taskQueue, hibernateDroplet, 'hibernate', input);
}
