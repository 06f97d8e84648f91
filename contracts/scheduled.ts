/** What the scheduled workflows (watchdog, scale alerts) share in their contracts. */
import type { Workflow } from '@temporalio/common';
import type { WorkflowContract } from './define';
import { searchAttributes } from './search-attributes';

/**
 * The contract of a workflow a Schedule runs per task queue (one run at a time: the schedule's
 * overlap policy, the run id fixed per task queue).
 */
export function scheduledRunContract<W extends Workflow>(
  workflowType: string,
  operation: string,
  runId: (taskQueue: string) => string,
): WorkflowContract<W> {
  return {
    workflowType,
    conflictPolicy: 'FAIL',
    workflowId: (_input, { taskQueue }) => runId(taskQueue),
    searchAttributes: () => searchAttributes({ operation }),
  };
}
