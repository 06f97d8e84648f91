/**
 * The control plane's client for the Vercel app (`genesis-control-plane/client`).
 *
 *   const genesis = await getGenesisClient();           // one connection per runtime instance
 *   const { workflowId, joined } = await genesis.wake({ workspaceId, dropletId, reason: 'user_login' });
 *
 * - Inputs are validated before anything is sent; a bad one throws GenesisInputError naming the field.
 * - Starts are idempotent: ids derive from what the operation acts on (power-<droplet>,
 *   n8n-update-<droplet>-<tag>, ...) with the conflict policy that returns the running
 *   workflow, so a retried HTTP request never starts a second operation (`joined: true`).
 * - Serverless-safe: the connection is cached on globalThis (survives hot reloads and warm
 *   invocations), connects with a short timeout, Temporal Cloud by API key or mTLS from the
 *   environment, and payloads are encrypted with PAYLOAD_CODEC_KEYS like the workers'.
 */
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import {
  abortSignal,
  agentSelfUpdateRefusal,
  credentialInjectionContract,
  desiredStateViewContract,
  fleetRolloutContract,
  hardRebootContract,
  hibernateContract,
  n8nUpdateContract,
  powerScheduleCommandContract,
  promoteUpdate,
  setAgentDropletIdContract,
  setDesiredStateContract,
  wakeContract,
  workflowUpdateContract,
  type CredentialInjectionInput,
  type DesiredStateView,
  type FleetDrift,
  type FleetRolloutInput,
  type HardRebootInput,
  type HibernateDropletInput,
  type N8nUpdateInput,
  type PowerScheduleCommand,
  type PowerScheduleInput,
  type RolloutProgress,
  type StoredPowerSchedule,
  type SetAgentDropletIdInput,
  type SetDesiredStateInput,
  type TenantDrift,
  type WakeDropletInput,
  type WorkflowContract,
  type WorkflowUpdateInput,
} from '../../contracts';
import { parseCodecKeys } from '../temporal/codec-keys';
import { temporalConnectionSettings } from '../temporal/connection-options';
import { dataConverterFor } from '../temporal/payload-codec';
import {
  abortRollout,
  pauseRollout,
  resumeRollout,
  rolloutProgress,
  startFleetRollout,
} from '../temporal/rollout-starts';
import { executeWorkflow, startWorkflow } from '../temporal/start';

export { RolloutIdUsedError, RolloutRequestRefusedError } from '../temporal/rollout-starts';
export type {
  PowerScheduleInput,
  StoredPowerSchedule,
  DesiredStateView,
  FleetDrift,
  SetDesiredStateInput,
  TenantDrift,
  CredentialInjectionInput,
  FleetRolloutInput,
  RolloutProgress,
  HardRebootInput,
  HibernateDropletInput,
  N8nUpdateInput,
  WakeDropletInput,
  WorkflowUpdateInput,
};

export class GenesisInputError extends Error {
  constructor(
    readonly operation: string,
    readonly problem: string,
  ) {
    super(`${operation}: invalid input: ${problem}`);
    this.name = 'GenesisInputError';
  }
}

export interface GenesisClientOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  apiKey?: string;
  tlsCert?: string;
  tlsKey?: string;
  codecKeys?: string;
  connectTimeoutMs?: number;
}

export interface StartedOperation {
  workflowId: string;
  runId: string;
  /** True when the same operation was already running and this call joined it. */
  joined: boolean;
}

const fromEnv = (): GenesisClientOptions => ({
  address: process.env.TEMPORAL_ADDRESS,
  namespace: process.env.TEMPORAL_NAMESPACE,
  taskQueue: process.env.TEMPORAL_TASK_QUEUE,
  apiKey: process.env.TEMPORAL_API_KEY,
  tlsCert: process.env.TEMPORAL_TLS_CERT,
  tlsKey: process.env.TEMPORAL_TLS_KEY,
  codecKeys: process.env.PAYLOAD_CODEC_KEYS,
});

const check = (operation: string, problem: string | undefined) => {
  if (problem) throw new GenesisInputError(operation, problem);
};
const started = (s: { workflowId: string; runId: string; joined: boolean }): StartedOperation => ({
  workflowId: s.workflowId,
  runId: s.runId,
  joined: s.joined,
});

export class GenesisClient {
  constructor(
    readonly temporal: Client,
    readonly taskQueue: string,
  ) {}

  async wake(input: WakeDropletInput): Promise<StartedOperation> {
    return this.start('wake', wakeContract, input);
  }

