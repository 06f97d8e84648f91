/**
 * The drain at the fleet's steady rate (issue 19): heartbeats that trickle in one at a time are
 * written in batches (the next read waits until FRESH_READ_LINGER_MS after a short one), not one
 * statement per heartbeat, and each still reaches Postgres well within a second.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHeartbeatDrainActivities, FRESH_READ_LINGER_MS } from '../../activities/heartbeat-drain';
import type { DrainStats } from '../../src/domain/drain-stats';
import { appendHeartbeats, heartbeatStreamNames } from '../../src/heartbeats/stream';
import { createLogger } from '../../src/logger';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { createTestRedis, type TestRedis } from '../helpers/redis';

jest.setTimeout(30_000);

describe('drain batching at a trickle', () => {
  let db: TestDatabase;
  let r: TestRedis;

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    await seedDroplet(db.pool, { id: 1, workspaceId: 'ws-1' });
  });
  afterAll(async () => {
    await r.cleanup();
    r.redis.disconnect();
    await db.drop();
  });

  it('writes 20 heartbeats sent 30 ms apart in a handful of batches, each within a second', async () => {
    const stream = heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');
    const activities = createHeartbeatDrainActivities({
      pool: db.pool,
      redis: r.redis,
      logger: createLogger({ level: 'silent' }),
      heartbeatStream: stream,
      heartbeatRetentionDays: 7,
      remediation: { heartbeatsObserved: async () => undefined },
    });
    const N = 20;
    const SPACING_MS = 30; // longer than a statement takes, so without batching every read finds one
    const run = new MockActivityEnvironment().run(activities.drainHeartbeats, {
      consumer: 'trickle',
      runForMs: 5_000, // outlasts the arrivals even on a loaded machine
      batchSize: 2_000,
      blockMs: 200,
      claimIdleMs: 60_000,
    });
    const sendStart = Date.now();
    for (let i = 0; i < N; i++) {
      await appendHeartbeats(r.redis, stream, [{ d: 1, w: 'ws-1', t: Date.now(), n8n: 'healthy' }]);
      await new Promise((res) => setTimeout(res, SPACING_MS));
    }
    const sendingMs = Date.now() - sendStart;
    const stats = (await run) as DrainStats;
    expect(stats.heartbeats).toBe(N);
    // ~600 ms of arrivals (longer on a loaded machine: the bound follows what it took) at one read
    // per FRESH_READ_LINGER_MS: about 6 batches, not one per heartbeat (20 without the batching)
    expect(FRESH_READ_LINGER_MS).toBe(100);
    expect(stats.batches).toBeLessThanOrEqual(Math.max(10, Math.ceil(sendingMs / FRESH_READ_LINGER_MS) + 2));
    const { rows } = await db.pool.query<{ n: number; worst: number }>(
      `SELECT count(*)::int AS n, max(extract(epoch FROM received_at - observed_at) * 1000)::float AS worst
         FROM heartbeat_history WHERE droplet_id = 1`,
    );
    expect(rows[0]!.n).toBe(N);
    expect(rows[0]!.worst).toBeLessThan(1_000);
  });
});
