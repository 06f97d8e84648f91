/**
 * `genesis-cp simulate` and the fleet part of `genesis-cp dev`: a fleet simulator with N agents,
 * some faulty, seeded into the control plane's database, sending v1 handshake keep-alives to the
 * control plane as the deployed agents do (native heartbeats only with heartbeatMode 'native').
 */
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { SidecarFault } from './sidecars';
import { createFleetSimulator, type FleetSimulator, type SimulatedDroplet } from './fleet';

const FAULT_KINDS = [
  'crash',
  'hang',
  'degraded',
  'bootFailure',
  'recoverOnlyAfterPowerCycle',
  'serverError',
] as const;

/** "crash:2,degraded:3" -> faults for the last agents of the fleet. */
export function parseFaultSpec(
  spec: string | undefined,
): { kind: (typeof FAULT_KINDS)[number]; count: number }[] {
  if (!spec) return [];
  return spec.split(',').map((part) => {
    const [kind, count] = part.trim().split(':');
    if (!FAULT_KINDS.includes(kind as never)) {
      throw new Error(`unknown fault "${kind}": use ${FAULT_KINDS.join(', ')}`);
    }
    const n = Number(count ?? '1');
    if (!Number.isInteger(n) || n < 0) throw new Error(`fault count for ${kind} must be a whole number`);
    return { kind: kind as (typeof FAULT_KINDS)[number], count: n };
  });
}

export interface RunFleetOptions {
  agents: number;
  firstDropletId: number;
  dashboardUrl?: string;
  heartbeatIntervalMs: number;
  /** default 'v1'; 'legacy' is a deprecated alias of 'v1' */
  heartbeatMode?: 'v1' | 'native' | 'legacy';
  handshakeSecret?: string;
  /** n8n image tag of every agent; default "1.70.0" */
  n8nImageTag?: string;
  jwtPrivateKey: string;
  doPort?: number;
  doToken: string;
  faults?: string;
  pool?: Pool;
  logger: Logger;
}

export async function runFleet(opts: RunFleetOptions): Promise<FleetSimulator> {
  const faults = parseFaultSpec(opts.faults);
  const fleet = await createFleetSimulator({
    jwtPrivateKey: opts.jwtPrivateKey,
    dashboardUrl: opts.dashboardUrl,
    heartbeatMode: opts.heartbeatMode ?? 'v1',
    handshakeSecret: opts.handshakeSecret,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    doToken: opts.doToken,
    doPort: opts.doPort,
    logger: opts.logger,
  });
  const droplets: SimulatedDroplet[] = Array.from({ length: opts.agents }, (_, i) => ({
    dropletId: opts.firstDropletId + i,
    workspaceId: `ws-sim-${opts.firstDropletId + i}`,
    n8nImageTag: opts.n8nImageTag,
  }));
  let next = droplets.length - 1;
  for (const f of faults) {
    for (let k = 0; k < f.count && next >= 0; k++, next--)
      droplets[next]!.fault = { kind: f.kind } as SidecarFault;
  }
  await fleet.addDroplets(opts.pool, droplets);
  opts.logger.info(
    {
      agents: opts.agents,
      faults: faults.map((f) => `${f.kind}:${f.count}`),
      digitaloceanUrl: fleet.digitalocean.url,
      sidecarPort: fleet.sidecars.port,
      heartbeatMode: fleet.sidecars.heartbeatMode,
      heartbeatsTo: opts.dashboardUrl ?? '(none)',
    },
    'fleet simulator running',
  );
  return fleet;
}
