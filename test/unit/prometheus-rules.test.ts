/**
 * deploy/prometheus/alerts.yml: well-formed rules whose every metric is one the control plane
 * exports (src/observability/metric-names.ts), and that list in sync with src/metrics.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { parse } from 'yaml';
import type { Pool } from 'pg';
import { createMetrics } from '../../src/metrics';
import { SharedMetrics } from '../../src/observability/shared-metrics';
import { metricNamesIn } from '../../src/observability/promql';
import {
  GENESIS_API_METRICS,
  GENESIS_DEFAULT_METRICS,
  queryableSeriesNames,
} from '../../src/observability/metric-names';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const file = join(__dirname, '../../deploy/prometheus/alerts.yml');
const doc = parse(readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const rules = doc.groups.flatMap((g) => g.rules);

describe('prometheus alert rules', () => {
  it('parses, and every rule has a name, an expression, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThan(0);
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(r.alert).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(typeof r.expr).toBe('string');
      expect(['warning', 'critical']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
      if (r.for) expect(r.for).toMatch(/^\d+[smh]$/);
    }
  });

  it('encodes the seed monitoring table', () => {
    const exprOf = (alert: string) => rules.find((r) => r.alert === alert)?.expr ?? '';
    expect(exprOf('GenesisTargetDown')).toContain('up');
    expect(exprOf('GenesisWorkerActivityErrorRate')).toMatch(/> 0\.01/);
    expect(exprOf('GenesisHeartbeatQueueDepth')).toBe('genesis_heartbeat_stream_length > 1000');
    expect(exprOf('GenesisHighCpu')).toMatch(/genesis_process_cpu_seconds_total.*> 0\.8/);
    expect(exprOf('GenesisHeapNearLimit')).toMatch(/> 0\.85/);
    expect(exprOf('GenesisHeartbeatsSilent')).toContain('genesis_heartbeats_accepted_total');
    expect(exprOf('GenesisHeartbeatsStale')).toMatch(/genesis_fleet_stale_fraction/);
  });

  it('alerts when a Schedule (watchdog, fleet probe, ...) has not run for 3 periods', () => {
    const r = rules.find((x) => x.alert === 'GenesisScheduleNotRunning');
    expect(r?.expr).toMatch(
      /time\(\) - max by \(schedule\) \(genesis_schedule_last_run_timestamp_seconds\)\s+> 3 \* max by \(schedule\) \(genesis_schedule_period_seconds\)/,
    );
    expect(r?.labels?.severity).toBe('critical');
  });

  it('uses only metric names the control plane exports', () => {
    const known = queryableSeriesNames();
    for (const r of rules) {
      const used = metricNamesIn(r.expr);
      expect({ alert: r.alert, used: used.length > 0 }).toEqual({ alert: r.alert, used: true });
      for (const name of used)
        expect({ alert: r.alert, name, known: known.has(name) }).toMatchObject({ known: true });
    }
  });

  it('finds metric names and nothing else in PromQL', () => {
    expect(
      metricNamesIn(
        'sum by (job, instance) (rate(a_total{job=~"x|y"}[5m])) / on(instance) group_left b_count > 1e-9 and c',
      ),
    ).toEqual(['a_total', 'b_count', 'c']);
  });

  it('the metric-name list matches the registry src/metrics.ts builds', async () => {
    const unreachable = {
      xlen: async () => Promise.reject(new Error('no redis in unit tests')),
      call: async () => Promise.reject(new Error('no redis in unit tests')),
      hgetall: async () => Promise.reject(new Error('no redis in unit tests')),
      xrange: async () => Promise.reject(new Error('no redis in unit tests')),
    } as unknown as Redis;
    const { registry } = createMetrics({
      redis: unreachable,
      stream: { key: 'k', group: 'g' },
      backlogAlert: 1000,
      pool: { query: async () => Promise.reject(new Error('no postgres in unit tests')) } as unknown as Pool,
      shared: new SharedMetrics(unreachable, 'test:'),
    });
    const exported = (await registry.getMetricsAsJSON()).map((m) => `${m.name} ${m.type}`).sort();
    const listed = [...GENESIS_API_METRICS, ...GENESIS_DEFAULT_METRICS]
      .map((m) => `${m.name} ${m.type}`)
      .sort();
    expect(listed).toEqual(exported);
  });
});
