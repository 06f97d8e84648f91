/**
 * What activities are built from. Everything with a side effect is injected, so tests wire the real
 * Postgres and Redis and the fleet simulator, and production wires the real services.
 */
import type { Client } from '@temporalio/client';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { Alert } from '../src/alerts/alert';
import type { FleetSemaphore } from '../src/concurrency/fleet-semaphore';
import type { DigitalOceanClient } from '../src/digitalocean/client';
import type { SharedMetrics } from '../src/observability/shared-metrics';
import type { ObservedHeartbeat } from '../src/db/heartbeats';
import type { HeartbeatStreamNames } from '../src/heartbeats/stream';
import type { Logger } from '../src/logger';
import type { SidecarClient } from '../src/sidecar/client';

/**
 * The seam between the heartbeat drain and remediation: told about droplets whose fresh heartbeat
 * arrived while they were WAKING, REBOOTING, ZOMBIE or FAILED.
 */
export interface RemediationNotifier {
  heartbeatsObserved(observed: ObservedHeartbeat[]): Promise<void>;
}

/** Raises (and notifies) or resolves alerts; implemented over the alerts store and channels. */
export interface AlertSink {
  raise(alert: Omit<Alert, 'status'>): Promise<{ notified: boolean }>;
  resolve(key: string): Promise<{ resolved: boolean }>;
}

export interface ActivityDeps {
  pool: Pool;
  redis: Redis;
  logger: Logger;
  heartbeatStream: HeartbeatStreamNames;
  heartbeatRetentionDays: number;
  remediation: RemediationNotifier;
  /** The clients below are wired by the worker; an activity that needs a missing one fails clearly. */
  digitalocean?: DigitalOceanClient;
  sidecar?: SidecarClient;
  temporal?: { client: Client; taskQueue: string };
  alerts?: AlertSink;
  /** fleet-wide limits on change commands (sidecar update, workflow update, credential); none when absent */
  concurrency?: FleetSemaphore;
  /** counters/gauges the API's /metrics serves for every worker (drain, remediations); none when absent */
  sharedMetrics?: SharedMetrics;
  clock?: () => number;
  /** Aborted when the process begins a graceful shutdown: long-running loops return early. */
  shutdown?: AbortSignal;
}
