/**
 * npm run bench:fleet-probe -- one full fleet probe period of the BUILT worker (dist/src/cli.js
 * worker, as deployed) against BENCH_AGENTS v1 agents (default 15,000) in another process
 * (bench/fleet-probe-agents.ts). The worker creates the fleet probe Schedule (PROBE_PERIOD_S =
 * BENCH_PERIOD_S, default 300: the production period, 50 agents/s at 15,000; a shorter period
 * probes faster), the bench triggers it once, pauses it (no second run) and waits for the run's
 * fleet_probe_runs row.
 * Printed: agents probed and agents/s, the worker's CPU (utime+stime per wall second over the run,
 * /proc/<pid>/stat) and RSS, the p99 probe latency (HEALTH_CHECK + COLLECT_METRICS, from
 * probe_history), HEALTH_CHECKs each agent answered (each exactly one), DigitalOcean calls (the
 * worker's DIGITALOCEAN_API_URL is a DigitalOcean simulator: its request log must stay empty), the
 * machine and its load average. Watchdog and scale alerts are off (they are not the probe's cost).
 * The worker runs with the image's NODE_OPTIONS and MALLOC_ARENA_MAX (deploy/Dockerfile), as
 * bench:fleet-load's processes do (BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX override them).
 * Needs `npm run build` (the script runs it) and the Temporal CLI (TEMPORAL_BIN or on PATH).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { fleetProbeIds } from '../contracts/fleet-probe';
import { createDigitalOceanSimulator, DEFAULT_SIMULATOR_TOKEN } from '../src/simulator/digitalocean';
import { parseCodecKeys } from '../src/temporal/codec-keys';
import { dataConverterFor } from '../src/temporal/payload-codec';
import { rsaTestKeys } from '../test/helpers/keys';
import { freshDatabase, machine, REDIS_URL, startTemporalDevServer } from './common';
import type { ProbeAgentStats } from './fleet-probe-agents';
import { loadavg, ProcSampler } from './fleet-load-proc';
import { ask, BUNDLE, CLI, imageProcessEnv, MALLOC_ARENA_MAX, mib, NODE_OPTIONS, sleep } from './built';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 15_000);
const PERIOD_S = Number(process.env.BENCH_PERIOD_S ?? 300);
const CONCURRENCY = Number(process.env.BENCH_PROBE_CONCURRENCY ?? 50);

async function main(): Promise<void> {
  console.log(`bench:fleet-probe on ${machine()}: ${AGENTS} v1 agents, period ${PERIOD_S} s`);
  console.log(`  worker: NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(unset)'}`);
  const keys = rsaTestKeys();
  const temporal = await startTemporalDevServer('fleet-probe');
  const digitalocean = await createDigitalOceanSimulator({});
  const db = await freshDatabase('genesis_bench_fleet_probe');
  const taskQueue = `bench-fleet-probe-${process.pid}`;
  const codecKeys = `bench:${randomBytes(32).toString('base64')}`;
  const parsed = parseCodecKeys(codecKeys);
  if (!('keys' in parsed)) throw new Error(parsed.problem);
  let agents: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  try {
    agents = fork(join(__dirname, 'fleet-probe-agents.js'), [], {
      env: { ...process.env, BENCH_AGENTS: String(AGENTS), BENCH_PUBLIC_KEY: keys.publicPem },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<{ urlTemplate: string }>((r) =>
      agents!.once('message', (m) => r(m as { urlTemplate: string })),
    );
    const ids = Array.from({ length: AGENTS }, (_, i) => i + 1);
    await db.pool.query(`INSERT INTO workspaces (id) SELECT 'ws-' || x FROM unnest($1::bigint[]) x`, [ids]);
    await db.pool.query(
      `INSERT INTO droplets (id, workspace_id, state, last_heartbeat_at, sidecar_url)
       SELECT x, 'ws-' || x, 'ACTIVE_HEALTHY', now(), replace($2, '{id}', x::text) FROM unnest($1::bigint[]) x`,
      [ids, ready.urlTemplate],
    );
    await db.pool.query('ANALYZE droplets');
    console.log(`  ${AGENTS} agents up and seeded`);

    worker = spawn(process.execPath, [CLI, 'worker'], {
      env: {
        ...imageProcessEnv(),
        DATABASE_URL: db.url,
        REDIS_URL,
        REDIS_KEY_PREFIX: `bench-probe:${process.pid}:`,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        TEMPORAL_WORKFLOW_BUNDLE: BUNDLE,
        TEMPORAL_METRICS_PORT: '0',
        PORT: '0',
        PAYLOAD_CODEC_KEYS: codecKeys,
        SIDECAR_JWT_PRIVATE_KEY: keys.privatePem,
        DIGITALOCEAN_API_TOKEN: DEFAULT_SIMULATOR_TOKEN,
        DIGITALOCEAN_API_URL: digitalocean.url,
        WATCHDOG_ENABLED: 'false',
        SCALE_ALERTS_ENABLED: 'false',
        PROBE_PERIOD_S: String(PERIOD_S),
        PROBE_CONCURRENCY: String(CONCURRENCY),
        WORKER_SHUTDOWN_GRACE_MS: '5000',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const client = new Client({
      connection: await Connection.connect({ address: temporal.address }),
      dataConverter: dataConverterFor(parsed.keys),
    });
    const schedule = client.schedule.getHandle(fleetProbeIds.schedule(taskQueue));
    for (const deadline = Date.now() + 120_000; ;) {
      if (worker.exitCode !== null) throw new Error(`worker exited ${worker.exitCode}`);
      try {
        await schedule.describe();
        break;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`the worker did not create the probe schedule: ${(err as Error).message}`);
        await sleep(500);
      }
    }
    await sleep(2_000); // the worker's first polls and its drain workflow settle

    const sampler = new ProcSampler(worker.pid!);
    const loadBefore = loadavg();
    sampler.start();
    const t0 = performance.now();
    await schedule.trigger();
    await schedule.pause('bench: one period only'); // the triggered run goes on; no second one starts
    let run: Record<string, unknown> | undefined;
    for (const deadline = Date.now() + (PERIOD_S * 2 + 120) * 1000; !run;) {
      if (Date.now() > deadline) throw new Error('no probe run finished in time');
      await sleep(1_000);
      run = (await db.pool.query(`SELECT * FROM fleet_probe_runs ORDER BY id LIMIT 1`)).rows[0];
    }
    const wallS = (performance.now() - t0) / 1000;
    const proc = sampler.stop();
    const loadAfter = loadavg();
    const stats = await ask<ProbeAgentStats>(agents, { type: 'stats' }, 'stats');
    const runS = ((run.at as Date).getTime() - (run.started_at as Date).getTime()) / 1000;
    const probed = run.probed as number;
    const doStats = digitalocean.stats();
    const hist = await db.pool.query<{ p50: number; p99: number; max: number }>(
      `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
              percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99, max(latency_ms) AS max
         FROM probe_history`,
    );
    const h = hist.rows[0]!;
    console.log(
      [
        `fleet probe, one period (${PERIOD_S} s configured, run ${runS.toFixed(1)} s, ${wallS.toFixed(1)} s from trigger):`,
        `  probed ${probed} of ${AGENTS} (answered ${String(run.answered)}, healthy ${String(run.healthy)}, degraded ${String(run.degraded)}, unreachable ${String(run.unreachable)})`,
        `  agents/s ${(probed / runS).toFixed(1)} (the period asks for ${(AGENTS / PERIOD_S).toFixed(1)})`,
        `  HEALTH_CHECKs answered ${stats.healthChecks}, COLLECT_METRICS ${stats.collectMetrics}; agents probed exactly once ${stats.probedOnce}, more than once ${stats.probedMore}`,
        `  probe latency (HEALTH_CHECK + COLLECT_METRICS) p50 ${h.p50.toFixed(1)} ms, p99 ${h.p99.toFixed(1)} ms (run row: ${Number(run.p99_latency_ms).toFixed(1)}), max ${h.max.toFixed(1)} ms`,
        `  worker CPU ${(proc.cores * 100).toFixed(1)} % of a core (utime+stime / wall), RSS mean ${mib(proc.rssMeanBytes)}, max ${mib(proc.rssMaxBytes)}`,
        `  DigitalOcean calls: ${doStats.totalRequests} (simulator request log: ${digitalocean.requestLog().length} entries)`,
        `  load average ${loadBefore} -> ${loadAfter}`,
      ].join('\n'),
    );
    await schedule.delete().catch(() => undefined);
    await client.connection.close();
  } finally {
    worker?.kill('SIGTERM');
    if (worker && worker.exitCode === null) await new Promise((r) => worker!.once('exit', r));
    agents?.disconnect();
    agents?.kill('SIGTERM');
    await digitalocean.close();
    await db.drop();
    temporal.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
