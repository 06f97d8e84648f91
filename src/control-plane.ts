/**
 * One control-plane process: the worker, the API, or both (`all`, the small-stage default).
 * Builds every dependency once, starts what the role needs, and stops it all in order on
 * SIGTERM/SIGINT: the API stops accepting, the worker stops polling and lets in-flight activities
 * finish within the grace time, then connections close.
 */
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { AlertNotifier, channelsFromConfig } from './alerts/channels';
import { alertSink } from './alerts/sink';
import { createApp } from './api/app';
import { DashboardRelay } from './api/dashboard-relay';
import { HealthChecker } from './api/health';
import { WorkspaceDirectory } from './heartbeats/workspace-directory';
import {
  localWorkerCheck,
  postgresCheck,
  redisCheck,
  taskQueuePollersCheck,
  temporalCheck,
  dashboardRelayCheck,
} from './api/health-checks';
import type { Config } from './config';
import { createPool } from './db/pool';
import { ensureDrainWorkflows } from './heartbeats/drain-starter';
import { bootstrapCurrentRelease } from './temporal/release';
import { heartbeatStreamNames } from './heartbeats/stream';
import { HeartbeatTokenVerifier } from './heartbeats/tokens';
import type { Logger } from './logger';
import { createRedis } from './redis';
import { temporalConnectionSettings } from './temporal/connection-options';
import { createMetrics } from './metrics';
import { timingsForHeartbeatTimeout } from './domain/power';
import { SharedMetrics } from './observability/shared-metrics';
import { AesGcmPayloadCodec, dataConverterFor } from './temporal/payload-codec';
import { recordSchedulePeriod } from './observability/schedule-runs';
import {
  ensureFleetProbeSchedule,
  ensurePowerScheduleSchedule,
  ensureReconcilerSchedule,
  ensureScaleAlertsSchedule,
  ensureWatchdogSchedule,
} from './temporal/schedules';
import { buildActivityDeps, withPowerCohorts } from './worker/deps';
import { groupPause } from './worker/pause-flag';
import { WorkerSupervisor } from './worker/supervisor';
import { installRuntime } from './worker/runtime';
import { connectWorker, createWorker } from './worker/worker';

export interface ControlPlane {
  port?: number;
  supervisor?: WorkerSupervisor;
  stop(): Promise<void>;
  /** Settles when the worker stops by itself (fatal error) or after stop(). */
  done: Promise<void>;
}

