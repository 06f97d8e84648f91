/**
 * A simulated fleet of sidecar agents: many agents in one process behind one HTTP server, with
 * heartbeats on one shared scheduler, power control and faults.
 *
 * Power model (per agent):
 *   setPower(id, false)  off at once: in-flight requests are cut, no heartbeats, requests to its
 *                        paths get the socket destroyed.
 *   setPower(id, true)   from off: boots after bootDelayMs (a fresh boot clears crash and hang);
 *                        uptime restarts, a heartbeat goes out at boot, then on the agent's
 *                        schedule. On an agent already on or booting it is a no-op, like power_on
 *                        on a running droplet: it does not fix a crashed sidecar.
 *   powerCycle(id)       hard off then boot after bootDelayMs; additionally clears
 *                        recoverOnlyAfterPowerCycle. This is how a DigitalOcean power_cycle must be
 *                        signalled: the DigitalOcean simulator's power listener only reports
 *                        'off'/'active', which reads as setPower(false) + setPower(true) and would
 *                        not clear recoverOnlyAfterPowerCycle.
 *   bootFailure          a boot that completes under this fault never comes up (condition
 *                        'boot_failed') until the next power on / power cycle without the fault.
 *
 * Agent start (v1 mode, specs/sidecar-v1/PROTOCOL.md "Heartbeats"): whenever the agent process
 * starts (a boot, or docker restarting it) it either
 *   - is registered (has a persisted token): sends a keep-alive at once (heartbeatOnBoot) and every
 *     interval, version = n8n status; answers are not read; or
 *   - is not (registered: false): sends the first-boot handshake (version "unknown") and reads the
 *     answer. JSON with success:true registers it (persisted: later boots are registered). Anything
 *     else (202 {"accepted":1}, 401, an error, no dashboard) is "Handshake rejected: <error>" and
 *     exit 1 before persisting: the agent is down (condition 'crash_loop'), docker restarts it after
 *     a backoff (restartBackoffBaseMs doubling up to restartBackoffMaxMs) and it tries again.
 * Native mode has no registration: every agent heartbeats with its droplet token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../logger';
import { loadPublicKey } from '../../sidecar/jwt';
import { type NewSidecarAgent, SimAgent, type SidecarAgentView } from './agent';
import { CLEARED_BY_BOOT, CLEARED_BY_POWER_CYCLE, type SidecarFault, type SidecarFaultKind } from './faults';
import type { SimWorkflow } from './agent';
import {
  type FirstBootOutcome,
  type HeartbeatMode,
  HeartbeatSender,
  type HeartbeatStats,
} from './heartbeats';
import { Scheduler } from './scheduler';
import { type CommandCounters, createRequestHandler, newCommandCounters } from './server';

export interface SidecarFleetOptions {
  /** the dashboard's RSA public key (PEM or KeyObject): verifies command tokens */
  publicKey: string | KeyObject;
  /** the fleet's credential master key: opens INJECT/ROTATE_CREDENTIAL blobs */
  masterKey: string;
  /** DASHBOARD_URL: where handshakes (v1) or heartbeats (native) go; none are sent without it */
  dashboardUrl?: string;
  /** 'v1' (default: the deployed agent's handshakes) or 'native' (explicit opt-in); 'legacy' = v1 */
  heartbeatMode?: HeartbeatMode;
  /** keep-alive / heartbeat interval; default 60 000 (v1's) */
  heartbeatIntervalMs?: number;
  /** SIDECAR_HANDSHAKE_SECRET: v1's bearer (required with a dashboardUrl in v1 mode) */
  handshakeSecret?: string;
  /** N8N_URL of the agents (webhookUrl, connection errors); per agent too; default http://127.0.0.1:5678 */
  n8nUrl?: string;
  /** power on -> sidecar up; default 1 000 */
  bootDelayMs?: number;
  /** PULL_IMAGE duration; default 0 */
  pullDelayMs?: number;
  /** time a good new n8n container takes to pass docker health in SWAP_CONTAINER; default 0 */
  swapDelayMs?: number;
  /** SWAP_CONTAINER's docker health wait, spent in full by a failing tag; default 60 000 (v1's) */
  swapHealthWaitMs?: number;
  /** RESTART_N8N duration (n8n down meanwhile); default 0 */
  restartDelayMs?: number;
  /** a registered agent sends a keep-alive as soon as it starts; default true */
  heartbeatOnBoot?: boolean;
  /** docker's restart delay after the first exit of a crash-looping agent, doubling; default 100 */
  restartBackoffBaseMs?: number;
  /** the longest restart delay; default 60 000 */
  restartBackoffMaxMs?: number;
  /** executions per minute of each active n8n workflow (COLLECT_METRICS); default 1 */
  executionsPerMinute?: number;
  /** bound on open sockets towards the dashboard across agents; default none (each agent has its own, as on the fleet) */
  heartbeatMaxSockets?: number;
  /** per heartbeat request; default 10 000 */
  heartbeatTimeoutMs?: number;
  /** sends beyond this many in flight are dropped (counted as 'overload'); default 10 000 */
  maxInFlightHeartbeats?: number;
  /** v1 handshake capabilities of every agent; default ["deploy", "gmail"|"smtp"] per agent */
  capabilities?: string[];
  /** per-agent seen-jti capacity; default 10 000 */
  jtiCapacity?: number;
  host?: string;
  port?: number;
  /** randomness for heartbeat phases; default Math.random */
  random?: () => number;
  logger?: Logger;
}

