/**
 * Every metric name Prometheus can scrape from the control plane today, by source. The alert rules
 * in deploy/prometheus/alerts.yml may use only these (test/unit/prometheus-rules.test.ts checks
 * it), and test/unit/prometheus-rules.test.ts also checks GENESIS_API_METRICS + the defaults
 * against the registry src/metrics.ts builds, so a renamed metric fails a test, not an alert.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricName {
  name: string;
  type: MetricType;
}

/** src/metrics.ts: the API's own metrics on GET /metrics. */
export const GENESIS_API_METRICS: readonly MetricName[] = [
  { name: 'genesis_heartbeats_accepted_total', type: 'counter' },
  { name: 'genesis_heartbeats_rejected_total', type: 'counter' },
  { name: 'genesis_heartbeat_ingest_duration_seconds', type: 'histogram' },
  { name: 'genesis_heartbeat_stream_length', type: 'gauge' },
  { name: 'genesis_heartbeat_stream_pending', type: 'gauge' },
  { name: 'genesis_heartbeat_stream_lag', type: 'gauge' },
  { name: 'genesis_heartbeat_stream_backlog_alert_threshold', type: 'gauge' },
  { name: 'genesis_heartbeat_stream_scrape_ok', type: 'gauge' },
  { name: 'genesis_dashboard_relay_total', type: 'counter' },
  { name: 'genesis_dashboard_relay_queue', type: 'gauge' },
  { name: 'genesis_dashboard_relay_consecutive_failures', type: 'gauge' },
  // src/observability/fleet-metrics.ts: Postgres and the workers' shared counters, on scrape
  { name: 'genesis_metrics_source_up', type: 'gauge' },
  { name: 'genesis_droplets', type: 'gauge' },
  { name: 'genesis_droplets_heartbeat_stale', type: 'gauge' },
  { name: 'genesis_fleet_stale_fraction', type: 'gauge' },
  { name: 'genesis_drain_batches_total', type: 'counter' },
  { name: 'genesis_drain_heartbeats_total', type: 'counter' },
  { name: 'genesis_drain_last_batch_size', type: 'gauge' },
  { name: 'genesis_drain_lag_seconds', type: 'gauge' },
  { name: 'genesis_watchdog_last_run_timestamp_seconds', type: 'gauge' },
  { name: 'genesis_watchdog_eligible_droplets', type: 'gauge' },
  { name: 'genesis_watchdog_stale_droplets', type: 'gauge' },
  { name: 'genesis_watchdog_breached_droplets', type: 'gauge' },
  { name: 'genesis_watchdog_remediations_started', type: 'gauge' },
  { name: 'genesis_watchdog_storm_braking', type: 'gauge' },
  { name: 'genesis_watchdog_scan_duration_seconds', type: 'gauge' },
  { name: 'genesis_remediations_total', type: 'counter' },
  { name: 'genesis_digitalocean_requests_total', type: 'counter' },
  { name: 'genesis_digitalocean_ratelimit_remaining', type: 'gauge' },
  { name: 'genesis_digitalocean_budget_remaining', type: 'gauge' },
  { name: 'genesis_digitalocean_budget_grants_total', type: 'counter' },
  { name: 'genesis_digitalocean_budget_waits_total', type: 'counter' },
  { name: 'genesis_digitalocean_budget_wait_seconds_total', type: 'counter' },
  { name: 'genesis_digitalocean_budget_exhausted_total', type: 'counter' },
  { name: 'genesis_digitalocean_budget_used', type: 'gauge' },
  { name: 'genesis_digitalocean_budget_waiting', type: 'gauge' },
  { name: 'genesis_power_schedule_starts_total', type: 'counter' },
  { name: 'genesis_power_schedule_due', type: 'gauge' },
  { name: 'genesis_power_schedule_lag_seconds', type: 'gauge' },
  { name: 'genesis_power_schedule_busy', type: 'gauge' },
  { name: 'genesis_power_schedule_deferred', type: 'gauge' },
  { name: 'genesis_power_schedule_last_tick_timestamp_seconds', type: 'gauge' },
  { name: 'genesis_rollouts', type: 'gauge' },
  { name: 'genesis_rollout_tenants', type: 'gauge' },
  { name: 'genesis_alerts_open', type: 'gauge' },
  { name: 'genesis_probe_runs_total', type: 'counter' },
  { name: 'genesis_probe_droplets_total', type: 'counter' },
  { name: 'genesis_probe_failures_total', type: 'counter' },
  { name: 'genesis_probe_alerts_total', type: 'counter' },
  { name: 'genesis_probe_latency_seconds', type: 'histogram' },
  { name: 'genesis_probe_last_run_droplets', type: 'gauge' },
  { name: 'genesis_probe_last_run_degraded', type: 'gauge' },
  { name: 'genesis_probe_last_run_duration_seconds', type: 'gauge' },
  { name: 'genesis_probe_agents_per_second', type: 'gauge' },
  { name: 'genesis_probe_storm_braking', type: 'gauge' },
  { name: 'genesis_schedule_last_run_timestamp_seconds', type: 'gauge' },
  { name: 'genesis_schedule_period_seconds', type: 'gauge' },
  { name: 'genesis_desired_tenants', type: 'gauge' },
  { name: 'genesis_desired_drift_tenants', type: 'gauge' },
  { name: 'genesis_reconcile_marked_tenants', type: 'gauge' },
  { name: 'genesis_reconcile_starts_total', type: 'counter' },
  { name: 'genesis_reconcile_outcomes_total', type: 'counter' },
];

