/**
 * bench:fleet-load's baseline: the seed's ingest design, minimal and faithful, as its own process
 * (measured by the same /proc sampler as the control plane):
 *   express + express.json() on POST /api/sidecar/handshake (the route the v1 agents call, same
 *   bearer check and answers), one BullMQ job per heartbeat (Queue.add, removeOnComplete), and a
 *   BullMQ Worker in the same process running one UPDATE per job (concurrency 50, as bench:drain's
 *   baseline), on a pg pool of DATABASE_POOL_MAX (10) like the control plane's.
 * Drain lag here = the UPDATE's completion (Date.now() after the query resolved) - the time the
 * route accepted the heartbeat. GET /bench-stats returns the counters and [acceptedAt, lagMs] pairs.
 * Env: DATABASE_URL, REDIS_URL, PORT, SIDECAR_HANDSHAKE_SECRET, BULLMQ_PREFIX.
 */
import { Queue, Worker } from 'bullmq';
import express from 'express';
import Redis from 'ioredis';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'pg';
import { searchPathOptions } from '../../src/db/pool';
import { DEFAULT_DATABASE_SCHEMA } from '../../src/db/schema';

interface Job {
  w: string;
  url: string;
  version?: string;
  t: number;
}

async function main(): Promise<void> {
  const secret = process.env.SIDECAR_HANDSHAKE_SECRET!;
  const prefix = process.env.BULLMQ_PREFIX ?? 'bull';
  const pool = new Pool({
    connectionString: process.env.DATABASE_URL,
    max: 10,
    ...searchPathOptions(DEFAULT_DATABASE_SCHEMA),
  });
  const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
  const queue = new Queue<Job>('heartbeats', { connection, prefix });
  let accepted = 0;
  let completed = 0;
  let failed = 0;
  const lags: [number, number][] = [];
  const worker = new Worker<Job>(
    'heartbeats',
    async (job) => {
      const h = job.data;
      await pool.query(
        `UPDATE droplets SET last_heartbeat_at = to_timestamp($2 / 1000.0), sidecar_url = $3,
           n8n_status = COALESCE($4, n8n_status), updated_at = now() WHERE workspace_id = $1`,
        [h.w, h.t, h.url, h.version === 'unknown' ? null : (h.version ?? null)],
      );
      lags.push([h.t, Date.now() - h.t]);
    },
    {
      connection: new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null }),
      prefix,
      concurrency: 50,
    },
  );
  worker.on('completed', () => completed++);
  worker.on('failed', (_job, err) => {
    if (failed++ === 0) console.error('seed design: job failed:', err.message);
  });

  const app = express();
  app.use(express.json());
  app.post('/api/sidecar/handshake', async (req, res) => {
    const registeredAt = new Date().toISOString();
    const body = (req.body ?? {}) as { workspace_id?: string; sidecar_url?: string; version?: string };
    if (req.headers.authorization !== `Bearer ${secret}`) {
      return res
        .status(401)
        .json({ success: false, registered_at: registeredAt, workspace_id: '', error: 'Unauthorized' });
    }
    if (!body.workspace_id || !body.sidecar_url) {
      return res.status(400).json({
        success: false,
        registered_at: registeredAt,
        workspace_id: body.workspace_id ?? '',
        error: 'workspace_id and sidecar_url are required',
      });
    }
    await queue.add(
      'heartbeat',
      { w: body.workspace_id, url: body.sidecar_url, version: body.version, t: Date.now() },
      { removeOnComplete: true, removeOnFail: 1000 },
    );
    accepted++;
    res.json({
      success: true,
      registered_at: registeredAt,
      workspace_id: body.workspace_id,
      message: `Sidecar registered for workspace ${body.workspace_id}`,
    });
  });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  app.get('/bench-stats', async (req, res) => {
    if (req.query.reset) loop.reset();
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    const delay = { p99MeanMs: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 };
    res.json({ accepted, completed, failed, counts, lags, loop: delay });
  });
  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.send?.({ type: 'ready', port: (server.address() as { port: number }).port });
  });
  const stop = async () => {
    server.close();
    await worker.close();
    await queue.close();
    await pool.end();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
