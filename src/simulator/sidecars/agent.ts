/**
 * One simulated sidecar agent (protocol v1, specs/sidecar-v1/PROTOCOL.md) and the droplet it runs
 * on: power, boot, the agent's registration (its persisted token), n8n (its container's image tag,
 * workflows, credentials, executions), docker, faults and counters. Pure state plus the rules that
 * derive what the agent reports; the fleet drives power and timing, commands.ts implements the
 * actions, heartbeats.ts the handshakes.
 *
 * Two versions are kept apart, as on the fleet: `n8nImageTag` is the tag of the running n8n
 * container (what SWAP_CONTAINER changes); `agentVersion` is the agent's own, constant (v1 has no
 * way to update itself) and never reported in v1 (only native heartbeats carry it).
 */
import type { ServerResponse } from 'node:http';
import { JtiCache } from '../../sidecar/jwt';
import { ExecutionLog } from './executions';
import { faultKey, flakyDraw, type SidecarFault, type SidecarFaultKind } from './faults';
import type { ScheduledTask } from './scheduler';

export type AgentPower = 'off' | 'booting' | 'on';
export type AgentCondition =
  | 'off'
  | 'booting'
  | 'running'
  | 'crashed'
  | 'hung'
  | 'boot_failed'
  /** first-boot handshake not answered success:true: exited 1, docker restarts it, again */
  | 'crash_loop';
export type N8nStatus = 'healthy' | 'degraded' | 'down';

export const DEFAULT_N8N_IMAGE_TAG = '1.70.0';
export const DEFAULT_AGENT_VERSION = '1.0.0';

export interface NewSidecarAgent {
  /** the DigitalOcean droplet id: the fleet's routing key (`/agents/<dropletId>`) */
  dropletId: number;
  /** WORKSPACE_ID */
  workspaceId: string;
  /**
   * DROPLET_ID as provisioning wrote it: the `droplet_id` claim the agent accepts. Default: the
   * host of its sidecar_url ("127.0.0.1"), as the fleet's cloud-init writes the public IPv4.
   */
  agentDropletId?: string;
  /** tag of the running n8nio/n8n container; default "1.70.0" */
  n8nImageTag?: string;
  /**
   * has the agent already registered (a persisted SIDECAR_TOKEN)? Default true (an existing fleet);
   * false: its first start sends the first-boot handshake and crash-loops until one is answered
   * `{success: true}` (v1 mode only).
   */
  registered?: boolean;
  /** SMTP configured: /health smtp_enabled, and capability "smtp" instead of "gmail" */
  smtpEnabled?: boolean;
  /** N8N_URL; default the fleet's n8nUrl */
  n8nUrl?: string;
  /** /health n8n_bootstrapped; default false (as recorded) */
  n8nBootstrapped?: boolean;
  /** the droplet's native heartbeat token (native mode only) */
  heartbeatToken?: string;
  /** the agent's own version; constant; only native heartbeats report it. Default "1.0.0" */
  sidecarVersion?: string;
  /** @deprecated the n8n image tag: use n8nImageTag (which wins) */
  n8nVersion?: string;
  poweredOn: boolean;
}

