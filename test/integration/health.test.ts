/**
 * /health and /ready against real dependencies, including ones that die and come back:
 * a throwaway Redis is killed and restarted on the same port; Postgres points at a dead port.
 */
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { createApp } from '../../src/api/app';
import { HealthChecker } from '../../src/api/health';
import { localWorkerCheck, postgresCheck, redisCheck, temporalCheck } from '../../src/api/health-checks';
import { heartbeatStreamNames } from '../../src/heartbeats/stream';
import { HeartbeatTokenVerifier } from '../../src/heartbeats/tokens';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/redis';
import { ADMIN_URL } from '../helpers/db';
import { freePort, throwawayRedis, type Throwaway } from '../helpers/throwaway';

const logger = createLogger({ level: 'silent' });

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

describe('/health and /ready', () => {
  let redisServer: Throwaway;
  let connection: Connection;
  let client: Client;
  let server: Server;
  let base: string;
  let pool: Pool;
  let deadPool: Pool;
  let postgresUrlIsDead = false;
  let workerState = 'RUNNING';
  let paused = false;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    redisServer = await throwawayRedis();
    const redis = createRedis(redisServer.url, logger);
    cleanups.push(() => redis.disconnect());
    pool = new Pool({ connectionString: ADMIN_URL, max: 2 });
    deadPool = new Pool({
      connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/x`,
      max: 1,
      connectionTimeoutMillis: 500,
    });
    deadPool.on('error', () => undefined);
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
    client = new Client({ connection });
    const health = new HealthChecker(
      {
        temporal: temporalCheck(client),
        redis: redisCheck(redis),
        postgres: () => postgresCheck(postgresUrlIsDead ? deadPool : pool)(),
        worker: localWorkerCheck(
          () => workerState,
          () => paused,
        ),
      },
      { version: '9.9.9-test', timeoutMs: 1_000, isPaused: () => paused },
    );
    const app = createApp({
      logger,
      health,
      isPaused: () => paused,
      heartbeats: {
        redis,
        stream: heartbeatStreamNames('gcp-health-test:', 'hb', 'g'),
        verifier: new HeartbeatTokenVerifier(pool),
        maxPerRequest: 10,
        bodyLimitBytes: 10_000,
        logger,
      },
    });
    server = app.listen(0);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    for (const c of cleanups) await c();
    await connection.close();
    await pool.end();
    await deadPool.end();
    await redisServer.destroy();
  });

  const health = async () => {
    const res = await fetch(`${base}/health`);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('is healthy when every dependency answers, and says nothing about configuration', async () => {
    const h = await until(health, (r) => r.status === 200 && r.body.status === 'healthy');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: 'healthy', version: '9.9.9-test' });
    expect(Object.keys(h.body.checks).sort()).toEqual(['postgres', 'redis', 'temporal', 'worker']);
    expect(typeof h.body.uptime_seconds).toBe('number');
    expect(JSON.stringify(h.body)).not.toMatch(/redis:\/\/|postgres:\/\//);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('answers 503 with checks.redis failing while Redis is down, and 200 again when it is back', async () => {
    await redisServer.stop();
    const down = await until(health, (r) => r.status === 503);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unhealthy');
    expect(down.body.checks.redis.ok).toBe(false);
    expect(down.body.checks.postgres.ok).toBe(true);
    expect((await fetch(`${base}/ready`)).status).toBe(503);

    await redisServer.start();
    const up = await until(health, (r) => r.status === 200 && r.body.status === 'healthy');
    expect(up.status).toBe(200);
    expect(up.body.checks.redis.ok).toBe(true);
  });

  it('is degraded (still 200) when Postgres is unreachable: heartbeats keep buffering', async () => {
    postgresUrlIsDead = true;
    try {
      const h = await health();
      expect(h.status).toBe(200);
      expect(h.body.status).toBe('degraded');
      expect(h.body.checks.postgres.ok).toBe(false);
      expect(h.body.checks.postgres.error).not.toMatch(/postgres:\/\//);
    } finally {
      postgresUrlIsDead = false;
    }
  });

  it('fails readiness but not liveness while the worker is paused', async () => {
    paused = true;
    try {
      const h = await health();
      expect(h.status).toBe(200);
      expect(h.body).toMatchObject({ status: 'degraded', paused: true });
      const ready = await fetch(`${base}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, paused: true });
    } finally {
      paused = false;
    }
    workerState = 'STOPPING';
    expect((await health()).body.checks.worker).toMatchObject({ ok: false, error: 'worker is STOPPING' });
    workerState = 'RUNNING';
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  });
});
