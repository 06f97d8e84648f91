/**
 * The prologue every droplet operation (wake, hibernate, hard reboot, container update, workflow
 * update, credential injection) runs before it changes anything:
 *   1. `requireValidDropletInput`: the input is checked before anything reads it (a
 *      non-retryable InvalidInput naming the bad field);
 *   2. `loadOwnedDroplet`, after the handlers are registered: the droplet's record is loaded
 *      (unknown droplet: the activity's non-retryable DropletNotFound) and the operation is
 *      refused (non-retryable InvalidInput) unless the droplet belongs to the workspace it was
 *      given, so one tenant's request can never act on another tenant's droplet.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DropletRecord } from '../activities/power';
import { PowerFailure } from '../src/domain/power';

/** The failure type of a refused start; the same constant for power and change operations. */
export const INVALID_INPUT = PowerFailure.invalidInput;

const owner = proxyActivities<Pick<Activities, 'getDropletRecord'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

export interface DropletOperationInput {
  workspaceId: string;
  dropletId: number;
}

/** Step 1: refuses a missing or malformed input with the first bad field and why. */
export function requireValidDropletInput<T>(input: T, problemOf: (input: T) => string | undefined): void {
  const problem = typeof input !== 'object' || input === null ? 'input must be an object' : problemOf(input);
  if (problem) throw ApplicationFailure.nonRetryable(`invalid input: ${problem}`, INVALID_INPUT);
}

/** Steps 2 and 3: the droplet's record, refused unless it belongs to `input.workspaceId`. */
export async function loadOwnedDroplet(input: DropletOperationInput): Promise<DropletRecord> {
  const droplet = await owner.getDropletRecord(input.dropletId);
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