export async function startControlPlane(
  role: 'worker' | 'api' | 'all',
  config: Config,
  logger: Logger,
  opts: {
    installRuntime?: boolean;
    ensureDrain?: boolean;
    ensureSchedules?: boolean;
    pausePollMs?: number;
  } = {},
): Promise<ControlPlane> {
  const pool = createPool(config.database, logger, { max: config.database.poolMax });
  const redis = createRedis(config.redis.url, logger);
  /** the counters every process shares through Redis (schedule periods here, /metrics below) */
  const shared = new SharedMetrics(redis, config.redis.keyPrefix);
  const stream = heartbeatStreamNames(
    config.redis.keyPrefix,
    config.heartbeats.stream,
    config.heartbeats.consumerGroup,
  );
  // Lazy: the API comes up (and reports Temporal unhealthy) even while Temporal is unreachable.
  const connection = Connection.lazy({
    ...temporalConnectionSettings(config.temporal),
    connectTimeout: 5_000,
  });
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFor(config.codec.keys),
  });

  let supervisor: WorkerSupervisor | undefined;
  let nativeConnection: NativeConnection | undefined;
  const paused = () => supervisor?.isPaused() ?? false;

  if (role !== 'api') {
    if (opts.installRuntime !== false) installRuntime(logger, config.temporal.metricsPort);
    const connection = await connectWithRetry(() => connectWorker(config), logger);
    nativeConnection = connection;
    const alerts = alertSink(pool, new AlertNotifier(channelsFromConfig(config.alerts, { logger }), logger));
    // Each worker gets a signal aborted when it is told to stop (pause or shutdown), so the drain
    // returns at once instead of running out its grace time.
    let stopping = new AbortController();
    supervisor = new WorkerSupervisor({
      group: config.worker.group,
      logger,
      pollMs: opts.pausePollMs ?? 2_000,
      isPaused: async () =>
        (await groupPause(redis, config.redis.keyPrefix, config.worker.group)) !== undefined,
      beforeStop: () => stopping.abort(),
      create: () => {
        stopping = new AbortController();
        return createWorker({
          config,
          logger,
          connection,
          deps: withPowerCohorts(
            buildActivityDeps({ config, logger, pool, redis, client, alerts, shutdown: stopping.signal }),
            { config, logger, shutdown: stopping.signal },
          ),
        });
      },
    });
    await supervisor.start();
    logger.info(
      {
        taskQueue: config.temporal.taskQueue,
        group: config.worker.group,
        buildId: config.worker.buildId,
        state: supervisor.currentState(),
      },
      'worker supervisor started',
    );
    if (config.worker.versioning) {
      // Before the drain and schedules start workflows: with versioning on, a deployment with no
      // current version routes new workflows to nobody.
      const outcome = await bootstrapCurrentRelease(
        {
          client,
          pool,
          namespace: config.temporal.namespace,
          deploymentName: config.worker.deploymentName,
          identity: `worker:${config.worker.group}/${config.worker.buildId}/${process.pid}`,
        },
        config.worker.buildId,
      ).catch((err: unknown) => {
        logger.error(
          { err: (err as Error).message },
          'worker versioning: could not bootstrap a current version',
        );
        return 'failed';
      });
      logger.info(
        { deployment: config.worker.deploymentName, buildId: config.worker.buildId, outcome },
        'worker versioning',
      );
    }
    if (opts.ensureDrain !== false) {
      const drains = await ensureDrainWorkflows(client, {
        taskQueue: config.temporal.taskQueue,
        consumers: config.heartbeats.drainConsumers,
        batchSize: config.heartbeats.drainBatchSize,
      });
      logger.info(
        { workflowIds: drains.workflowIds, moved: drains.moved },
        'heartbeat drain workflows running',
      );
      if (drains.notMoved.length > 0)
        logger.warn(
          { workflowIds: drains.notMoved },
          'heartbeat drains told to move to their task queue did not close in time; they keep draining where they run',
        );
    }
    if (config.watchdog.enabled && opts.ensureSchedules !== false) {
      const w = config.watchdog;
      const scheduleId = await ensureWatchdogSchedule(client, {
        taskQueue: config.temporal.taskQueue,
        everyMs: w.intervalS * 1000,
        input: {
          heartbeatTimeoutS: w.heartbeatTimeoutS,
          stormFraction: w.stormFraction,
          stormMinStale: w.stormMinStale,
          maxStartsPerTick: w.maxStartsPerTick,
          transitionalDeadlineS: w.transitionalDeadlineS,
          thresholds: w.thresholds,
          heartbeatBacklogAlert: config.heartbeats.backlogAlert,
        },
      });
      recordSchedulePeriod(shared, 'watchdog', w.intervalS);
      logger.info({ scheduleId, everyS: w.intervalS }, 'watchdog schedule in place');
    }
    if (config.powerSchedule.enabled && opts.ensureSchedules !== false) {
      const p = config.powerSchedule;
      const scheduleId = await ensurePowerScheduleSchedule(client, {
        taskQueue: config.temporal.taskQueue,
        everyMs: p.intervalS * 1000,
        input: {
          maxStartsPerTick: p.maxStartsPerTick,
          timings: timingsForHeartbeatTimeout(config.watchdog.heartbeatTimeoutS),
          gracefulTimeoutMs: p.gracefulShutdownS * 1000,
        },
      });
      recordSchedulePeriod(shared, 'power_schedule', p.intervalS);
      logger.info({ scheduleId, everyS: p.intervalS }, 'power schedule reconciler in place');
    }
    if (config.probe.enabled && opts.ensureSchedules !== false) {
      const { enabled: _enabled, ...input } = config.probe;
      const scheduleId = await ensureFleetProbeSchedule(client, {
        taskQueue: config.temporal.taskQueue,
        input,
      });
      recordSchedulePeriod(shared, 'fleet_probe', input.periodS);
      logger.info({ scheduleId, everyS: input.periodS }, 'fleet probe schedule in place');
    }
    if (config.scaleAlerts.enabled && opts.ensureSchedules !== false) {
      const scheduleId = await ensureScaleAlertsSchedule(client, {
        taskQueue: config.temporal.taskQueue,
        everyMs: config.scaleAlerts.intervalS * 1000,
        input: config.scaleAlerts.input,
      });
      logger.info({ scheduleId, everyS: config.scaleAlerts.intervalS }, 'scale alerts schedule in place');
    }
    if (config.reconciler.enabled && opts.ensureSchedules !== false) {
      const { enabled: _on, intervalS, ...input } = config.reconciler;
      const scheduleId = await ensureReconcilerSchedule(client, {
        taskQueue: config.temporal.taskQueue,
        everyMs: intervalS * 1000,
        input,
      });
      recordSchedulePeriod(shared, 'reconciler', intervalS);
      logger.info({ scheduleId, everyS: intervalS }, 'reconciler schedule in place');
    }
  }

  let server: Server | undefined;
  let port: number | undefined;
  let stopRelay: (() => Promise<void> | undefined) | undefined;
  if (role !== 'worker') {
    const sup = supervisor;
    const metrics = createMetrics({
      redis,
      stream,
      backlogAlert: config.heartbeats.backlogAlert,
      pool,
      shared,
      staleAfterS: config.watchdog.heartbeatTimeoutS,
    });
    const relay = config.dashboardRelay.url
      ? new DashboardRelay({
          url: config.dashboardRelay.url,
          timeoutMs: config.dashboardRelay.timeoutMs,
          maxQueue: config.dashboardRelay.maxQueue,
          logger,
          onOutcome: (route, outcome) => metrics.relayOutcome(route, outcome),
        })
      : undefined;
    if (relay) metrics.watchRelay(() => relay.status());
    stopRelay = () => relay?.close();
    const health = new HealthChecker(
      {
        temporal: temporalCheck(client),
        redis: redisCheck(redis),
        postgres: postgresCheck(pool),
        worker: sup
          ? localWorkerCheck(() => sup.currentState(), paused)
          : taskQueuePollersCheck(client, config.temporal.namespace, config.temporal.taskQueue),
        ...(relay ? { dashboard_relay: dashboardRelayCheck(() => relay.status()) } : {}),
      },
      { version: config.version, timeoutMs: config.api.healthCheckTimeoutMs, isPaused: paused },
    );
    const app = createApp({
      logger,
      health,
      isPaused: paused,
      metrics: metrics.registry,
      codec: config.codec.keys
        ? {
            codec: new AesGcmPayloadCodec(config.codec.keys),
            token: config.codec.serverToken,
            corsOrigins: config.codec.corsOrigins,
            trustLoopbackUi: config.codec.trustLoopbackUi,
            oidc: config.codec.oidc,
            logger,
          }
        : undefined,
      heartbeats: {
        metrics: metrics.ingest,
        redis,
        stream,
        verifier: new HeartbeatTokenVerifier(pool),
        maxPerRequest: config.heartbeats.maxPerRequest,
        bodyLimitBytes: config.heartbeats.bodyLimitBytes,
        logger,
      },
      sidecar: {
        metrics: metrics.ingest,
        redis,
        stream,
        handshakeSecret: config.sidecar.handshakeSecret,
        workspaces: new WorkspaceDirectory(pool),
        relay,
        bodyLimitBytes: config.heartbeats.bodyLimitBytes,
        logger,
      },
    });
    server = await new Promise<Server>((resolve, reject) => {
      const onListening = (err?: Error) => (err ? reject(err) : resolve(s));
      const s = config.api.host
        ? app.listen(config.api.port, config.api.host, onListening)
        : app.listen(config.api.port, onListening);
    });
    server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout
    port = (server.address() as { port: number }).port;
    logger.info({ port }, 'api listening');
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info({ role, graceMs: config.worker.shutdownGraceMs }, 'control plane stopping');
      // The API and the worker stop side by side: busy keep-alive connections (agents heartbeat
      // continuously) must never hold up the worker, and neither waits longer than its bound.
      await Promise.all([
        (async () => {
          if (server)
            await closeServer(server, Math.min(config.worker.shutdownGraceMs, HTTP_DRAIN_MS), logger);
          await stopRelay?.();
        })(),
        supervisor?.stop().catch((err: unknown) => logger.error({ err }, 'worker stopped with an error')),
      ]);
      await nativeConnection?.close();
      await connection.close().catch(() => undefined);
      redis.disconnect();
      await pool.end();
      logger.info({ role }, 'control plane stopped');
    })());

  const done = (supervisor?.done ?? new Promise<void>(() => undefined)).catch((err: unknown) => {
    logger.error({ err }, 'worker failed');
    throw err;
  });
  return { port, supervisor, stop, done };
}

/** How long in-flight HTTP requests get to finish at shutdown before their connections are closed. */
const HTTP_DRAIN_MS = 5_000;

/**
 * Stops the API within `drainMs`: no new connections; every response from now on says
 * `Connection: close` (keep-alive clients that send continuously would otherwise keep their
 * connection busy forever); idle connections close at once, the rest when their response is done
 * or, at the latest, after `drainMs`.
 */
async function closeServer(server: Server, drainMs: number, logger: Logger): Promise<void> {
  server.prependListener('request', (_req, res) => {
    if (!res.headersSent) res.setHeader('connection', 'close');
  });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => {
    logger.warn({ drainMs }, 'api: closing connections still open after the drain time');
    server.closeAllConnections();
  }, drainMs);
  force.unref();
  await closed;
  clearTimeout(force);
  logger.info('api stopped');
}

async function connectWithRetry<T>(
  connect: () => Promise<T>,
  logger: Logger,
  deadlineMs = 60_000,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (Date.now() > until) throw err;
      logger.warn({ attempt, err: (err as Error).message }, 'temporal not reachable yet, retrying');
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5_000)));
    }
  }
}
