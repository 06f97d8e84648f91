/** Every operation names a workspace and a droplet; they must belong together. */
import { ApplicationFailure } from '@temporalio/workflow';
import { PowerFailure } from '../src/domain/power';

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
      PowerFailure.invalidInput,
    );
  }
}