/** A workflow as n8n stores it (what GET_WORKFLOW returns). */
export interface SimWorkflow {
  id: string;
  name: string;
  active: boolean;
  nodes: unknown[];
  connections: Record<string, unknown>;
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

/** A credential as n8n stores it (the simulator can see the decrypted data). */
export interface SimCredential {
  id: string;
  name: string;
  /** n8n's credential type (openAiApi) */
  type: string;
  /** the fleet's credential_type as sent (openai_api) */
  credentialType: string;
  data: Record<string, unknown>;
  rotations: number;
  createdAt: string;
  updatedAt: string;
}

export interface SidecarAgentView {
  dropletId: number;
  agentDropletId: string;
  workspaceId: string;
  sidecarUrl: string;
  power: AgentPower;
  condition: AgentCondition;
  /** tag of the running n8n container */
  n8nImageTag: string;
  /** the agent's own version (constant) */
  agentVersion: string;
  /** @deprecated the agent's own version: read agentVersion (v1 agents never change it) */
  sidecarVersion: string;
  /** @deprecated the n8n image tag: read n8nImageTag */
  n8nVersion: string;
  n8nStatus: N8nStatus;
  containerId: string;
  /** images pulled, as "<image>:<tag>" */
  pulledImages: string[];
  /** tags of n8nio/n8n pulled (including the running one) */
  pulledTags: string[];
  faults: SidecarFault[];
  uptimeSeconds: number;
  boots: number;
  n8nRestarts: number;
  swaps: number;
  workflows: SimWorkflow[];
  credentials: SimCredential[];
  runningExecutions: number;
  /** has the agent a persisted token (v1 registration done)? */
  registered: boolean;
  /** first-boot handshakes answered success:true / not */
  handshakesAccepted: number;
  handshakeRejected: number;
  /** the error the last rejected first-boot handshake logged ("Handshake rejected: <error>") */
  lastHandshakeError?: string;
  /** keep-alives (v1) or native heartbeats delivered (2xx) / not */
  heartbeatsSent: number;
  heartbeatsFailed: number;
  lastHeartbeatAt?: string;
  commandCounts: Record<string, number>;
}

const LOG_LINES = 500;
export const DEGRADED_RUNNING_EXECUTIONS = 50;

/** Small deterministic PRNG per agent (mulberry32) for plausible, stable metrics. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

export class SimAgent {
  readonly dropletId: number;
  readonly agentDropletId: string;
  readonly workspaceId: string;
  readonly heartbeatToken?: string;
  readonly sidecarUrl: string;
  readonly agentVersion: string;
  readonly smtpEnabled: boolean;
  readonly n8nBootstrapped: boolean;
  readonly n8nUrl: string;
  power: AgentPower;
  /** set when a boot completed into bootFailure: on, but nothing answers */
  bootFailed = false;
  /** the agent process exited after a rejected first-boot handshake; docker restarts it */
  crashLooping = false;
  /** bumped whenever the running processes die (power loss, crash, exit); work in progress is lost */
  epoch = 0;
  bootedAt: number;
  /** when the agent process last started (its /health uptime) */
  processStartedAt: number;
  boots = 0;
  n8nImageTag: string;
  containerId: string;
  n8nRunning = true;
  n8nRestarts = 0;
  swaps = 0;
  registered: boolean;
  handshakesAccepted = 0;
  handshakeRejected = 0;
  /** consecutive crash-loop exits (docker's restart backoff doubles with them) */
  crashLoopExits = 0;
  lastHandshakeError?: string;
  readonly pulledImages = new Set<string>();
  readonly faults = new Map<string, SidecarFault>();
  readonly workflows = new Map<string, SimWorkflow>();
  readonly credentials = new Map<string, SimCredential>();
  readonly commandCounts = new Map<string, number>();
  readonly executions: ExecutionLog;
  heartbeatsSent = 0;
  heartbeatsFailed = 0;
  lastHeartbeatAt = 0;
  /** pending boot of the current power-on */
  bootTask?: ScheduledTask;
  heartbeatTask?: ScheduledTask;
  /** pending restart of a crash-looping agent */
  restartTask?: ScheduledTask;
  /** requests being handled or held (hang); destroyed when the agent goes away */
  readonly openResponses = new Set<ServerResponse>();
  private jti?: JtiCache;
  private logs?: string[];
  private nextId = 1;
  private readonly rand: () => number;
  private readonly cpuBase: number;
  private readonly memBase: number;
  readonly memoryLimitMb = 3_906;

  constructor(
    spec: NewSidecarAgent,
    sidecarUrl: string,
    now: number,
    opts: { agentDropletId: string; executionsPerMinute: number; n8nUrl: string },
  ) {
    this.dropletId = spec.dropletId;
    this.workspaceId = spec.workspaceId;
    this.agentDropletId = opts.agentDropletId;
    this.heartbeatToken = spec.heartbeatToken;
    this.sidecarUrl = sidecarUrl;
    this.agentVersion = spec.sidecarVersion ?? DEFAULT_AGENT_VERSION;
    this.n8nImageTag = spec.n8nImageTag ?? spec.n8nVersion ?? DEFAULT_N8N_IMAGE_TAG;
    this.registered = spec.registered ?? true;
    this.smtpEnabled = spec.smtpEnabled ?? false;
    this.n8nBootstrapped = spec.n8nBootstrapped ?? false;
    this.n8nUrl = spec.n8nUrl ?? opts.n8nUrl;
    this.pulledImages.add(`n8nio/n8n:${this.n8nImageTag}`);
    this.power = spec.poweredOn ? 'on' : 'off';
    this.bootedAt = now;
    this.processStartedAt = now;
    this.rand = prng(spec.dropletId);
    this.cpuBase = 3 + this.rand() * 20;
    this.memBase = 30 + this.rand() * 30;
    this.containerId = this.newContainerId();
    this.executions = new ExecutionLog(opts.executionsPerMinute, Math.round(150 + this.rand() * 1_500));
  }

