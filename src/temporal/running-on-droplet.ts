/** What runs on a droplet right now, as Temporal knows it. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { powerIds } from '../../contracts/power';

/** Running container updates, workflow updates and credential injections (visibility query). */
export async function runningChangesOn(client: Client, dropletId: number): Promise<string[]> {
  const ids: string[] = [];
  const query =
    `DropletId = "${dropletId}" AND ExecutionStatus = "Running" AND ` +
    `Operation IN ("n8n_update", "workflow_update", "credential_injection")`;
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
}

/** Whether the droplet's single-flight power workflow (`power-<id>`) is running (strongly consistent). */
export async function powerOperationRunning(client: Client, dropletId: number): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(powerIds.power(dropletId)).describe();
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
