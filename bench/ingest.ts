/**
 * npm run bench:ingest -- HTTP heartbeat ingest on this machine: the built API process
 * (`genesis-cp api`) as a child, autocannon as the load generator in this process (both share the
 * machine's cores, so the numbers are a floor). Two runs: one heartbeat per request, and arrays
 * of 100. Prints requests/s, heartbeats/s, p50/p99 latency.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { freshDatabase, heartbeatBody, machine, REDIS_URL, seedDroplets } from './common';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DROPLETS = 2_000;
const PORT = Number(process.env.BENCH_PORT ?? 18_080);
const PREFIX = 'genesis-bench-ingest:';

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).status < 600) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('API did not start');
}

/** Sum of every series of a metric on the API's /metrics (labels ignored). */
async function scrape(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((acc, l) => acc + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return {
    accepted: sum('genesis_heartbeats_accepted_total'),
    rejected: sum('genesis_heartbeats_rejected_total'),
    observed: sum('genesis_heartbeat_ingest_duration_seconds_count'),
    stream: sum('genesis_heartbeat_stream_length'),
  };
}

async function run(title: string, perRequest: number, tokens: Map<number, string>) {
  const before = await scrape();
  // one scrape in the middle of the run: the counters move while the load is on
  const mid = new Promise<Record<string, number>>((res) =>
    setTimeout(() => res(scrape()), (SECONDS * 1000) / 2),
  );
  const entries = [...tokens];
  let i = 0;
  let t = Date.now();
  const result = await autocannon({
    url: `http://127.0.0.1:${PORT}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        path: '/v1/heartbeats',
        setupRequest: (req) => {
          const [id, token] = entries[i++ % entries.length]!;
          const body =
            perRequest === 1
              ? heartbeatBody(id, t++)
              : Array.from({ length: perRequest }, () => heartbeatBody(id, t++));
          return {
            ...req,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify(body),
          };
        },
      },
    ],
  });
  const ok = result['2xx'];
  const rps = ok / SECONDS;
  console.log(
    `${title.padEnd(28)} ${rps.toFixed(0).padStart(7)} req/s  ${(rps * perRequest).toFixed(0).padStart(8)} heartbeats/s` +
      `  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms  non-2xx ${result.non2xx}  errors ${result.errors}`,
  );
  const middle = await mid;
  const after = await scrape();
  const d = (k: string, a: Record<string, number>, b: Record<string, number>) => (a[k]! - b[k]!).toFixed(0);
  console.log(
    `  /metrics: accepted_total +${d('accepted', middle, before)} at mid-run, +${d('accepted', after, before)} at the end ` +
      `(autocannon 2xx ${ok}); rejected_total +${d('rejected', after, before)}; ingest histogram count ` +
      `+${d('observed', after, before)}; stream length ${after.stream}`,
  );
  return { rps, hbps: rps * perRequest, p50: result.latency.p50, p99: result.latency.p99 };
}

async function main() {
  console.log(`bench:ingest on ${machine()}; ${SECONDS}s per run, ${CONNECTIONS} connections`);
  const db = await freshDatabase('genesis_bench_ingest');
  const tokens = await seedDroplets(db.pool, DROPLETS, true);
  const redis = new Redis(REDIS_URL);
  await redis.del(`${PREFIX}heartbeats`);
  const api = spawn(process.execPath, [resolve(__dirname, '../src/cli.js'), 'api'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      PORT: String(PORT),
      SIDECAR_HANDSHAKE_SECRET: 'bench-handshake-secret',
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitHealthy(`http://127.0.0.1:${PORT}/ready`);
    await run('warm-up (singles)', 1, tokens);
    const single = await run('single heartbeat / request', 1, tokens);
    const arrays = await run('arrays of 100 / request', 100, tokens);
    const len = await redis.xlen(`${PREFIX}heartbeats`);
    console.log(`stream entries written: ${len}`);
    console.log(
      `goals: >= 5,000 single req/s: ${single.rps >= 5000 ? 'met' : 'NOT met'}; ` +
        `>= 50,000 heartbeats/s in arrays: ${arrays.hbps >= 50000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
    await redis.del(`${PREFIX}heartbeats`);
    redis.disconnect();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
