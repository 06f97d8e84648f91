/**
 * The fleet's metrics on the API's /metrics, read on scrape from where the work records them:
 *   Postgres  droplets by state and stale, the latest watchdog run, rollout progress, open alerts
 *   Redis     the shared counters workers write (drain, remediations, DigitalOcean calls and budget)
 *             and the age of the oldest heartbeat waiting in the stream (drain lag)
 * One snapshot per scrape, shared by every metric's collect() (prom-client collects them in
 * parallel), cheap indexed queries only. A store that fails marks genesis_metrics_source_up 0 for
 * it and leaves the last values; /metrics itself never fails.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { readFleetMetricsRows, type FleetMetricsRows } from '../db/fleet-metrics';
import { PROBE_LATENCY_BUCKETS_S } from '../domain/fleet-probe';
import type { HeartbeatStreamNames } from '../heartbeats/stream';
import { SHARED, type SharedMetrics, type SharedSample } from './shared-metrics';

export interface FleetMetricsOptions {
  registry: Registry;
  pool: Pool;
  redis: Redis;
  shared: SharedMetrics;
  stream: HeartbeatStreamNames;
  /** a droplet whose newest heartbeat is older than this is stale (WATCHDOG_HEARTBEAT_TIMEOUT_S) */
  staleAfterS: number;
}

interface Snapshot {
  postgres?: FleetMetricsRows;
  redis?: { counters: SharedSample[]; gauges: SharedSample[]; oldestEntryMs: number | null };
}

