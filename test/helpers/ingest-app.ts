/**
 * The API's ingest surface for tests: the native heartbeat route and the v1 agents' handshake
 * routes over one Redis stream, with health checks stubbed unless given (not what these tests
 * check). One place, so every test builds the routes the way control-plane.ts does.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { createApp } from '../../src/api/app';
import type { DashboardRelay } from '../../src/api/dashboard-relay';
import { type Check, HealthChecker } from '../../src/api/health';
import type { HeartbeatStreamNames } from '../../src/heartbeats/stream';
import { HeartbeatTokenVerifier } from '../../src/heartbeats/tokens';
import { WorkspaceDirectory, type WorkspaceDirectoryOptions } from '../../src/heartbeats/workspace-directory';
import type { Logger } from '../../src/logger';

export interface IngestAppOptions {
  redis: Redis;
  stream: HeartbeatStreamNames;
  pool: Pool;
  logger: Logger;
  /** the v1 agents' SIDECAR_HANDSHAKE_SECRET */
  handshakeSecret?: string;
  relay?: DashboardRelay;
  maxPerRequest?: number;
  bodyLimitBytes?: number;
  verifier?: HeartbeatTokenVerifier;
  workspaces?: WorkspaceDirectoryOptions;
  /** real checks where the test needs them; the rest answer ok */
  health?: Partial<ConstructorParameters<typeof HealthChecker>[0]>;
}

export function ingestApp(o: IngestAppOptions) {
  const ok: Check = async () => undefined;
  const bodyLimitBytes = o.bodyLimitBytes ?? 100_000;
  return createApp({
    logger: o.logger,
    health: new HealthChecker(
      { temporal: ok, redis: ok, postgres: ok, worker: ok, ...o.health },
      { version: 't', timeoutMs: 1_000 },
    ),
    heartbeats: {
      redis: o.redis,
      stream: o.stream,
      verifier: o.verifier ?? new HeartbeatTokenVerifier(o.pool),
      maxPerRequest: o.maxPerRequest ?? 100,
      bodyLimitBytes,
      logger: o.logger,
    },
    sidecar: {
      redis: o.redis,
      stream: o.stream,
      handshakeSecret: o.handshakeSecret,
      workspaces: new WorkspaceDirectory(o.pool, o.workspaces),
      relay: o.relay,
      bodyLimitBytes,
      logger: o.logger,
    },
  });
}
