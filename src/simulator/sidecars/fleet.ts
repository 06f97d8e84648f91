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
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../logger';
import { loadPublicKey } from '../../sidecar/jwt';
import { type NewSidecarAgent, SimAgent, type SidecarAgentView } from './agent';
import { CLEARED_BY_BOOT, CLEARED_BY_POWER_CYCLE, type SidecarFault, type SidecarFaultKind } from './faults';
import { type HeartbeatMode, HeartbeatSender, type HeartbeatStats } from './heartbeats';
import { Scheduler } from './scheduler';
import { type CommandCounters, createRequestHandler, newCommandCounters } from './server';

export interface SidecarFleetOptions {
  /** the dashboard's RSA public key (PEM or KeyObject): verifies command tokens */
  publicKey: string | KeyObject;
  /** the fleet's credential master key: opens INJECT/ROTATE_CREDENTIAL blobs */
  masterKey: string;
  /** where heartbeats go; none are sent without it */
  dashboardUrl?: string;
  heartbeatMode?: HeartbeatMode;
  /** default 60 000 */
  heartbeatIntervalMs?: number;
  /** legacy mode's bearer */
  handshakeSecret?: string;
  /** power on -> sidecar up; default 1 000 */
  bootDelayMs?: number;
  /** PULL_IMAGE duration; default 0 */
  pullDelayMs?: number;
  /** SWAP_CONTAINER duration (n8n down meanwhile); default 0 */
  swapDelayMs?: number;
  /** RESTART_N8N duration (n8n down meanwhile); default 0 */
  restartDelayMs?: number;
  /** send one heartbeat as soon as a boot completes; default true */
  heartbeatOnBoot?: boolean;
  /** keep-alive sockets towards the dashboard; default 64 */
  heartbeatMaxSockets?: number;
  /** per heartbeat request; default 10 000 */
  heartbeatTimeoutMs?: number;
  /** sends beyond this many in flight are dropped (counted as 'overload'); default 10 000 */
  maxInFlightHeartbeats?: number;
  /** legacy handshake capabilities; default every action name */
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

  constructor(private readonly opts: SidecarFleetOptions) {
    this.interval = opts.heartbeatIntervalMs ?? 60_000;
    if (!(this.interval > 0)) throw new RangeError('heartbeatIntervalMs must be positive');
    this.random = opts.random ?? Math.random;
    this.scheduler = new Scheduler(this.now, 2, (err) =>
      opts.logger?.error({ err: (err as Error).message }, 'sidecar simulator task failed'),
    );
    if (opts.dashboardUrl) {
      this.sender = new HeartbeatSender({
        dashboardUrl: opts.dashboardUrl,
        mode: opts.heartbeatMode ?? 'native',
        handshakeSecret: opts.handshakeSecret,
        maxSockets: opts.heartbeatMaxSockets ?? 64,
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
    if (this.sender && (this.opts.heartbeatMode ?? 'native') === 'native' && !spec.heartbeatToken) {
      // its heartbeats are counted as failed ('no_token') rather than sent unauthenticated
      this.opts.logger?.warn({ dropletId: spec.dropletId }, 'simulated sidecar has no heartbeat token');
    }
    const agent = new SimAgent(spec, this.urlFor(spec.dropletId), this.now());
    if (agent.power === 'on') agent.boots = 1;
    this.agents.set(spec.dropletId, agent);
    this.scheduleHeartbeats(agent, this.now() + this.random() * this.interval);
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
    a.faults.set(fault.kind === 'failAction' ? `failAction:${fault.action}` : fault.kind, { ...fault });
    if (fault.kind === 'crash' || fault.kind === 'recoverOnlyAfterPowerCycle') {
      a.epoch++;
      a.dropConnections();
    }
  }

  clearFault(dropletId: number, kind?: SidecarFaultKind): void {
    const a = this.must(dropletId);
    for (const [key, f] of a.faults) if (kind === undefined || f.kind === kind) a.faults.delete(key);
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
    a.power = 'off';
    a.bootFailed = false;
    a.n8nRunning = false;
    a.epoch++;
    a.dropConnections();
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
      if (a.hasFault('bootFailure')) {
        a.bootFailed = true;
        a.log(this.now(), 'boot failed');
        return;
      }
      a.log(this.now(), `booted, sidecar ${a.sidecarVersion}`);
      if (this.sender && (this.opts.heartbeatOnBoot ?? true)) this.sender.send(a);
    });
  }

  private scheduleHeartbeats(a: SimAgent, firstDue: number): void {
    if (!this.sender) return;
    const sender = this.sender;
    const generation = this.generation;
    const interval = this.interval;
    const beat = (due: number) => () => {
      if (this.closed || generation !== this.generation) return;
      if (a.alive) sender.send(a);
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
