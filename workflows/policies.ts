/**
 * The activity policies of every workflow, defined once: each workflow file lists its side effects
 * at its top as `proxyActivities<Pick<Activities, 'a' | 'b'>>(policy)` with one of these.
 * Timeouts and retries are not part of a workflow's history commands: changing one here is replay
 * safe, but it changes how every workflow that uses it behaves, so change them here only.
 */
import type { ActivityOptions } from '@temporalio/workflow';

/** Database reads, writes and state transitions: quick, retried with backoff (Postgres may blip). */
export const dbPolicy: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
};

/** The fleet rollout's Postgres bookkeeping: larger writes (plans, result batches), retried longer. */
export const rolloutDbPolicy: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
};

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
export const providerPolicy: ActivityOptions = { startToCloseTimeout: '2m', retry: PROVIDER_RETRY };

/**
 * Sidecar commands: unreachable/5xx/timeouts are retried (3 attempts, backoff from 1 s, the
 * fleet's default); a command the sidecar refused (success:false) is not.
 */
export const sidecarPolicy: ActivityOptions = {
  startToCloseTimeout: '2m',
  // the activities heartbeat every 2 s: a dead worker's command is retried elsewhere within 10 s
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
};

/** One verification probe: a failure is an answer (the health gate's "not yet"), never retried here. */
export const probePolicy: ActivityOptions = {
  startToCloseTimeout: '20s',
  retry: { maximumAttempts: 1 },
};

/**
 * Waiting for a DigitalOcean action: long, heartbeating. A wait cut short by its worker's shutdown
 * fails retryably and another worker carries on; `alsoFinal` names failures that end it (the
 * graceful shutdown's wait: its timeout is the answer, not something to retry).
 */
export function actionWaitPolicy(
  timeoutMs: number,
  maximumAttempts = 3,
  alsoFinal: string[] = [],
): ActivityOptions {
  return {
    startToCloseTimeout: timeoutMs + 60_000,
    // The wait heartbeats every 3 s: a worker that died mid-wait is noticed within 15 s.
    heartbeatTimeout: '15s',
    retry: {
      initialInterval: '5s',
      maximumAttempts,
      nonRetryableErrorTypes: ['DigitalOceanActionFailedError', ...alsoFinal],
    },
  };
}

/**
 * Starting a power action (startPowerAction) and looking one up (lookUpAction): a batched action
 * waits for its cohort (a bulk-lane one up to POWER_COHORT_BULK_LINGER_MS, 5 s by default, at most
 * 30 s: well inside 2 min) and a lookup for its interval, both heartbeating every 2 to 3 s, so a
 * worker that died mid-cohort is noticed within 10 s and the retry (which looks for the action the
 * first try started before starting another) runs on another worker.
 */
export const powerActionPolicy: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: PROVIDER_RETRY,
};

export function actionLookPolicy(timeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: timeoutMs + 60_000,
    heartbeatTimeout: '10s',
    retry: { ...PROVIDER_RETRY, maximumAttempts: 5 },
  };
}

/** The watchdog's scans, alerts and bookkeeping: quick, a few retries (the next tick runs anyway). */
export const watchdogPolicy: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
};

/** The watchdog's fan-out of remediation starts and re-drives: longer, heartbeating. */
export const remediationPolicy: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
};

/**
 * One slice of the fleet probe: as long as its share of the period plus a margin, heartbeating
 * every 2 s (a dead worker's slice is retried elsewhere within 30 s), two retries (the next
 * period probes the slice again anyway).
 */
export function fleetProbeSlicePolicy(sliceMs: number, commandTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: sliceMs + 4 * commandTimeoutMs + 60_000,
    heartbeatTimeout: '30s',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
  };
}

/** One scale probe or its evaluation: a probe that still fails is reported, the others run on. */
export const scaleProbePolicy: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
};

/** One heartbeat-drain run: as long as the run plus two minutes, heartbeating, retried without end. */
export function drainPolicy(runMs: number, heartbeatTimeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: runMs + 2 * 60_000,
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
  };
}
