/**
 * No failure path may leave a droplet in a transitional state (HIBERNATING, WAKING, REBOOTING,
 * UPDATING). Every operation that moves a droplet into one runs inside `restOnFailure`: when it
 * fails (any error, a cancellation included), the droplet goes to FAILED with the reason, but only
 * if it is still in the transitional state this very workflow put it in (the activity checks the
 * newest lifecycle entry), so an operation that already settled it, or a droplet another workflow
 * holds, is left alone. What a workflow cannot catch (terminate, timeouts) the watchdog finds past
 * its deadline and re-drives.
 */
import { CancellationScope, log, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { isDropletId } from '../src/domain/droplet-id';
import { PowerFailure } from '../src/domain/power';
import { failureReason, rootApplicationFailure } from './failures';
import { dbPolicy } from './policies';

const { settleDroplet } = proxyActivities<Pick<Activities, 'settleDroplet'>>(dbPolicy);

/** Refusals raised before an operation changes anything: there is nothing to settle. */
const REFUSED_BEFORE_ANY_CHANGE: readonly string[] = [
  PowerFailure.invalidInput, // bad input, or a droplet of another workspace (the prologue)
  PowerFailure.notFound,
  PowerFailure.busy,
];

/** patched() id: runs recorded before had no settle step on their failure paths. */
const PATCH_REST_ON_FAILURE = 'droplet-rest-on-failure';

export async function restOnFailure<T>(
  input: { dropletId?: unknown } | null | undefined,
  operation: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const dropletId = input?.dropletId;
    const refused = REFUSED_BEFORE_ANY_CHANGE.includes(rootApplicationFailure(err)?.type ?? '');
    if (isDropletId(dropletId) && !refused && patched(PATCH_REST_ON_FAILURE)) {
      const reason = failureReason(err);
      try {
        // shielded: a cancelled operation still settles its droplet
        await CancellationScope.nonCancellable(() =>
          settleDroplet({
            dropletId,
            workflowId: workflowInfo().workflowId,
            to: 'FAILED',
            cause: `${operation}:failed`,
            detail: { reason },
          }),
        );
      } catch (settleErr) {
        log.error('could not settle the droplet after a failure', {
          dropletId,
          reason,
          error: failureReason(settleErr),
        });
      }
    }
    throw err;
  }
}
