/**
 * npm run bench:drain -- heartbeat stream -> Postgres, side by side with the seed's approach.
 *
 *  1. this design: N single-heartbeat entries in the Redis stream (as ingest writes them), drained by
 *     the real drain activity (run in a mock activity context), batched UNNEST statements.
 *  2. baseline, the seed's approach: a BullMQ queue with one job per heartbeat and a worker that
 *     runs one UPDATE per job (concurrency 50).
 *  3. latency at the seed's load: 15,000 agents every 30 s = 500 heartbeats/s written for 20 s while
 *     the drain runs; ingest-to-visible = commit of the history row - time the heartbeat was buffered.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { createHeartbeatDrainActivities } from '../activities/heartbeat-drain';
import type { DrainStats } from '../src/domain/drain-stats';
import { fromNative } from '../src/heartbeats/heartbeat';
import { appendHeartbeats, heartbeatStreamNames } from '../src/heartbeats/stream';
import { createLogger } from '../src/logger';
import { baseActivityDeps } from '../test/helpers/activity-deps';
import { freshDatabase, heartbeatBody, machine, percentile, REDIS_URL, seedDroplets } from './common';

const FLEET = 15_000;
const N = Number(process.env.BENCH_HEARTBEATS ?? 300_000);
const BASELINE_N = Number(process.env.BENCH_BASELINE_HEARTBEATS ?? 30_000);
const PREFIX = 'genesis-bench-drain:';
const logger = createLogger({ level: 'warn' });

async function fillStream(redis: Redis, n: number, t0: number) {
  const stream = heartbeatStreamNames(PREFIX, 'heartbeats', 'drain');
  for (let i = 0; i < n; i += 5_000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 5_000); j++) {
      const id = (j % FLEET) + 1;
      batch.push(
        appendHeartbeats(redis, stream, [
          fromNative({ ...heartbeatBody(id, t0 + j), droplet_id: id } as never),
        ]),
      );
    }
    await Promise.all(batch);
  }
}

async function main() {
  console.log(`bench:drain on ${machine()}; fleet ${FLEET} droplets`);
  const db = await freshDatabase('genesis_bench_drain');
  await seedDroplets(db.pool, FLEET);
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
  const stream = heartbeatStreamNames(PREFIX, 'heartbeats', 'drain');
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  const activities = createHeartbeatDrainActivities(
    baseActivityDeps({ pool: db.pool, redis, logger, heartbeatStream: stream }),
  );
  const drainUntilEmpty = async (runForMs: number): Promise<DrainStats> =>
    new MockActivityEnvironment().run(activities.drainHeartbeats, {
      consumer: 'bench',
      runForMs,
      batchSize: 2_000,
      blockMs: 100,
      claimIdleMs: 60_000,
    });

  try {
    // 1. this design
    const t0 = Date.now() - 86_400_000;
    await fillStream(redis, N, t0);
    let started = performance.now();
    let drained = 0;
    while ((await redis.xlen(stream.key)) > 0) drained += (await drainUntilEmpty(5_000)).heartbeats;
    const oursSeconds = (performance.now() - started) / 1000;
    const ours = drained / oursSeconds;
    console.log(
      `stream drain (this design)   ${drained} heartbeats in ${oursSeconds.toFixed(2)} s = ${ours.toFixed(0)} heartbeats/s`,
    );

    // 2. the seed's approach
    const connection = { host: '127.0.0.1', port: 6379 };
    const queue = new Queue('heartbeats', { connection, prefix: `${PREFIX}bull` });
    for (let i = 0; i < BASELINE_N; i += 1_000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1_000, BASELINE_N - i) }, (_, k) => {
          const j = i + k;
          const id = (j % FLEET) + 1;
          return { name: 'hb', data: heartbeatBody(id, t0 + N + j), opts: { removeOnComplete: true } };
        }),
      );
    }
    let done = 0;
    started = performance.now();
    const finished = new Promise<void>((resolve) => {
      const worker = new Worker(
        'heartbeats',
        async (job) => {
          const h = job.data as ReturnType<typeof heartbeatBody>;
          await db.pool.query(
            `UPDATE droplets SET last_heartbeat_at = $2, cpu_percent = $3, memory_percent = $4, disk_percent = $5,
               n8n_status = $6, sidecar_version = $7, n8n_version = $8, uptime_seconds = $9, updated_at = now()
             WHERE id = $1`,
            [
              h.droplet_id,
              h.timestamp,
              h.cpu_percent,
              h.memory_percent,
              h.disk_percent,
              h.n8n_status,
              h.sidecar_version,
              h.n8n_version,
              h.uptime_seconds,
            ],
          );
        },
        { connection, prefix: `${PREFIX}bull`, concurrency: 50 },
      );
      worker.on('completed', () => {
        if (++done === BASELINE_N) void worker.close().then(() => resolve());
      });
    });
    await finished;
    const baselineSeconds = (performance.now() - started) / 1000;
    const baseline = BASELINE_N / baselineSeconds;
    await queue.obliterate({ force: true });
    await queue.close();
    console.log(
      `BullMQ job per heartbeat     ${BASELINE_N} heartbeats in ${baselineSeconds.toFixed(2)} s = ${baseline.toFixed(0)} heartbeats/s`,
    );
    console.log(
      `ratio: ${(ours / baseline).toFixed(1)}x (goal >= 10x); goal >= 50,000 heartbeats/s: ${ours >= 50_000 ? 'met' : 'NOT met'}`,
    );

    // 3. latency at the seed's load
    await db.pool.query('TRUNCATE heartbeat_history');
    const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 20);
    const drainer = drainUntilEmpty((SECONDS + 3) * 1000);
    let sent = 0;
    const loadStart = Date.now();
    while (Date.now() - loadStart < SECONDS * 1000) {
      const tickStart = Date.now();
      const writes = [];
      for (let k = 0; k < 50; k++) {
        const id = (sent++ % FLEET) + 1;
        writes.push(
          appendHeartbeats(redis, stream, [
            fromNative({ ...heartbeatBody(id, Date.now()), droplet_id: id } as never),
          ]),
        );
      }
      await Promise.all(writes);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tickStart)))); // 50 per 100 ms
    }
    await drainer;
    const { rows } = await db.pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM (received_at - observed_at)) * 1000 AS ms FROM heartbeat_history`,
    );
    const lat = rows.map((r) => Number(r.ms)).sort((a, b) => a - b);
    console.log(
      `seed load ${(sent / SECONDS).toFixed(0)} heartbeats/s for ${SECONDS} s: ${lat.length} visible; buffer-to-visible ` +
        `p50 ${percentile(lat, 50).toFixed(1)} ms, p99 ${percentile(lat, 99).toFixed(1)} ms, max ${lat[lat.length - 1]?.toFixed(1)} ms ` +
        `(goal p99 < 1000 ms: ${percentile(lat, 99) < 1000 ? 'met' : 'NOT met'})`,
    );
  } finally {
    const left = await redis.keys(`${PREFIX}*`);
    if (left.length) await redis.del(...left);
    redis.disconnect();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
