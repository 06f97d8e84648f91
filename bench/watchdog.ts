/**
 * npm run bench:watchdog -- the watchdog's fleet scan on 15,000 droplets (goal: under 100 ms), and
 * what a remediation costs in DigitalOcean calls, hence how many remediation starts per minute the
 * 250/min budget allows (measured against the DigitalOcean simulator through the real client and
 * the real Redis budget).
 */
import Redis from 'ioredis';
import { scanFleet } from '../src/db/watchdog';
import { DigitalOceanBudget } from '../src/digitalocean/budget';
import { DigitalOceanClient } from '../src/digitalocean/client';
import { createLogger } from '../src/logger';
import { createDigitalOceanSimulator, DEFAULT_SIMULATOR_TOKEN } from '../src/simulator/digitalocean';
import { WATCHDOG_DEFAULTS } from '../src/domain/watchdog';
import { freshDatabase, machine, percentile, REDIS_URL } from './common';

const FLEET = 15_000;
const STALE = Number(process.env.BENCH_STALE ?? 600);

async function main() {
  console.log(`bench:watchdog on ${machine()}`);
  const db = await freshDatabase('genesis_bench_watchdog');
  try {
    const ids = Array.from({ length: FLEET }, (_, i) => i + 1);
    await db.pool.query(`INSERT INTO workspaces (id) SELECT 'ws-' || x FROM unnest($1::bigint[]) x`, [ids]);
    // 10 % hibernated, STALE stale, the rest fresh; a few resource breaches.
    await db.pool.query(
      `INSERT INTO droplets (id, workspace_id, state, last_heartbeat_at, cpu_percent, memory_percent, disk_percent)
       SELECT x, 'ws-' || x,
              (CASE WHEN x % 10 = 0 THEN 'HIBERNATED' ELSE 'ACTIVE_HEALTHY' END)::droplet_state,
              CASE WHEN x % 10 <> 0 AND x <= $2 * 10 / 9 THEN now() - interval '20 minutes' ELSE now() - (x % 60) * interval '1 second' END,
              CASE WHEN x % 500 = 1 THEN 97 ELSE 20 END, 40, 50
       FROM unnest($1::bigint[]) x`,
      [ids, STALE],
    );
    await db.pool.query('ANALYZE droplets');
    const opts = {
      timeoutS: 300,
      limit: WATCHDOG_DEFAULTS.maxStartsPerTick,
      ...WATCHDOG_DEFAULTS.thresholds,
    };
    for (let i = 0; i < 5; i++) await scanFleet(db.pool, opts); // warm
    const times: number[] = [];
    let last;
    for (let i = 0; i < 100; i++) {
      last = await scanFleet(db.pool, opts);
      times.push(last.queryMs);
    }
    times.sort((a, b) => a - b);
    console.log(
      `fleet scan (${FLEET} droplets, ${last!.eligible} eligible, ${last!.staleCount} stale, ${last!.breaches.length} breaches): ` +
        `p50 ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms (goal < 100 ms: ${percentile(times, 99) < 100 ? 'met' : 'NOT met'})`,
    );
    const plan = await db.pool.query(
      `EXPLAIN SELECT id FROM droplets WHERE state IN ('ACTIVE_HEALTHY','ACTIVE_DEGRADED')
       AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - interval '300 seconds') ORDER BY last_heartbeat_at NULLS FIRST LIMIT 20`,
    );
    console.log(
      `stale query plan: ${plan.rows
        .map((r) => r['QUERY PLAN'])
        .join(' | ')
        .slice(0, 200)}`,
    );
  } finally {
    await db.drop();
  }

  // DigitalOcean calls per remediation (wake of an off droplet: status, power_on, action polls).
  const sim = await createDigitalOceanSimulator({ actionDelayMs: 10_000 });
  const redis = new Redis(REDIS_URL);
  const logger = createLogger({ level: 'silent' });
  const client = new DigitalOceanClient({
    baseUrl: sim.url,
    token: DEFAULT_SIMULATOR_TOKEN,
    budget: new DigitalOceanBudget({
      redis,
      keyPrefix: 'genesis-bench-watchdog:',
      token: DEFAULT_SIMULATOR_TOKEN,
    }),
    logger,
    userAgent: 'genesis-control-plane/bench',
  });
  try {
    const N = 20;
    for (let i = 1; i <= N; i++) sim.addDroplet({ id: i, status: 'off' });
    const before = sim.stats().totalRequests;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: N }, async (_, k) => {
        const id = k + 1;
        await client.getDroplet(id);
        const action = await client.dropletAction(id, 'power_on');
        await client.waitForAction(action.id!, { pollIntervalMs: 2_000, maxPollIntervalMs: 15_000 });
      }),
    );
    const calls = (sim.stats().totalRequests - before) / N;
    const perMinute = 250 / calls;
    console.log(
      `one wake costs ${calls.toFixed(1)} DigitalOcean calls (action taking 10 s, polls from 2 s x1.5); ` +
        `250 calls/min allow ~${perMinute.toFixed(0)} remediation starts/min; the watchdog starts at most ` +
        `${WATCHDOG_DEFAULTS.maxStartsPerTick} per 60 s tick (${(((WATCHDOG_DEFAULTS.maxStartsPerTick * calls) / 250) * 100).toFixed(0)} % of the budget); ` +
        `${N} wakes took ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await redis.del(...(await redis.keys('genesis-bench-watchdog:*')));
    redis.disconnect();
    await sim.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