  jtiCache(capacity: number): JtiCache {
    return (this.jti ??= new JtiCache(capacity));
  }

  hasFault(kind: SidecarFaultKind): boolean {
    for (const f of this.faults.values()) if (f.kind === kind) return true;
    return false;
  }

  setFault(fault: SidecarFault, now: number): void {
    this.faults.set(faultKey(fault), { ...fault });
    this.executionsChanged(now);
  }

  clearFaults(now: number, kind?: SidecarFaultKind): void {
    for (const [key, f] of this.faults) if (kind === undefined || f.kind === kind) this.faults.delete(key);
    this.executionsChanged(now);
  }

  failingAction(action: string): string | undefined {
    const f = this.faults.get(`failAction:${action}`);
    return f?.kind === 'failAction' ? (f.error ?? `${action} failed (simulated)`) : undefined;
  }

  get condition(): AgentCondition {
    if (this.power === 'off') return 'off';
    if (this.power === 'booting') return 'booting';
    if (this.bootFailed) return 'boot_failed';
    if (this.hasFault('crash') || this.hasFault('recoverOnlyAfterPowerCycle')) return 'crashed';
    if (this.crashLooping) return 'crash_loop';
    if (this.hasFault('hang')) return 'hung';
    return 'running';
  }

  /** does the agent process answer at all (and send keep-alives)? */
  get alive(): boolean {
    return this.condition === 'running';
  }

  get dockerUp(): boolean {
    return !this.hasFault('dockerUnavailable');
  }

  /** the unhealthyTag (or deprecated brokenVersion) fault of the running tag, if any */
  private unhealthy(): 'down' | 'degraded' | undefined {
    const f = this.faults.get(`unhealthyTag:${this.n8nImageTag}`);
    if (f?.kind === 'unhealthyTag') return f.status ?? 'down';
    if (this.faults.has(`brokenVersion:${this.n8nImageTag}`)) return 'down';
    return undefined;
  }

  /** does a new container of n8nio/n8n:<tag> fail its docker health wait on this droplet? */
  failsHealthWait(tag: string): boolean {
    if (this.faults.has(`brokenTag:${tag}`)) return true;
    const f = this.faults.get(`flakyTag:${tag}`);
    return f?.kind === 'flakyTag' && flakyDraw(this.dropletId, tag) < f.share;
  }

  /**
   * Why n8n's API does not answer (the agent's "Failed to ...: <this>"), or undefined when it does.
   * Nothing listening (n8n stopped, restarting) reads as the recorded ECONNREFUSED.
   */
  n8nApiError(): string | undefined {
    if (!this.n8nUp) return `connect ECONNREFUSED ${new URL(this.n8nUrl).host}`;
    if (this.unhealthy() === 'down') return 'Request failed with status code 503';
    return undefined;
  }

  /** is the n8n container running (not restarting, swapped out, stopped)? */
  get n8nUp(): boolean {
    return this.n8nRunning && !this.hasFault('n8nStopped');
  }

  get runningExecutions(): number {
    let n = 0;
    for (const f of this.faults.values()) {
      if (f.kind === 'runningExecutions') n = Math.max(n, f.count);
      if (f.kind === 'degraded') n = Math.max(n, DEGRADED_RUNNING_EXECUTIONS + 1);
    }
    return this.n8nUp ? n : 0;
  }

  /** what the agent's own n8n health probe concludes (HEALTH_CHECK n8n_status, keep-alive version) */
  get n8nStatus(): N8nStatus {
    if (!this.alive || !this.n8nUp) return 'down';
    const u = this.unhealthy();
    if (u === 'down') return 'down';
    if (u === 'degraded' || this.runningExecutions > DEGRADED_RUNNING_EXECUTIONS) return 'degraded';
    return 'healthy';
  }

  get failingShare(): number {
    for (const f of this.faults.values()) if (f.kind === 'failingExecutions') return clamp(f.share, 0, 1);
    return 0;
  }

  get activeWorkflows(): number {
    let n = 0;
    for (const w of this.workflows.values()) if (w.active) n++;
    return n;
  }

