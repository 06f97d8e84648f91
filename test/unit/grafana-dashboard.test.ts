/**
 * deploy/grafana: the dashboard loads, every query names only metrics the control plane exports
 * (src/observability/metric-names.ts, itself checked against the API registry and a real worker's
 * Prometheus port), it reads the provisioned Prometheus datasource, and the provisioning points at
 * where docker-compose mounts it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { queryableSeriesNames } from '../../src/observability/metric-names';
import { metricNamesIn } from '../../src/observability/promql';

const root = join(__dirname, '../..');
const dashboard = JSON.parse(
  readFileSync(join(root, 'deploy/grafana/dashboards/genesis-control-plane.json'), 'utf8'),
) as {
  uid: string;
  panels: {
    id: number;
    type: string;
    title: string;
    datasource?: { uid: string };
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string; refId: string }[];
  }[];
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

describe('grafana dashboard', () => {
  it('has unique panel ids, sane grid positions and a query in every panel', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.gridPos.h).toBeGreaterThan(0);
    }
    for (const p of panels)
      expect({ panel: p.title, targets: (p.targets ?? []).length > 0 }).toEqual({
        panel: p.title,
        targets: true,
      });
  });

  it('queries only exported metrics', () => {
    const known = queryableSeriesNames();
    for (const { panel, expr } of exprs) {
      const used = metricNamesIn(expr);
      expect({ panel, expr, used: used.length > 0 }).toMatchObject({ used: true });
      for (const name of used) expect({ panel, name, known: known.has(name) }).toMatchObject({ known: true });
    }
  });

  it('covers every family the operators asked for', () => {
    const all = new Set(exprs.flatMap((e) => metricNamesIn(e.expr)));
    for (const name of [
      'genesis_heartbeats_accepted_total',
      'genesis_heartbeats_rejected_total',
      'genesis_heartbeat_ingest_duration_seconds_bucket',
      'genesis_heartbeat_stream_length',
      'genesis_heartbeat_stream_pending',
      'genesis_drain_heartbeats_total',
      'genesis_drain_batches_total',
      'genesis_drain_lag_seconds',
      'genesis_watchdog_stale_droplets',
      'genesis_remediations_total',
      'genesis_digitalocean_requests_total',
      'genesis_digitalocean_budget_remaining',
      'genesis_rollout_tenants',
      'genesis_alerts_open',
      'temporal_activity_execution_failed',
      'temporal_workflow_failed',
      'genesis_probe_droplets_total',
      'genesis_probe_latency_seconds_bucket',
      'genesis_probe_failures_total',
      'genesis_schedule_last_run_timestamp_seconds',
    ])
      expect({ name, shown: all.has(name) }).toEqual({ name, shown: true });
  });

  it('reads the provisioned datasource, and is provisioned from where compose mounts it', () => {
    const ds = parse(
      readFileSync(join(root, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as {
      datasources: { uid: string }[];
    };
    const uid = ds.datasources[0]!.uid;
    for (const p of panels) expect(p.datasource?.uid).toBe(uid);
    const prov = parse(
      readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/genesis.yml'), 'utf8'),
    ) as {
      providers: { options: { path: string } }[];
    };
    const compose = readFileSync(join(root, 'docker-compose.temporal.yml'), 'utf8');
    expect(compose).toContain(`./deploy/grafana/dashboards:${prov.providers[0]!.options.path}:ro`);
  });
});
