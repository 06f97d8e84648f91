/**
 * The HTTP side of the simulated fleet: one node:http server, every agent under
 * `/agents/<dropletId>`, answering as the deployed v1 agent does (specs/sidecar-v1/):
 *
 *   GET  /agents/<id>/health   200 {status:"ok", uptime, workspace_id, droplet_id, smtp_enabled,
 *                              n8n_bootstrapped} (no version; droplet_id is the agent's DROPLET_ID)
 *   POST /agents/<id>/command  401 {"success":false,"error":"Missing X-Genesis-JWT header",
 *                              "execution_time_ms":0} without the header; 500 when the request
 *                              itself is broken (unreadable JSON); 403 {success:false, error,
 *                              execution_time_ms} for a bad, expired, replayed or mismatched token
 *                              (texts and order in verifySidecarJwt); otherwise 200 {success,
 *                              result?, error?, execution_time_ms} (an unknown action or a handler
 *                              that throws is 200 with success:false and error).
 *
 * An agent that is off, booting, crashed or failed to boot does not answer: the socket is destroyed
 * (what a client sees as connection refused/reset). A hung agent keeps the request open forever.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { verifySidecarJwt } from '../../sidecar/jwt';
import type { SimAgent } from './agent';
import { AgentGone, type CommandEnv, executeCommand } from './commands';

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
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const token = req.headers['x-genesis-jwt'];
    if (typeof token !== 'string' || token.length === 0) {
      counters.unauthorized++;
      req.resume();
      return send(res, 401, { success: false, error: 'Missing X-Genesis-JWT header', execution_time_ms: 0 });
    }
    const raw = await readBody(req, ctx.maxBodyBytes);
    if (raw === 'too_large') {
      counters.serverErrors++;
      return send(res, 500, {
        success: false,
        error: 'request entity too large',
        execution_time_ms: elapsed(),
      });
    }
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw);
    } catch (err) {
      counters.serverErrors++;
      return send(res, 500, { success: false, error: (err as Error).message, execution_time_ms: elapsed() });
    }
    const { action, payload } = (typeof body === 'object' && body !== null ? body : {}) as {
      action?: unknown;
      payload?: unknown;
    };
    const check = await verifySidecarJwt(
      token,
      ctx.publicKey,
      { workspaceId: agent.workspaceId, dropletId: agent.agentDropletId, action },
      agent.jtiCache(ctx.jtiCapacity),
      ctx.env.now(),
    );
    if (!check.ok) {
      counters.forbidden++;
      counters.forbiddenByReason[check.reason] = (counters.forbiddenByReason[check.reason] ?? 0) + 1;
      return send(res, 403, { success: false, error: check.error, execution_time_ms: elapsed() });
    }

    const name = typeof action === 'string' ? action : String(action);
    counters.total++;
    counters.byAction[name] = (counters.byAction[name] ?? 0) + 1;
    agent.count(name);
    if (agent.hasFault('serverError')) {
      counters.serverErrors++;
      return send(res, 500, {
        success: false,
        error: 'Internal server error (simulated)',
        execution_time_ms: elapsed(),
      });
    }

    agent.openResponses.add(res);
    res.on('close', () => agent.openResponses.delete(res));
    const now1 = (counters.inFlight[name] ?? 0) + 1;
    counters.inFlight[name] = now1;
    counters.maxInFlight[name] = Math.max(counters.maxInFlight[name] ?? 0, now1);
    let outcome: Awaited<ReturnType<typeof executeCommand>> | undefined;
    try {
      outcome = await executeCommand(agent, action, payload, ctx.env);
    } catch (err) {
      if (!(err instanceof AgentGone)) throw err;
    } finally {
      counters.inFlight[name]!--;
    }
    if (agent.condition === 'hung') {
      counters.hung++;
      return; // the answer never leaves a hung agent
    }
    if (!outcome || !agent.alive) {
      res.socket?.destroy();
      return;
    }
    if (!outcome.ok) counters.failed++;
    send(
      res,
      200,
      outcome.ok
        ? { success: true, result: outcome.result, execution_time_ms: elapsed() }
        : { success: false, error: outcome.error, execution_time_ms: elapsed() },
    );
  }

  function health(agent: SimAgent, res: ServerResponse): void {
    counters.health++;
    send(res, 200, {
      status: 'ok',
      uptime: agent.processUptimeSeconds(ctx.env.now()),
      workspace_id: agent.workspaceId,
      droplet_id: agent.agentDropletId,
      smtp_enabled: agent.smtpEnabled,
      n8n_bootstrapped: agent.n8nBootstrapped,
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
      command(agent, req, res).catch((err: unknown) => {
        counters.serverErrors++;
        send(res, 500, { success: false, error: (err as Error).message ?? 'Internal server error' });
      });
      return;
    }
    req.resume();
    send(res, 405, { error: 'method not allowed' });
  };
}
