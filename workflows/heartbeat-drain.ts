/**
 * Heartbeat drain: a long-running consumer of the heartbeat stream.
 *
 *   1. keep the heartbeat history's day partitions ahead and drop expired ones,
 *   2. drain the stream into Postgres in bounded activity runs (each heartbeats to Temporal, so a
 *      dead worker's run is retried elsewhere within the heartbeat timeout, and its unacknowledged
 *      entries are replayed),
 *   3. after a few runs, continue as new with the running totals, so the history stays small.
 */
import {
  setWorkflowOptions,
  CancellationScope,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { addDrainStats, emptyDrainStats } from '../src/domain/drain-stats';
import {
  drainStatusQuery,
  stopDrainSignal,
  type DrainStatus,
  type HeartbeatDrainInput,
} from '../contracts/heartbeat-drain';
import { drainPolicy } from './policies';

export const drainDefaults = {
  activityRunMs: 5 * 60_000,
  runsPerExecution: 12,
  batchSize: 2_000,
  blockMs: 1_000,
  claimIdleMs: 60_000,
  heartbeatTimeoutMs: 30_000,
};

export async function heartbeatDrain(input: HeartbeatDrainInput): Promise<DrainStatus> {
  const cfg = { ...drainDefaults, ...stripUndefined(input), consumer: input.consumer };
  const { drainHeartbeats, maintainHeartbeatHistory } = proxyActivities<
    Pick<Activities, 'drainHeartbeats' | 'maintainHeartbeatHistory'>
  >(drainPolicy(cfg.activityRunMs, cfg.heartbeatTimeoutMs));
  const status: DrainStatus = {
    consumer: cfg.consumer,
    runs: input.runs ?? 0,
    totals: input.totals ?? emptyDrainStats(),
    stopping: false,
  };
  const scope = new CancellationScope();
  setHandler(drainStatusQuery, () => status);
  setHandler(stopDrainSignal, () => {
    status.stopping = true;
    scope.cancel();
  });

  await maintainHeartbeatHistory();
  for (let i = 0; i < cfg.runsPerExecution && !status.stopping; i++) {
    try {
      const run = await scope.run(() =>
        drainHeartbeats({
          consumer: cfg.consumer,
          runForMs: cfg.activityRunMs,
          batchSize: cfg.batchSize,
          blockMs: cfg.blockMs,
          claimIdleMs: cfg.claimIdleMs,
        }),
      );
      status.lastRun = run;
      status.totals = addDrainStats(status.totals, run);
      status.runs++;
      if (run.unknown || run.malformed) {
        log.warn('heartbeats dropped', {
          consumer: cfg.consumer,
          unknown: run.unknown,
          malformed: run.malformed,
        });
      }
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (status.stopping) {
    log.info('heartbeat drain stopped on request', { consumer: cfg.consumer, runs: status.runs });
    return status;
  }
  return continueAsNew<typeof heartbeatDrain>({ ...input, totals: status.totals, runs: status.runs });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// Worker Versioning: long-running and continued as new, so it follows the deployment's current
// version (short operations stay PINNED, the workers' default). Changes to it must stay
// replay-compatible (patched()), which the recorded histories in test/fixtures check.
// Only a versioned worker may declare a behaviour (an unversioned one fails the task).
setWorkflowOptions(
  () =>
    workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {},
  heartbeatDrain,
);
