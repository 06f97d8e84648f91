/** The API process's HTTP surface: probes, heartbeat ingest, JSON errors for everything else. */
import express, { type Express } from 'express';
import type { Logger } from '../logger';
import { errorHandler, notFound } from './errors';
import type { HealthChecker } from './health';
import { heartbeatRoutes, type HeartbeatRouteDeps } from './heartbeat-routes';

export interface AppDeps {
  logger: Logger;
  health: HealthChecker;
  /** Readiness also fails while this process's worker is paused. */
  isPaused?: () => boolean;
  heartbeats: HeartbeatRouteDeps;
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

  app.use(heartbeatRoutes(deps.heartbeats));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
