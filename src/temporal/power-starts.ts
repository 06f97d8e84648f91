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

export async function startWake(
  client: Client,
  taskQueue: string,
  input: WakeDropletInput,
): Promise<StartedPower> {
  const calledAt = Date.now();
  const handle = await client.workflow.start(wakeDroplet, {
    taskQueue,
    workflowId: workflowIds.power(input.dropletId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation: 'wake',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      reason: input.reason,
    }),
  });
  return joinedOrStarted(handle, calledAt);
}

export async function startHardReboot(
  client: Client,
  taskQueue: string,
  input: HardRebootInput,
): Promise<StartedPower> {
  const calledAt = Date.now();
  const handle = await client.workflow.start(hardReboot, {
    taskQueue,
    workflowId: workflowIds.power(input.dropletId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation: 'hard_reboot',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
      reason: input.reason,
    }),
  });
  return joinedOrStarted(handle, calledAt);
}

export async function startHibernate(
  client: Client,
  taskQueue: string,
  input: HibernateDropletInput,
): Promise<StartedPower> {
  const calledAt = Date.now();
  const handle = await client.workflow.start(hibernateDroplet, {
    taskQueue,
    workflowId: workflowIds.power(input.dropletId),
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: searchAttributes({
      operation: 'hibernate',
      workspaceId: input.workspaceId,
      dropletId: input.dropletId,
    }),
  });
  return joinedOrStarted(handle, calledAt);
}
