/**
 * Runs every activity inside a log context (src/observability/log-context.ts): its workflow's ids,
 * its own type, id and attempt, and the workspace and droplet its arguments name (more are bound
 * by the activity itself when it reads a droplet's row: bindLogContext).
 * The same ids go to the SDK's own activity log lines through getLogAttributes; the SDK writes its
 * "Activity started" (debug) line before any interceptor runs, so that one line has the workflow's
 * and the activity's ids but not yet the workspace and droplet.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import { idsFromArgs, runInLogContext, type LogContext } from '../observability/log-context';

export function logContextActivityInterceptor(ctx: Context): ActivityInterceptors {
  const info = ctx.info;
  // One object for the activity's whole life: filled when it starts, extended by bindLogContext.
  const ids: LogContext = {
    workflowId: info.workflowExecution?.workflowId,
    runId: info.workflowExecution?.runId,
    workflowType: info.workflowType,
    activityType: info.activityType,
    activityId: info.activityId,
    attempt: info.attempt,
  };
  return {
    inbound: {
      async execute(input, next) {
        Object.assign(ids, idsFromArgs(input.args));
        return runInLogContext(ids, () => next(input));
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        const { workspaceId, dropletId } = ids;
        return next({
          ...input,
          ...(workspaceId !== undefined ? { workspaceId } : {}),
          ...(dropletId !== undefined ? { dropletId } : {}),
        });
      },
    },
  };
}
