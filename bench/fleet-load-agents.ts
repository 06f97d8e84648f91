/**
 * bench:fleet-load's agents: N simulated v1 agents (src/simulator/sidecars) in this process, each
 * POSTing the handshake keep-alive to DASHBOARD_URL every BENCH_KEEPALIVE_S, with its own
 * connections as the deployed agent has (see src/simulator/sidecars/heartbeats.ts). Every agent is
 * already registered (a running fleet), so the first keep-alives are spread uniformly over one
 * interval: the warm-up. Driven over IPC by bench/fleet-load.ts:
 *   -> {type:'stats'}  <- {type:'stats', sent, failed, failures, inFlight}
 *   -> {type:'stop'}   <- {type:'stopped', sent, failed, failures, accepted: number[] (per workspace ws-1..)}
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createSidecarFleet } from '../src/simulator/sidecars';

export interface AgentStats {
  type: 'stats';
  sent: number;
  failed: number;
  failures: Record<string, number>;
  inFlight: number;
}

export interface AgentsStopped {
  type: 'stopped';
  sent: number;
  failed: number;
  failures: Record<string, number>;
  /** 2xx answers per agent, index i = workspace ws-(i+1) */
  accepted: number[];
}

async function main(): Promise<void> {
  const agents = Number(process.env.BENCH_AGENTS ?? 15_000);
  const intervalMs = Number(process.env.BENCH_KEEPALIVE_S ?? 60) * 1000;
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const fleet = await createSidecarFleet({
    publicKey,
    masterKey: randomBytes(16).toString('hex'),
    dashboardUrl: process.env.DASHBOARD_URL!,
    heartbeatMode: 'v1',
    handshakeSecret: process.env.SIDECAR_HANDSHAKE_SECRET!,
    heartbeatIntervalMs: intervalMs,
    heartbeatTimeoutMs: 10_000,
    maxInFlightHeartbeats: 20_000,
  });
  for (let i = 1; i <= agents; i++) {
    fleet.addAgent({ dropletId: i, workspaceId: `ws-${i}`, poweredOn: true, registered: true });
  }
  const stats = (): AgentStats => ({ type: 'stats', ...fleet.stats().heartbeats });
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stats') process.send?.(stats());
    if (m.type === 'stop') {
      void fleet.close().then(() => {
        const s = fleet.stats().heartbeats;
        const accepted = Array.from({ length: agents }, (_, i) => fleet.agent(i + 1)?.heartbeatsSent ?? 0);
        const msg: AgentsStopped = {
          type: 'stopped',
          sent: s.sent,
          failed: s.failed,
          failures: s.failures,
          accepted,
        };
        process.send?.(msg, () => process.exit(0));
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', agents });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
