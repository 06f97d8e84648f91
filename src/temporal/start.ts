/**
 * The one way the control plane starts a workflow: by name, from its contract (contracts/). The
 * contract gives the workflow type, the id derived from the input, the conflict and reuse
 * policies, the search attributes and which of the control plane's task queues the input runs on;
 * the caller gives the base task queue (TEMPORAL_TASK_QUEUE).
 * No workflow module is loaded: `W` is the function type the contract declares.
 */
import { createHash } from 'node:crypto';
import type { Client, Workflow, WorkflowHandle, WorkflowStartOptions } from '@temporalio/client';
import type { IdContext, WorkflowContract } from '../../contracts/define';
import { startOrJoin, type StartedWorkflow } from './idempotent-start';

export type { StartedWorkflow };

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export interface StartPlacement {
  /** the control plane's task queue (TEMPORAL_TASK_QUEUE); the contract may route to a sibling */
  taskQueue: string;
  /** an id other than the contract's (a manual run, a benchmark's fixed id) */
  workflowId?: string;
}

/** The id a start of this contract uses. */
export function contractWorkflowId<W extends Workflow>(
  contract: WorkflowContract<W>,
  input: Parameters<W>[0],
  taskQueue: string,
): string {
  const ctx: IdContext = { taskQueue, sha256Hex };
  return contract.workflowId(input, ctx);
}

/** Start options from the contract: type-checked against W by client.workflow.start<W>. */
export function startOptions<W extends Workflow>(
  contract: WorkflowContract<W>,
  input: Parameters<W>[0],
  placement: StartPlacement,
): WorkflowStartOptions<W> & { workflowId: string } {
  return {
    taskQueue: contract.taskQueue?.(input, placement.taskQueue) ?? placement.taskQueue,
    workflowId: placement.workflowId ?? contractWorkflowId(contract, input, placement.taskQueue),
    args: [input] as Parameters<W>,
    workflowIdConflictPolicy: contract.conflictPolicy,
    ...(contract.reusePolicy ? { workflowIdReusePolicy: contract.reusePolicy } : {}),
    typedSearchAttributes: contract.searchAttributes(input),
  } as unknown as WorkflowStartOptions<W> & { workflowId: string };
}

/** Starts the contract's workflow, or joins the one running under its id (USE_EXISTING). */
export async function startWorkflow<W extends Workflow>(
  client: Client,
  contract: WorkflowContract<W>,
  input: Parameters<W>[0],
  placement: StartPlacement,
): Promise<StartedWorkflow<W>> {
  const options = startOptions(contract, input, placement);
  return startOrJoin<W>(
    client,
    options.workflowId,
    () => client.workflow.start<W>(contract.workflowType, options) as Promise<WorkflowHandle<W>>,
  );
}

/** Starts (or joins) the contract's workflow and waits for its result. */
export async function executeWorkflow<W extends Workflow>(
  client: Client,
  contract: WorkflowContract<W>,
  input: Parameters<W>[0],
  placement: StartPlacement,
): Promise<Awaited<ReturnType<W>>> {
  return client.workflow.execute<W>(
    contract.workflowType,
    startOptions(contract, input, placement),
  ) as Promise<Awaited<ReturnType<W>>>;
}
