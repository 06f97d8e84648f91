/**
 * Desired state for the client (the Vercel app reaches Postgres only through Temporal): one
 * validated write the caller waits for, and one read of a tenant's desired state and drift or of
 * the fleet's drift. Neither returns a workflow JSON or a credential blob.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { DesiredStateViewInput, DesiredStateViewResult } from '../../contracts/reconcile';
import { PowerFailure } from '../../src/domain/power';
import {
  invalidSetDesiredState,
  type DesiredStateView,
  type SetDesiredStateInput,
} from '../../src/domain/reconcile';
import { requireValidInput } from '../input';
import { dbPolicy } from '../policies';

const { writeDesiredState, readDesiredState, readFleetDrift } =
  proxyActivities<Pick<Activities, 'writeDesiredState' | 'readDesiredState' | 'readFleetDrift'>>(dbPolicy);

export async function setDesiredState(input: SetDesiredStateInput): Promise<DesiredStateView> {
  requireValidInput(input, invalidSetDesiredState);
  const view = await writeDesiredState(input);
  if (!view)
    throw ApplicationFailure.nonRetryable(
      `workspace ${input.workspaceId} is not known`,
      PowerFailure.notFound,
    );
  return view;
}

export async function desiredStateView(input: DesiredStateViewInput): Promise<DesiredStateViewResult> {
  requireValidInput(input, () => undefined);
  if (input.workspaceId !== undefined) {
    const r = await readDesiredState(input.workspaceId);
    return { desired: r.desired, ...(r.drift ? { drift: r.drift } : {}) };
  }
  return { fleet: await readFleetDrift(input.limit ?? 100) };
}
