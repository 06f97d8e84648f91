/**
 * The activity dependencies the tests and benchmarks wire the same way: a pool, a Redis connection,
 * a logger and the heartbeat stream, seven days of heartbeat history kept, and a remediation
 * notifier that ignores what it is told. `extra` adds what a test needs beyond that (alerts,
 * clients) or overrides a default. No jest here: bench/ imports it too.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { ActivityDeps } from '../../activities/deps';
import type { HeartbeatStreamNames } from '../../src/heartbeats/stream';
import type { Logger } from '../../src/logger';

export function baseActivityDeps(
  base: { pool: Pool; redis: Redis; logger: Logger; heartbeatStream: HeartbeatStreamNames },
  extra: Partial<ActivityDeps> = {},
): ActivityDeps {
  return {
    ...base,
    heartbeatRetentionDays: 7,
    remediation: { heartbeatsObserved: async () => undefined },
    ...extra,
  };
}
