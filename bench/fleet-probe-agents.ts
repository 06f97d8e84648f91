/**
 * bench:fleet-probe's agents: N simulated v1 agents (src/simulator/sidecars) in this process, one
 * HTTP server, answering commands signed with the bench's key (BENCH_PUBLIC_KEY, PEM). No
 * keep-alives (the probe is measured, not ingest; bench:fleet-load measures that). Driven over IPC by
 * bench/fleet-probe.ts, as bench/fleet-load-agents.ts is by bench:fleet-load:
 *   <- {type:'ready', agents, urlTemplate}   (sidecar_url of droplet i: urlTemplate with {id} = i)
 *   -> {type:'stats'}  <- {type:'stats', healthChecks, collectMetrics, probedOnce, probedTwice}
 */
import { randomBytes } from 'node:crypto';
import { createSidecarFleet } from '../src/simulator/sidecars';

export interface ProbeAgentStats {
  type: 'stats';
  healthChecks: number;
  collectMetrics: number;
  /** agents that answered exactly one HEALTH_CHECK, and more than one */
  probedOnce: number;
  probedMore: number;
}

async function main(): Promise<void> {
  const agents = Number(process.env.BENCH_AGENTS ?? 15_000);
  const fleet = await createSidecarFleet({
    publicKey: process.env.BENCH_PUBLIC_KEY!,
    masterKey: randomBytes(16).toString('hex'),
    heartbeatMode: 'v1',
  });
  for (let i = 1; i <= agents; i++) {
    fleet.addAgent({ dropletId: i, workspaceId: `ws-${i}`, poweredOn: true, registered: true });
  }
  const stats = (): ProbeAgentStats => {
    let healthChecks = 0;
    let collectMetrics = 0;
    let probedOnce = 0;
    let probedMore = 0;
    for (let i = 1; i <= agents; i++) {
      const h = fleet.commandCount(i, 'HEALTH_CHECK');
      healthChecks += h;
      collectMetrics += fleet.commandCount(i, 'COLLECT_METRICS');
      if (h === 1) probedOnce++;
      if (h > 1) probedMore++;
    }
    return { type: 'stats', healthChecks, collectMetrics, probedOnce, probedMore };
  };
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stats') process.send?.(stats());
  });
  process.on('disconnect', () => void fleet.close().then(() => process.exit(0)));
  process.send?.({ type: 'ready', agents, urlTemplate: fleet.urlFor(0).replace(/0$/, '{id}') });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
