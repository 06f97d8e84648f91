/** The ids a workflow's log lines carry beside the SDK's own (workflowId, runId, type). */
export interface WorkflowLogIds {
  workspaceId?: string;
  dropletId?: number;
}