  async hibernate(input: HibernateDropletInput): Promise<StartedOperation> {
    return this.start('hibernate', hibernateContract, input);
  }

  async hardReboot(input: HardRebootInput): Promise<StartedOperation> {
    return this.start('hardReboot', hardRebootContract, input);
  }

  /** Blue-green update of the droplet's n8n container to n8nio/n8n:<toTag> (the agent's SWAP_CONTAINER). */
  async n8nUpdate(input: N8nUpdateInput): Promise<StartedOperation> {
    return this.start('n8nUpdate', n8nUpdateContract, input);
  }

  /**
   * Records the droplet_id claim the droplet's agent was provisioned with (its DROPLET_ID), for
   * droplets provisioned with something other than their public IPv4. Resolves once recorded.
   */
  async setAgentDropletId(input: SetAgentDropletIdInput): Promise<{ agentDropletId: string }> {
    check('setAgentDropletId', setAgentDropletIdContract.validate?.(input));
    return executeWorkflow(this.temporal, setAgentDropletIdContract, input, { taskQueue: this.taskQueue });
  }

  /**
   * Updating the agent itself: always refused for protocol v1 agents (they advertise no
   * self_update capability; SWAP_CONTAINER swaps n8n, not the agent). Use n8nUpdate for n8n.
   */
  sidecarUpdate(_input: unknown): Promise<never> {
    return Promise.reject(new GenesisInputError('sidecarUpdate', agentSelfUpdateRefusal([])!));
  }

  async workflowUpdate(input: WorkflowUpdateInput): Promise<StartedOperation> {
    return this.start('workflowUpdate', workflowUpdateContract, input);
  }

  async credentialInjection(input: CredentialInjectionInput): Promise<StartedOperation> {
    return this.start('credentialInjection', credentialInjectionContract, input);
  }

  /** Starts a fleet rollout (workflow id rollout-<rolloutId>; a retried start joins it). */
  async fleetRollout(input: FleetRolloutInput): Promise<StartedOperation> {
    check('fleetRollout', fleetRolloutContract.validate?.(input));
    return started(await startFleetRollout(this.temporal, this.taskQueue, input));
  }

  /** Per-wave counts and failures with reasons of a rollout. */
  async rolloutProgress(rolloutId: string): Promise<RolloutProgress> {
    return rolloutProgress(this.temporal, this.rolloutId(rolloutId));
  }

  async pauseRollout(
    rolloutId: string,
    req: { reason?: string; by?: string } = {},
  ): Promise<RolloutProgress> {
    return pauseRollout(this.temporal, this.rolloutId(rolloutId), req);
  }

  async resumeRollout(rolloutId: string, req: { by?: string } = {}): Promise<RolloutProgress> {
    return resumeRollout(this.temporal, this.rolloutId(rolloutId), req);
  }

  /** Stops the rollout: in-flight updates abort, and what it changed rolls back. */
  async abortRollout(
    rolloutId: string,
    req: { reason?: string; by?: string } = {},
  ): Promise<RolloutProgress> {
    return abortRollout(this.temporal, this.rolloutId(rolloutId), req);
  }

  /**
   * Sets (or replaces) a workspace's power schedule: time zone, weekly awake windows, wake lead
   * time, idle rule. The reconciler acts on it from its next tick. Resolves with what was stored.
   */
  async setPowerSchedule(schedule: PowerScheduleInput, by?: string): Promise<StoredPowerSchedule> {
    const r = await this.powerScheduleCommand('setPowerSchedule', { op: 'set', schedule, by });
    return r.schedule!;
  }

  /** The workspace's power schedule, or null when it has none. */
  async getPowerSchedule(workspaceId: string): Promise<StoredPowerSchedule | null> {
    return (await this.powerScheduleCommand('getPowerSchedule', { op: 'get', workspaceId })).schedule;
  }

  /** Removes the workspace's schedule (its droplets stay as they are); true when it had one. */
  async clearPowerSchedule(workspaceId: string, by?: string): Promise<boolean> {
    return (
      (await this.powerScheduleCommand('clearPowerSchedule', { op: 'clear', workspaceId, by })).cleared ??
      false
    );
  }

  private async powerScheduleCommand(operation: string, input: PowerScheduleCommand) {
    check(operation, powerScheduleCommandContract.validate?.(input));
    return executeWorkflow(this.temporal, powerScheduleCommandContract, input, { taskQueue: this.taskQueue });
  }

