/**
 * Start-or-join with a deterministic workflow id and USE_EXISTING, telling the caller whether it
 * joined an operation already running. "Joined" is decided by what was running under the id just
 * before the start: if that run is the one the start returned, this call joined it. (Two calls
 * racing may both report joined=false; either way only one workflow runs.)
 */
import { type Client, type Workflow, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';

export interface StartedWorkflow<W extends Workflow = Workflow> {
  workflowId: string;
  runId: string;
  /** True when the same operation was already running and this call joined it. */
  joined: boolean;
  workflowType: string;
  handle: WorkflowHandle<W>;
}

export async function startOrJoin<W extends Workflow>(
  client: Client,
  workflowId: string,
  start: () => Promise<WorkflowHandle<W>>,
): Promise<StartedWorkflow<W>> {
  let runningBefore: string | undefined;
  try {
    const before = await client.workflow.getHandle(workflowId).describe();
    if (before.status.name === 'RUNNING') runningBefore = before.runId;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const handle = await start();
  const d = await handle.describe();
  return { workflowId, runId: d.runId, joined: runningBefore === d.runId, workflowType: d.type, handle };
}
