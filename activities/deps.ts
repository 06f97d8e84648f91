/**
 * What activities are built from. Everything with a side effect is injected, so tests wire the real
 * Postgres and Redis and the fleet simulator, and production wires the real services.
 */
import type { Client } from '@temporalio/client';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { Alert } from '../src/alerts/alert';
import type { FleetSemaphore } from '../src/concurrency/fleet-semaphore';
import {
  DEFAULT_DO_ACCOUNT,
  UnknownDigitalOceanAccountError,
  type DigitalOceanAccounts,
} from '../src/digitalocean/accounts';
import type { DigitalOceanClient } from '../src/digitalocean/client';
import type { PowerCohorts } from '../src/digitalocean/cohorts';
import type { SharedMetrics } from '../src/observability/shared-metrics';
import type { ObservedHeartbeat } from '../src/db/heartbeats';
import type { ReconcileOptions } from '../src/domain/reconcile';
import type { HeartbeatStreamNames } from '../src/heartbeats/stream';
import type { Logger } from '../src/logger';
import type { SidecarClient } from '../src/sidecar/client';
import { createRepositories, type Repositories } from '../src/db/repositories';

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

/**
 * The ports activities use to reach Postgres, one per aggregate (src/db/repositories.ts); each
 * activity factory names the slice it takes.
 */
export type Ports = Repositories;
export type DropletsPort = Ports['droplets'];
export type PowerActionsPort = Ports['powerActions'];
export type TenantVersionsPort = Ports['tenantVersions'];
export type CredentialsPort = Ports['credentials'];
export type WorkflowDeploysPort = Ports['workflowDeploys'];
export type RolloutsPort = Ports['rollouts'];
export type AlertsPort = Ports['alerts'];
export type WatchdogPort = Ports['watchdog'];
export type HeartbeatHistoryPort = Ports['heartbeatHistory'];
export type ScaleProbesPort = Ports['scaleProbes'];
export type FleetProbePort = Ports['fleetProbe'];
export type DesiredStatePort = Ports['desiredState'];
export type ReconcileStatusPort = Ports['reconcileStatus'];

export interface ActivityDeps {
  /** the connection the repositories (and the heartbeat drain's batch statement) run on */
  pool: Pool;
  /** the repositories over `pool`; built from it when absent (tests wire only a pool) */
  repositories?: Ports;
  redis: Redis;
  logger: Logger;
  heartbeatStream: HeartbeatStreamNames;
  heartbeatRetentionDays: number;
  remediation: RemediationNotifier;
  /** The clients below are wired by the worker; an activity that needs a missing one fails clearly. */
  /** the default account's client (DIGITALOCEAN_TOKEN) */
  digitalocean?: DigitalOceanClient;
  /** every configured account (src/digitalocean/accounts.ts); when absent only `default` exists */
  digitaloceanAccounts?: DigitalOceanAccounts;
  /** batches remediation/bulk power actions into cohorts (src/digitalocean/cohorts.ts); none when absent */
  powerCohorts?: PowerCohorts;
  sidecar?: SidecarClient;
  temporal?: { client: Client; taskQueue: string };
  alerts?: AlertSink;
  /** fleet-wide limits on change commands (sidecar update, workflow update, credential); none when absent */
  concurrency?: FleetSemaphore;
  /** counters/gauges the API's /metrics serves for every worker (drain, remediations); none when absent */
  sharedMetrics?: SharedMetrics;
  /** the reconciler's options for reconciliations a wake requests (RECONCILER_*); defaults when absent */
  reconcile?: ReconcileOptions;
  clock?: () => number;
  /** Aborted when the process begins a graceful shutdown: long-running loops return early. */
  shutdown?: AbortSignal;
}

const built = new WeakMap<object, Ports>();

/** The repositories of `deps`: the wired ones, else one set per deps object over its pool. */
export function portsOf(deps: ActivityDeps): Ports {
  if (deps.repositories) return deps.repositories;
  let ports = built.get(deps);
  if (!ports) {
    ports = createRepositories(deps.pool);
    built.set(deps, ports);
  }
  return ports;
}

/**
 * The DigitalOcean client of `account` (null/undefined: default): from `digitaloceanAccounts` when
 * wired, else the single `digitalocean` client for the default account; undefined when neither is.
 */
export function digitaloceanOf(deps: ActivityDeps, account?: string | null): DigitalOceanClient | undefined {
  if (deps.digitaloceanAccounts) return deps.digitaloceanAccounts.client(account);
  if ((account ?? DEFAULT_DO_ACCOUNT) !== DEFAULT_DO_ACCOUNT)
    throw new UnknownDigitalOceanAccountError(
      account as string,
      deps.digitalocean ? [DEFAULT_DO_ACCOUNT] : [],
    );
  return deps.digitalocean;
}
