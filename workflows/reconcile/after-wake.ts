/**
 * A tenant that wakes is reconciled right after its wake verifies: the wake's verified exit calls
 * this (behind patched('reconcile-after-wake')), which starts (or joins) the tenant's
 * reconcileTenant (reason after_wake, its workflows read back) when it has a desired state. The
 * wake never fails because of it: a start that fails is logged, and the Schedule catches up.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { watchdogPolicy } from '../policies';

const { requestReconcileAfterWake } =
  proxyActivities<Pick<Activities, 'requestReconcileAfterWake'>>(watchdogPolicy);

/** The patched() id of the call in workflows/power/wake-droplet.ts. */
export const PATCH_RECONCILE_AFTER_WAKE = 'reconcile-after-wake';

export async function reconcileAfterWake(input: { workspaceId: string; dropletId: number }): Promise<void> {
  try {
    await requestReconcileAfterWake({ workspaceId: input.workspaceId, dropletId: input.dropletId });
  } catch (err) {
    log.warn('could not start the reconciliation after the wake; the reconciler schedule will', {
      dropletId: input.dropletId,
      error: (err as Error).message,
    });
  }
}
