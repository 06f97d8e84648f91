/**
 * Failure tests of the heartbeat pipeline. Nothing a client was told was accepted (202) may be lost:
 *   - the worker process is SIGKILLed while 100,000 heartbeats are in flight, then restarted;
 *   - Postgres (a throwaway instance) is stopped for 30 s under load, then started again.
 * Both check every acknowledged heartbeat against Postgres: the newest one per droplet is the
 * droplet's latest state, and every acknowledged heartbeat is a history row.
 */
import type { Server } from 'node:http';
import { Pool } from 'pg';
import { createApp } from '../../src/api/app';
import { HealthChecker } from '../../src/api/health';
import { postgresCheck, redisCheck } from '../../src/api/health-checks';
import { migrate } from '../../src/db/migrate';
import { heartbeatStreamNames, streamBacklog } from '../../src/heartbeats/stream';
import { HeartbeatTokenVerifier, issueHeartbeatToken } from '../../src/heartbeats/tokens';
import { createRedis } from '../../src/redis';
import { heartbeatDrain } from '../../workflows/heartbeat-drain';
import { heartbeatDrainContract, workflowIds } from '../../contracts';
import { startOptions } from '../../src/temporal/start';
import { createTestDatabase, databaseUrl, schemaPool, TEST_SCHEMA, type TestDatabase } from '../helpers/db';
import { nativeHeartbeat, post } from '../helpers/heartbeats';
import { runCli, type ChildRun } from '../helpers/processes';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import {
  connectTestTemporal,
  eventually,
  startTestWorker,
  testLogger,
  uniqueTaskQueue,
  type TestTemporal,
} from '../helpers/temporal';
import { throwawayPostgres, type Throwaway } from '../helpers/throwaway';
import { rsaTestKeys } from '../helpers/keys';

jest.setTimeout(180_000);

/** Seeds droplets with tokens. */
async function seedFleet(pool: Pool, n: number, firstId: number): Promise<Map<number, string>> {
  const ids = Array.from({ length: n }, (_, i) => firstId + i);
  await pool.query(`INSERT INTO workspaces (id) SELECT 'ws-' || x FROM unnest($1::bigint[]) x`, [ids]);
  await pool.query(
    `INSERT INTO droplets (id, workspace_id, state) SELECT x, 'ws-' || x, 'ACTIVE_HEALTHY' FROM unnest($1::bigint[]) x`,
    [ids],
  );
  const tokens = new Map<number, string>();
  for (const id of ids) tokens.set(id, await issueHeartbeatToken(pool, id));
  return tokens;
}

/** The acknowledged record: per droplet, the newest accepted timestamp; plus the total accepted. */
class Acknowledged {
  newest = new Map<number, number>();
  total = 0;
  add(dropletId: number, ts: number[]) {
    this.total += ts.length;
    this.newest.set(dropletId, Math.max(this.newest.get(dropletId) ?? 0, ...ts));
  }
}

async function verifyNothingLost(pool: Pool, acked: Acknowledged): Promise<void> {
  const { rows } = await pool.query<{ id: string; last: Date }>(
    `SELECT id, last_heartbeat_at AS last FROM droplets`,
  );
  const stored = new Map(rows.map((r) => [Number(r.id), r.last?.getTime() ?? 0]));
  const wrong = [...acked.newest].filter(([id, ts]) => stored.get(id) !== ts);
  expect(wrong.slice(0, 5)).toEqual([]);
  const history = (await pool.query(`SELECT count(*)::int AS n FROM heartbeat_history`)).rows[0].n;
  expect(history).toBe(acked.total);
}

