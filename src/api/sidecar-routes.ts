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
 *
 * The handshake is the hot path (15,000 agents, each on a new connection every 60 s): it is a plain
 * Node handler (`handshakeHandler`, mounted before everything else in app.ts) that reads the body
 * itself, checks the secret against its precomputed digest and answers with one write, without
 * express's body parser or response helpers. Its answers are the express route's it replaced.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type Redis from 'ioredis';
import { fromHandshake, handshakeSchema } from '../heartbeats/heartbeat';
import { appendHeartbeats, type HeartbeatStreamNames } from '../heartbeats/stream';
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

export const HANDSHAKE_PATH = '/api/sidecar/handshake';
const REQUIRED = 'workspace_id and sidecar_url are required';
const NOT_JSON = 'request body must be a JSON object';
const BEARER = /^Bearer\s+(\S+)$/i;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The request is POST /api/sidecar/handshake (as express matched it: any case, one trailing /). */
export function isHandshake(req: IncomingMessage): boolean {
  if (req.method !== 'POST' || !req.url) return false;
  const q = req.url.indexOf('?');
  let path = q < 0 ? req.url : req.url.slice(0, q);
  if (path.length === HANDSHAKE_PATH.length + 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.length === HANDSHAKE_PATH.length && path.toLowerCase() === HANDSHAKE_PATH;
}

function send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** Reads the whole body up to `limit` bytes; undefined when it is larger or the request breaks. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      req.resume();
      return resolve(undefined);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (b: Buffer | undefined) => {
      if (done) return;
      done = true;
      resolve(b);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        req.resume();
        return finish(undefined);
      }
      chunks.push(c);
    });
    req.on('end', () =>
      finish(size > limit ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    );
    req.on('error', () => finish(undefined));
    req.on('close', () => finish(undefined));
  });
}

/**
 * POST /api/sidecar/handshake as a plain Node handler: the body is parsed as JSON whatever its
 * Content-Type (the agent always sends JSON; anything else is a 400 like the dashboard's).
 */
export function handshakeHandler(
  deps: SidecarRouteDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const now = deps.now ?? Date.now;
  const secret = deps.handshakeSecret ? digest(deps.handshakeSecret) : undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, deps.bodyLimitBytes);
    const started = performance.now();
    const registeredAt = new Date(now()).toISOString();
    let body: Record<string, unknown> = {};
    let parsedOk = raw !== undefined;
    if (raw !== undefined && raw.length > 0) {
      try {
        const v: unknown = JSON.parse(raw.toString('utf8'));
        if (v !== null && v !== undefined) body = v as Record<string, unknown>;
      } catch {
        parsedOk = false;
      }
    }
    if (!parsedOk) {
      deps.metrics?.rejected('handshake', 'bad_body');
      return send(res, 400, {
        success: false,
        registered_at: registeredAt,
        workspace_id: '',
        error: NOT_JSON,
      });
    }
    const claimed = typeof body.workspace_id === 'string' ? body.workspace_id : '';
    const answer = (
      status: number,
      reason: string | undefined,
      extra: Record<string, unknown>,
      h?: Record<string, string>,
    ) => {
      if (reason) deps.metrics?.rejected('handshake', reason);
      send(res, status, { registered_at: registeredAt, ...extra }, h);
    };
    const refuse = (
      status: number,
      reason: string,
      error: string,
      workspaceId = claimed,
      h?: Record<string, string>,
    ) => answer(status, reason, { success: false, workspace_id: workspaceId, error }, h);

    const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !secret || !timingSafeEqual(digest(token), secret)) {
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
    deps.relay?.enqueue({
      route: HANDSHAKE_PATH,
      body: raw!,
      headers: {
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        userAgent: req.headers['user-agent'],
      },
    });

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
      return refuse(500, 'buffer_unavailable', 'heartbeat buffer is unavailable, retry later', claimed, {
        'retry-after': '5',
      });
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
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.logger.error({ err: (err as Error).message }, 'handshake failed');
      if (!res.headersSent)
        send(res, 500, {
          success: false,
          registered_at: new Date(now()).toISOString(),
          workspace_id: '',
          error: 'internal error',
        });
      else res.destroy();
    });
  };
}

/** The handshake first (a plain handler), then cloud-init-complete through express. */
export function sidecarRoutes(deps: SidecarRouteDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  const handshake = handshakeHandler(deps);
  router.use((req: Request, res: Response, next: NextFunction) =>
    isHandshake(req) ? handshake(req, res) : next(),
  );

  // Provisioning sends JSON; anything unparseable is answered 400 like the dashboard does.
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
        error: NOT_JSON,
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
