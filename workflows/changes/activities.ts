/** Activity stubs of the change workflows, with the timeouts and retries each kind needs. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

/** Database reads, writes and state transitions: quick, retried with backoff. */
export const db = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/**
 * Sidecar commands: unreachable/5xx/timeouts are retried (3 attempts, backoff from 1 s, the
 * fleet's default); a command the sidecar refused (success:false) is not.
 */
export const sidecar = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  // the activities heartbeat every 2 s: a dead worker's command is retried elsewhere within 10 s
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
});

/** One verification probe: a failure is an answer, not something to retry here. */
export const probe = proxyActivities<Activities>({
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 1 },
});
