/**
 * What every contract is made of. Pure: @temporalio/common types only, so the client, the CLI,
 * activities and the workflow sandbox all load it.
 *
 * The message definitions are the same plain objects `@temporalio/workflow`'s defineSignal,
 * defineQuery and defineUpdate return ({type, name}); defined here so a caller never loads the
 * workflow package. Workflows pass them to setHandler unchanged.
 */
import type {
  QueryDefinition,
  SearchAttributePair,
  SignalDefinition,
  UpdateDefinition,
  Workflow,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/common';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the same bound as @temporalio/common's
type Args = any[];

export function defineSignal<A extends Args = [], N extends string = string>(
  name: N,
): SignalDefinition<A, N> {
  return { type: 'signal', name } as SignalDefinition<A, N>;
}

export function defineQuery<R, A extends Args = [], N extends string = string>(
  name: N,
): QueryDefinition<R, A, N> {
  return { type: 'query', name } as QueryDefinition<R, A, N>;
}

export function defineUpdate<R, A extends Args = [], N extends string = string>(
  name: N,
): UpdateDefinition<R, A, N> {
  return { type: 'update', name } as UpdateDefinition<R, A, N>;
}

/** What a workflow id may be derived from besides the input. */
export interface IdContext {
  /** the control plane's task queue (TEMPORAL_TASK_QUEUE) */
  taskQueue: string;
  /** hex SHA-256 of a text (node:crypto in the starter; ids that digest a request use it) */
  sha256Hex(text: string): string;
}

/**
 * How a workflow is started by name: its registered type, the id derived from its input, what a
 * start does when that id runs already or ran before, and the search attributes it carries.
 * `W` is the workflow's function type (declared in the contract, never imported from workflows/),
 * so `client.workflow.start<W>(contract.workflowType, ...)` checks args and result.
 */
export interface WorkflowContract<W extends Workflow> {
  /** the workflow function's name, as the worker registers it (and as histories record it) */
  readonly workflowType: string;
  readonly conflictPolicy: WorkflowIdConflictPolicy;
  readonly reusePolicy?: WorkflowIdReusePolicy;
  workflowId(input: Parameters<W>[0], ctx: IdContext): string;
  /**
   * The task queue this input's workflow runs on, given the control plane's (TEMPORAL_TASK_QUEUE);
   * absent: that queue. Only ever one of controlPlaneTaskQueues(base) (contracts/task-queues.ts).
   */
  taskQueue?(input: Parameters<W>[0], base: string): string;
  searchAttributes(input: Parameters<W>[0]): SearchAttributePair[];
  /** The first problem of an input a start must refuse (a caller checks it before sending). */
  validate?(input: Parameters<W>[0]): string | undefined;
}

/** Input of the contract's workflow. */
export type InputOf<C> = C extends WorkflowContract<infer W> ? Parameters<W>[0] : never;
/** The workflow function type a contract starts. */
export type WorkflowOf<C> = C extends WorkflowContract<infer W> ? W : never;
