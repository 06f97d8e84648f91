/**
 * Prometheus metrics of the API process (prom-client). Names follow Prometheus conventions: base
 * units, `_total` for counters. Gauges that need a query (stream backlog) are collected on scrape.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { IngestMetrics } from './api/heartbeat-routes';
import { DEFAULT_HEARTBEAT_TIMEOUT_S } from './domain/liveness';
import { streamBacklog, type HeartbeatStreamNames } from './heartbeats/stream';
import { registerFleetMetrics } from './observability/fleet-metrics';
import type { SharedMetrics } from './observability/shared-metrics';

export interface ControlPlaneMetrics {
  registry: Registry;
  ingest: IngestMetrics;
  /** the dashboard relay's outcomes (src/api/dashboard-relay.ts) */
  relayOutcome(route: string, outcome: string): void;
  /** reads the relay's queue at scrape time */
  watchRelay(status: () => { queued: number; consecutiveFailures: number }): void;
}

export function createMetrics(opts: {
  redis: Redis;
  stream: HeartbeatStreamNames;
  backlogAlert: number;
  defaultMetrics?: boolean;
  /** with both: the fleet's metrics from Postgres and the workers' shared counters */
  pool?: Pool;
  shared?: SharedMetrics;
  staleAfterS?: number;
}): ControlPlaneMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'genesis_' });

  const accepted = new Counter({
    name: 'genesis_heartbeats_accepted_total',
    help: 'Heartbeats accepted into the buffer, by route',
    labelNames: ['route'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'genesis_heartbeats_rejected_total',
    help: 'Heartbeat requests refused, by route and reason',
    labelNames: ['route', 'reason'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'genesis_heartbeat_ingest_duration_seconds',
    help: 'Time to validate and buffer one accepted heartbeat request',
    labelNames: ['route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // Collected on scrape; registered first so the gauges after it are serialised with fresh values.
  new Gauge({
    name: 'genesis_heartbeat_stream_length',
    help: 'Entries in the heartbeat stream (not yet acknowledged by the drain)',
    registers: [registry],
    async collect() {
      try {
        const b = await streamBacklog(opts.redis, opts.stream);
        this.set(b.length);
        pending.set(b.pending);
        lag.set(b.lag ?? b.length);
        scrapeOk.set(1);
      } catch {
        scrapeOk.set(0);
      }
    },
  });
  const pending = new Gauge({
    name: 'genesis_heartbeat_stream_pending',
    help: 'Entries delivered to a drain consumer and not yet acknowledged',
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'genesis_heartbeat_stream_lag',
    help: 'Entries not yet delivered to any drain consumer',
    registers: [registry],
  });
  new Gauge({
    name: 'genesis_heartbeat_stream_backlog_alert_threshold',
    help: 'Backlog above which the heartbeat pipeline is alerting',
    registers: [registry],
  }).set(opts.backlogAlert);
  const scrapeOk = new Gauge({
    name: 'genesis_heartbeat_stream_scrape_ok',
    help: '1 if the stream could be measured at the last scrape',
    registers: [registry],
  });

  if (opts.pool && opts.shared)
    registerFleetMetrics({
      registry,
      pool: opts.pool,
      redis: opts.redis,
      shared: opts.shared,
      stream: opts.stream,
      staleAfterS: opts.staleAfterS ?? DEFAULT_HEARTBEAT_TIMEOUT_S,
    });

  const relayed = new Counter({
    name: 'genesis_dashboard_relay_total',
    help: 'Agent calls relayed to the dashboard, by route and outcome (delivered, rejected, failed, dropped)',
    labelNames: ['route', 'outcome'],
    registers: [registry],
  });
  let relayStatus: (() => { queued: number; consecutiveFailures: number }) | undefined;
  new Gauge({
    name: 'genesis_dashboard_relay_queue',
    help: 'Agent calls waiting to be relayed to the dashboard',
    registers: [registry],
    collect() {
      this.set(relayStatus?.().queued ?? 0);
    },
  });
  new Gauge({
    name: 'genesis_dashboard_relay_consecutive_failures',
    help: 'Relayed calls that failed for good in a row (0 after any delivery)',
    registers: [registry],
    collect() {
      this.set(relayStatus?.().consecutiveFailures ?? 0);
    },
  });

  return {
    registry,
    relayOutcome(route, outcome) {
      relayed.inc({ route, outcome });
    },
    watchRelay(status) {
      relayStatus = status;
    },
    ingest: {
      accepted(route, count, seconds) {
        accepted.inc({ route }, count);
        latency.observe({ route }, seconds);
      },
      rejected(route, reason) {
        rejected.inc({ route, reason });
      },
    },
  };
}
