/**
 * The fleet probe's metrics as /metrics serves them: the latency histogram assembled from the
 * workers' shared counters (cumulative buckets in order, sum, count), the schedule gauges.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { createMetrics } from '../../src/metrics';
import { SHARED, SharedMetrics } from '../../src/observability/shared-metrics';
import { recordScheduleRun } from '../../src/observability/schedule-runs';

/** A Redis with just the two hashes SharedMetrics writes and the API reads. */
function fakeRedis() {
  const hashes = new Map<string, Map<string, string>>();
  const h = (k: string) => hashes.get(k) ?? hashes.set(k, new Map()).get(k)!;
  return {
    hincrbyfloat: async (k: string, f: string, by: number) => {
      h(k).set(f, String(Number(h(k).get(f) ?? 0) + by));
    },
    hset: async (k: string, f: string, v: number) => void h(k).set(f, String(v)),
    hgetall: async (k: string) => Object.fromEntries(h(k)),
    xrange: async () => [],
    xlen: async () => 0,
    call: async () => Promise.reject(new Error('not here')),
  } as unknown as Redis;
}

it('serves the probe latency histogram and the schedule gauges from the shared counters', async () => {
  const redis = fakeRedis();
  const shared = new SharedMetrics(redis, 't:');
  // two probes: 0.02 s and 0.3 s, as activities/fleet-probe.ts observes them
  for (const [le, n] of [
    ['0.025', 1],
    ['0.05', 1],
    ['0.1', 1],
    ['0.25', 1],
    ['0.5', 2],
    ['1', 2],
    ['2.5', 2],
    ['5', 2],
    ['10', 2],
    ['+Inf', 2],
  ] as const)
    shared.inc(SHARED.probeLatencyBucket, { le }, n);
  shared.inc(SHARED.probeLatencyCount, {}, 2);
  shared.inc(SHARED.probeLatencySum, {}, 0.32);
  recordScheduleRun(shared, 'fleet_probe', 300, 1_700_000_000_000);
  await new Promise((r) => setImmediate(r));
  const { registry } = createMetrics({
    redis,
    stream: { key: 'k', group: 'g' },
    backlogAlert: 1000,
    defaultMetrics: false,
    pool: { query: async () => Promise.reject(new Error('no postgres here')) } as unknown as Pool,
    shared,
  });
  const text = await registry.metrics();
  const lines = text.split('\n').filter((l) => l.startsWith('genesis_probe_latency_seconds'));
  expect(lines).toEqual([
    'genesis_probe_latency_seconds_bucket{le="0.01"} 0',
    'genesis_probe_latency_seconds_bucket{le="0.025"} 1',
    'genesis_probe_latency_seconds_bucket{le="0.05"} 1',
    'genesis_probe_latency_seconds_bucket{le="0.1"} 1',
    'genesis_probe_latency_seconds_bucket{le="0.25"} 1',
    'genesis_probe_latency_seconds_bucket{le="0.5"} 2',
    'genesis_probe_latency_seconds_bucket{le="1"} 2',
    'genesis_probe_latency_seconds_bucket{le="2.5"} 2',
    'genesis_probe_latency_seconds_bucket{le="5"} 2',
    'genesis_probe_latency_seconds_bucket{le="10"} 2',
    'genesis_probe_latency_seconds_bucket{le="+Inf"} 2',
    'genesis_probe_latency_seconds_sum 0.32',
    'genesis_probe_latency_seconds_count 2',
  ]);
  expect(text).toContain('# TYPE genesis_probe_latency_seconds histogram');
  expect(text).toContain('genesis_schedule_last_run_timestamp_seconds{schedule="fleet_probe"} 1700000000');
  expect(text).toContain('genesis_schedule_period_seconds{schedule="fleet_probe"} 300');
});
