/**
 * One simulated sidecar agent: power, boot, the running image tag, n8n, workflows, credentials,
 * faults and counters. Pure state plus the rules that derive what the agent reports; the fleet
 * drives power and timing, commands.ts implements the actions.
 */
import type { ServerResponse } from 'node:http';
import { JtiCache } from '../../sidecar/jwt';
import type { N8nStatus } from '../../sidecar/protocol';
import type { ScheduledTask } from './scheduler';
import type { SidecarFault, SidecarFaultKind } from './faults';

export type AgentPower = 'off' | 'booting' | 'on';
export type AgentCondition = 'off' | 'booting' | 'running' | 'crashed' | 'hung' | 'boot_failed';

export interface NewSidecarAgent {
  dropletId: number;
  workspaceId: string;
  /** the droplet's native heartbeat token (native mode) */
  heartbeatToken?: string;
  sidecarVersion: string;
  n8nVersion: string;
  poweredOn: boolean;
}

export interface SimWorkflow {
  id: string;
  name: string;
  active: boolean;
  json: Record<string, unknown>;
  credentialMap?: Record<string, string>;
}

export interface SimCredential {
  id: string;
  type: string;
  name: string;
  /** decrypted content (the simulator holds the master key) */
  data: Record<string, unknown>;
  rotations: number;
}

export interface SidecarAgentView {
  dropletId: number;
  workspaceId: string;
  sidecarUrl: string;
  power: AgentPower;
  condition: AgentCondition;
  sidecarVersion: string;
  n8nVersion: string;
  n8nStatus: N8nStatus;
  pulledTags: string[];
  faults: SidecarFault[];
  uptimeSeconds: number;
  boots: number;
  n8nRestarts: number;
  workflows: SimWorkflow[];
  credentials: SimCredential[];
  heartbeatsSent: number;
  heartbeatsFailed: number;
  lastHeartbeatAt?: string;
  commandCounts: Record<string, number>;
}

const LOG_LINES = 200;

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
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

export class SimAgent {
  readonly dropletId: number;
  readonly workspaceId: string;
  readonly heartbeatToken?: string;
  readonly sidecarUrl: string;
  power: AgentPower;
  /** set when a boot completed into bootFailure: on, but nothing answers */
  bootFailed = false;
  /** bumped whenever the running processes die (power loss, crash); work in progress is lost */
  epoch = 0;
  bootedAt: number;
  boots = 0;
  sidecarVersion: string;
  n8nVersion: string;
  n8nRunning = true;
  n8nRestarts = 0;
  readonly pulledTags = new Set<string>();
  readonly faults = new Map<string, SidecarFault>();
  readonly workflows = new Map<string, SimWorkflow>();
  readonly credentials = new Map<string, SimCredential>();
  readonly commandCounts = new Map<string, number>();
  heartbeatsSent = 0;
  heartbeatsFailed = 0;
  lastHeartbeatAt = 0;
  /** pending boot of the current power-on */
  bootTask?: ScheduledTask;
  heartbeatTask?: ScheduledTask;
  /** requests being handled or held (hang); destroyed when the agent goes away */
  readonly openResponses = new Set<ServerResponse>();
  private jti?: JtiCache;
  private logs?: string[];
  private nextId = 1;
  private readonly rand: () => number;
  private readonly cpuBase: number;
  private readonly memBase: number;
  private readonly diskBase: number;
  readonly memoryLimitMb = 3_906;

  constructor(spec: NewSidecarAgent, sidecarUrl: string, now: number) {
    this.dropletId = spec.dropletId;
    this.workspaceId = spec.workspaceId;
    this.heartbeatToken = spec.heartbeatToken;
    this.sidecarUrl = sidecarUrl;
    this.sidecarVersion = spec.sidecarVersion;
    this.n8nVersion = spec.n8nVersion;
    this.pulledTags.add(spec.sidecarVersion);
    this.power = spec.poweredOn ? 'on' : 'off';
    this.bootedAt = now;
    this.rand = prng(spec.dropletId);
    this.cpuBase = 3 + this.rand() * 20;
    this.memBase = 30 + this.rand() * 30;
    this.diskBase = 20 + this.rand() * 40;
  }

