/** The API process's HTTP surface: probes, heartbeat ingest, JSON errors for everything else. */
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger';
import { codecRoutes, type CodecRouteOptions } from './codec-routes';
import { errorHandler, notFound } from './errors';
import type { HealthChecker } from './health';
import { heartbeatRoutes, type HeartbeatRouteDeps } from './heartbeat-routes';
import { sidecarRoutes, type SidecarRouteDeps } from './sidecar-routes';

export interface AppDeps {
  logger: Logger;
  health: HealthChecker;
  /** Readiness also fails while this process's worker is paused. */
  isPaused?: () => boolean;
  heartbeats: HeartbeatRouteDeps;
  /** the v1 agents' handshake and provisioning's cloud-init-complete (always wired by control-plane.ts) */
  sidecar?: SidecarRouteDeps;
  metrics?: Registry;
  codec?: CodecRouteOptions;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/health', async (_req, res) => {
    const report = await deps.health.report();
    res.status(report.status === 'unhealthy' ? 503 : 200).json(report);
  });

  app.get('/ready', async (_req, res) => {
    const report = await deps.health.report();
    const paused = deps.isPaused?.() ?? false;
    const ready = report.status !== 'unhealthy' && !paused;
    res.status(ready ? 200 : 503).json({ ready, status: report.status, ...(paused ? { paused } : {}) });
  });

  if (deps.metrics) {
    const registry = deps.metrics;
    app.get('/metrics', async (_req, res) => {
      res.setHeader('Content-Type', registry.contentType);
      res.send(await registry.metrics());
    });
  }

  if (deps.sidecar) app.use(sidecarRoutes(deps.sidecar));
  app.use(heartbeatRoutes(deps.heartbeats));
  if (deps.codec) app.use(codecRoutes(deps.codec));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