  /** Call after anything that changes how many executions run or fail. */
  executionsChanged(now: number): void {
    const running = this.power === 'on' && this.n8nUp && this.unhealthy() !== 'down';
    this.executions.change(now, running ? this.activeWorkflows : 0, this.failingShare);
  }

  uptimeSeconds(now: number): number {
    return this.power === 'on' ? Math.max(0, Math.floor((now - this.bootedAt) / 1000)) : 0;
  }

  processUptimeSeconds(now: number): number {
    return this.power === 'on' ? Math.max(0, Math.floor((now - this.processStartedAt) / 1000)) : 0;
  }

  count(action: string): void {
    this.commandCounts.set(action, (this.commandCounts.get(action) ?? 0) + 1);
  }

  /** n8n-style ids, unique per droplet */
  newId(prefix: string): string {
    return `${prefix}${this.dropletId.toString(36)}x${this.nextId++}`;
  }

  newContainerId(): string {
    let id = '';
    while (id.length < 64)
      id += Math.floor(this.rand() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    return id;
  }

  newPid(): number {
    return 100 + Math.floor(this.rand() * 60_000);
  }

  /** a line of the n8n container's log (GET_LOGS) */
  log(now: number, line: string): void {
    const logs = (this.logs ??= []);
    logs.push(`${new Date(now).toISOString()} ${line}`);
    if (logs.length > LOG_LINES) logs.splice(0, logs.length - LOG_LINES);
  }

  logLines(): readonly string[] {
    return this.logs ?? [];
  }

  /** docker stats of the n8n container, jittered around the droplet's own baseline */
  stats(): { cpuPercent: number; memPercent: number; memMb: number } {
    const load = this.n8nStatus === 'down' ? 0.3 : this.n8nStatus === 'degraded' ? 2.5 : 1;
    const cpu = round2(clamp((this.cpuBase + (this.rand() - 0.5) * 6) * load, 0, 100));
    const mem = round1(clamp((this.memBase + (this.rand() - 0.5) * 4) * Math.min(load, 1.4), 0, 100));
    return { cpuPercent: cpu, memPercent: mem, memMb: round2((mem / 100) * this.memoryLimitMb) };
  }

  /** host-level sample for native heartbeats */
  sample(): { cpu: number; mem: number; disk: number } {
    const s = this.stats();
    return {
      cpu: round1(s.cpuPercent),
      mem: s.memPercent,
      disk: round1(clamp(20 + this.workflows.size * 0.01 + (this.dropletId % 40), 0, 100)),
    };
  }

  /** Destroys every socket of a request this agent holds (power loss, crash, hang ended by boot). */
  dropConnections(): void {
    for (const res of this.openResponses) res.socket?.destroy();
    this.openResponses.clear();
  }

  view(now: number): SidecarAgentView {
    return {
      dropletId: this.dropletId,
      agentDropletId: this.agentDropletId,
      workspaceId: this.workspaceId,
      sidecarUrl: this.sidecarUrl,
      power: this.power,
      condition: this.condition,
      n8nImageTag: this.n8nImageTag,
      agentVersion: this.agentVersion,
      sidecarVersion: this.agentVersion,
      n8nVersion: this.n8nImageTag,
      n8nStatus: this.n8nStatus,
      containerId: this.containerId,
      pulledImages: [...this.pulledImages],
      pulledTags: [...this.pulledImages]
        .filter((i) => i.startsWith('n8nio/n8n:'))
        .map((i) => i.slice('n8nio/n8n:'.length)),
      faults: [...this.faults.values()].map((f) => ({ ...f })),
      uptimeSeconds: this.uptimeSeconds(now),
      boots: this.boots,
      n8nRestarts: this.n8nRestarts,
      swaps: this.swaps,
      workflows: [...this.workflows.values()].map((w) => structuredClone(w)),
      credentials: [...this.credentials.values()].map((c) => structuredClone(c)),
      runningExecutions: this.runningExecutions,
      registered: this.registered,
      handshakesAccepted: this.handshakesAccepted,
      handshakeRejected: this.handshakeRejected,
      lastHandshakeError: this.lastHandshakeError,
      heartbeatsSent: this.heartbeatsSent,
      heartbeatsFailed: this.heartbeatsFailed,
      lastHeartbeatAt: this.lastHeartbeatAt ? new Date(this.lastHeartbeatAt).toISOString() : undefined,
      commandCounts: Object.fromEntries(this.commandCounts),
    };
  }
}