export interface SidecarFleetStats {
  agents: number;
  byCondition: Record<string, number>;
  heartbeats: HeartbeatStats;
  /** first-boot handshakes (v1) */
  handshakes: { accepted: number; rejected: number };
  commands: CommandCounters;
  scheduler: { pending: number; ran: number };
}

export interface SidecarFleet {
  readonly port: number;
  urlFor(dropletId: number): string;
  /** adds an agent and returns its sidecar_url */
  addAgent(spec: NewSidecarAgent): string;
  agent(dropletId: number): SidecarAgentView | undefined;
  setPower(dropletId: number, on: boolean): void;
  powerCycle(dropletId: number): void;
  setFault(dropletId: number, fault: SidecarFault): void;
  /** clears one kind (failAction: every failAction) or, without kind, every fault */
  clearFault(dropletId: number, kind?: SidecarFaultKind): void;
  commandCount(dropletId: number, action?: string): number;
  /**
   * Edits a workflow in n8n "by hand on the droplet" (drift): `mutate` changes the stored workflow
   * (as GET_WORKFLOW returns it) in place; updatedAt is bumped.
   */
  editWorkflow(dropletId: number, workflowId: string, mutate: (workflow: SimWorkflow) => void): void;
  /** the heartbeat mode in effect ('legacy' reads as 'v1') */
  readonly heartbeatMode: 'v1' | 'native';
  setHeartbeatInterval(ms: number): void;
  stats(): SidecarFleetStats;
  close(): Promise<void>;
}

class Fleet implements SidecarFleet {
  port = 0;
  private readonly agents = new Map<number, SimAgent>();
  private readonly scheduler: Scheduler;
  private readonly sender?: HeartbeatSender;
  private readonly counters = newCommandCounters();
  private readonly server: Server;
  private readonly random: () => number;
  private readonly now = Date.now;
  private interval: number;
  private generation = 0;
  private closed = false;
  private handshakes = { accepted: 0, rejected: 0 };
  readonly heartbeatMode: 'v1' | 'native';

