/**
 * The HTTP side of the simulated fleet: one node:http server, every agent under
 * `/agents/<dropletId>`, with the real sidecar's rules (DESIGN.md section 3):
 *
 *   GET  /agents/<id>/health   200 {status, uptime, workspace_id, droplet_id, version, n8n_status, ...}
 *   POST /agents/<id>/command  401 without X-Genesis-JWT; 500 when the request itself is broken
 *                              (unreadable JSON, no action); 403 for a bad, mismatched or replayed
 *                              token; otherwise 200 {success, result?, error?, execution_time_ms}
 *                              (an unknown or failing action is 200 with success:false).
 *
 * An agent that is off, booting, crashed or failed to boot does not answer: the socket is destroyed
 * (what a client sees as connection refused/reset). A hung agent keeps the request open forever.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { verifySidecarJwt } from '../../sidecar/jwt';
import type { SimAgent } from './agent';
import { type CommandEnv, executeCommand } from './commands';

export interface CommandCounters {
  total: number;
  byAction: Record<string, number>;
  unauthorized: number;
  forbidden: number;
  forbiddenByReason: Record<string, number>;
  failed: number;
  serverErrors: number;
  health: number;
  /** requests whose socket was destroyed because the agent was not up */
  refused: number;
  /** requests held open by a hung agent */
  hung: number;
  /** commands being executed right now, and the most ever at once, by action */
  inFlight: Record<string, number>;
  maxInFlight: Record<string, number>;
}

export function newCommandCounters(): CommandCounters {
  return {
    total: 0,
    byAction: {},
    unauthorized: 0,
    forbidden: 0,
    forbiddenByReason: {},
    failed: 0,
    serverErrors: 0,
    health: 0,
    refused: 0,
    hung: 0,
    inFlight: {},
    maxInFlight: {},
  };
}

export interface ServerContext {
  agent(dropletId: number): SimAgent | undefined;
  publicKey: KeyObject;
  jtiCapacity: number;
  env: CommandEnv;
  counters: CommandCounters;
  maxBodyBytes: number;
}

const ROUTE = /^\/agents\/(\d{1,18})\/(health|command)\/?$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<string | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve('too_large');
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function hold(agent: SimAgent, res: ServerResponse, counters: CommandCounters): void {
  counters.hung++;
  agent.openResponses.add(res);
  res.on('close', () => agent.openResponses.delete(res));
}

export function createRequestHandler(
  ctx: ServerContext,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { counters } = ctx;

  async function command(agent: SimAgent, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = req.headers['x-genesis-jwt'];
    if (typeof token !== 'string' || token.length === 0) {
      counters.unauthorized++;
      req.resume();
      return send(res, 401, { success: false, error: 'missing X-Genesis-JWT header' });
    }
    const raw = await readBody(req, ctx.maxBodyBytes);
    if (raw === 'too_large') {
      counters.serverErrors++;
      return send(res, 500, { success: false, error: 'request body too large' });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      counters.serverErrors++;
      return send(res, 500, { success: false, error: 'request body is not valid JSON' });
    }
    const action = (body as { action?: unknown } | null)?.action;
    if (typeof body !== 'object' || body === null || typeof action !== 'string') {
      counters.serverErrors++;
      return send(res, 500, { success: false, error: 'request body must be {action, payload}' });
    }
    const now = ctx.env.now();
    const check = verifySidecarJwt(
      token,
      ctx.publicKey,
      { workspaceId: agent.workspaceId, dropletId: agent.dropletId, action },
      agent.jtiCache(ctx.jtiCapacity),
      now,
    );
    if (!check.ok) {
      counters.forbidden++;
      counters.forbiddenByReason[check.reason] = (counters.forbiddenByReason[check.reason] ?? 0) + 1;
      return send(res, 403, { success: false, error: `invalid token: ${check.reason}` });
    }

    counters.total++;
    counters.byAction[action] = (counters.byAction[action] ?? 0) + 1;
    agent.count(action);
    if (agent.hasFault('serverError')) {
      counters.serverErrors++;
      return send(res, 500, { success: false, error: 'internal error (simulated)' });
    }

    agent.openResponses.add(res);
    res.on('close', () => agent.openResponses.delete(res));
    const started = performance.now();
    const now1 = (counters.inFlight[action] ?? 0) + 1;
    counters.inFlight[action] = now1;
    counters.maxInFlight[action] = Math.max(counters.maxInFlight[action] ?? 0, now1);
    let outcome: Awaited<ReturnType<typeof executeCommand>>;
    try {
      outcome = await executeCommand(agent, action, (body as { payload?: unknown }).payload, ctx.env);
    } finally {
      counters.inFlight[action]!--;
    }
    if (agent.condition === 'hung') {
      counters.hung++;
      return; // the answer never leaves a hung agent
    }
    if (!agent.alive) {
      res.socket?.destroy();
      return;
    }
    const execution_time_ms = Math.round((performance.now() - started) * 100) / 100;
    if (!outcome.ok) counters.failed++;
    send(
      res,
      200,
      outcome.ok
        ? { success: true, result: outcome.result, execution_time_ms }
        : { success: false, error: outcome.error, execution_time_ms },
    );
  }

  function health(agent: SimAgent, res: ServerResponse): void {
    counters.health++;
    const now = ctx.env.now();
    const n8n = agent.n8nStatus;
    send(res, 200, {
      status: n8n === 'healthy' ? 'ok' : 'degraded',
      uptime: agent.uptimeSeconds(now),
      workspace_id: agent.workspaceId,
      droplet_id: String(agent.dropletId),
      version: agent.sidecarVersion,
      n8n_status: n8n,
      n8n_version: agent.n8nVersion,
    });
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const m = ROUTE.exec(path);
    const agent = m ? ctx.agent(Number(m[1])) : undefined;
    if (!m || !agent) {
      req.resume();
      return send(res, 404, { error: 'not found' });
    }
    const condition = agent.condition;
    if (condition === 'hung') {
      req.resume();
      return hold(agent, res, counters);
    }
    if (condition !== 'running') {
      counters.refused++;
      req.socket.destroy();
      return;
    }
    const kind = m[2];
    if (kind === 'health' && req.method === 'GET') {
      req.resume();
      return health(agent, res);
    }
    if (kind === 'command' && req.method === 'POST') {
      command(agent, req, res).catch(() => {
        counters.serverErrors++;
        send(res, 500, { success: false, error: 'internal error' });
      });
      return;
    }
    req.resume();
    send(res, 405, { error: 'method not allowed' });
  };
}
