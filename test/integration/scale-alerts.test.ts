/**
 * Scale alerts against real Postgres, Redis and the Temporal dev server. Thresholds are lowered
 * through the input where building the real number (12,000 partitions, 800 M rows) is infeasible;
 * the mechanism is real: pg_inherits partitions, planner estimates after ANALYZE, extra
 * connections in pg_stat_activity against the server's max_connections, Redis maxmemory.
 * Each probe alerts at the right severity, once however often it runs, and resolves.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import Redis from 'ioredis';
import { createScaleAlertActivities } from '../../activities/scale-alerts';
import type { ActivityDeps } from '../../activities/deps';
import { AlertNotifier } from '../../src/alerts/channels';
import { alertSink } from '../../src/alerts/sink';
import {
  resolveScaleInput,
  type ProbeEvaluation,
  type ProbeResult,
  type ScaleAlertConfig,
  type ScaleAlertInput,
  type ScaleProbeName,
} from '../../src/domain/scale';
import { appendHeartbeats, heartbeatStreamNames } from '../../src/heartbeats/stream';
import { ensureScaleAlertsSchedule } from '../../src/temporal/schedules';
import { scaleAlerts } from '../../workflows/scale-alerts';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import {
  connectTestTemporal,
  eventually,
  startTestWorker,
  testLogger,
  uniqueTaskQueue,
  type TestTemporal,
} from '../helpers/temporal';
import { throwawayRedis, type Throwaway } from '../helpers/throwaway';

jest.setTimeout(120_000);

describe('scale alerts', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let deps: ActivityDeps;
  const sent: string[] = [];
  const env = new MockActivityEnvironment();

  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 5 });
    r = await createTestRedis();
    const notifier = new AlertNotifier(
      [{ name: 'memory', send: async (a) => void sent.push(`${a.status}:${a.severity}:${a.key}`) }],
      testLogger,
    );
    deps = {
      pool: db.pool,
      redis: r.redis,
      logger: testLogger,
      heartbeatStream: heartbeatStreamNames(r.prefix, 'heartbeats', 'drain'),
      heartbeatRetentionDays: 7,
      remediation: { heartbeatsObserved: async () => undefined },
      alerts: alertSink(db.pool, notifier),
    };
  });
  afterAll(async () => {
    await r?.cleanup();
    await db?.drop();
  });

  type ProbeActivity =
    | 'scaleProbeLeadsPartitions'
    | 'scaleProbeEmailEventsRows'
    | 'scaleProbeConnections'
    | 'scaleProbeHeartbeatBacklog'
    | 'scaleProbeFleetStale'
    | 'scaleProbeRedisMemory';

  /** One probe activity then its evaluation, both through the real activities. */
  async function cycle(activity: ProbeActivity, input: ScaleAlertInput, d: ActivityDeps = deps) {
    const acts = createScaleAlertActivities(d);
    const cfg: ScaleAlertConfig = resolveScaleInput(input);
    const probe = (await env.run(acts[activity], cfg)) as ProbeResult;
    const evaluation = (await env.run(acts.evaluateScaleProbe, { probe, cfg })) as ProbeEvaluation;
    return { probe, ...evaluation };
  }
  const alertRows = async (probe: ScaleProbeName) =>
    (
      await db.pool.query<{ severity: string; status: string }>(
        'SELECT severity, status FROM alerts WHERE key = $1 ORDER BY id',
        [`scale:${probe}`],
      )
    ).rows;
  const notes = (probe: ScaleProbeName) => sent.filter((s) => s.endsWith(`:scale:${probe}`));

  it('leads partitions: not applicable without the table, warning, critical, once each, resolved', async () => {
    const input = { thresholds: { leads_partitions: { warning: 10, critical: 14 } } };
    const missing = await cycle('scaleProbeLeadsPartitions', input);
    expect(missing.probe).toMatchObject({ status: 'not_applicable', value: null });
    expect(missing.severity).toBeNull();

    await db.pool.query('CREATE TABLE public.leads (id bigint, tenant int) PARTITION BY LIST (tenant)');
    const addPartitions = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        await db.pool.query(`CREATE TABLE public.leads_p${i} PARTITION OF public.leads FOR VALUES IN (${i})`);
    };
    await addPartitions(0, 11);
    const warn1 = await cycle('scaleProbeLeadsPartitions', input);
    expect(warn1.probe).toMatchObject({ status: 'ok', value: 11, unit: 'partitions' });
    expect(warn1.probe.detail).toContain('maximum 15,000');
    expect(warn1).toMatchObject({ severity: 'warning', opened: true, notified: true });
    const warn2 = await cycle('scaleProbeLeadsPartitions', input);
    expect(warn2).toMatchObject({ severity: 'warning', opened: false, notified: false });
    expect(await alertRows('leads_partitions')).toEqual([{ severity: 'warning', status: 'open' }]);

    await addPartitions(11, 15);
    expect(await cycle('scaleProbeLeadsPartitions', input)).toMatchObject({ severity: 'critical' });
    expect(await cycle('scaleProbeLeadsPartitions', input)).toMatchObject({
      severity: 'critical',
      notified: false,
    });
    expect(await alertRows('leads_partitions')).toEqual([{ severity: 'critical', status: 'open' }]);

    for (let i = 4; i < 15; i++) await db.pool.query(`DROP TABLE public.leads_p${i}`);
    expect(await cycle('scaleProbeLeadsPartitions', input)).toMatchObject({ severity: null, resolved: true });
    expect(await alertRows('leads_partitions')).toEqual([{ severity: 'critical', status: 'resolved' }]);
    expect(notes('leads_partitions')).toEqual([
      'firing:warning:scale:leads_partitions',
      'firing:critical:scale:leads_partitions',
      'resolved:critical:scale:leads_partitions',
    ]);
  });

  it('email_events rows: the planner estimate after ANALYZE crosses and falls back', async () => {
    const input = { thresholds: { email_events_rows: { warning: 2_000, critical: 5_000 } } };
    expect((await cycle('scaleProbeEmailEventsRows', input)).probe.status).toBe('not_applicable');

    await db.pool.query(
      `CREATE TABLE public.email_events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
       CREATE TABLE public.email_events_2030_01 PARTITION OF public.email_events FOR VALUES FROM ('2030-01-01') TO ('2030-02-01');
       CREATE TABLE public.email_events_2030_02 PARTITION OF public.email_events FOR VALUES FROM ('2030-02-01') TO ('2030-03-01')`,
    );
    const insert = (n: number) =>
      db.pool.query(
        `INSERT INTO public.email_events SELECT g, DATE '2030-01-01' + (g % 50) FROM generate_series(1, $1) g`,
        [n],
      );
    await insert(3_000);
    // Not analyzed yet: the estimate does not see the rows (it is not a count(*)).
    const before = await cycle('scaleProbeEmailEventsRows', input);
    expect(before.probe.value).toBeLessThan(2_000);
    expect(before.severity).toBeNull();

    await db.pool.query('ANALYZE public.email_events');
    const warn = await cycle('scaleProbeEmailEventsRows', input);
    expect(warn.probe.value).toBeGreaterThanOrEqual(2_000);
    expect(warn.probe.detail).toMatch(/planner estimate .*reltuples over 2 partitions.*not count\(\*\)/);
    expect(warn).toMatchObject({ severity: 'warning', opened: true });
    expect(await cycle('scaleProbeEmailEventsRows', input)).toMatchObject({
      severity: 'warning',
      opened: false,
    });

    await insert(3_000);
    await db.pool.query('ANALYZE public.email_events');
    expect(await cycle('scaleProbeEmailEventsRows', input)).toMatchObject({ severity: 'critical' });
    expect(await alertRows('email_events_rows')).toEqual([{ severity: 'critical', status: 'open' }]);

    await db.pool.query('TRUNCATE public.email_events');
    await db.pool.query('ANALYZE public.email_events');
    const cleared = await cycle('scaleProbeEmailEventsRows', input);
    expect(cleared.probe.value).toBe(0);
    expect(cleared).toMatchObject({ severity: null, resolved: true });
    expect(notes('email_events_rows')).toEqual([
      'firing:warning:scale:email_events_rows',
      'firing:critical:scale:email_events_rows',
      'resolved:critical:scale:email_events_rows',
    ]);
  });

  it('connections: extra connections cross a threshold computed from max_connections, closing them resolves', async () => {
    const max = Number((await db.pool.query('SHOW max_connections')).rows[0].max_connections);
    const base = await cycle('scaleProbeConnections', { thresholds: { db_connections: { warning: 100 } } });
    const used = Math.round((base.probe.value! * max) / 100);
    expect(base.probe.detail).toContain(`max_connections ${max}`);
    const input = {
      thresholds: {
        db_connections: { warning: ((used + 8) / max) * 100, critical: ((used + 25) / max) * 100 },
      },
    };
    const extra: PgClient[] = [];
    const open = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const c = new PgClient({ connectionString: db.url });
        await c.connect();
        extra.push(c);
      }
    };
    try {
      await open(12);
      expect(await cycle('scaleProbeConnections', input)).toMatchObject({
        severity: 'warning',
        opened: true,
      });
      expect(await cycle('scaleProbeConnections', input)).toMatchObject({
        severity: 'warning',
        opened: false,
      });
      await open(18);
      expect(await cycle('scaleProbeConnections', input)).toMatchObject({ severity: 'critical' });
    } finally {
      await Promise.all(extra.map((c) => c.end()));
    }
    await eventually(
      () => cycle('scaleProbeConnections', input),
      (c) => c.severity === null,
      { what: 'connections back below the warning' },
    );
    expect(await alertRows('db_connections')).toEqual([{ severity: 'critical', status: 'resolved' }]);
    expect(notes('db_connections')).toEqual([
      'firing:warning:scale:db_connections',
      'firing:critical:scale:db_connections',
      'resolved:critical:scale:db_connections',
    ]);
  });

  it('heartbeat backlog: above the threshold alerts once, drained resolves', async () => {
    const input = { thresholds: { heartbeat_backlog: { warning: 10 } } };
    for (let i = 0; i < 12; i++)
      await appendHeartbeats(r.redis, deps.heartbeatStream, [{ w: 'ws', t: Date.now() }]);
    expect(await cycle('scaleProbeHeartbeatBacklog', input)).toMatchObject({
      severity: 'warning',
      opened: true,
    });
    expect(await cycle('scaleProbeHeartbeatBacklog', input)).toMatchObject({
      severity: 'warning',
      opened: false,
    });
    await r.redis.del(deps.heartbeatStream.key);
    expect(await cycle('scaleProbeHeartbeatBacklog', input)).toMatchObject({
      severity: null,
      resolved: true,
    });
    expect(notes('heartbeat_backlog')).toHaveLength(2);
  });

  it('a still-open critical alert is re-notified after the renotify interval', async () => {
    const renotify = {
      ...deps,
      alerts: alertSink(
        db.pool,
        new AlertNotifier(
          [{ name: 'memory', send: async (a) => void sent.push(`${a.status}:${a.severity}:${a.key}`) }],
          testLogger,
        ),
        { renotifyAfterMs: 50 },
      ),
    };
    const input = { thresholds: { heartbeat_backlog: { warning: 5, critical: 10 } } };
    for (let i = 0; i < 12; i++)
      await appendHeartbeats(r.redis, deps.heartbeatStream, [{ w: 'ws', t: Date.now() }]);
    const first = await cycle('scaleProbeHeartbeatBacklog', input, renotify);
    expect(first).toMatchObject({ severity: 'critical', opened: true, notified: true });
    expect(await cycle('scaleProbeHeartbeatBacklog', input, renotify)).toMatchObject({ notified: false });
    await new Promise((res) => setTimeout(res, 120));
    expect(await cycle('scaleProbeHeartbeatBacklog', input, renotify)).toMatchObject({
      severity: 'critical',
      notified: true,
    });
    expect(await alertRows('heartbeat_backlog')).toEqual([
      { severity: 'warning', status: 'resolved' },
      { severity: 'critical', status: 'open' },
    ]);
    await r.redis.del(deps.heartbeatStream.key);
    expect(await cycle('scaleProbeHeartbeatBacklog', input, renotify)).toMatchObject({ resolved: true });
  });

  it('stale fleet fraction: not applicable without droplets, warning above 5 %, resolved', async () => {
    expect((await cycle('scaleProbeFleetStale', {})).probe.status).toBe('not_applicable');
    const old = new Date(Date.now() - 10 * 60_000);
    for (let i = 1; i <= 10; i++)
      await seedDroplet(db.pool, { id: i, lastHeartbeatAt: i === 1 ? old : new Date() });
    await seedDroplet(db.pool, { id: 11, state: 'HIBERNATED', lastHeartbeatAt: old }); // never stale
    const warn = await cycle('scaleProbeFleetStale', {}); // the production default 0.05
    expect(warn.probe.value).toBeCloseTo(0.1);
    expect(warn).toMatchObject({ severity: 'warning', opened: true });
    await db.pool.query('UPDATE droplets SET last_heartbeat_at = now() WHERE id = 1');
    expect(await cycle('scaleProbeFleetStale', {})).toMatchObject({ severity: null, resolved: true });
  });

  it('redis memory: unlimited is not applicable; used vs maxmemory alerts and resolves', async () => {
    const shared = await cycle('scaleProbeRedisMemory', {});
    if (((await r.redis.config('GET', 'maxmemory')) as string[])[1] === '0') {
      expect(shared.probe).toMatchObject({ status: 'not_applicable', value: null });
      expect(shared.severity).toBeNull();
    }
    let t: Throwaway | undefined;
    let own: Redis | undefined;
    try {
      t = await throwawayRedis();
      own = new Redis(t.url, { maxRetriesPerRequest: 2 });
      const d = { ...deps, redis: own };
      const usedMemory = async () => Number(/^used_memory:(\d+)/m.exec(await own!.info('memory'))![1]);
      await own.config('SET', 'maxmemory', String(Math.floor((await usedMemory()) / 0.88)));
      const warn = await cycle('scaleProbeRedisMemory', {}, d);
      expect(warn.probe.value).toBeGreaterThanOrEqual(80);
      expect(warn).toMatchObject({ severity: 'warning', opened: true });
      await own.config('SET', 'maxmemory', String(Math.floor((await usedMemory()) / 0.99)));
      expect(await cycle('scaleProbeRedisMemory', {}, d)).toMatchObject({ severity: 'critical' });
      await own.config('SET', 'maxmemory', String(1024 * 1024 * 1024));
      expect(await cycle('scaleProbeRedisMemory', {}, d)).toMatchObject({ severity: null, resolved: true });
    } finally {
      own?.disconnect();
      await t?.destroy();
    }
  });

  describe('on the Temporal dev server', () => {
    let t: TestTemporal;
    let worker: { stop(): Promise<void> };
    const taskQueue = uniqueTaskQueue('scale');

    beforeAll(async () => {
      t = await connectTestTemporal();
      worker = await startTestWorker(t, {
        taskQueue,
        deps: { ...deps, temporal: { client: t.client, taskQueue } },
      });
    });
    afterAll(async () => {
      await worker?.stop();
      await t?.close();
    });

    it('runs every probe in parallel, alerts once per key across runs, and reports the summary', async () => {
      // A failed workflow on this task queue: a scaleAlerts run with bad input (non-retryable).
      await expect(
        t.client.workflow.execute(scaleAlerts, {
          taskQueue,
          workflowId: `scale-bad-${Date.now()}`,
          args: [{ leadsTable: 'Robert"); DROP TABLE leads;--' }],
        }),
      ).rejects.toThrow();
      await eventually(
        async () =>
          (await t.client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Failed"`)).count,
        (n) => n === 1,
        { what: 'the failed run in visibility' },
      );
      for (let i = 15; i < 25; i++)
        await db.pool.query(`CREATE TABLE public.leads_p${i} PARTITION OF public.leads FOR VALUES IN (${i})`);
      const input: ScaleAlertInput = { thresholds: { leads_partitions: { warning: 10, critical: 14 } } };
      const before = sent.length;
      const run = (n: number) =>
        t.client.workflow.execute(scaleAlerts, {
          taskQueue,
          workflowId: `scale-run-${n}-${Date.now()}`,
          args: [input],
        });
      const first = await run(1);
      const second = await run(2);

      expect(first.errors).toEqual([]);
      expect(first.probes.map((p) => p.name).sort()).toEqual(
        [
          'db_connections',
          'db_size',
          'email_events_rows',
          'fleet_stale_fraction',
          'heartbeat_backlog',
          'leads_partitions',
          'redis_memory',
          'temporal_failed_ratio',
          'temporal_task_queue_backlog',
        ].sort(),
      );
      const byName = (s: typeof first, n: ScaleProbeName) => s.probes.find((p) => p.name === n)!;
      expect(byName(first, 'leads_partitions')).toMatchObject({ value: 14, severity: 'critical' });
      // Server 1.29 reports task-queue stats.
      expect(byName(first, 'temporal_task_queue_backlog')).toMatchObject({ status: 'ok' });
      // 1 failed of the runs closed in the window: above 1 %.
      expect(byName(first, 'temporal_failed_ratio')).toMatchObject({ status: 'ok', severity: 'warning' });
      expect(byName(first, 'temporal_failed_ratio').value).toBeGreaterThan(0.01);
      expect(byName(first, 'db_size')).toMatchObject({ status: 'ok', severity: null });
      expect(byName(first, 'db_size').detail).toContain('largest tables');
      expect(first.opened).toBe(2);
      expect(second.opened).toBe(0);
      expect(second.errors).toEqual([]);
      expect(byName(second, 'leads_partitions')).toMatchObject({ severity: 'critical' });
      expect(sent.slice(before)).toEqual(
        expect.arrayContaining([
          'firing:critical:scale:leads_partitions',
          'firing:warning:scale:temporal_failed_ratio',
        ]),
      );
      expect(sent.length - before).toBe(2); // the second run notified nothing
      const open = await db.pool.query(
        `SELECT key, count(*)::int AS n FROM alerts WHERE status = 'open' AND kind = 'scale' GROUP BY key ORDER BY key`,
      );
      expect(open.rows).toEqual([
        { key: 'scale:leads_partitions', n: 1 },
        { key: 'scale:temporal_failed_ratio', n: 1 },
      ]);
    });

    it('task-queue backlog: workflows waiting on a queue nobody polls cross the threshold', async () => {
      const idle = uniqueTaskQueue('scale-idle');
      const d = { ...deps, temporal: { client: t.client, taskQueue } };
      const acts = createScaleAlertActivities(d);
      const cfg = resolveScaleInput({
        taskQueue: idle,
        thresholds: { temporal_task_queue_backlog: { warning: 3 } },
      });
      const handles = await Promise.all(
        [0, 1, 2, 3, 4].map((i) =>
          t.client.workflow.start(scaleAlerts, {
            taskQueue: idle,
            workflowId: `scale-idle-${i}-${idle}`,
            args: [{}],
          }),
        ),
      );
      try {
        const probe = await eventually(
          () => env.run(acts.scaleProbeTemporalBacklog, cfg) as Promise<ProbeResult>,
          (p) => (p.value ?? 0) >= 5,
          { what: 'the backlog of the idle queue' },
        );
        expect(probe).toMatchObject({ status: 'ok', unit: 'tasks' });
        const e = (await env.run(acts.evaluateScaleProbe, { probe, cfg })) as ProbeEvaluation;
        expect(e).toMatchObject({
          key: 'scale:temporal_task_queue_backlog',
          severity: 'warning',
          opened: true,
        });
      } finally {
        await Promise.all(handles.map((h) => h.terminate('test over')));
      }
      // Tasks of terminated workflows stay in the backlog until a poller takes (and drops) them.
      const poller = await startTestWorker(t, { taskQueue: idle, deps: d });
      let drained: ProbeResult;
      try {
        drained = await eventually(
          () => env.run(acts.scaleProbeTemporalBacklog, cfg) as Promise<ProbeResult>,
          (p) => p.value === 0,
          { what: 'the idle queue drained' },
        );
      } finally {
        await poller.stop();
      }
      const e = (await env.run(acts.evaluateScaleProbe, { probe: drained, cfg })) as ProbeEvaluation;
      expect(e).toMatchObject({ severity: null, resolved: true });
    });

    it('creates the Schedule with overlap SKIP and updates it in place', async () => {
      const id = await ensureScaleAlertsSchedule(t.client, { taskQueue, paused: true });
      expect(id).toBe(`scale-alerts/${taskQueue}`);
      try {
        const d1 = await t.client.schedule.getHandle(id).describe();
        expect(d1.spec.intervals?.[0]?.every).toBe(15 * 60 * 1000);
        expect(d1.policies.overlap).toBe('SKIP');
        expect(d1.action).toMatchObject({ workflowType: 'scaleAlerts', taskQueue });
        await ensureScaleAlertsSchedule(t.client, { taskQueue, everyMs: 5 * 60 * 1000, paused: true });
        const d2 = await t.client.schedule.getHandle(id).describe();
        expect(d2.spec.intervals?.[0]?.every).toBe(5 * 60 * 1000);
        expect(d2.policies.overlap).toBe('SKIP');
      } finally {
        await t.client.schedule.getHandle(id).delete();
      }
    });
  });
});