async function runPool<T>(items: T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function startApi(pool: Pool, prefix: string, extraHealth = false) {
  const redis = createRedis(TEST_REDIS_URL, testLogger);
  const health = new HealthChecker(
    {
      temporal: async () => undefined,
      redis: redisCheck(redis),
      postgres: postgresCheck(pool),
      worker: async () => undefined,
    },
    { version: 't', timeoutMs: 1_000 },
  );
  const app = createApp({
    logger: testLogger,
    health,
    heartbeats: {
      redis,
      stream: heartbeatStreamNames(prefix, 'heartbeats', 'drain'),
      verifier: new HeartbeatTokenVerifier(pool, {
        ttlMs: 10 * 60_000,
        negativeTtlMs: 1_000,
        maxEntries: 100_000,
      }),
      maxPerRequest: 100,
      bodyLimitBytes: 1_000_000,
      logger: testLogger,
    },
  });
  const server: Server = app.listen(0);
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  void extraHealth;
  return {
    base,
    async close() {
      await new Promise((r) => server.close(r));
      redis.disconnect();
    },
  };
}

describe('heartbeat pipeline under failure', () => {
  let t: TestTemporal;
  let r: TestRedis;
  beforeAll(async () => {
    t = await connectTestTemporal();
    r = await createTestRedis();
  });
  afterAll(async () => {
    await t.close();
    await r.cleanup();
  });

  it('loses nothing acknowledged when the worker is SIGKILLed with 100,000 heartbeats in flight', async () => {
    const db: TestDatabase = await createTestDatabase({ poolMax: 10 });
    const taskQueue = uniqueTaskQueue('sigkill');
    const key = rsaTestKeys().privatePem;
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: r.prefix,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_METRICS_PORT: '0',
      DIGITALOCEAN_API_TOKEN: 'test',
      SIDECAR_JWT_PRIVATE_KEY: key.toString(),
      LOG_LEVEL: 'info',
    };
    const api = startApi(db.pool, r.prefix);
    let worker: ChildRun | undefined;
    try {
      const tokens = await seedFleet(db.pool, 1_000, 10_000);
      // The drain with a short heartbeat timeout, so the dead worker's activity is retried quickly;
      // on the queue its contract routes it to, so the worker's start joins it (USE_EXISTING).
      const drain = await t.client.workflow.start(
        heartbeatDrainContract.workflowType,
        startOptions(
          heartbeatDrainContract,
          { consumer: 'drain-0', activityRunMs: 60_000, heartbeatTimeoutMs: 3_000, blockMs: 500 },
          { taskQueue },
        ),
      );
      worker = runCli(['worker'], env);
      await worker.waitFor(/worker polling/);

      // 1,000 droplets x 100 heartbeats, as arrays of 100 (one request per droplet).
      const acked = new Acknowledged();
      const t0 = Date.now() - 3_600_000;
      let killedAt = -1;
      let sent = 0;
      await runPool([...tokens], 16, async ([id, token]) => {
        const ts = Array.from({ length: 100 }, (_, i) => t0 + i * 1000);
        const body = ts.map((x) => nativeHeartbeat(id, `ws-${id}`, { timestamp: new Date(x).toISOString() }));
        const res = await post(`${api.base}/v1/heartbeats`, body, { authorization: `Bearer ${token}` });
        if (res.status === 202) acked.add(id, ts);
        sent++;
        if (sent === 400 && worker) {
          killedAt = sent;
          worker.child.kill('SIGKILL');
        }
      });
      expect(killedAt).toBe(400);
      expect(acked.total).toBe(100_000);
      await worker.exited;
      const backlog = await streamBacklog(r.redis, heartbeatStreamNames(r.prefix, 'heartbeats', 'drain'));
      expect(backlog.length).toBeGreaterThan(0); // work was left in flight

      worker = runCli(['worker'], env);
      await worker.waitFor(/worker polling/);
      await eventually(
        async () => (await db.pool.query(`SELECT count(*)::int AS n FROM heartbeat_history`)).rows[0].n,
        (n) => n >= acked.total,
        { timeoutMs: 90_000, what: 'all history rows' },
      );
      await verifyNothingLost(db.pool, acked);
      await drain.terminate('test over');
    } finally {
      await worker?.kill('SIGTERM');
      await api.close();
      await db.drop();
    }
  });

  it('loses nothing acknowledged when Postgres stops for 30 s under load, and reports degraded meanwhile', async () => {
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const pg: Throwaway = await throwawayPostgres();
      cleanup.unshift(() => pg.destroy());
      const admin = new Pool({ connectionString: pg.url, max: 1 });
      await admin.query('CREATE DATABASE fleet');
      await admin.end();
      const pool = schemaPool({
        connectionString: databaseUrl('fleet', pg.url),
        max: 5,
        connectionTimeoutMillis: 1_000,
      });
      pool.on('error', () => undefined);
      cleanup.unshift(() => pool.end());
      await migrate(pool, TEST_SCHEMA);
      const prefix = `${r.prefix}pg:`;
      const api = startApi(pool, prefix);
      cleanup.unshift(() => api.close());
      const taskQueue = uniqueTaskQueue('pgdown');
      const w = await startTestWorker(t, {
        taskQueue,
        deps: {
          pool,
          redis: r.redis,
          logger: testLogger,
          heartbeatStream: heartbeatStreamNames(prefix, 'heartbeats', 'drain'),
          heartbeatRetentionDays: 7,
          remediation: { heartbeatsObserved: async () => undefined },
        },
      });
      cleanup.unshift(() => w.stop());
      const tokens = await seedFleet(pool, 200, 50_000);
      const drain = await t.client.workflow.start(heartbeatDrain, {
        taskQueue,
        workflowId: workflowIds.heartbeatDrain(taskQueue, 0),
        args: [{ consumer: 'drain-0', activityRunMs: 60_000, heartbeatTimeoutMs: 5_000, blockMs: 300 }],
      });
      cleanup.unshift(() => drain.terminate('test over').catch(() => undefined));

      // Load for the whole test: 200 droplets, one heartbeat each per round (token cache warm, as
      // 60 s of real traffic would leave it).
      const acked = new Acknowledged();
      let stop = false;
      let rejected = 0;
      let tick = 0;
      const t0 = Date.now() - 3_600_000;
      const load = (async () => {
        while (!stop) {
          const ts = t0 + tick++ * 1000;
          await runPool([...tokens], 20, async ([id, token]) => {
            const res = await post(
              `${api.base}/v1/heartbeats`,
              nativeHeartbeat(id, `ws-${id}`, { timestamp: new Date(ts).toISOString() }),
              { authorization: `Bearer ${token}` },
            );
            if (res.status === 202) acked.add(id, [ts]);
            else rejected++;
          });
          await new Promise((res) => setTimeout(res, 200));
        }
      })();
      cleanup.unshift(async () => {
        stop = true;
        await load;
      });
      await eventually(
        async () => acked.total,
        (n) => n >= 1_000,
        { what: 'load started' },
      );

      await pg.stop();
      const downAt = Date.now();
      const health = await eventually(
        async () => {
          const res = await fetch(`${api.base}/health`);
          return {
            status: res.status,
            body: (await res.json()) as { status: string; checks: { postgres: { ok: boolean } } },
          };
        },
        (h) => h.body.status === 'degraded',
        { what: '/health degraded' },
      );
      expect(health.status).toBe(200);
      expect(health.body.checks.postgres.ok).toBe(false);
      const ackedBeforeOutage = acked.total;
      while (Date.now() - downAt < 30_000) await new Promise((res) => setTimeout(res, 1_000));
      expect(acked.total).toBeGreaterThan(ackedBeforeOutage + 1_000); // ingest kept accepting into Redis
      await pg.start();
      await new Promise((res) => setTimeout(res, 3_000));
      stop = true;
      await load;
      expect(rejected).toBe(0);

      await eventually(
        async () => (await pool.query(`SELECT count(*)::int AS n FROM heartbeat_history`)).rows[0].n,
        (n) => n >= acked.total,
        { timeoutMs: 60_000, what: 'drain caught up' },
      );
      await verifyNothingLost(pool, acked);
      const h = (await (await fetch(`${api.base}/health`)).json()) as { status: string };
      expect(h.status).toBe('healthy');
    } finally {
      for (const c of cleanup) await c().catch(() => undefined);
    }
  });
});
