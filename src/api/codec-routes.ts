/**
 * The codec server for the Temporal Web UI (its remote codec contract): POST /codec/encode and
 * /codec/decode with `{payloads: [{metadata: {k: base64}, data: base64}]}`. Only the configured UI
 * origin may call it from a browser (CORS), and every request needs the bearer token, so only
 * authorised operators see decoded payloads.
 */
import express, { type Request, type Response, Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { constantTimeEqual } from '../heartbeats/tokens';
import { sendError } from './errors';

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: p.data ? Buffer.from(p.data, 'base64') : undefined,
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: p.data ? Buffer.from(p.data).toString('base64') : undefined,
});

export function codecRoutes(opts: { codec: PayloadCodec; token?: string; corsOrigin: string }): Router {
  const router = Router();
  router.use('/codec', (req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', opts.corsOrigin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-Namespace');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (req.method === 'OPTIONS') return void res.sendStatus(204);
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!opts.token) return sendError(res, 503, 'codec_disabled', 'CODEC_SERVER_TOKEN is not configured');
    if (!auth || !constantTimeEqual(auth, opts.token)) {
      return sendError(res, 401, 'unauthorized', 'a valid bearer token is required to use the codec');
    }
    next();
  });
  const json = express.json({ limit: '8mb' });
  const handle = (op: 'encode' | 'decode') => async (req: Request, res: Response) => {
    const body = req.body as { payloads?: JsonPayload[] } | undefined;
    if (!body || !Array.isArray(body.payloads)) {
      return sendError(res, 400, 'bad_body', 'body must be {payloads: [...]}');
    }
    try {
      const out = await opts.codec[op](body.payloads.map(fromJson));
      res.json({ payloads: out.map(toJson) });
    } catch (err) {
      sendError(res, 400, `${op}_failed`, (err as Error).message);
    }
  };
  router.post('/codec/encode', json, handle('encode'));
  router.post('/codec/decode', json, handle('decode'));
  return router;
}
