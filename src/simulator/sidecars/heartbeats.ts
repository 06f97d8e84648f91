/**
 * Sends the simulated agents' heartbeats to the dashboard, in one of the two formats of DESIGN.md
 * section 3:
 *   native  POST <dashboardUrl>/v1/heartbeats, Authorization: Bearer <droplet heartbeat token>,
 *           {workspace_id, droplet_id (number), timestamp (ISO 8601), cpu_percent, memory_percent,
 *            disk_percent, n8n_status, sidecar_version, n8n_version, uptime_seconds}
 *   legacy  POST <dashboardUrl>/api/sidecar/handshake, Authorization: Bearer <handshake secret>,
 *           {workspace_id, sidecar_url, version, capabilities[]}
 *
 * One keep-alive agent with a bounded number of sockets carries every send. A send that fails
 * (error, timeout, non-2xx, too many already in flight) is counted, never thrown.
 */
import http from 'node:http';
import https from 'node:https';
import { SIDECAR_ACTIONS } from '../../sidecar/protocol';
import type { SimAgent } from './agent';

export type HeartbeatMode = 'native' | 'legacy';

export interface HeartbeatSenderOptions {
  dashboardUrl: string;
  mode: HeartbeatMode;
  handshakeSecret?: string;
  maxSockets: number;
  timeoutMs: number;
  maxInFlight: number;
  capabilities?: readonly string[];
  now: () => number;
}

export interface HeartbeatStats {
  sent: number;
  failed: number;
  /** failures by cause: HTTP status, 'error', 'timeout', 'overload' */
  failures: Record<string, number>;
  inFlight: number;
}

export class HeartbeatSender {
  private readonly url: URL;
  private readonly path: string;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly failures: Record<string, number> = {};
  private readonly capabilities: readonly string[];
  private sent = 0;
  private failed = 0;
  private closed = false;

  constructor(private readonly opts: HeartbeatSenderOptions) {
    if (opts.mode === 'legacy' && !opts.handshakeSecret) {
      throw new TypeError('legacy heartbeats need a handshakeSecret');
    }
    this.url = new URL(opts.dashboardUrl);
    const base = this.url.pathname.replace(/\/+$/, '');
    this.path = base + (opts.mode === 'native' ? '/v1/heartbeats' : '/api/sidecar/handshake');
    this.transport = this.url.protocol === 'https:' ? https : http;
    this.agent = new this.transport.Agent({
      keepAlive: true,
      maxSockets: opts.maxSockets,
      maxFreeSockets: opts.maxSockets,
      scheduling: 'lifo',
    });
    this.capabilities = opts.capabilities ?? SIDECAR_ACTIONS;
  }

  body(agent: SimAgent): Record<string, unknown> {
    const now = this.opts.now();
    if (this.opts.mode === 'legacy') {
      return {
        workspace_id: agent.workspaceId,
        sidecar_url: agent.sidecarUrl,
        version: agent.sidecarVersion,
        capabilities: [...this.capabilities],
      };
    }
    const s = agent.sample();
    return {
      workspace_id: agent.workspaceId,
      droplet_id: agent.dropletId,
      timestamp: new Date(now).toISOString(),
      cpu_percent: s.cpu,
      memory_percent: s.mem,
      disk_percent: s.disk,
      n8n_status: agent.n8nStatus,
      sidecar_version: agent.sidecarVersion,
      n8n_version: agent.n8nVersion,
      uptime_seconds: agent.uptimeSeconds(now),
    };
  }

  send(agent: SimAgent): void {
    if (this.closed) return;
    if (this.inFlight.size >= this.opts.maxInFlight) return this.fail(agent, 'overload');
    const bearer = this.opts.mode === 'native' ? agent.heartbeatToken : this.opts.handshakeSecret;
    if (!bearer) return this.fail(agent, 'no_token');
    const payload = Buffer.from(JSON.stringify(this.body(agent)));
    let settled = false;
    let gotResponse = false;
    const settle = (cause?: string) => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(req);
      if (cause === undefined) {
        this.sent++;
        agent.heartbeatsSent++;
        agent.lastHeartbeatAt = this.opts.now();
      } else {
        this.fail(agent, cause);
      }
    };
    const req = this.transport.request(
      {
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        path: this.path,
        method: 'POST',
        agent: this.agent,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          authorization: `Bearer ${bearer}`,
        },
      },
      (res) => {
        gotResponse = true;
        res.resume();
        const status = res.statusCode ?? 0;
        res.on('close', () => {
          if (!res.complete) settle('error');
          else settle(status >= 200 && status < 300 ? undefined : String(status));
        });
      },
    );
    this.inFlight.add(req);
    req.setTimeout(this.opts.timeoutMs, () => {
      settle('timeout');
      req.destroy();
    });
    req.on('error', () => settle('error'));
    req.on('close', () => {
      if (!gotResponse) settle('error');
    });
    req.end(payload);
  }

  stats(): HeartbeatStats {
    return {
      sent: this.sent,
      failed: this.failed,
      failures: { ...this.failures },
      inFlight: this.inFlight.size,
    };
  }

  close(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
    this.agent.destroy();
  }

  private fail(agent: SimAgent, cause: string): void {
    this.failed++;
    agent.heartbeatsFailed++;
    this.failures[cause] = (this.failures[cause] ?? 0) + 1;
  }
}