/** prom-client 15 collectDefaultMetrics({prefix: 'genesis_'}) on GET /metrics (Linux). */
export const GENESIS_DEFAULT_METRICS: readonly MetricName[] = [
  { name: 'genesis_process_cpu_user_seconds_total', type: 'counter' },
  { name: 'genesis_process_cpu_system_seconds_total', type: 'counter' },
  { name: 'genesis_process_cpu_seconds_total', type: 'counter' },
  { name: 'genesis_process_start_time_seconds', type: 'gauge' },
  { name: 'genesis_process_resident_memory_bytes', type: 'gauge' },
  { name: 'genesis_process_virtual_memory_bytes', type: 'gauge' },
  { name: 'genesis_process_heap_bytes', type: 'gauge' },
  { name: 'genesis_process_open_fds', type: 'gauge' },
  { name: 'genesis_process_max_fds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_min_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_max_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_mean_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_stddev_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_p50_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_p90_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_eventloop_lag_p99_seconds', type: 'gauge' },
  { name: 'genesis_nodejs_active_resources', type: 'gauge' },
  { name: 'genesis_nodejs_active_resources_total', type: 'gauge' },
  { name: 'genesis_nodejs_active_handles', type: 'gauge' },
  { name: 'genesis_nodejs_active_handles_total', type: 'gauge' },
  { name: 'genesis_nodejs_active_requests', type: 'gauge' },
  { name: 'genesis_nodejs_active_requests_total', type: 'gauge' },
  { name: 'genesis_nodejs_heap_size_total_bytes', type: 'gauge' },
  { name: 'genesis_nodejs_heap_size_used_bytes', type: 'gauge' },
  { name: 'genesis_nodejs_external_memory_bytes', type: 'gauge' },
  { name: 'genesis_nodejs_heap_space_size_total_bytes', type: 'gauge' },
  { name: 'genesis_nodejs_heap_space_size_used_bytes', type: 'gauge' },
  { name: 'genesis_nodejs_heap_space_size_available_bytes', type: 'gauge' },
  { name: 'genesis_nodejs_version_info', type: 'gauge' },
  { name: 'genesis_nodejs_gc_duration_seconds', type: 'histogram' },
];

/**
 * The Temporal SDK core's Prometheus exporter on workers (TEMPORAL_METRICS_PORT, job
 * genesis-temporal-worker). Counters carry no `_total` suffix (the SDK's default). Names checked
 * against @temporalio/worker 1.24 by running a worker.
 */
export const TEMPORAL_SDK_METRICS: readonly MetricName[] = [
  { name: 'temporal_activity_execution_failed', type: 'counter' },
  { name: 'temporal_activity_execution_latency', type: 'histogram' },
  { name: 'temporal_activity_schedule_to_start_latency', type: 'histogram' },
  { name: 'temporal_activity_task_received', type: 'counter' },
  { name: 'temporal_workflow_completed', type: 'counter' },
  { name: 'temporal_workflow_failed', type: 'counter' },
  { name: 'temporal_workflow_endtoend_latency', type: 'histogram' },
  { name: 'temporal_workflow_task_execution_latency', type: 'histogram' },
  { name: 'temporal_workflow_task_schedule_to_start_latency', type: 'histogram' },
  { name: 'temporal_worker_task_slots_available', type: 'gauge' },
  { name: 'temporal_worker_task_slots_used', type: 'gauge' },
  { name: 'temporal_num_pollers', type: 'gauge' },
  { name: 'temporal_request', type: 'counter' },
  { name: 'temporal_request_latency', type: 'histogram' },
];

/** Series Prometheus itself writes for every scrape target. */
export const PROMETHEUS_BUILTIN_METRICS: readonly MetricName[] = [{ name: 'up', type: 'gauge' }];

export const ALL_METRICS: readonly MetricName[] = [
  ...GENESIS_API_METRICS,
  ...GENESIS_DEFAULT_METRICS,
  ...TEMPORAL_SDK_METRICS,
  ...PROMETHEUS_BUILTIN_METRICS,
];

/** Every series name a query may use: a histogram also exposes `_bucket`, `_sum` and `_count`. */
export function queryableSeriesNames(metrics: readonly MetricName[] = ALL_METRICS): Set<string> {
  const names = new Set<string>();
  for (const m of metrics) {
    names.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}
