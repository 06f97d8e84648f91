/**
 * Metrics that happen in worker processes but are served by the API's /metrics: counters and
 * gauges kept in two Redis hashes (HINCRBYFLOAT / HSET, one field per name and label set). Writes
 * are fire-and-forget: a metric must never slow down or fail the work it describes. The API reads
 * both hashes on scrape (src/metrics.ts), so every worker's counts add up in one place and survive
 * a worker restart (the counters are monotonic across the fleet, as Prometheus expects).
 */
import type Redis from 'ioredis';

export type Labels = Record<string, string>;

export interface SharedSample {
  name: string;
  labels: Labels;
  value: number;
}

const field = (name: string, labels: Labels) => {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? name : `${name}|${JSON.stringify(keys.map((k) => [k, labels[k]]))}`;
};

function parse(f: string, v: string): SharedSample | undefined {
  const bar = f.indexOf('|');
  const value = Number(v);
  if (!Number.isFinite(value)) return undefined;
  if (bar < 0) return { name: f, labels: {}, value };
  try {
    const pairs = JSON.parse(f.slice(bar + 1)) as [string, string][];
    return { name: f.slice(0, bar), labels: Object.fromEntries(pairs), value };
  } catch {
    return undefined;
  }
}

export class SharedMetrics {
  readonly countersKey: string;
  readonly gaugesKey: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix: string,
  ) {
    this.countersKey = `${keyPrefix}metrics:counters`;
    this.gaugesKey = `${keyPrefix}metrics:gauges`;
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    if (by === 0) return;
    this.redis.hincrbyfloat(this.countersKey, field(name, labels), by).catch(() => undefined);
  }

  set(name: string, labels: Labels, value: number): void {
    this.redis.hset(this.gaugesKey, field(name, labels), value).catch(() => undefined);
  }

  async read(): Promise<{ counters: SharedSample[]; gauges: SharedSample[] }> {
    const [counters, gauges] = await Promise.all([
      this.redis.hgetall(this.countersKey),
      this.redis.hgetall(this.gaugesKey),
    ]);
    const samples = (h: Record<string, string>) =>
      Object.entries(h)
        .map(([f, v]) => parse(f, v))
        .filter((s): s is SharedSample => s !== undefined);
    return { counters: samples(counters), gauges: samples(gauges) };
  }
}

/** Shared metric names written by workers (read back by src/metrics.ts). */
export const SHARED = {
  drainBatches: 'genesis_drain_batches_total',
  drainHeartbeats: 'genesis_drain_heartbeats_total',
  drainLastBatchSize: 'genesis_drain_last_batch_size',
  remediations: 'genesis_remediations_total',
  digitaloceanRequests: 'genesis_digitalocean_requests_total',
  digitaloceanRateLimitRemaining: 'genesis_digitalocean_ratelimit_remaining',
  digitaloceanBudgetRemaining: 'genesis_digitalocean_budget_remaining',
  // the budget per account and lane (src/worker/digitalocean-accounts.ts): labels account, lane
  digitaloceanBudgetGrants: 'genesis_digitalocean_budget_grants_total',
  digitaloceanBudgetWaits: 'genesis_digitalocean_budget_waits_total',
  digitaloceanBudgetWaitSeconds: 'genesis_digitalocean_budget_wait_seconds_total',
  digitaloceanBudgetExhausted: 'genesis_digitalocean_budget_exhausted_total',
  digitaloceanBudgetUsed: 'genesis_digitalocean_budget_used',
  digitaloceanBudgetWaiting: 'genesis_digitalocean_budget_waiting',
  powerScheduleStarts: 'genesis_power_schedule_starts_total',
  powerScheduleDue: 'genesis_power_schedule_due',
  powerScheduleLag: 'genesis_power_schedule_lag_seconds',
  powerScheduleBusy: 'genesis_power_schedule_busy',
  powerScheduleDeferred: 'genesis_power_schedule_deferred',
  powerScheduleLastTick: 'genesis_power_schedule_last_tick_timestamp_seconds',
  // the fleet probe (activities/fleet-probe.ts)
  probeRuns: 'genesis_probe_runs_total',
  probes: 'genesis_probe_droplets_total',
  probeFailures: 'genesis_probe_failures_total',
  probeAlerts: 'genesis_probe_alerts_total',
  probeLatencyBucket: 'genesis_probe_latency_seconds_bucket',
  probeLatencySum: 'genesis_probe_latency_seconds_sum',
  probeLatencyCount: 'genesis_probe_latency_seconds_count',
  probeLastRunProbed: 'genesis_probe_last_run_droplets',
  probeLastRunDegraded: 'genesis_probe_last_run_degraded',
  probeLastRunDurationSeconds: 'genesis_probe_last_run_duration_seconds',
  probeAgentsPerSecond: 'genesis_probe_agents_per_second',
  probeStormBraking: 'genesis_probe_storm_braking',
  // every scheduled workflow's run (src/observability/schedule-runs.ts)
  scheduleLastRun: 'genesis_schedule_last_run_timestamp_seconds',
  schedulePeriod: 'genesis_schedule_period_seconds',
  // desired state and the reconciler (activities/reconcile.ts)
  desiredTenants: 'genesis_desired_tenants',
  desiredDriftTenants: 'genesis_desired_drift_tenants',
  reconcileMarkedTenants: 'genesis_reconcile_marked_tenants',
  reconcileStarts: 'genesis_reconcile_starts_total',
  reconcileOutcomes: 'genesis_reconcile_outcomes_total',
} as const;

/** The remediation a state change ends, and how (a power workflow left WAKING/REBOOTING/HIBERNATING). */
export function remediationOutcome(from: string, to: string): { kind: string; outcome: string } | undefined {
  const kind = (
    { WAKING: 'wake', REBOOTING: 'hard_reboot', HIBERNATING: 'hibernate' } as Record<string, string>
  )[from];
  if (!kind || to === from) return undefined;
  return { kind, outcome: to.toLowerCase() };
}
