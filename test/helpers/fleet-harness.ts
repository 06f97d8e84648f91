/**
 * Everything a fleet test needs, real where it can be: a migrated database, a Redis prefix, the
 * API (heartbeat ingest) on a port, the fleet simulator sending heartbeats to it, a worker on the
 * dev server with real activities (DigitalOcean client -> simulator through the Redis budget,
 * sidecar client with a real RS256 key), the heartbeat drain, and a webhook receiver for alerts.
 */
import { createServer, type Server } from 'node:http';
import type { ActivityDeps } from '../../activities';
import { AlertNotifier } from '../../src/alerts/channels';
import { alertSink } from '../../src/alerts/sink';
import { WebhookChannel } from '../../src/alerts/webhook';
import { DigitalOceanBudget } from '../../src/digitalocean/budget';
import { DigitalOceanClient } from '../../src/digitalocean/client';
import { heartbeatStreamNames } from '../../src/heartbeats/stream';
import { createRedis } from '../../src/redis';
import { SidecarClient } from '../../src/sidecar/client';
import { DEFAULT_SIMULATOR_TOKEN } from '../../src/simulator/digitalocean';
import {
  createFleetSimulator,
  type FleetSimulator,
  type FleetSimulatorOptions,
} from '../../src/simulator/fleet';
import { temporalRemediationNotifier } from '../../src/temporal/remediation-notifier';
import { heartbeatDrainContract, type HeartbeatDrainWorkflow } from '../../contracts';
import { startOptions } from '../../src/temporal/start';
import { createTestDatabase, type TestDatabase } from './db';
import { ingestApp } from './ingest-app';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from './redis';
import {
  connectTestTemporal,
  startTestWorker,
  testLogger,
  uniqueTaskQueue,
  type TestTemporal,
} from './temporal';
import { rsaTestKeys } from './keys';
import { runCli } from './processes';
import { workerEnv } from './worker-env';
import type { CohortSettings } from '../../src/digitalocean/cohorts';
import { createPowerCohorts } from '../../src/worker/power-cohorts';

/** Power timings short enough for tests on the harness's simulators (boots and actions in 0.3-0.4 s). */
export const harnessPowerTimings = {
  verifyWindowMs: 3_000,
  verifyPollMs: 300,
  actionTimeoutMs: 10_000,
  actionPollMs: 200,
  actionFirstLookMs: 1_000,
};

/** The v1 agents' SIDECAR_HANDSHAKE_SECRET in harness tests. */
export const HARNESS_HANDSHAKE_SECRET = 'harness-handshake-secret-0123456789';

export interface ReceivedAlert {
  key: string;
  status: string;
  severity: string;
  [k: string]: unknown;
}

export interface FleetHarness {
  db: TestDatabase;
  redis: TestRedis;
  temporal: TestTemporal;
  taskQueue: string;
  fleet: FleetSimulator;
  apiUrl: string;
  privateKeyPem: string;
  alerts: ReceivedAlert[];
  deps: ActivityDeps;
  startWorker(): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}

