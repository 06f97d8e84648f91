/**
 * Native heartbeat ingest (POST /v1/heartbeats, opt-in: no deployed agent sends it; the v1 agents'
 * handshake keep-alives are in sidecar-routes.ts). The route answers 202 once the heartbeats are in the Redis stream; a request
 * is either wholly accepted or wholly refused with a JSON reason:
 *   400 malformed JSON / not an object or array, 401 missing or bad credentials, 403 a token used
 *   for another droplet or workspace, 413 body or array too large, 415 not application/json,
 *   422 fields that fail the schema, 503 (+ Retry-After) while Redis or the token store is down.
 */
import express, { type Request, type Response, Router } from 'express';
import type Redis from 'ioredis';
import { z } from 'zod';
import { fromNative, nativeHeartbeatSchema, type StreamHeartbeat } from '../heartbeats/heartbeat';
import { appendHeartbeats, type HeartbeatStreamNames } from '../heartbeats/stream';
import type { HeartbeatTokenVerifier } from '../heartbeats/tokens';
import type { Logger } from '../logger';
import { sendError } from './errors';

export interface IngestMetrics {
  accepted(route: 'native' | 'handshake', count: number, seconds: number): void;
  rejected(route: 'native' | 'handshake', reason: string): void;
}

export interface HeartbeatRouteDeps {
  redis: Redis;
  stream: HeartbeatStreamNames;
  verifier: HeartbeatTokenVerifier;
  maxPerRequest: number;
  bodyLimitBytes: number;
  logger: Logger;
  metrics?: IngestMetrics;
}

const RETRY_AFTER_S = '5';

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1] : '';
}

function describeIssues(error: z.ZodError, index?: number): { path: string; message: string }[] {
  return error.issues.slice(0, 10).map((i) => ({
    path: [...(index === undefined ? [] : [index]), ...i.path].join('.') || '(body)',
    message: i.message,
  }));
}

export function heartbeatRoutes(deps: HeartbeatRouteDeps): Router {
  const router = Router();
  const json = express.json({ limit: deps.bodyLimitBytes, strict: false, type: () => true });

  const requireJson = (route: 'native' | 'handshake') => (req: Request, res: Response, next: () => void) => {
    if (!req.is('application/json')) {
      deps.metrics?.rejected(route, 'unsupported_media_type');
      return sendError(res, 415, 'unsupported_media_type', 'Content-Type must be application/json');
    }
    next();
  };

  const reject = (
    res: Response,
    route: 'native' | 'handshake',
    status: number,
    reason: string,
    message: string,
    extra = {},
  ) => {
    deps.metrics?.rejected(route, reason);
    sendError(res, status, reason, message, extra);
  };

  async function buffer(
    res: Response,
    route: 'native' | 'handshake',
    hbs: StreamHeartbeat[],
    started: number,
  ) {
    try {
      await appendHeartbeats(deps.redis, deps.stream, hbs);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message, route }, 'heartbeat buffer unavailable');
      res.setHeader('Retry-After', RETRY_AFTER_S);
      return reject(res, route, 503, 'buffer_unavailable', 'heartbeat buffer is unavailable, retry later');
    }
    deps.metrics?.accepted(route, hbs.length, (performance.now() - started) / 1000);
    res.status(202).json({ accepted: hbs.length });
  }

  router.post('/v1/heartbeats', requireJson('native'), json, async (req, res) => {
    const started = performance.now();
    const token = bearer(req);
    if (!token)
      return reject(res, 'native', 401, 'missing_token', 'Authorization: Bearer <droplet token> is required');

    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null) {
      return reject(res, 'native', 400, 'bad_body', 'body must be a heartbeat object or an array of them');
    }
    const items = Array.isArray(body) ? body : [body];
    if (items.length === 0) return reject(res, 'native', 422, 'empty_batch', 'array holds no heartbeats');
    if (items.length > deps.maxPerRequest) {
      return reject(
        res,
        'native',
        413,
        'too_many_heartbeats',
        `at most ${deps.maxPerRequest} heartbeats per request`,
      );
    }

    let check;
    try {
      check = await deps.verifier.verify(token);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'heartbeat token store unavailable');
      res.setHeader('Retry-After', RETRY_AFTER_S);
      return reject(
        res,
        'native',
        503,
        'token_store_unavailable',
        'cannot verify tokens right now, retry later',
      );
    }
    if (!check.ok) return reject(res, 'native', 401, check.reason, 'heartbeat token is not valid');

    const hbs: StreamHeartbeat[] = [];
    for (let i = 0; i < items.length; i++) {
      const parsed = nativeHeartbeatSchema.safeParse(items[i]);
      if (!parsed.success) {
        return reject(res, 'native', 422, 'invalid_heartbeat', 'heartbeat fields are invalid', {
          issues: describeIssues(parsed.error, Array.isArray(body) ? i : undefined),
        });
      }
      if (parsed.data.droplet_id !== check.dropletId || parsed.data.workspace_id !== check.workspaceId) {
        return reject(
          res,
          'native',
          403,
          'token_scope',
          `token does not authorise droplet ${parsed.data.droplet_id} of workspace ${parsed.data.workspace_id}`,
        );
      }
      hbs.push(fromNative(parsed.data));
    }
    await buffer(res, 'native', hbs, started);
  });

  return router;
}