  jtiCache(capacity: number): JtiCache {
    return (this.jti ??= new JtiCache(capacity));
  }

  hasFault(kind: SidecarFaultKind): boolean {
    if (kind === 'failAction') {
      for (const f of this.faults.values()) if (f.kind === 'failAction') return true;
      return false;
    }
    return this.faults.has(kind);
  }

  failingAction(action: string): string | undefined {
    const f = this.faults.get(`failAction:${action}`);
    return f?.kind === 'failAction' ? (f.error ?? `${action} failed (simulated)`) : undefined;
  }

  get condition(): AgentCondition {
    if (this.power === 'off') return 'off';
    if (this.power === 'booting') return 'booting';
    if (this.bootFailed) return 'boot_failed';
    if (this.faults.has('crash') || this.faults.has('recoverOnlyAfterPowerCycle')) return 'crashed';
    if (this.faults.has('hang')) return 'hung';
    return 'running';
  }

  /** does the sidecar process answer at all (and send heartbeats)? */
  get alive(): boolean {
    return this.condition === 'running';
  }

  get versionBroken(): boolean {
    const f = this.faults.get('brokenVersion');
    return f?.kind === 'brokenVersion' && f.tag === this.sidecarVersion;
  }

  get n8nStatus(): N8nStatus {
    if (!this.alive || !this.n8nRunning || this.versionBroken) return 'down';
    if (this.faults.has('degraded')) return 'degraded';
    return 'healthy';
  }

  uptimeSeconds(now: number): number {
    return this.power === 'on' ? Math.max(0, Math.floor((now - this.bootedAt) / 1000)) : 0;
  }

  count(action: string): void {
    this.commandCounts.set(action, (this.commandCounts.get(action) ?? 0) + 1);
  }

  newId(prefix: string): string {
    return `${prefix}_${this.dropletId}_${this.nextId++}`;
  }

  log(now: number, line: string): void {
    const logs = (this.logs ??= []);
    logs.push(`${new Date(now).toISOString()} ${line}`);
    if (logs.length > LOG_LINES) logs.splice(0, logs.length - LOG_LINES);
  }

  logLines(): readonly string[] {
    return this.logs ?? [];
  }

  /** A plausible sample of resource use, jittered around the agent's own baseline. */
  sample(): { cpu: number; mem: number; disk: number; memMb: number } {
    const n8nLoad = this.n8nStatus === 'down' ? 0.3 : 1;
    const cpu = round1(clamp((this.cpuBase + (this.rand() - 0.5) * 6) * n8nLoad, 0, 100));
    const mem = round1(clamp((this.memBase + (this.rand() - 0.5) * 4) * n8nLoad, 0, 100));
    const disk = round1(clamp(this.diskBase + this.workflows.size * 0.01, 0, 100));
    return { cpu, mem, disk, memMb: Math.round((mem / 100) * this.memoryLimitMb) };
  }

  /** Destroys every socket of a request this agent holds (power loss, crash, hang ended by boot). */
  dropConnections(): void {
    for (const res of this.openResponses) res.socket?.destroy();
    this.openResponses.clear();
  }

  view(now: number): SidecarAgentView {
    return {
      dropletId: this.dropletId,
      workspaceId: this.workspaceId,
      sidecarUrl: this.sidecarUrl,
      power: this.power,
      condition: this.condition,
      sidecarVersion: this.sidecarVersion,
      n8nVersion: this.n8nVersion,
      n8nStatus: this.n8nStatus,
      pulledTags: [...this.pulledTags],
      faults: [...this.faults.values()].map((f) => ({ ...f })),
      uptimeSeconds: this.uptimeSeconds(now),
      boots: this.boots,
      n8nRestarts: this.n8nRestarts,
      workflows: [...this.workflows.values()].map((w) => ({ ...w, json: structuredClone(w.json) })),
      credentials: [...this.credentials.values()].map((c) => ({ ...c, data: structuredClone(c.data) })),
      heartbeatsSent: this.heartbeatsSent,
      heartbeatsFailed: this.heartbeatsFailed,
      lastHeartbeatAt: this.lastHeartbeatAt ? new Date(this.lastHeartbeatAt).toISOString() : undefined,
      commandCounts: Object.fromEntries(this.commandCounts),
    };
  }
}
