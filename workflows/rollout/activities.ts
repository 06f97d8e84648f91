/** Activity stubs of the fleet rollout: Postgres bookkeeping, quick and retried with backoff. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

export const rolloutDb = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
});
