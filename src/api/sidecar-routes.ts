/**
 * The routes the deployed agents and their provisioning call, as a drop-in for the dashboard's
 * (specs/sidecar-v1/PROTOCOL.md, "Heartbeats: the handshake route"):
 *
 *   POST /api/sidecar/handshake   Authorization: Bearer <SIDECAR_HANDSHAKE_SECRET>,
 *                                 {workspace_id, sidecar_url, version, capabilities}
 *     200 {success:true, registered_at, workspace_id, message}   buffered in the heartbeat stream
 *     400 {success:false, registered_at, workspace_id, error}     missing/invalid fields, not JSON
 *     401 {success:false, registered_at, workspace_id:"", error:"Unauthorized"}
 *     404 {success:false, registered_at, workspace_id, error:"workspace_id not found"}
 *     500 {success:false, registered_at, workspace_id, error}     buffer or directory unavailable
 *   The agent exits at first boot unless the answer is JSON with success:true, so only a handshake
 *   that is really recorded gets it. Keep-alive answers are not checked by the agent; a keep-alive
 *   that cannot be checked against the directory (Postgres down) is still buffered (the drain
 *   ignores unknown workspaces), so liveness survives a Postgres outage.
 *
 *   POST /api/sidecar/cloud-init-complete   from the droplet's provisioning script; answered 200
 *                                           {success:true, received_at} for any JSON object
 *
 * Both are relayed as received to the dashboard (DASHBOARD_RELAY_URL), asynchronously, so its
 * sidecar registry and onboarding keep working; handshakes are relayed only once authenticated.
 */
import express, { type Request, type Response, Router } from 'express';
import type Redis from 'ioredis';
import { fromHandshake, handshakeSchema } from '../heartbeats/heartbeat';
import { appendHeartbeats, type HeartbeatStreamNames } from '../heartbeats/stream';
import { constantTimeEqual } from '../heartbeats/tokens';
import type { WorkspaceDirectory } from '../heartbeats/workspace-directory';
import type { Logger } from '../logger';
import type { DashboardRelay, RelayedRoute } from './dashboard-relay';
import type { IngestMetrics } from './heartbeat-routes';

export interface SidecarRouteDeps {
  redis: Redis;
  stream: HeartbeatStreamNames;
  handshakeSecret?: string;
  workspaces: Pick<WorkspaceDirectory, 'exists'>;
  relay?: Pick<DashboardRelay, 'enqueue'>;
  bodyLimitBytes: number;
  logger: Logger;
  metrics?: IngestMetrics;
  now?: () => number;
}

type RawRequest = Request & { rawBody?: Buffer };

const REQUIRED = 'workspace_id and sidecar_url are required';

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? m[1] : undefined;
}

export function sidecarRoutes(deps: SidecarRouteDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  // The agent always sends JSON; anything unparseable is answered 400 like the dashboard does.
  const json = express.json({
    limit: deps.bodyLimitBytes,
    strict: false,
    type: () => true,
    verify: (req, _res, buf) => {
      (req as RawRequest).rawBody = Buffer.from(buf);
    },
  });
  const parseOr400 = (req: Request, res: Response, next: () => void) =>
    json(req, res, (err?: unknown) => {
      if (!err) return next();
      deps.metrics?.rejected('handshake', 'bad_body');
      res.status(400).json({
        success: false,
        registered_at: new Date(now()).toISOString(),
        workspace_id: '',
        error: 'request body must be a JSON object',
      });
    });

  const relay = (route: RelayedRoute, req: RawRequest) =>
    deps.relay?.enqueue({
      route,
      body: req.rawBody ?? Buffer.from(JSON.stringify(req.body ?? {})),
      headers: {
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        userAgent: req.headers['user-agent'],
      },
    });

  router.post('/api/sidecar/handshake', parseOr400, async (req: RawRequest, res) => {
    const started = performance.now();
    const registeredAt = new Date(now()).toISOString();
    const body = (req.body ?? {}) as Record<string, unknown>;
    const claimed = typeof body.workspace_id === 'string' ? body.workspace_id : '';
    const answer = (status: number, reason: string | undefined, extra: Record<string, unknown>) => {
      if (reason) deps.metrics?.rejected('handshake', reason);
      res.status(status).json({ registered_at: registeredAt, ...extra });
    };
    const refuse = (status: number, reason: string, error: string, workspaceId = claimed) =>
      answer(status, reason, { success: false, workspace_id: workspaceId, error });

    const token = bearer(req);
    if (!token || !deps.handshakeSecret || !constantTimeEqual(token, deps.handshakeSecret)) {
      return refuse(401, token ? 'bad_token' : 'missing_token', 'Unauthorized', '');
    }
    if (typeof body !== 'object' || Array.isArray(body) || !body.workspace_id || !body.sidecar_url) {
      return refuse(400, 'invalid_handshake', REQUIRED);
    }
    const parsed = handshakeSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refuse(400, 'invalid_handshake', `${issue?.path.join('.') || 'body'}: ${issue?.message}`);
    }
    const hs = parsed.data;
    relay('/api/sidecar/handshake', req);

    let known: boolean | undefined;
    try {
      known = await deps.workspaces.exists(hs.workspace_id);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'workspace directory unavailable');
    }
    if (known === false) return refuse(404, 'unknown_workspace', 'workspace_id not found');

    try {
      await appendHeartbeats(deps.redis, deps.stream, [fromHandshake(hs, now())]);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'heartbeat buffer unavailable');
      res.setHeader('Retry-After', '5');
      return refuse(500, 'buffer_unavailable', 'heartbeat buffer is unavailable, retry later');
    }
    deps.metrics?.accepted('handshake', 1, (performance.now() - started) / 1000);
    if (known === undefined) {
      // buffered (liveness kept), but a first boot must not be told it registered unchecked
      return refuse(500, 'directory_unavailable', 'workspace directory is unavailable, retry later');
    }
    answer(200, undefined, {
      success: true,
      workspace_id: hs.workspace_id,
      message: `Sidecar registered for workspace ${hs.workspace_id}`,
    });
  });

  router.post('/api/sidecar/cloud-init-complete', parseOr400, (req: RawRequest, res) => {
    const body = req.body as unknown;
    const receivedAt = new Date(now()).toISOString();
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return res
        .status(400)
        .json({ success: false, received_at: receivedAt, error: 'request body must be a JSON object' });
    }
    const workspaceId = (body as { workspace_id?: unknown }).workspace_id;
    deps.logger.info(
      { workspaceId: typeof workspaceId === 'string' ? workspaceId : undefined },
      'cloud-init complete',
    );
    relay('/api/sidecar/cloud-init-complete', req);
    res.status(200).json({ success: true, received_at: receivedAt });
  });

  return router;
}
