/**
 * The fleet simulator: a DigitalOcean API simulator and a fleet of simulated sidecars wired
 * together (a droplet's power state drives its sidecar: power_on boots it, power_off/shutdown cuts
 * it, power_cycle is a fresh boot that clears crash faults), and the control plane's database
 * seeded with matching workspaces, droplets (sidecar_url, n8n_version = the n8n image tag) and
 * heartbeat tokens (native mode). The sidecars speak protocol v1 as the deployed agents do
 * (handshake keep-alives) unless heartbeatMode 'native' is asked for.
 * Used by tests, by `genesis-cp simulate` and by `make dev`.
 */
import { createPublicKey } from 'node:crypto';
import type { Pool } from 'pg';
import { issueHeartbeatToken } from '../heartbeats/tokens';
import type { Logger } from '../logger';
import { createDigitalOceanSimulator, type DigitalOceanSimulator } from './digitalocean';
import { createSidecarFleet, type SidecarFault, type SidecarFleet } from './sidecars';
import { DEFAULT_AGENT_VERSION, DEFAULT_N8N_IMAGE_TAG } from './sidecars/agent';

export interface FleetSimulatorOptions {
  /** The dashboard's private key (PEM); the sidecars verify command tokens with its public half. */
  jwtPrivateKey: string;
  /** The credential master key the simulated sidecars decrypt blobs with. */
  masterKey?: string;
  /** Where the sidecars send handshakes / heartbeats (the control plane's API base URL). */
  dashboardUrl?: string;
  /** 'v1' (default) or 'native'; 'legacy' is a deprecated alias of 'v1' */
  heartbeatMode?: 'v1' | 'native' | 'legacy';
  /** v1's bearer (SIDECAR_HANDSHAKE_SECRET); needed with a dashboardUrl in v1 mode */
  handshakeSecret?: string;
  heartbeatIntervalMs?: number;
  bootDelayMs?: number;
  /** docker pull and new-container health durations on the sidecars; default 0 */
  pullDelayMs?: number;
  swapDelayMs?: number;
  /** SWAP_CONTAINER's docker health wait (spent by a failing tag); default 60 000 */
  swapHealthWaitMs?: number;
  /** RESTART_N8N duration; default 0 */
  restartDelayMs?: number;
  /** crash-loop restart backoff of an agent whose first-boot handshake is rejected; default 100 */
  restartBackoffBaseMs?: number;
  restartBackoffMaxMs?: number;
  /** executions per minute per active n8n workflow; default 1 */
  executionsPerMinute?: number;
  actionDelayMs?: number;
  doToken?: string;
  /** More DigitalOcean tokens, each mapped to its account (the simulator's `tokenAccounts`). */
  doTokenAccounts?: Record<string, string>;
  /** Port of the DigitalOcean simulator; default any free port. */
  doPort?: number;
  doRatePerMinute?: number;
  doRatePerHour?: number;
  logger?: Logger;
}

export interface SimulatedDroplet {
  dropletId: number;
  workspaceId: string;
  /** the agent's DROPLET_ID (the droplet_id claim it accepts); default the sidecar_url host */
  agentDropletId?: string;
  /** the running n8n container's tag (seeded as droplets.n8n_version); default "1.70.0" */
  n8nImageTag?: string;
  /** has the agent already registered? default true; false: first boot crash-loops until accepted */
  registered?: boolean;
  /** the agent's own version (constant; seeded as droplets.sidecar_version); default "1.0.0" */
  sidecarVersion?: string;
  /** @deprecated alias of n8nImageTag */
  n8nVersion?: string;
  poweredOn?: boolean;
  fault?: SidecarFault;
  /** the DigitalOcean account (team) it is recorded in (droplets.account); default `default` */
  account?: string;
}

export interface FleetSimulator {
  digitalocean: DigitalOceanSimulator;
  sidecars: SidecarFleet;
  /** Adds droplets to both simulators and (with a pool) to the control plane's database. */
  addDroplets(pool: Pool | undefined, droplets: SimulatedDroplet[]): Promise<void>;
  close(): Promise<void>;
}