export async function createFleetHarness(
  name: string,
  opts: Partial<FleetSimulatorOptions> & {
    worker?: boolean;
    /** wire the power cohort batcher with these settings (none: every power action is single) */
    cohorts?: Partial<CohortSettings>;
  } = {},
): Promise<FleetHarness> {
  const cleanup: (() => Promise<unknown>)[] = [];
  const privateKeyPem = rsaTestKeys().privatePem;
  const db = await createTestDatabase({ poolMax: 10 });
  cleanup.unshift(() => db.drop());
  const r = await createTestRedis();
  cleanup.unshift(() => r.cleanup());
  const temporal = await connectTestTemporal();
  cleanup.unshift(() => temporal.close());
  const taskQueue = uniqueTaskQueue(name);
  const stream = heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');

  // Alerts arrive at a local receiver through the real signed-webhook channel.
  const alerts: ReceivedAlert[] = [];
  const receiver: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      try {
        const parsed = JSON.parse(body) as { alert?: ReceivedAlert } & ReceivedAlert;
        alerts.push(parsed.alert ?? parsed);
      } catch {
        /* ignore */
      }
      res.writeHead(200).end('{}');
    });
  });
  cleanup.unshift(() => new Promise((res) => receiver.close(res)));
  const receiverUrl = `http://127.0.0.1:${await listen(receiver)}/alerts`;

  // The API: heartbeat ingest for the simulated sidecars.
  const apiRedis = createRedis(TEST_REDIS_URL, testLogger);
  if (apiRedis.status !== 'ready') await new Promise((res) => apiRedis.once('ready', res));
  cleanup.unshift(async () => apiRedis.disconnect());
  const app = ingestApp({
    redis: apiRedis,
    stream,
    pool: db.pool,
    logger: testLogger,
    handshakeSecret: HARNESS_HANDSHAKE_SECRET,
    workspaces: { negativeTtlMs: 200 },
  });
  const api = createServer(app);
  cleanup.unshift(() => new Promise((res) => api.close(res)));
  const apiUrl = `http://127.0.0.1:${await listen(api)}`;

  const fleet = await createFleetSimulator({
    jwtPrivateKey: privateKeyPem,
    dashboardUrl: apiUrl,
    handshakeSecret: HARNESS_HANDSHAKE_SECRET,
    heartbeatIntervalMs: 1_000,
    bootDelayMs: 300,
    actionDelayMs: 400,
    logger: testLogger,
    ...opts,
  });
  cleanup.unshift(() => fleet.close());

  const deps: ActivityDeps = {
    pool: db.pool,
    redis: r.redis,
    logger: testLogger,
    heartbeatStream: stream,
    heartbeatRetentionDays: 7,
    remediation: temporalRemediationNotifier(temporal.client, testLogger),
    digitalocean: new DigitalOceanClient({
      baseUrl: fleet.digitalocean.url,
      token: DEFAULT_SIMULATOR_TOKEN,
      budget: new DigitalOceanBudget({ redis: r.redis, keyPrefix: r.prefix, token: DEFAULT_SIMULATOR_TOKEN }),
      logger: testLogger,
      userAgent: 'genesis-control-plane/test',
      baseBackoffMs: 50,
      maxBackoffMs: 500,
    }),
    sidecar: new SidecarClient({ privateKey: privateKeyPem, logger: testLogger, timeoutMs: 2_000 }),
    temporal: { client: temporal.client, taskQueue },
    alerts: alertSink(
      db.pool,
      new AlertNotifier(
        [new WebhookChannel({ url: receiverUrl, secret: 'webhook-secret-for-tests' })],
        testLogger,
      ),
    ),
  };

  if (opts.cohorts)
    deps.powerCohorts = createPowerCohorts(deps, { logger: testLogger, settings: opts.cohorts });

  const startWorker = async () => {
    const w = await startTestWorker(temporal, { taskQueue, deps });
    const drain = await temporal.client.workflow.start<HeartbeatDrainWorkflow>(
      heartbeatDrainContract.workflowType,
      startOptions(
        heartbeatDrainContract,
        { consumer: 'drain-0', activityRunMs: 30_000, blockMs: 200, heartbeatTimeoutMs: 5_000 },
        { taskQueue },
      ),
    );
    return {
      async stop() {
        await drain.terminate('test over').catch(() => undefined);
        await w.stop();
      },
    };
  };

  return {
    db,
    redis: r,
    temporal,
    taskQueue,
    fleet,
    apiUrl,
    privateKeyPem,
    alerts,
    deps,
    startWorker,
    async close() {
      for (const c of cleanup) await c().catch(() => undefined);
    },
  };
}

/** The operator's view: runs genesis-cp (built) against the harness's database and task queue. */
export function harnessCli(
  h: FleetHarness,
): (...args: string[]) => Promise<{ code: number | null; out: string }> {
  return async (...args) => {
    const run = runCli(args, {
      DATABASE_URL: h.db.url,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
    });
    const code = await run.exited;
    return { code, out: run.output() };
  };
}

/** Environment of a real `genesis-cp worker` process wired to a harness (extra wins). */
export function harnessWorkerEnv(
  h: FleetHarness,
  extra: Record<string, string> = {},
): Record<string, string> {
  return workerEnv(
    {
      databaseUrl: h.db.url,
      redisPrefix: h.redis.prefix,
      taskQueue: h.taskQueue,
      digitaloceanUrl: h.fleet.digitalocean.url,
      digitaloceanToken: DEFAULT_SIMULATOR_TOKEN,
      privateKeyPem: h.privateKeyPem,
    },
    {
      WATCHDOG_ENABLED: 'false',
      PROBE_ENABLED: 'false',
      WORKER_SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'info',
      ...extra,
    },
  );
}

export async function lifecyclePath(db: TestDatabase, dropletId: number): Promise<string[]> {
  const { rows } = await db.pool.query<{ to_state: string }>(
    `SELECT to_state FROM droplet_lifecycle_log WHERE droplet_id = $1 ORDER BY id`,
    [dropletId],
  );
  return rows.map((r) => r.to_state);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}
