/**
 * Workflow interceptor (registered by the worker and in the prebuilt bundle): the workspace and
 * droplet a workflow is about, taken from its WorkspaceId / DropletId search attributes (set on
 * every start, contracts/search-attributes.ts), are attached to every `log` line of the workflow
 * (the SDK already adds workflowId, runId, type). Activities find theirs in their arguments and the
 * droplet rows they read (src/worker/log-interceptor.ts); no header is added, because headers are
 * not encrypted by the payload codec. Nothing here changes the commands a workflow issues.
 */
import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import type { WorkflowLogIds } from '../src/domain/log-context';

function ids(): WorkflowLogIds {
  const out: WorkflowLogIds = {};
  for (const pair of workflowInfo().typedSearchAttributes.getAll()) {
    if (pair.key.name === 'WorkspaceId' && typeof pair.value === 'string') out.workspaceId = pair.value;
    if (pair.key.name === 'DropletId' && typeof pair.value === 'string' && /^\d+$/.test(pair.value))
      out.dropletId = Number(pair.value);
  }
  return out;
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      getLogAttributes(input, next) {
        return next({ ...ids(), ...input });
      },
    },
  ],
});
