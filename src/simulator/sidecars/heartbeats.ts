/**
 * Sends the simulated agents' heartbeats to the dashboard, in one of two formats:
 *   v1      (default; what every deployed agent does, specs/sidecar-v1/PROTOCOL.md) POST
 *           <dashboardUrl>/api/sidecar/handshake, Authorization: Bearer <handshake secret>,
 *           Content-Type: application/json, {workspace_id, sidecar_url, version, capabilities}:
 *           no droplet id, no metrics, no timestamp. `version` is "unknown" on the first-boot
 *           handshake and the n8n status ("healthy" | "degraded" | "down") on keep-alives.
 *           capabilities ["deploy", "gmail"] (["deploy", "smtp"] when the agent has SMTP).
 *           The first-boot answer is read (firstBoot): the agent requires JSON with success:true.
 *   native  (explicit opt-in; no deployed agent speaks it) POST <dashboardUrl>/v1/heartbeats,
 *           Authorization: Bearer <droplet heartbeat token>, {workspace_id, droplet_id (number),
 *           timestamp (ISO 8601), cpu_percent, memory_percent, disk_percent, n8n_status,
 *           sidecar_version (the agent's own), n8n_version (the n8n image tag), uptime_seconds}
 *   legacy  deprecated alias of v1.
 *
 * Connections behave as each deployed agent's do: the agent is axios on Node's global HTTP agent
 * (user-agent axios/1.13.6 in specs/sidecar-v1/recorded-exchanges.json), which keeps a socket alive
 * for at most 5 s of idleness (or the server's `Keep-Alive: timeout=N` hint minus 1 s, if shorter)
 * and never shares it with another machine. So every simulated agent has its own socket pool, and
 * at v1's 60 s (or 30 s) interval every keep-alive opens a new TCP connection, as on the fleet; only
 * sends closer together than 5 s reuse one. A send that fails (error, timeout, non-2xx, too many
 * already in flight) is counted, never thrown.
 */
import http from 'node:http';
import https from 'node:https';
import type { SimAgent } from './agent';

export type HeartbeatMode = 'v1' | 'native' | /** @deprecated alias of v1 */ 'legacy';

/** v1's capabilities: deploy, and the agent's mail integration */
export function v1Capabilities(smtp: boolean): string[] {
  return ['deploy', smtp ? 'smtp' : 'gmail'];
}

/** How a first-boot handshake ended: registered, or the error the agent logs before exiting 1. */
export type FirstBootOutcome = { accepted: true } | { accepted: false; error: string };

const ANSWER_LIMIT = 64 * 1024;

/** Node's global agent's idle-socket timeout (http.globalAgent, Node >= 19): what axios uses. */
export const AGENT_IDLE_SOCKET_MS = 5_000;

export interface HeartbeatSenderOptions {
  dashboardUrl: string;
  mode: HeartbeatMode;
  handshakeSecret?: string;
  /** bound on open sockets across all simulated agents; default unbounded (separate machines) */
  maxSockets?: number;
  timeoutMs: number;
  maxInFlight: number;
  /** v1 capabilities for every agent; default v1Capabilities(agent.smtpEnabled) */
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

const POOL_KEY = 'simulatedAgent';

/**
 * One http(s).Agent whose socket pools are keyed by the simulated agent too (Agent.getName is the
 * pool key), so no two simulated machines ever share a connection.
 */
function perAgentPools(Base: typeof http.Agent, options: http.AgentOptions): http.Agent {
  class PerAgent extends Base {
    override getName(o?: http.ClientRequestArgs): string {
      return `${super.getName(o)}:${String((o as Record<string, unknown> | undefined)?.[POOL_KEY] ?? '')}`;
    }
  }
  return new PerAgent(options);
}

export class HeartbeatSender {
  private readonly url: URL;
  private readonly path: string;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly failures: Record<string, number> = {};
  private readonly v1: boolean;
  private sent = 0;
  private failed = 0;
  private closed = false;

