/**
 * npm run bench:fleet-load -- the BUILT control plane (dist/src/cli.js, as deployed) under a v1
 * fleet: BENCH_AGENTS simulated agents (default 15,000) in another process (bench/fleet-load-
 * agents.ts), each POSTing /api/sidecar/handshake every BENCH_KEEPALIVE_S (default 60; 30 for the
 * issue's second figure) on its own connections as the deployed agent does. Targets, one after the
 * other in the same run (BENCH_TARGETS, default "all,split,seed"):
 *   all    one `genesis-cp all` process
 *   split  `genesis-cp api` + `genesis-cp worker`
 *   seed   the seed's design (bench/fleet-load-baseline/seed-design.ts: express + a BullMQ job per
 *          heartbeat + an UPDATE per job), the ratio's baseline
 * Each target: a fresh database with N workspaces + droplets, warm-up (BENCH_WARMUP_S, default one
 * keep-alive interval + 10 s: every agent's first keep-alive, spread uniformly over the interval),
 * then BENCH_SECONDS measured (default 120). Printed per target: heartbeats/s; drain lag p50/p99/
 * max (heartbeat_history.received_at, the drain statement's now(), minus observed_at, the API's
 * clock when it accepted the keep-alive; for the seed: the UPDATE's completion minus the accept);
 * CPU (utime+stime per wall second, /proc/<pid>/stat) and RSS (VmRSS, /proc/<pid>/status, every
 * second) of each server process; event-loop delay (the process's own /metrics); zero loss (after
 * the agents stop and the buffer is empty, every 2xx an agent received is a history row of its
 * workspace); the machine and its load average.
 * Needs `npm run build` (the script runs it) and the Temporal CLI (TEMPORAL_BIN or on PATH).
 * Extra node flags for the control plane: BENCH_CP_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p");
 * BENCH_HEAPSNAPSHOT=1 sends SIGUSR2 at the end of the window (with --heapsnapshot-signal=SIGUSR2).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Pool } from 'pg';
import type { AgentStats, AgentsStopped } from './fleet-load-agents';
import { freePort } from '../test/helpers/throwaway';
import { freshDatabase, REDIS_URL, startTemporalDevServer } from './common';
import { loadavg, ProcSampler, type ProcSummary } from './fleet-load-proc';
import { ask, BUNDLE, CLI, imageProcessEnv, MALLOC_ARENA_MAX, mib, NODE_OPTIONS, sleep } from './built';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 15_000);
const KEEPALIVE_S = Number(process.env.BENCH_KEEPALIVE_S ?? 60);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 120);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? KEEPALIVE_S + 10);
const TARGETS = (process.env.BENCH_TARGETS ?? 'all,split,seed').split(',').map((s) => s.trim());
const CP_NODE_ARGS = (process.env.BENCH_CP_NODE_ARGS ?? '').split(' ').filter(Boolean);
const SECRET = randomBytes(24).toString('base64url');

async function seedFleet(pool: Pool, n: number): Promise<void> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  await pool.query(`INSERT INTO workspaces (id) SELECT 'ws-' || x FROM unnest($1::bigint[]) x`, [ids]);
  await pool.query(
    `INSERT INTO droplets (id, workspace_id, state, last_heartbeat_at)
     SELECT x, 'ws-' || x, 'ACTIVE_HEALTHY', now() FROM unnest($1::bigint[]) x`,
    [ids],
  );
}

async function waitHttp(url: string, deadline: number, child?: ChildProcess): Promise<void> {
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready in time`);
    await sleep(250);
  }
}

function stopChild(child: ChildProcess, graceMs = 40_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      res();
    });
    child.kill('SIGTERM');
  });
}

/** Sum of one metric's samples in a Prometheus text exposition. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

interface LoopDelay {
  p99MeanMs: number;
  maxMs: number;
}

/** Scrapes the process's event-loop delay every 15 s, as a Prometheus would (prom-client resets its histogram per scrape). */
class LoopScraper {
  private p99: number[] = [];
  private max = 0;
  private timer?: NodeJS.Timeout;
  constructor(private readonly url: string) {}
  start() {
    void this.scrape();
    this.timer = setInterval(() => void this.scrape(), 15_000);
  }
  async scrape() {
    try {
      const text = await (await fetch(this.url)).text();
      const p99 = metric(text, 'genesis_nodejs_eventloop_lag_p99_seconds');
      this.max = Math.max(this.max, metric(text, 'genesis_nodejs_eventloop_lag_max_seconds'));
      this.p99.push(p99);
    } catch {
      /* counted as missing */
    }
  }
  stop(): LoopDelay {
    clearInterval(this.timer);
    const p = this.p99.slice(1); // the first scrape covers the warm-up
    return { p99MeanMs: (p.reduce((a, b) => a + b, 0) / (p.length || 1)) * 1000, maxMs: this.max * 1000 };
  }
}