export function registerFleetMetrics(o: FleetMetricsOptions): void {
  const registers = [o.registry];
  let pending: Promise<Snapshot> | undefined;
  let last: Snapshot = {};
  const sourceUp = { postgres: 1, redis: 1 };

  /** One snapshot per scrape: every collect() of the same scrape awaits the same promise. */
  const snapshot = (): Promise<Snapshot> => {
    pending ??= take().finally(() => setTimeout(() => (pending = undefined), 250).unref());
    return pending;
  };

  async function take(): Promise<Snapshot> {
    const [pg, rd] = await Promise.allSettled([readPostgres(), readRedis()]);
    sourceUp.postgres = pg.status === 'fulfilled' ? 1 : 0;
    sourceUp.redis = rd.status === 'fulfilled' ? 1 : 0;
    last = {
      postgres: pg.status === 'fulfilled' ? pg.value : last.postgres,
      redis: rd.status === 'fulfilled' ? rd.value : last.redis,
    };
    return last;
  }

  const readPostgres = () => readFleetMetricsRows(o.pool, o.staleAfterS);

  async function readRedis(): Promise<NonNullable<Snapshot['redis']>> {
    const [shared, oldest] = await Promise.all([
      o.shared.read(),
      o.redis.xrange(o.stream.key, '-', '+', 'COUNT', 1),
    ]);
    const id = oldest[0]?.[0];
    return { ...shared, oldestEntryMs: id ? Number(id.split('-')[0]) : null };
  }

  /** A metric's collect(): this scrape's snapshot, the metric reset, then filled from the snapshot. */
  const fromSnapshot = <M extends Gauge | Counter>(fill: (m: M, s: Snapshot) => void) =>
    async function collect(this: M) {
      const s = await snapshot();
      this.reset();
      fill(this, s);
    };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: Snapshot) => void) =>
    new Gauge({ name, help, labelNames, registers, collect: fromSnapshot(fill) });
  /** A counter mirrored from the workers' shared counters (monotonic across the fleet). */
  const sharedCounter = (name: string, help: string, labelNames: string[]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect: fromSnapshot<Counter>((m, s) => {
        for (const c of s.redis?.counters ?? []) if (c.name === name) m.inc(c.labels, c.value);
      }),
    });
  const sharedGauge = (name: string, help: string, labelNames: string[]) =>
    gauge(name, help, labelNames, (g, s) => {
      for (const c of s.redis?.gauges ?? []) if (c.name === name) g.set(c.labels, c.value);
    });

  /**
   * A histogram assembled from the workers' shared counters (cumulative `le` buckets, sum, count):
   * prom-client's Histogram only observes in-process, so this one is served as the counters say.
   */
  const sharedHistogram = (
    name: string,
    help: string,
    les: readonly number[],
    bucket: string,
    sum: string,
    count: string,
  ) => {
    const metric = {
      name,
      help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      async get() {
        const s = await snapshot();
        const counters = s.redis?.counters ?? [];
        // every bucket, in order, 0 until a probe fell into it
        const byLe = new Map(counters.filter((c) => c.name === bucket).map((c) => [c.labels.le, c.value]));
        const buckets = [...les.map(String), '+Inf'].map((le) => ({
          metricName: bucket,
          labels: { le },
          value: byLe.get(le) ?? 0,
        }));
        const one = (n: string) => counters.find((c) => c.name === n)?.value ?? 0;
        return {
          name,
          help,
          type: 'histogram' as const,
          aggregator: 'sum' as const,
          values: [
            ...buckets,
            { metricName: `${name}_sum`, labels: {}, value: one(sum) },
            { metricName: `${name}_count`, labels: {}, value: one(count) },
          ],
        };
      },
      reset() {},
    };
    o.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  };

  gauge('genesis_metrics_source_up', '1 if the store was readable at the last scrape', ['source'], (g) => {
    g.set({ source: 'postgres' }, sourceUp.postgres);
    g.set({ source: 'redis' }, sourceUp.redis);
  });

  // Fleet
  gauge('genesis_droplets', 'Droplets by lifecycle state', ['state'], (g, s) => {
    for (const d of s.postgres?.droplets ?? []) g.set({ state: d.state }, d.n);
  });
  gauge(
    'genesis_droplets_heartbeat_stale',
    'ACTIVE droplets whose newest heartbeat is older than the heartbeat timeout',
    [],
    (g, s) => g.set(s.postgres?.stale ?? 0),
  );
  gauge('genesis_fleet_stale_fraction', 'Stale share of the ACTIVE fleet (0..1)', [], (g, s) => {
    const p = s.postgres;
    g.set(p && p.active > 0 ? p.stale / p.active : 0);
  });

  // Heartbeat drain
  sharedCounter(SHARED.drainBatches, 'Batches the heartbeat drain committed', []);
  sharedCounter(SHARED.drainHeartbeats, 'Heartbeats the drain processed, by outcome', ['outcome']);
  sharedGauge(SHARED.drainLastBatchSize, 'Heartbeats in the last batch a drain committed', []);
  gauge(
    'genesis_drain_lag_seconds',
    'Age of the oldest heartbeat still in the stream (0 when the stream is empty)',
    [],
    (g, s) => {
      const ms = s.redis?.oldestEntryMs;
      g.set(ms ? Math.max(0, (Date.now() - ms) / 1000) : 0);
    },
  );

  // Watchdog (its latest run)
  const wd = (
    name: string,
    help: string,
    pick: (w: NonNullable<NonNullable<Snapshot['postgres']>['watchdog']>) => number,
  ) =>
    gauge(name, help, [], (g, s) => {
      const w = s.postgres?.watchdog;
      if (w) g.set(pick(w));
    });
  wd(
    'genesis_watchdog_last_run_timestamp_seconds',
    'When the watchdog last ran (unix seconds)',
    (w) => w.at.getTime() / 1000,
  );
  wd('genesis_watchdog_eligible_droplets', 'Droplets the last watchdog run considered', (w) => w.eligible);
  wd('genesis_watchdog_stale_droplets', 'Stale droplets the last watchdog run found', (w) => w.stale);
  wd(
    'genesis_watchdog_breached_droplets',
    'Droplets over a CPU/memory/disk threshold at the last run',
    (w) => w.breached,
  );
  wd(
    'genesis_watchdog_remediations_started',
    'Remediations the last watchdog run started',
    (w) => w.remediations_started,
  );
  wd('genesis_watchdog_storm_braking', '1 if the last watchdog run braked (storm)', (w) =>
    w.braked ? 1 : 0,
  );
  wd(
    'genesis_watchdog_scan_duration_seconds',
    'Duration of the last fleet scan query',
    (w) => w.query_ms / 1000,
  );

  // Remediations and DigitalOcean
  sharedCounter(
    SHARED.remediations,
    'Remediations ended, by kind (wake, hard_reboot, hibernate) and outcome state',
    ['kind', 'outcome'],
  );
  sharedCounter(
    SHARED.digitaloceanRequests,
    'DigitalOcean API answers by account and HTTP status (0: no answer)',
    ['account', 'status'],
  );
  sharedGauge(
    SHARED.digitaloceanRateLimitRemaining,
    "ratelimit-remaining of the account's last DigitalOcean answer",
    ['account'],
  );
  sharedGauge(SHARED.digitaloceanBudgetRemaining, "Requests left in the account's fleet-wide budget window", [
    'account',
    'window',
  ]);
  sharedCounter(SHARED.digitaloceanBudgetGrants, 'Requests the DigitalOcean budget let go out', [
    'account',
    'lane',
  ]);
  sharedCounter(SHARED.digitaloceanBudgetWaits, 'Granted requests that had to wait for the budget', [
    'account',
    'lane',
  ]);
  sharedCounter(
    SHARED.digitaloceanBudgetWaitSeconds,
    'Time requests spent waiting for the budget (granted or given up)',
    ['account', 'lane'],
  );
  sharedCounter(
    SHARED.digitaloceanBudgetExhausted,
    'Requests that gave up: the budget would have made them wait past their maximum',
    ['account', 'lane', 'reason'],
  );
  sharedGauge(SHARED.digitaloceanBudgetUsed, "Grants in the budget's window, by lane", [
    'account',
    'lane',
    'window',
  ]);
  sharedGauge(SHARED.digitaloceanBudgetWaiting, 'Requests registered as waiting for the budget, by lane', [
    'account',
    'lane',
  ]);

  // Scheduled power (the reconciler's latest tick; starts counted across ticks)
  sharedCounter(
    SHARED.powerScheduleStarts,
    'Power operations the schedule reconciler started (action wake|hibernate) or joined (action any)',
    ['action', 'result'],
  );
  sharedGauge(SHARED.powerScheduleDue, 'Droplets the latest tick found due, by action', ['action']);
  sharedGauge(
    SHARED.powerScheduleLag,
    'Longest time from due to started in the latest tick, by action (seconds)',
    ['action'],
  );
  sharedGauge(
    SHARED.powerScheduleBusy,
    'Due droplets the latest tick skipped: an operation runs on them',
    [],
  );
  sharedGauge(SHARED.powerScheduleDeferred, "Due droplets beyond the latest tick's bound (next tick)", []);
  sharedGauge(SHARED.powerScheduleLastTick, 'When the schedule reconciler last ran (unix seconds)', []);

  // Fleet probe (activities/fleet-probe.ts) and every schedule's last run (schedule-runs.ts)
  sharedCounter(SHARED.probeRuns, 'Fleet probe runs finished', []);
  sharedCounter(SHARED.probes, 'Droplets probed, by verdict (healthy, degraded, unreachable)', ['verdict']);
  sharedCounter(
    SHARED.probeFailures,
    'Probe commands that failed, by kind (<action>:<sidecar error code>, no_agent)',
    ['kind'],
  );
  sharedCounter(SHARED.probeAlerts, 'Per-droplet probe alerts raised (notified) and resolved', ['action']);
  sharedHistogram(
    'genesis_probe_latency_seconds',
    'One probe (HEALTH_CHECK + COLLECT_METRICS) of an answering agent',
    PROBE_LATENCY_BUCKETS_S,
    SHARED.probeLatencyBucket,
    SHARED.probeLatencySum,
    SHARED.probeLatencyCount,
  );
  sharedGauge(SHARED.probeLastRunProbed, 'Droplets the last fleet probe run probed', []);
  sharedGauge(SHARED.probeLastRunDegraded, 'Droplets the last fleet probe run found degraded', []);
  sharedGauge(SHARED.probeLastRunDurationSeconds, 'Duration of the last fleet probe run', []);
  sharedGauge(SHARED.probeAgentsPerSecond, 'Agents probed per second over the last fleet probe run', []);
  sharedGauge(SHARED.probeStormBraking, '1 while the fleet probe holds per-droplet alerts back (storm)', []);
  sharedGauge(
    SHARED.scheduleLastRun,
    'When a scheduled workflow last finished a run (unix seconds), by schedule',
    ['schedule'],
  );
  sharedGauge(SHARED.schedulePeriod, 'The interval of a Schedule (seconds), by schedule', ['schedule']);

  // Desired state and the reconciler (written by each reconciler run and reconciliation)
  sharedGauge(SHARED.desiredTenants, 'Tenants with a desired state (at the last reconciler run)', []);
  sharedGauge(
    SHARED.desiredDriftTenants,
    'Tenants whose record differs from their desired state, by kind (n8n, workflow, credential; any)',
    ['kind'],
  );
  sharedGauge(SHARED.reconcileMarkedTenants, 'Tenants the reconciler gave up on (marked, alerted)', []);
  sharedCounter(SHARED.reconcileStarts, 'Reconciliations started, by reason (schedule, after_wake)', [
    'reason',
  ]);
  sharedCounter(
    SHARED.reconcileOutcomes,
    'Reconciliations ended, by outcome (in_sync, reconciled, failed, marked)',
    ['outcome'],
  );

  // Rollouts and alerts
  gauge('genesis_rollouts', 'Rollouts by status', ['status'], (g, s) => {
    for (const r of s.postgres?.rollouts ?? []) g.set({ status: r.status }, r.n);
  });
  gauge(
    'genesis_rollout_tenants',
    'Tenants of a running or paused rollout by state (pending = not yet updated)',
    ['rollout_id', 'state'],
    (g, s) => {
      for (const r of s.postgres?.rolloutTenants ?? []) {
        const done = r.succeeded + r.failed + r.rolled_back;
        g.set({ rollout_id: r.id, state: 'succeeded' }, r.succeeded);
        g.set({ rollout_id: r.id, state: 'failed' }, r.failed);
        g.set({ rollout_id: r.id, state: 'rolled_back' }, r.rolled_back);
        g.set({ rollout_id: r.id, state: 'skipped' }, r.skipped);
        g.set({ rollout_id: r.id, state: 'pending' }, Math.max(0, r.total_tenants - done));
      }
    },
  );
  gauge('genesis_alerts_open', 'Open alerts by severity', ['severity'], (g, s) => {
    for (const sev of ['info', 'warning', 'critical']) g.set({ severity: sev }, 0);
    for (const a of s.postgres?.alerts ?? []) g.set({ severity: a.severity }, a.n);
  });
}
