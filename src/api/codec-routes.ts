/**
 * The codec server for the Temporal Web UI and the temporal CLI (the remote codec contract):
 * POST <endpoint>/encode and <endpoint>/decode with a Payloads message as protobuf JSON,
 * `{payloads: [{metadata: {k: base64}, data: base64}]}`.
 *
 * What callers really send, all handled: the UI posts `Content-Type: application/json` with
 * `X-Namespace`, `Authorization` only when "pass the user access token" is on (https endpoints
 * only), and cookies when "include credentials" is on, so the browser first sends a preflight; the
 * CLI sends `{"payloads": null}` (or `{}`) for an empty Payloads, e.g. a query without arguments,
 * and payloads without metadata or data. Answers are always `{payloads: [...]}`.
 *
 * Browser requests (an Origin header) are refused unless the Origin is one of the configured UI
 * origins; who may decode is decided by codec-auth.ts. Decoded credential blobs are replaced by a
 * marker (codec-redaction.ts).
 */
import express, { type Request, type Response, Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from '../logger';
import { CodecAuthError, CodecAuthorizer, type CodecAuthSettings } from './codec-auth';
import { redactForDisplay } from './codec-redaction';
import { sendError } from './errors';

interface JsonPayload {
  metadata?: Record<string, string | null> | null;
  data?: string | null;
}

export interface CodecRouteOptions extends CodecAuthSettings {
  codec: PayloadCodec;
  /** Web UI origins allowed to call from a browser. */
  corsOrigins: string[];
  logger?: Logger;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? '', 'base64')]),
  ),
  data: p.data ? Buffer.from(p.data, 'base64') : new Uint8Array(),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** `{payloads: [...]}`, `{payloads: null}` and `{}` (an empty Payloads); anything else is refused. */
function payloadsOf(body: unknown): JsonPayload[] | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const list = (body as { payloads?: unknown }).payloads;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return undefined;
  const ok = list.every(
    (p) =>
      typeof p === 'object' &&
      p !== null &&
      ((p as JsonPayload).metadata == null || typeof (p as JsonPayload).metadata === 'object') &&
      ((p as JsonPayload).data == null || typeof (p as JsonPayload).data === 'string'),
  );
  return ok ? (list as JsonPayload[]) : undefined;
}

const ALLOWED_HEADERS = 'Content-Type, Authorization, X-Namespace';

export function codecRoutes(opts: CodecRouteOptions): Router {
  const router = Router();
  const authorizer = new CodecAuthorizer(opts);
  const origins = new Set(opts.corsOrigins);
  const callerOf = new WeakMap<Request, string>();

  router.use('/codec', async (req, res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      // A browser: only the configured Web UI may read answers, or even have a request processed.
      if (!origins.has(origin))
        return sendError(res, 403, 'origin_not_allowed', 'this origin may not use the codec server');
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      if (origin === undefined) return void res.sendStatus(204);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      if (req.headers['access-control-request-private-network'] === 'true')
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
      return void res.sendStatus(204);
    }
    if (!authorizer.enabled)
      return sendError(
        res,
        503,
        'codec_disabled',
        'no way to authorise is configured (CODEC_SERVER_TOKEN, CODEC_OIDC_ISSUER or CODEC_TRUST_LOOPBACK_UI)',
      );
    try {
      const caller = await authorizer.authorize({
        authorization: req.headers.authorization,
        allowedOrigin: origin,
        remoteAddress: req.socket.remoteAddress,
      });
      callerOf.set(req, caller.subject ? `${caller.via}:${caller.subject}` : caller.via);
    } catch (err) {
      if (err instanceof CodecAuthError) return sendError(res, err.status, err.code, err.message);
      return next(err);
    }
    next();
  });

  const json = express.json({ limit: '8mb' });
  const handle = (op: 'encode' | 'decode') => async (req: Request, res: Response) => {
    const payloads = payloadsOf(req.body);
    if (!payloads)
      return sendError(
        res,
        400,
        'bad_body',
        'body must be a Payloads message: {payloads: [{metadata, data}]}',
      );
    try {
      const converted = payloads.length === 0 ? [] : await opts.codec[op](payloads.map(fromJson));
      // decoding is for people to read: credential blobs never reach a screen
      const out = op === 'decode' ? converted.map(redactForDisplay) : converted;
      opts.logger?.debug({ op, payloads: out.length, caller: callerOf.get(req) }, 'codec request');
      res.json({ payloads: out.map(toJson) });
    } catch (err) {
      sendError(res, 400, `${op}_failed`, (err as Error).message);
    }
  };
  // Only the last path segment says what to do (the protocol lets clients add e.g. a namespace).
  router.post(/^\/codec(?:\/[^/]+)*\/encode$/, json, handle('encode'));
  router.post(/^\/codec(?:\/[^/]+)*\/decode$/, json, handle('decode'));
  return router;
}