  constructor(private readonly opts: HeartbeatSenderOptions) {
    this.v1 = opts.mode !== 'native';
    if (this.v1 && !opts.handshakeSecret) {
      throw new TypeError('v1 handshakes need a handshakeSecret (SIDECAR_HANDSHAKE_SECRET)');
    }
    this.url = new URL(opts.dashboardUrl);
    const base = this.url.pathname.replace(/\/+$/, '');
    this.path = base + (this.v1 ? '/api/sidecar/handshake' : '/v1/heartbeats');
    this.transport = this.url.protocol === 'https:' ? https : http;
    this.agent = perAgentPools(this.transport.Agent, {
      keepAlive: true,
      timeout: AGENT_IDLE_SOCKET_MS,
      scheduling: 'lifo',
      ...(opts.maxSockets ? { maxTotalSockets: opts.maxSockets } : {}),
    });
  }

  get mode(): 'v1' | 'native' {
    return this.v1 ? 'v1' : 'native';
  }

  body(agent: SimAgent, firstBoot = false): Record<string, unknown> {
    const now = this.opts.now();
    if (this.v1) {
      return {
        workspace_id: agent.workspaceId,
        sidecar_url: agent.sidecarUrl,
        version: firstBoot ? 'unknown' : agent.n8nStatus,
        capabilities: this.opts.capabilities
          ? [...this.opts.capabilities]
          : v1Capabilities(agent.smtpEnabled),
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
      sidecar_version: agent.agentVersion,
      n8n_version: agent.n8nImageTag,
      uptime_seconds: agent.uptimeSeconds(now),
    };
  }

  /** A keep-alive (v1) or native heartbeat; its answer is not read. */
  send(agent: SimAgent): void {
    this.post(agent, false);
  }

  /**
   * v1's first-boot handshake ("version": "unknown"): `done` gets accepted only for a JSON answer
   * with success === true (any status: the agent reads the body); otherwise the error the agent
   * logs as "Handshake rejected: <error>" (the answer's `error`, or "unknown").
   */
  firstBoot(agent: SimAgent, done: (outcome: FirstBootOutcome) => void): void {
    this.post(agent, true, done);
  }

  private post(agent: SimAgent, firstBoot: boolean, done?: (outcome: FirstBootOutcome) => void): void {
    const rejected = (error: string) => done?.({ accepted: false, error });
    if (this.closed) return;
    if (this.inFlight.size >= this.opts.maxInFlight) {
      this.fail(agent, 'overload');
      return rejected('overload');
    }
    const bearer = this.v1 ? this.opts.handshakeSecret : agent.heartbeatToken;
    if (!bearer) return this.fail(agent, 'no_token');
    const payload = Buffer.from(JSON.stringify(this.body(agent, firstBoot)));
    let settled = false;
    let gotResponse = false;
    const settle = (cause?: string, answer?: string) => {
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
      if (!done) return;
      if (answer === undefined)
        return rejected(cause === 'timeout' ? 'timeout of request exceeded' : 'unknown');
      let parsed: unknown;
      try {
        parsed = JSON.parse(answer);
      } catch {
        return rejected('unknown');
      }
      const p = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
        success?: unknown;
        error?: unknown;
      };
      if (p.success === true) return done({ accepted: true });
      rejected(typeof p.error === 'string' && p.error ? p.error : 'unknown');
    };
    const options: http.RequestOptions & { [POOL_KEY]: number } = {
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: this.url.port,
      path: this.path,
      method: 'POST',
      agent: this.agent,
      [POOL_KEY]: agent.dropletId,
      headers: {
        'content-type': 'application/json',
        'content-length': payload.length,
        authorization: `Bearer ${bearer}`,
      },
    };
    const req = this.transport.request(options, (res) => {
      gotResponse = true;
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      if (done) {
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= ANSWER_LIMIT) chunks.push(c);
        });
      } else {
        res.resume();
      }
      res.on('close', () => {
        if (!res.complete) return settle('error');
        const answer = done ? Buffer.concat(chunks).toString('utf8') : undefined;
        settle(status >= 200 && status < 300 ? undefined : String(status), answer ?? '');
      });
    });
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
