/** Activity stubs shared by the power workflows, with the timeouts and retries each kind needs. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

/** Database reads and state transitions: quick, retried with backoff (Postgres may blip). */
export const db = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/**
 * DigitalOcean calls. The client fails fast (one request per attempt; it only waits out 429s
 * under the fleet budget), so this policy is the whole retry story: 5 requests at most.
 */
export const PROVIDER_RETRY = {
  initialInterval: '5s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
} as const;
export const provider = proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: PROVIDER_RETRY });

/** One verification probe: a failure is an answer, not something to retry here. */
export const probe = proxyActivities<Activities>({
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 1 },
});

/**
 * Waiting for a DigitalOcean action: long, heartbeating. A wait cut short by its worker's shutdown
 * fails retryably and another worker carries on; `alsoFinal` names failures that end it (the
 * graceful shutdown's wait: its timeout is the answer, not something to retry).
 */
export function actionWaiter(timeoutMs: number, maximumAttempts = 3, alsoFinal: string[] = []) {
  return proxyActivities<Activities>({
    startToCloseTimeout: timeoutMs + 60_000,
    // The wait heartbeats every 3 s: a worker that died mid-wait is noticed within 15 s.
    heartbeatTimeout: '15s',
    retry: {
      initialInterval: '5s',
      maximumAttempts,
      nonRetryableErrorTypes: ['DigitalOceanActionFailedError', ...alsoFinal],
    },
  });
}
