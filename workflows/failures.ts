/** How a workflow reads what went wrong in a failed activity or child: one place for every workflow. */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure } from '@temporalio/workflow';

/** The innermost cause through activity and child-workflow failures: what actually went wrong. */
export function rootCause(err: unknown): unknown {
  let e: unknown = err;
  while ((e instanceof ActivityFailure || e instanceof ChildWorkflowFailure) && e.cause) e = e.cause;
  return e;
}

/** The message of the innermost cause (an activity's or a child's error), or of the error itself. */
export function failureMessage(err: unknown): string {
  const e = rootCause(err);
  return e instanceof Error ? e.message : String(e);
}

/** The innermost cause's ApplicationFailure, when that is what it is (its `type` names the failure). */
export function rootApplicationFailure(err: unknown): ApplicationFailure | undefined {
  const e = rootCause(err);
  return e instanceof ApplicationFailure ? e : undefined;
}

/** `type: message` of the innermost cause, bounded: a reason fit for a lifecycle row. */
export function failureReason(err: unknown): string {
  const type = rootApplicationFailure(err)?.type;
  return `${type ? `${type}: ` : ''}${failureMessage(err)}`.slice(0, 1_000);
}
