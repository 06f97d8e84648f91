/**
 * Starting power workflows the single-flight way: the id is derived from the droplet and the
 * conflict policy returns the running workflow, so a second wake, a watchdog tick or a retried
 * HTTP request from Vercel joins the operation already running instead of starting another.
 */
import type { Client } from '@temporalio/client';
import type { HardRebootInput, HibernateDropletInput, WakeDropletInput } from '../domain/power';
import { hardReboot } from '../../workflows/power/hard-reboot';
import { hibernateDroplet } from '../../workflows/power/hibernate-droplet';
import { wakeDroplet } from '../../workflows/power/wake-droplet';
import { workflowIds } from '../../workflows/messages';
import { startOrJoin, type StartedWorkflow } from './idempotent-start';
import { searchAttributes } from './search-attributes';

export type StartedPower = StartedWorkflow;

/** Starts (or joins) a power workflow under the droplet's single-flight id. */
async function startPower<I extends { workspaceId: string; dropletId: number; reason?: string }>(
  client: Client,
  taskQueue: string,
  workflow: (input: I) => Promise<unknown>,
  operation: string,
  input: I,
): Promise<StartedPower> {
  const workflowId = workflowIds.power(input.dropletId);
  return startOrJoin(client, workflowId, () =>
    client.workflow.start(workflow as (input: I) => Promise<unknown>, {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: searchAttributes({
        operation,
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        reason: input.reason,
      }),
    }),
  );
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
