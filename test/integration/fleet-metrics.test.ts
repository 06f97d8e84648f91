/**
 * The fleet's metrics on /metrics, from real Postgres and Redis, written by the real code paths:
 * the drain activity (batches, outcomes), a power transition that ends a remediation, the
 * DigitalOcean client of a worker's dependencies talking to the simulator (answers by status,
 * budget left), plus droplets, the latest watchdog run, a running rollout and open alerts in
 * Postgres. Scraped twice: the counters move with the work in between.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createMetrics } from '../../src/metrics';
import { fromNative, type NativeHeartbeat } from '../../src/heartbeats/heartbeat';
import { appendHeartbeats, heartbeatStreamNames } from '../../src/heartbeats/stream';
import { SharedMetrics } from '../../src/observability/shared-metrics';
import { createDigitalOceanSimulator, DEFAULT_SIMULATOR_TOKEN } from '../../src/simulator/digitalocean';
import { buildActivityDeps } from '../../src/worker/deps';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { nativeHeartbeat } from '../helpers/heartbeats';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import { eventually, testConfig, testLogger } from '../helpers/temporal';
import type { Client } from '@temporalio/client';
import { rsaTestKeys } from '../helpers/keys';

jest.setTimeout(60_000);

describe('fleet metrics on /metrics', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let sim: Awaited<ReturnType<typeof createDigitalOceanSimulator>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    sim = await createDigitalOceanSimulator({ actionDelayMs: 100 });
  });
  afterAll(async () => {
    await sim?.close();
    await r?.cleanup();
    await db?.drop();
  });

  const value = (text: string, series: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('serves droplets, drain, remediations, DigitalOcean, watchdog, rollouts and alerts, and they move', async () => {
    const config = testConfig({
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: r.prefix,
      DIGITALOCEAN_API_URL: sim.url,
      DIGITALOCEAN_API_TOKEN: DEFAULT_SIMULATOR_TOKEN,
      SIDECAR_JWT_PRIVATE_KEY: rsaTestKeys().privatePem,
    });
    const deps = buildActivityDeps({
      config,
      logger: testLogger,
      pool: db.pool,
      redis: r.redis,
      client: {} as Client,
    });
    const stream = deps.heartbeatStream;
    const { registry } = createMetrics({
      redis: r.redis,
      stream,
      backlogAlert: 1000,
      defaultMetrics: false,
      pool: db.pool,
      shared: new SharedMetrics(r.redis, r.prefix),
      staleAfterS: 300,
    });

    // Postgres: 3 fresh, 2 stale, 1 hibernated, 1 waking; a watchdog run; a rollout; alerts
    const fresh = new Date();
    const old = new Date(Date.now() - 20 * 60_000);
    for (const id of [1, 2, 3]) await seedDroplet(db.pool, { id, lastHeartbeatAt: fresh });
    for (const id of [4, 5]) await seedDroplet(db.pool, { id, lastHeartbeatAt: old });
    await seedDroplet(db.pool, { id: 6, state: 'HIBERNATED', lastHeartbeatAt: old });
    await seedDroplet(db.pool, { id: 7, state: 'WAKING', lastHeartbeatAt: old });
    await db.pool.query(
      `INSERT INTO watchdog_runs (workflow_id, eligible, stale, breached, remediations_started, remediations_joined, braked, query_ms)
       VALUES ('watchdog-1', 5, 2, 1, 2, 0, false, 3.5)`,
    );
    await db.pool.query(
      `INSERT INTO rollouts (id, kind, target_version, spec, status, workflow_id, total_tenants, succeeded, failed)
       VALUES ('r-1', 'sidecar', '2.0.0', '{}', 'running', 'rollout-r-1', 100, 30, 2)`,
    );
    await db.pool.query(
      `INSERT INTO alerts (key, kind, severity, status, message) VALUES
         ('a1', 'scale', 'critical', 'open', 'x'), ('a2', 'scale', 'warning', 'open', 'y'),
         ('a3', 'scale', 'warning', 'resolved', 'z')`,
    );

    const first = await registry.metrics();
    expect(value(first, 'genesis_metrics_source_up{source="postgres"}')).toBe(1);
    expect(value(first, 'genesis_metrics_source_up{source="redis"}')).toBe(1);
    expect(value(first, 'genesis_droplets{state="ACTIVE_HEALTHY"}')).toBe(5);
    expect(value(first, 'genesis_droplets{state="HIBERNATED"}')).toBe(1);
    expect(value(first, 'genesis_droplets_heartbeat_stale')).toBe(2);
    expect(value(first, 'genesis_fleet_stale_fraction')).toBeCloseTo(0.4);
    expect(value(first, 'genesis_watchdog_stale_droplets')).toBe(2);
    expect(value(first, 'genesis_watchdog_remediations_started')).toBe(2);
    expect(value(first, 'genesis_watchdog_scan_duration_seconds')).toBeCloseTo(0.0035);
    expect(value(first, 'genesis_rollouts{status="running"}')).toBe(1);
    expect(value(first, 'genesis_rollout_tenants{rollout_id="r-1",state="succeeded"}')).toBe(30);
    expect(value(first, 'genesis_rollout_tenants{rollout_id="r-1",state="pending"}')).toBe(68);
    expect(value(first, 'genesis_alerts_open{severity="critical"}')).toBe(1);
    expect(value(first, 'genesis_alerts_open{severity="warning"}')).toBe(1);
    expect(value(first, 'genesis_drain_batches_total') ?? 0).toBe(0);

    // Work happens in "worker" code: heartbeats buffered and drained, a wake ends, DigitalOcean called
    const hb = (d: number) => fromNative(nativeHeartbeat(d, `ws-${d}`) as NativeHeartbeat);
    await appendHeartbeats(r.redis, stream, [hb(1), hb(2)]);
    await appendHeartbeats(r.redis, stream, [hb(999)]);
    await appendHeartbeats(r.redis, stream, [hb(3)]);
    await new Promise((res) => setTimeout(res, 1_100));
    const lagging = await registry.metrics();
    expect(value(lagging, 'genesis_drain_lag_seconds')).toBeGreaterThanOrEqual(1);

    const acts = createActivities(deps);
    await new MockActivityEnvironment().run(acts.drainHeartbeats, {
      consumer: 'metrics-test',
      runForMs: 600,
      batchSize: 100,
      blockMs: 50,
      claimIdleMs: 60_000,
    });
    await new MockActivityEnvironment().run(acts.transitionDroplet, {
      dropletId: 7,
      to: 'ACTIVE_HEALTHY' as const,
      cause: 'wake:admin_request:verified',
      workflowId: 'power-7',
    });
    sim.addDroplet({ id: 4242, name: 'm', status: 'active', tags: [] });
    await deps.digitalocean!.getDroplet(4242);
    await deps.digitalocean!.getDroplet(4243).catch(() => undefined); // 404

    // the shared counters are written fire-and-forget: wait until the last of them landed
    const second = await eventually(
      () => registry.metrics(),
      (m) =>
        value(m, 'genesis_drain_heartbeats_total{outcome="unknown_droplet"}') === 1 &&
        value(m, 'genesis_remediations_total{kind="wake",outcome="active_healthy"}') === 1 &&
        value(m, 'genesis_digitalocean_requests_total{account="default",status="404"}') === 1 &&
        value(m, 'genesis_digitalocean_budget_remaining{account="default",window="minute"}') !== undefined,
      { what: 'the shared counters written' },
    );
    expect(value(second, 'genesis_drain_batches_total')).toBeGreaterThanOrEqual(1);
    expect(value(second, 'genesis_drain_heartbeats_total{outcome="applied"}')).toBe(3);
    expect(value(second, 'genesis_drain_heartbeats_total{outcome="unknown_droplet"}')).toBe(1);
    expect(value(second, 'genesis_drain_lag_seconds')).toBe(0);
    // droplet 7 is ACTIVE again with its old heartbeat: stale until its next heartbeat
    expect(value(second, 'genesis_droplets_heartbeat_stale')).toBe(3);
    expect(value(second, 'genesis_remediations_total{kind="wake",outcome="active_healthy"}')).toBe(1);
    expect(value(second, 'genesis_digitalocean_requests_total{account="default",status="200"}')).toBe(1);
    expect(value(second, 'genesis_digitalocean_requests_total{account="default",status="404"}')).toBe(1);
    expect(value(second, 'genesis_digitalocean_ratelimit_remaining{account="default"}')).toBeGreaterThan(0);
    // a sample read after the first response, at most every 5 s: the second request may already
    // hold its slot when the read lands (seen on a loaded machine), so 249 or 248 of 250
    const remaining = value(
      second,
      'genesis_digitalocean_budget_remaining{account="default",window="minute"}',
    );
    expect([248, 249]).toContain(remaining);
    // the budget per account and lane: two reads in the default lane (remediation), neither waited
    const grants = await eventually(
      () => registry.metrics(),
      (m) => value(m, 'genesis_digitalocean_budget_grants_total{account="default",lane="remediation"}') === 2,
      { what: 'both grants counted' },
    );
    expect(
      value(grants, 'genesis_digitalocean_budget_waits_total{account="default",lane="remediation"}'),
    ).toBe(undefined);
    expect([1, 2]).toContain(
      value(grants, 'genesis_digitalocean_budget_used{account="default",lane="remediation",window="minute"}'),
    );
    expect(
      value(grants, 'genesis_digitalocean_budget_used{account="default",lane="bulk",window="hour"}'),
    ).toBe(0);
    expect(value(grants, 'genesis_digitalocean_budget_waiting{account="default",lane="interactive"}')).toBe(
      0,
    );
    expect(grants).not.toContain(DEFAULT_SIMULATOR_TOKEN);
  });

  it('keeps serving when Postgres is unreachable, and says so', async () => {
    const broken = { query: async () => Promise.reject(new Error('connection refused')) };
    const { registry } = createMetrics({
      redis: r.redis,
      stream: heartbeatStreamNames(r.prefix, 'heartbeats', 'drain'),
      backlogAlert: 1000,
      defaultMetrics: false,
      pool: broken as never,
      shared: new SharedMetrics(r.redis, r.prefix),
    });
    const text = await registry.metrics();
    expect(value(text, 'genesis_metrics_source_up{source="postgres"}')).toBe(0);
    expect(value(text, 'genesis_metrics_source_up{source="redis"}')).toBe(1);
  });
});