export async function createFleetSimulator(opts: FleetSimulatorOptions): Promise<FleetSimulator> {
  const sidecars = await createSidecarFleet({
    publicKey: createPublicKey(opts.jwtPrivateKey),
    masterKey: opts.masterKey ?? 'simulator-master-key',
    dashboardUrl: opts.dashboardUrl,
    heartbeatMode: opts.heartbeatMode === 'native' ? 'native' : 'v1',
    handshakeSecret: opts.handshakeSecret,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 60_000,
    bootDelayMs: opts.bootDelayMs ?? 1_000,
    pullDelayMs: opts.pullDelayMs,
    swapDelayMs: opts.swapDelayMs,
    swapHealthWaitMs: opts.swapHealthWaitMs,
    restartDelayMs: opts.restartDelayMs,
    restartBackoffBaseMs: opts.restartBackoffBaseMs,
    restartBackoffMaxMs: opts.restartBackoffMaxMs,
    executionsPerMinute: opts.executionsPerMinute,
    logger: opts.logger,
  });
  const digitalocean = await createDigitalOceanSimulator({
    actionDelayMs: opts.actionDelayMs ?? 2_000,
    ...(opts.doPort ? { port: opts.doPort } : {}),
    ...(opts.doToken ? { tokens: [opts.doToken] } : {}),
    ...(opts.doTokenAccounts ? { tokenAccounts: opts.doTokenAccounts } : {}),
    ...(opts.doRatePerMinute ? { perMinute: opts.doRatePerMinute } : {}),
    ...(opts.doRatePerHour ? { perHour: opts.doRatePerHour } : {}),
    onPowerChange: (id, status, cause) => {
      if (!sidecars.agent(id)) return;
      if (status === 'off') sidecars.setPower(id, false);
      else if (cause === 'power_cycle' || cause === 'reboot') sidecars.powerCycle(id);
      else sidecars.setPower(id, true);
    },
  });

  return {
    digitalocean,
    sidecars,
    async addDroplets(pool, droplets) {
      for (const d of droplets) {
        const on = d.poweredOn ?? true;
        const n8nImageTag = d.n8nImageTag ?? d.n8nVersion ?? DEFAULT_N8N_IMAGE_TAG;
        const agentVersion = d.sidecarVersion ?? DEFAULT_AGENT_VERSION;
        digitalocean.addDroplet({
          id: d.dropletId,
          name: `genesis-${d.workspaceId}`,
          status: on ? 'active' : 'off',
          tags: ['genesis'],
          account: d.account,
        });
        let token: string | undefined;
        if (pool) {
          await pool.query(`INSERT INTO workspaces (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [
            d.workspaceId,
          ]);
          await pool.query(
            `INSERT INTO droplets (id, workspace_id, region, sidecar_url, sidecar_version, n8n_version, state, last_heartbeat_at, account)
             VALUES ($1, $2, 'nyc3', $3, $4, $5, $6, CASE WHEN $7 THEN now() END, $8)
             ON CONFLICT (id) DO UPDATE SET sidecar_url = EXCLUDED.sidecar_url, account = EXCLUDED.account,
               -- a restarted simulator's agents are up as of now, like a fresh seed says
               last_heartbeat_at = CASE WHEN $7 THEN now() ELSE droplets.last_heartbeat_at END`,
            [
              d.dropletId,
              d.workspaceId,
              sidecars.urlFor(d.dropletId),
              agentVersion,
              n8nImageTag,
              on ? 'ACTIVE_HEALTHY' : 'HIBERNATED',
              on,
              d.account ?? 'default',
            ],
          );
          token = await issueHeartbeatToken(pool, d.dropletId);
        }
        sidecars.addAgent({
          dropletId: d.dropletId,
          workspaceId: d.workspaceId,
          heartbeatToken: token,
          agentDropletId: d.agentDropletId,
          n8nImageTag,
          registered: d.registered,
          sidecarVersion: agentVersion,
          poweredOn: on,
        });
        if (d.fault) sidecars.setFault(d.dropletId, d.fault);
      }
    },
    async close() {
      await sidecars.close();
      await digitalocean.close();
    },
  };
}