  /**
   * Changes a tenant's desired state (what the reconciler converges it to: n8n tag, workflows with
   * their JSON, credentials that must exist with their encrypted blobs; fields left out stay).
   * Resolves once stored, with the new state (no workflow JSON, no blob).
   */
  async setDesiredState(input: SetDesiredStateInput): Promise<DesiredStateView> {
    check('setDesiredState', setDesiredStateContract.validate?.(input));
    return executeWorkflow(
      this.temporal,
      setDesiredStateContract,
      { setBy: 'client', ...input },
      {
        taskQueue: this.taskQueue,
      },
    );
  }

  /** A tenant's desired state (no workflow JSON, no blob). */
  async getDesiredState(workspaceId: string): Promise<DesiredStateView> {
    const r = await this.view({ workspaceId });
    return r.desired!;
  }

  /** A tenant's drift from its desired state, or (no workspace) the fleet's: counts and drifted tenants. */
  async getDrift(workspaceId: string): Promise<TenantDrift | null>;
  async getDrift(opts?: { limit?: number }): Promise<FleetDrift>;
  async getDrift(arg?: string | { limit?: number }): Promise<TenantDrift | FleetDrift | null> {
    if (typeof arg === 'string') return (await this.view({ workspaceId: arg })).drift ?? null;
    return (await this.view({ limit: arg?.limit })).fleet!;
  }

  private view(input: { workspaceId?: string; limit?: number }) {
    check('desiredState', desiredStateViewContract.validate?.(input));
    return executeWorkflow(this.temporal, desiredStateViewContract, input, { taskQueue: this.taskQueue });
  }

  /** Validates the input against the contract, then starts (or joins) its workflow by name. */
  private async start<W extends Workflow>(
    operation: string,
    contract: WorkflowContract<W>,
    input: Parameters<W>[0],
  ): Promise<StartedOperation> {
    check(operation, contract.validate?.(input));
    return started(await startWorkflow(this.temporal, contract, input, { taskQueue: this.taskQueue }));
  }

  private rolloutId(id: string): string {
    if (typeof id !== 'string' || !id)
      throw new GenesisInputError('rollout', 'rolloutId must be a non-empty string');
    return id;
  }

  /** The `status` query every operation answers (phase, attempt, last error...). */
  async status(workflowId: string): Promise<unknown> {
    return this.handle(workflowId).query('status');
  }

  /** Promotes an n8n update waiting at its manual gate; answers its status after promotion. */
  async promote(workflowId: string, by?: string): Promise<unknown> {
    return this.handle(workflowId).executeUpdate(promoteUpdate, { args: [{ by }] });
  }

  /** Aborts an n8n update (it swaps back to the previous tag). */
  async abort(workflowId: string, reason?: string): Promise<void> {
    await this.handle(workflowId).signal(abortSignal, { reason });
  }

  private handle(workflowId: string): WorkflowHandle {
    if (!workflowId) throw new GenesisInputError('handle', 'workflowId must be a non-empty string');
    return this.temporal.workflow.getHandle(workflowId);
  }
}

const CACHE = Symbol.for('genesis-control-plane.client');
type Cache = { [CACHE]?: Promise<GenesisClient> };

/** The runtime instance's client: created on first use, then reused by every invocation. */
export function getGenesisClient(options: GenesisClientOptions = {}): Promise<GenesisClient> {
  const g = globalThis as Cache;
  g[CACHE] ??= createGenesisClient(options).catch((err: unknown) => {
    delete g[CACHE]; // a failed connect is retried by the next call, not cached
    throw err;
  });
  return g[CACHE];
}

export async function createGenesisClient(options: GenesisClientOptions = {}): Promise<GenesisClient> {
  const o = {
    ...fromEnv(),
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  const keys = o.codecKeys ? parseCodecKeys(o.codecKeys) : undefined;
  if (keys && 'problem' in keys)
    throw new GenesisInputError('client', 'PAYLOAD_CODEC_KEYS must be keyId:base64(32 bytes)[,...]');
  const pem = (v?: string) => v?.replace(/\\n/g, '\n');
  const connection = await Connection.connect({
    ...temporalConnectionSettings({
      address: o.address ?? 'localhost:7233',
      apiKey: o.apiKey,
      tls: o.apiKey || o.tlsCert ? { cert: pem(o.tlsCert), key: pem(o.tlsKey) } : undefined,
    }),
    connectTimeout: o.connectTimeoutMs ?? 3_000,
  });
  const temporal = new Client({
    connection,
    namespace: o.namespace ?? 'default',
    dataConverter: dataConverterFor(keys && 'keys' in keys ? keys.keys : undefined),
  });
  return new GenesisClient(temporal, o.taskQueue ?? 'genesis-control-plane');
}
