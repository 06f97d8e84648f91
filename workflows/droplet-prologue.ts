/**
 * The prologue every droplet operation (wake, hibernate, hard reboot, container update, workflow
 * update, credential injection, agent droplet id) runs before it changes anything:
 *   1. the input is checked before anything reads it (a non-retryable InvalidInput naming the bad
 *      field);
 *   2. the status query and the operation's other handlers are registered, before the first await
 *      (a signal or update sent right after the start is never refused);
 *   3. the droplet's record is loaded (unknown droplet: the activity's non-retryable
 *      DropletNotFound) and the operation is refused (non-retryable InvalidInput) unless the
 *      droplet belongs to the workspace it was given, so one tenant's request can never act on
 *      another tenant's droplet.
 * `dropletPrologue` runs all three; `beginDropletOperation` (1 and 2) and `loadOwnedDroplet` (3)
 * are its halves, for the hard reboot whose older runs had no step 3 (patched()).
 */
import { ApplicationFailure, proxyActivities, setHandler, type QueryDefinition } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DropletRecord } from '../activities/power';
import { INVALID_INPUT, requireValidInput } from './input';
import { dbPolicy } from './policies';

const { getDropletRecord } = proxyActivities<Pick<Activities, 'getDropletRecord'>>(dbPolicy);

export interface DropletOperationInput {
  workspaceId: string;
  dropletId: number;
}

export interface DropletOperation<I, S> {
  /** Step 1: the first bad field and why, undefined when the input is valid. */
  problemOf: (input: I) => string | undefined;
  /** Step 2: the query that answers the operation's status, and that status, from the valid input. */
  statusQuery: QueryDefinition<S>;
  status: (input: I) => S;
  /** Step 2: the operation's other handlers (signals, updates), registered with the query. */
  handlers?: (status: S) => void;
}

/** Steps 1 to 3: the operation's live status and the droplet's record, owned by the workspace. */
export async function dropletPrologue<I extends DropletOperationInput, S>(
  input: I,
  op: DropletOperation<I, S>,
): Promise<{ status: S; droplet: DropletRecord }> {
  const status = beginDropletOperation(input, op);
  return { status, droplet: await loadOwnedDroplet(input) };
}

/** Steps 1 and 2 (synchronous: nothing awaited before the handlers are set). */
export function beginDropletOperation<I extends DropletOperationInput, S>(
  input: I,
  op: DropletOperation<I, S>,
): S {
  requireValidInput(input, op.problemOf);
  const status = op.status(input);
  setHandler(op.statusQuery, () => status);
  op.handlers?.(status);
  return status;
}

/** Step 3: the droplet's record, refused unless it belongs to `input.workspaceId`. */
export async function loadOwnedDroplet(input: DropletOperationInput): Promise<DropletRecord> {
  const droplet = await getDropletRecord(input.dropletId);
  requireDropletOfWorkspace(droplet, input.workspaceId);
  return droplet;
}

/**
 * Fails the workflow with a non-retryable InvalidInput when the droplet belongs to another
 * workspace. The other workspace is not named: failure messages are not encrypted by the codec.
 */
export function requireDropletOfWorkspace(
  droplet: { dropletId: number; workspaceId: string },
  workspaceId: string,
): void {
  if (droplet.workspaceId !== workspaceId) {
    throw ApplicationFailure.nonRetryable(
      `invalid input: dropletId ${droplet.dropletId} belongs to another workspace`,
      INVALID_INPUT,
    );
  }
}