/** The preloaded monitor's lines (bench/fleet-load-loop.ts) that cover [from, to]. */
function fileLoopDelay(file: string, from: number, to: number): LoopDelay | undefined {
  let lines: { at: number; p99Ms: number; maxMs: number }[];
  try {
    lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { at: number; p99Ms: number; maxMs: number })
      .filter((l) => l.at - 15_000 >= from && l.at <= to);
  } catch {
    return undefined;
  }
  if (lines.length === 0) return undefined;
  return {
    p99MeanMs: lines.reduce((a, l) => a + l.p99Ms, 0) / lines.length,
    maxMs: Math.max(...lines.map((l) => l.maxMs)),
  };
}

interface TargetResult {
  target: string;
  heartbeatsPerS: number;
  lag: { p50: number; p99: number; max: number; n: number };
  procs: { name: string; pid: number; proc: ProcSummary; loop?: LoopDelay }[];
  agents: ProcSummary;
  accepted: number;
  stored: number;
  lost: number;
  failed: number;
  failures: Record<string, number>;
  load: string;
}

async function runTarget(target: string, temporal?: { address: string }): Promise<TargetResult> {
  const db = await freshDatabase(`genesis_bench_fleet_${target}`);
  await seedFleet(db.pool, AGENTS);
  const prefix = `bench-fleet:${process.pid}:${target}:`;
  const redis = new Redis(REDIS_URL);
  const streamKey = `${prefix}heartbeats`;
  const children: { name: string; child: ChildProcess; metricsUrl?: string }[] = [];
  const workerLoopFile = join(tmpdir(), `bench-fleet-load-loop-${process.pid}-${target}.jsonl`);
  let agents: ChildProcess | undefined;
  try {
    const port = await freePort();
    const cpEnv = (role: string): NodeJS.ProcessEnv => ({
      ...imageProcessEnv(),
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      TEMPORAL_ADDRESS: temporal?.address,
      TEMPORAL_TASK_QUEUE: `bench-fleet-${target}-${process.pid}`,
      TEMPORAL_WORKFLOW_BUNDLE: BUNDLE,
      TEMPORAL_METRICS_PORT: '0',
      PORT: role === 'worker' ? '0' : String(port),
      API_HOST: '127.0.0.1',
      SIDECAR_HANDSHAKE_SECRET: SECRET,
      PAYLOAD_CODEC_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      SIDECAR_JWT_PRIVATE_KEY: privateKeyPem,
      DIGITALOCEAN_API_TOKEN: 'bench-no-digitalocean',
      DIGITALOCEAN_API_URL: 'http://127.0.0.1:9',
      SCALE_ALERTS_ENABLED: 'false',
      PROBE_ENABLED: 'false',
      WORKER_SHUTDOWN_GRACE_MS: '5000',
      BULLMQ_PREFIX: prefix,
    });
    const run = (args: string[], env: NodeJS.ProcessEnv) =>
      spawn(process.execPath, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    if (target === 'all') {
      const child = run([...CP_NODE_ARGS, CLI, 'all'], cpEnv('all'));
      children.push({ name: 'all', child, metricsUrl: `http://127.0.0.1:${port}/metrics` });
    } else if (target === 'split') {
      const worker = run(
        [...CP_NODE_ARGS, '--require', join(__dirname, 'fleet-load-loop.js'), CLI, 'worker'],
        {
          ...cpEnv('worker'),
          BENCH_LOOP_FILE: workerLoopFile,
        },
      );
      children.push({ name: 'worker', child: worker });
      const api = run([...CP_NODE_ARGS, CLI, 'api'], cpEnv('api'));
      children.push({ name: 'api', child: api, metricsUrl: `http://127.0.0.1:${port}/metrics` });
    } else if (target === 'seed') {
      const child = fork(join(__dirname, 'fleet-load-baseline/seed-design.js'), [], {
        env: cpEnv('seed'),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: CP_NODE_ARGS,
      });
      children.push({ name: 'seed', child });
    } else {
      throw new Error(`unknown target ${target}`);
    }
    await waitHttp(
      target === 'seed' ? `http://127.0.0.1:${port}/bench-stats` : `http://127.0.0.1:${port}/ready`,
      Date.now() + 120_000,
      children[children.length - 1]!.child,
    );

    agents = fork(join(__dirname, 'fleet-load-agents.js'), [], {
      env: {
        ...process.env,
        BENCH_AGENTS: String(AGENTS),
        BENCH_KEEPALIVE_S: String(KEEPALIVE_S),
        DASHBOARD_URL: `http://127.0.0.1:${port}`,
        SIDECAR_HANDSHAKE_SECRET: SECRET,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise((r) => agents!.once('message', r));
    console.log(`  [${target}] ${AGENTS} agents up; warm-up ${WARMUP_S} s`);
    await sleep(WARMUP_S * 1000);

    const samplers = children.map((c) => new ProcSampler(c.child.pid!));
    const agentSampler = new ProcSampler(agents.pid!);
    const loops = children.map((c) => (c.metricsUrl ? new LoopScraper(c.metricsUrl) : undefined));
    const seedLoopReset =
      target === 'seed' ? fetch(`http://127.0.0.1:${port}/bench-stats?reset=1`) : undefined;
    await seedLoopReset;
    const loadBefore = loadavg();
    const s0 = await ask<AgentStats>(agents, { type: 'stats' }, 'stats');
    const wall0 = Date.now();
    const t0 = performance.now();
    for (const s of samplers) s.start();
    agentSampler.start();
    for (const l of loops) l?.start();
    await sleep(SECONDS * 1000);
    const procs = samplers.map((s) => s.stop());
    // profiling: BENCH_CP_NODE_ARGS="--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=/tmp/x" and this
    if (process.env.BENCH_HEAPSNAPSHOT) for (const c of children) c.child.kill('SIGUSR2');
    const agentProc = agentSampler.stop();
    const loopDelays = loops.map((l) => l?.stop());
    if (target === 'split') loopDelays[0] = fileLoopDelay(workerLoopFile, wall0, Date.now());
    const s1 = await ask<AgentStats>(agents, { type: 'stats' }, 'stats');
    const wall1 = Date.now();
    const seconds = (performance.now() - t0) / 1000;
    const loadAfter = loadavg();

    const stopped = await ask<AgentsStopped>(agents, { type: 'stop' }, 'stopped');
    const accepted = stopped.accepted.reduce((a, b) => a + b, 0);

    let stored = 0;
    let lost = 0;
    let lag = { p50: NaN, p99: NaN, max: NaN, n: 0 };
    let seedLoop: LoopDelay | undefined;
    if (target === 'seed') {
      type SeedStats = {
        accepted: number;
        completed: number;
        failed: number;
        counts: Record<string, number>;
        lags: [number, number][];
        loop: LoopDelay;
      };
      let st: SeedStats;
      const until = Date.now() + 120_000;
      for (;;) {
        st = (await (await fetch(`http://127.0.0.1:${port}/bench-stats`)).json()) as SeedStats;
        const busy = (st.counts.waiting ?? 0) + (st.counts.active ?? 0) + (st.counts.delayed ?? 0);
        if ((busy === 0 && st.completed + st.failed >= st.accepted) || Date.now() > until) break;
        await sleep(500);
      }
      stored = st.completed;
      lost = Math.max(0, accepted - st.completed);
      const l = st.lags
        .filter(([t]) => t >= wall0 && t <= wall1)
        .map(([, ms]) => ms)
        .sort((a, b) => a - b);
      const at = (p: number) => l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? NaN;
      lag = { p50: at(0.5), p99: at(0.99), max: l[l.length - 1] ?? NaN, n: l.length };
      seedLoop = st.loop;
    } else {
      const until = Date.now() + 120_000;
      while ((await redis.xlen(streamKey)) > 0 && Date.now() < until) await sleep(500);
      const { rows } = await db.pool.query<{ w: string; n: string }>(
        `SELECT workspace_id AS w, count(*) AS n FROM heartbeat_history GROUP BY workspace_id`,
      );
      const byWs = new Map(rows.map((r) => [r.w, Number(r.n)]));
      stopped.accepted.forEach((a, i) => {
        const have = byWs.get(`ws-${i + 1}`) ?? 0;
        stored += have;
        lost += Math.max(0, a - have);
      });
      const { rows: lr } = await db.pool.query<{ p50: number; p99: number; max: number; n: string }>(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max, count(*) AS n
           FROM (SELECT extract(epoch FROM received_at - observed_at) * 1000 AS ms FROM heartbeat_history
                  WHERE observed_at >= to_timestamp($1 / 1000.0) AND observed_at <= to_timestamp($2 / 1000.0)) x`,
        [wall0, wall1],
      );
      lag = {
        p50: Number(lr[0]!.p50),
        p99: Number(lr[0]!.p99),
        max: Number(lr[0]!.max),
        n: Number(lr[0]!.n),
      };
    }
    return {
      target,
      heartbeatsPerS: (s1.sent - s0.sent) / seconds,
      lag,
      procs: children.map((c, i) => ({
        name: c.name,
        pid: c.child.pid!,
        proc: procs[i]!,
        loop: loopDelays[i] ?? (c.name === 'seed' ? seedLoop : undefined),
      })),
      agents: agentProc,
      accepted,
      stored,
      lost,
      failed: stopped.failed,
      failures: stopped.failures,
      load: `${loadBefore} -> ${loadAfter}`,
    };
  } finally {
    if (agents) await stopChild(agents, 5_000);
    for (const c of [...children].reverse()) await stopChild(c.child);
    rmSync(workerLoopFile, { force: true });
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
  }
}

const privateKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

function describe(r: TargetResult): string {
  const lines = [
    `${r.target}: ${r.heartbeatsPerS.toFixed(1)} heartbeats/s accepted (expected ${(AGENTS / KEEPALIVE_S).toFixed(1)}); ` +
      `drain lag p50 ${r.lag.p50.toFixed(1)} ms, p99 ${r.lag.p99.toFixed(1)} ms, max ${r.lag.max.toFixed(1)} ms (${r.lag.n} heartbeats); ` +
      `load ${r.load}`,
  ];
  for (const p of r.procs) {
    lines.push(
      `  ${p.name.padEnd(6)} pid ${p.pid}: CPU ${p.proc.cores.toFixed(3)} core (utime+stime per wall s), ` +
        `RSS mean ${mib(p.proc.rssMeanBytes)}, max ${mib(p.proc.rssMaxBytes)}, end ${mib(p.proc.rssEndBytes)}; ` +
        `event-loop delay ${p.loop ? `p99 ${p.loop.p99MeanMs.toFixed(1)} ms (mean of 15 s scrapes), max ${p.loop.maxMs.toFixed(1)} ms` : 'n/a'}`,
    );
  }
  lines.push(
    `  agents (simulator process): CPU ${r.agents.cores.toFixed(3)} core, RSS max ${mib(r.agents.rssMaxBytes)}`,
    `  zero loss: ${r.accepted} heartbeats answered 2xx, ${r.stored} in Postgres, lost ${r.lost} ` +
      `(${r.lost === 0 ? 'none lost' : 'LOSS'}); agent-side failures ${r.failed} ${JSON.stringify(r.failures)}`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const c = cpus();
  console.log('bench:fleet-load');
  console.log(
    `  machine: ${c[0]?.model ?? 'cpu'} x ${c.length}, ${mib(totalmem())}, node ${process.version}, load ${loadavg()}`,
  );
  console.log(
    `  ${AGENTS} v1 agents, keep-alive every ${KEEPALIVE_S} s (one new connection each, as the deployed agent), ` +
      `warm-up ${WARMUP_S} s, measured ${SECONDS} s; targets ${TARGETS.join(', ')}`,
  );
  console.log(
    `  server processes: NODE_OPTIONS="${NODE_OPTIONS}" MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX || '(unset)'} ${CP_NODE_ARGS.join(' ')}`,
  );
  console.log('  fleet probe: off here (PROBE_ENABLED=false); its cost is bench:fleet-probe, on its own');
  const temporal = TARGETS.some((t) => t !== 'seed') ? await startTemporalDevServer('fleet-load') : undefined;
  const results: TargetResult[] = [];
  try {
    for (const t of TARGETS) {
      const r = await runTarget(t, temporal);
      console.log(describe(r));
      results.push(r);
    }
  } finally {
    temporal?.stop();
  }
  const all = results.find((r) => r.target === 'all');
  const seed = results.find((r) => r.target === 'seed');
  if (all) {
    const p = all.procs[0]!.proc;
    const cpuGoal = KEEPALIVE_S >= 60 ? 0.35 : 0.6;
    console.log(
      `goals (all, ${KEEPALIVE_S} s): RSS max ${mib(p.rssMaxBytes)} < 300 MiB ${p.rssMaxBytes < 300 * 2 ** 20 ? 'met' : 'NOT met'}; ` +
        `CPU ${p.cores.toFixed(3)} < ${cpuGoal} ${p.cores < cpuGoal ? 'met' : 'NOT met'}; ` +
        `lag p99 ${all.lag.p99.toFixed(0)} ms < 1000 ${all.lag.p99 < 1000 ? 'met' : 'NOT met'}; loss ${all.lost === 0 ? 'none: met' : 'NOT met'}`,
    );
  }
  if (all && seed) {
    const a = all.procs[0]!.proc;
    const s = seed.procs[0]!.proc;
    console.log(
      `ratio seed design / all: CPU ${(s.cores / a.cores).toFixed(2)}x, RSS ${(s.rssMaxBytes / a.rssMaxBytes).toFixed(2)}x, ` +
        `lag p99 ${(seed.lag.p99 / all.lag.p99).toFixed(2)}x`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
