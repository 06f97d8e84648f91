/** Builds the activities' dependencies for a real worker process from configuration. */
import type { Client } from '@temporalio/client';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { ActivityDeps, AlertSink } from '../../activities/deps';
import type { Config } from '../config';
import { createRepositories } from '../db/repositories';
import { FleetSemaphore } from '../concurrency/fleet-semaphore';
import { SharedMetrics } from '../observability/shared-metrics';
import { heartbeatStreamNames } from '../heartbeats/stream';
import type { Logger } from '../logger';
import { SidecarClient } from '../sidecar/client';
import { temporalRemediationNotifier } from '../temporal/remediation-notifier';
import { buildDigitalOceanAccounts } from './digitalocean-accounts';
import { createPowerCohorts } from './power-cohorts';

export function buildActivityDeps(opts: {
  config: Config;
  logger: Logger;
  pool: Pool;
  redis: Redis;
  client: Client;
  alerts?: AlertSink;
  shutdown?: AbortSignal;
}): ActivityDeps {
  const { config, logger, pool, redis, client } = opts;
  const sharedMetrics = new SharedMetrics(redis, config.redis.keyPrefix);
  // one budget and one client per DigitalOcean account (src/worker/digitalocean-accounts.ts)
  const digitalocean = buildDigitalOceanAccounts({ config, redis, logger, sharedMetrics });
  return {
    pool,
    repositories: createRepositories(pool),
    redis,
    logger,
    heartbeatStream: heartbeatStreamNames(
      config.redis.keyPrefix,
      config.heartbeats.stream,
      config.heartbeats.consumerGroup,
    ),
    heartbeatRetentionDays: config.heartbeats.retentionDays,
    remediation: temporalRemediationNotifier(client, logger),
    digitalocean: digitalocean?.default,
    digitaloceanAccounts: digitalocean?.accounts,
    sidecar: config.sidecar.jwtPrivateKey
      ? new SidecarClient({
          privateKey: config.sidecar.jwtPrivateKey,
          logger,
          timeoutMs: config.sidecar.commandTimeoutMs,
        })
      : undefined,
    temporal: { client, taskQueue: config.temporal.taskQueue },
    alerts: opts.alerts,
    sharedMetrics,
    reconcile: { maxFailures: config.reconciler.maxFailures },
    concurrency: new FleetSemaphore({
      redis,
      keyPrefix: config.redis.keyPrefix,
      limits: {
        n8n_update: config.concurrency.n8nUpdate,
        workflow_update: config.concurrency.workflowUpdate,
        credential: config.concurrency.credential,
      },
    }),
    shutdown: opts.shutdown,
  };
}

/**
 * `deps` with the worker's power cohort batcher (POWER_COHORTS_*, src/digitalocean/cohorts.ts),
 * which also sweeps leftover cohort tags until `shutdown`, and at `shutdown` sends what lingers
 * at once; unchanged when cohorts are off or no DigitalOcean client is configured.
 */
export function withPowerCohorts(
  deps: ActivityDeps,
  opts: { config: Config; logger: Logger; shutdown?: AbortSignal },
): ActivityDeps {
  const c = opts.config.power.cohorts;
  if (!c.enabled || (!deps.digitalocean && !deps.digitaloceanAccounts)) return deps;
  const powerCohorts = createPowerCohorts(deps, {
    logger: opts.logger,
    settings: {
      lingerMs: c.lingerMs,
      bulkLingerMs: c.bulkLingerMs,
      maxSize: c.maxSize,
      minSize: c.minSize,
    },
    sweepEveryMs: c.sweepEveryMs,
    stop: opts.shutdown,
  });
  return Object.assign(deps, { powerCohorts });
}
