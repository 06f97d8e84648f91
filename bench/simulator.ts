/**
 * Benchmark of the simulated sidecar fleet: 15,000 agents in one process sending v1 handshake
 * keep-alives (or native heartbeats with BENCH_MODE=native) to a trivial receiver (a separate child process, so the simulator's CPU is measured alone), at a
 * 60 s and then a 30 s interval.
 *
 * Run compiled:  tsc -p tsconfig.json --outDir dist-bench && node dist-bench/bench/simulator.js
 * or directly:   node -r ./test/fixtures/swc-require.js bench/simulator.ts
 * Env: BENCH_SECONDS (measured seconds per interval, default 90), BENCH_AGENTS (default 15000),
 *      BENCH_INTERVALS (seconds, comma separated, default "60,30"), BENCH_MODE (v1 | native, default v1).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createSidecarFleet } from '../src/simulator/sidecars';
import { rsaTestKeys } from '../test/helpers/keys';

interface ReceiverCount {
  count: number;
  unauthorised: number;
}

/** Child process: counts heartbeat POSTs, answers 202. */
function runReceiver(): void {
  let count = 0;
  let unauthorised = 0;
  const server = createServer((req, res) => {
    if (!req.headers.authorization?.startsWith('Bearer ')) unauthorised++;
    req.on('data', () => {});
    req.on('end', () => {
      count++;
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'count') process.send?.({ count, unauthorised } satisfies ReceiverCount);
    if (m.type === 'stop') server.close(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}

function ask<T>(child: ChildProcess, msg: object, accept: (m: unknown) => m is T): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (!accept(m)) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send(msg);
  });
}

const isCount = (m: unknown): m is ReceiverCount => typeof (m as ReceiverCount)?.count === 'number';
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 90);
  const agents = Number(process.env.BENCH_AGENTS ?? 15_000);
  const intervals = (process.env.BENCH_INTERVALS ?? '60,30').split(',').map((s) => Number(s.trim()));
  const mode = process.env.BENCH_MODE === 'native' ? 'native' : 'v1';

  const cpus = os.cpus();
  console.log('machine:');
  console.log(
    `  cpu     ${cpus[0]?.model ?? 'unknown'} x ${cpus.length} (available parallelism ${os.availableParallelism()})`,
  );
  console.log(`  memory  ${mb(os.totalmem())} total, ${mb(os.freemem())} free`);
  console.log(`  node    ${process.version} on ${os.platform()} ${os.release()}`);
  console.log(
    `bench: ${agents} ${mode} agents, ${seconds} s measured per interval, intervals ${intervals.join(', ')} s`,
  );

  const receiver = fork(__filename, ['receiver'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((resolve) =>
    receiver.once('message', (m) => resolve(m as { port: number })),
  );

  const { publicKey } = rsaTestKeys();
  const setupStart = performance.now();
  const fleet = await createSidecarFleet({
    publicKey,
    masterKey: randomBytes(16).toString('hex'),
    dashboardUrl: `http://127.0.0.1:${port}`,
    heartbeatMode: mode,
    handshakeSecret: randomBytes(24).toString('base64url'),
    heartbeatIntervalMs: intervals[0]! * 1000,
    bootDelayMs: 1_000,
  });
  for (let i = 1; i <= agents; i++) {
    fleet.addAgent({
      dropletId: 500_000_000 + i,
      workspaceId: `ws_${i.toString(36)}`,
      heartbeatToken: randomBytes(24).toString('base64url'),
      sidecarVersion: '1.4.0',
      n8nImageTag: '1.70.2',
      poweredOn: true,
    });
  }
  console.log(
    `setup: ${agents} agents added in ${(performance.now() - setupStart).toFixed(0)} ms, RSS ${mb(process.memoryUsage().rss)}`,
  );

  const rows: string[] = [];
  for (const intervalS of intervals) {
    fleet.setHeartbeatInterval(intervalS * 1000);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const r0 = await ask(receiver, { type: 'count' }, isCount);
    const s0 = fleet.stats().heartbeats;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const s1 = fleet.stats().heartbeats;
    const r1 = await ask(receiver, { type: 'count' }, isCount);
    loop.disable();
    const mem = process.memoryUsage();

    const received = r1.count - r0.count;
    const expected = agents / intervalS;
    const achieved = received / (wallMs / 1000);
    const cpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
    const row =
      `interval ${intervalS} s: ${achieved.toFixed(1)} heartbeats/s received vs ${expected.toFixed(1)} expected ` +
      `(${((achieved / expected) * 100).toFixed(1)}%); sent ${s1.sent - s0.sent}, failed ${s1.failed - s0.failed}, ` +
      `unauthorised at receiver ${r1.unauthorised - r0.unauthorised}; simulator CPU ${cpuPct.toFixed(1)}% of one core ` +
      `(user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s over ${(wallMs / 1000).toFixed(1)} s); ` +
      `event-loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, ` +
      `max ${(loop.max / 1e6).toFixed(1)} ms; RSS ${mb(mem.rss)}, heap ${mb(mem.heapUsed)} / ${mb(mem.heapTotal)}`;
    console.log(row);
    rows.push(row);
  }

  await fleet.close();
  receiver.send({ type: 'stop' });
  await new Promise((r) => receiver.once('exit', r));
  console.log(`done: ${rows.length} intervals measured`);
}

if (process.argv[2] === 'receiver') {
  runReceiver();
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
