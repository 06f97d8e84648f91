/**
 * What activities are built from. Everything with a side effect is injected, so tests wire the real
 * Postgres and Redis and the fleet simulator, and production wires the real services.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { ObservedHeartbeat } from '../src/db/heartbeats';
import type { HeartbeatStreamNames } from '../src/heartbeats/stream';
import type { Logger } from '../src/logger';

/**
 * The seam between the heartbeat drain and remediation: told about droplets whose fresh heartbeat
 * arrived while they were WAKING, REBOOTING, ZOMBIE or FAILED.
 */
export interface RemediationNotifier {
  heartbeatsObserved(observed: ObservedHeartbeat[]): Promise<void>;
}

export interface ActivityDeps {
  pool: Pool;
  redis: Redis;
  logger: Logger;
  heartbeatStream: HeartbeatStreamNames;
  heartbeatRetentionDays: number;
  remediation: RemediationNotifier;
  clock?: () => number;
}