  constructor(private readonly opts: SidecarFleetOptions) {
    this.interval = opts.heartbeatIntervalMs ?? 60_000;
    if (!(this.interval > 0)) throw new RangeError('heartbeatIntervalMs must be positive');
    this.random = opts.random ?? Math.random;
    this.heartbeatMode = opts.heartbeatMode === 'native' ? 'native' : 'v1';
    this.scheduler = new Scheduler(this.now, 2, (err) =>
      opts.logger?.error({ err: (err as Error).message }, 'sidecar simulator task failed'),
    );
    if (opts.dashboardUrl) {
      this.sender = new HeartbeatSender({
        dashboardUrl: opts.dashboardUrl,
        mode: this.heartbeatMode,
        handshakeSecret: opts.handshakeSecret,
        maxSockets: opts.heartbeatMaxSockets,
        timeoutMs: opts.heartbeatTimeoutMs ?? 10_000,
        maxInFlight: opts.maxInFlightHeartbeats ?? 10_000,
        capabilities: opts.capabilities,
        now: this.now,
      });
    }
    this.server = createServer(
      createRequestHandler({
        agent: (id) => this.agents.get(id),
        publicKey: loadPublicKey(opts.publicKey),
        jtiCapacity: opts.jtiCapacity ?? 10_000,
        counters: this.counters,
        maxBodyBytes: 5 * 1024 * 1024,
        env: {
          masterKey: opts.masterKey,
          now: this.now,
          sleep: (ms) => this.scheduler.sleep(ms),
          pullDelayMs: opts.pullDelayMs ?? 0,
          swapDelayMs: opts.swapDelayMs ?? 0,
          swapHealthWaitMs: opts.swapHealthWaitMs ?? 60_000,
          restartDelayMs: opts.restartDelayMs ?? 0,
        },
      }),
    );
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  urlFor(dropletId: number): string {
    return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}/agents/${dropletId}`;
  }

  addAgent(spec: NewSidecarAgent): string {
    if (this.closed) throw new Error('fleet is closed');
    if (!Number.isSafeInteger(spec.dropletId) || spec.dropletId < 1) {
      throw new RangeError(`dropletId must be a positive integer, got ${spec.dropletId}`);
    }
    if (this.agents.has(spec.dropletId)) throw new Error(`agent ${spec.dropletId} already exists`);
    if (!spec.workspaceId) throw new TypeError('workspaceId is required');
    if (this.sender && this.heartbeatMode === 'native' && !spec.heartbeatToken) {
      // its heartbeats are counted as failed ('no_token') rather than sent unauthenticated
      this.opts.logger?.warn({ dropletId: spec.dropletId }, 'simulated sidecar has no heartbeat token');
    }
    if (spec.agentDropletId !== undefined && typeof spec.agentDropletId !== 'string') {
      throw new TypeError('agentDropletId is a string (the DROPLET_ID environment variable)');
    }
    const sidecarUrl = this.urlFor(spec.dropletId);
    const agent = new SimAgent(spec, sidecarUrl, this.now(), {
      agentDropletId: spec.agentDropletId ?? new URL(sidecarUrl).hostname,
      executionsPerMinute: this.opts.executionsPerMinute ?? 1,
      n8nUrl: this.opts.n8nUrl ?? 'http://127.0.0.1:5678',
    });
    if (this.heartbeatMode === 'native') agent.registered = true;
    this.agents.set(spec.dropletId, agent);
    this.scheduleHeartbeats(agent, this.now() + this.random() * this.interval);
    if (agent.power === 'on') {
      agent.boots = 1;
      agent.executionsChanged(this.now());
      // a registered agent already running keeps its heartbeat phase; a new one starts now
      if (!agent.registered) this.startProcess(agent);
    }
    return agent.sidecarUrl;
  }

  agent(dropletId: number): SidecarAgentView | undefined {
    return this.agents.get(dropletId)?.view(this.now());
  }

  setPower(dropletId: number, on: boolean): void {
    const a = this.must(dropletId);
    if (!on) {
      if (a.power === 'off') return;
      this.powerLoss(a);
      a.log(this.now(), 'powered off');
      return;
    }
    if (a.power !== 'off') return;
    this.boot(a, CLEARED_BY_BOOT);
  }

  powerCycle(dropletId: number): void {
    const a = this.must(dropletId);
    if (a.power !== 'off') this.powerLoss(a);
    a.log(this.now(), 'power cycled');
    this.boot(a, CLEARED_BY_POWER_CYCLE);
  }

  setFault(dropletId: number, fault: SidecarFault): void {
    const a = this.must(dropletId);
    if (
      (fault.kind === 'failingExecutions' || fault.kind === 'flakyTag') &&
      !(fault.share >= 0 && fault.share <= 1)
    ) {
      throw new RangeError(`${fault.kind} share must be in 0..1, got ${fault.share}`);
    }
    a.setFault(fault, this.now());
    if (fault.kind === 'crash' || fault.kind === 'recoverOnlyAfterPowerCycle') {
      a.epoch++;
      a.dropConnections();
    }
  }

  clearFault(dropletId: number, kind?: SidecarFaultKind): void {
    this.must(dropletId).clearFaults(this.now(), kind);
  }

  editWorkflow(dropletId: number, workflowId: string, mutate: (workflow: SimWorkflow) => void): void {
    const a = this.must(dropletId);
    const wf = a.workflows.get(workflowId);
    if (!wf) throw new Error(`droplet ${dropletId} has no n8n workflow ${workflowId}`);
    mutate(wf);
    wf.id = workflowId;
    wf.updatedAt = new Date(this.now()).toISOString();
    a.executionsChanged(this.now());
  }

  commandCount(dropletId: number, action?: string): number {
    const a = this.agents.get(dropletId);
    if (!a) return 0;
    if (action !== undefined) return a.commandCounts.get(action) ?? 0;
    let n = 0;
    for (const c of a.commandCounts.values()) n += c;
    return n;
  }

  setHeartbeatInterval(ms: number): void {
    if (!(ms > 0)) throw new RangeError('heartbeat interval must be positive');
    this.interval = ms;
    this.generation++;
    const now = this.now();
    for (const a of this.agents.values()) {
      a.heartbeatTask?.cancel();
      this.scheduleHeartbeats(a, now + this.random() * ms);
    }
  }

  stats(): SidecarFleetStats {
    const byCondition: Record<string, number> = {};
    for (const a of this.agents.values()) byCondition[a.condition] = (byCondition[a.condition] ?? 0) + 1;
    return {
      agents: this.agents.size,
      byCondition,
      heartbeats: this.sender?.stats() ?? { sent: 0, failed: 0, failures: {}, inFlight: 0 },
      handshakes: { ...this.handshakes },
      commands: structuredClone(this.counters),
      scheduler: { pending: this.scheduler.size, ran: this.scheduler.ran },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.close();
    this.sender?.close();
    for (const a of this.agents.values()) a.dropConnections();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private must(dropletId: number): SimAgent {
    const a = this.agents.get(dropletId);
    if (!a) throw new Error(`no simulated sidecar for droplet ${dropletId}`);
    return a;
  }

  /** The machine stops: processes die, in-flight requests are cut. */
  private powerLoss(a: SimAgent): void {
    a.bootTask?.cancel();
    a.bootTask = undefined;
    a.restartTask?.cancel();
    a.restartTask = undefined;
    a.power = 'off';
    a.bootFailed = false;
    a.crashLooping = false;
    a.n8nRunning = false;
    a.epoch++;
    a.dropConnections();
    a.executionsChanged(this.now());
  }

  private boot(a: SimAgent, clears: readonly SidecarFaultKind[]): void {
    for (const k of clears) a.faults.delete(k);
    a.power = 'booting';
    a.bootFailed = false;
    a.bootTask = this.scheduler.after(this.opts.bootDelayMs ?? 1_000, () => {
      a.bootTask = undefined;
      a.power = 'on';
      a.boots++;
      a.bootedAt = this.now();
      a.n8nRunning = true;
      a.crashLoopExits = 0;
      if (a.hasFault('bootFailure')) {
        a.bootFailed = true;
        return;
      }
      a.executionsChanged(this.now());
      a.log(this.now(), `n8n ready on 0.0.0.0, port 5678 (${a.n8nImageTag})`);
      this.startProcess(a);
    });
  }

  /** The agent process starts (boot, or docker restarting it after an exit). */
  private startProcess(a: SimAgent): void {
    a.processStartedAt = this.now();
    if (a.registered) {
      if (this.sender && (this.opts.heartbeatOnBoot ?? true)) this.sender.send(a);
      return;
    }
    const epoch = a.epoch;
    const outcome = (o: FirstBootOutcome) => {
      if (this.closed || a.epoch !== epoch || a.registered) return; // the process died meanwhile
      if (o.accepted) {
        a.registered = true;
        a.handshakesAccepted++;
        a.crashLoopExits = 0;
        this.handshakes.accepted++;
        return;
      }
      a.handshakeRejected++;
      a.lastHandshakeError = o.error;
      this.handshakes.rejected++;
      this.opts.logger?.debug({ dropletId: a.dropletId, error: o.error }, `Handshake rejected: ${o.error}`);
      // process.exit(1): in-flight requests die; docker (restart: unless-stopped) starts it again
      a.crashLooping = true;
      a.epoch++;
      a.dropConnections();
      const base = this.opts.restartBackoffBaseMs ?? 100;
      const delay = Math.min(
        this.opts.restartBackoffMaxMs ?? 60_000,
        base * 2 ** Math.min(a.crashLoopExits, 20),
      );
      a.crashLoopExits++;
      a.restartTask = this.scheduler.after(delay, () => {
        a.restartTask = undefined;
        if (this.closed || a.power !== 'on') return;
        a.crashLooping = false;
        if (a.alive) this.startProcess(a);
      });
    };
    if (this.sender?.mode === 'v1') this.sender.firstBoot(a, outcome);
    else outcome({ accepted: false, error: 'DASHBOARD_URL is not set' });
  }

  private scheduleHeartbeats(a: SimAgent, firstDue: number): void {
    if (!this.sender) return;
    const sender = this.sender;
    const generation = this.generation;
    const interval = this.interval;
    const beat = (due: number) => () => {
      if (this.closed || generation !== this.generation) return;
      if (a.alive && a.registered) sender.send(a);
      let next = due + interval;
      const now = this.now();
      if (next <= now) next = now + interval - ((now - due) % interval);
      a.heartbeatTask = this.scheduler.at(next, beat(next));
    };
    a.heartbeatTask = this.scheduler.at(firstDue, beat(firstDue));
  }
}

/** Starts the fleet's HTTP server; add agents with addAgent. Always close() it. */
export async function createSidecarFleet(opts: SidecarFleetOptions): Promise<SidecarFleet> {
  const fleet = new Fleet(opts);
  await fleet.listen();
  return fleet;
}
