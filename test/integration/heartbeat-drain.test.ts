/**
 * The drain workflow on the real dev server with real activities, Postgres and Redis: batches are
 * applied newest-wins, unknown/duplicate/out-of-order/malformed entries are counted without
 * errors, abandoned entries of a dead consumer are claimed, remediation is told about droplets
 * under remediation, and the workflow continues as new.
 */
import type { ObservedHeartbeat } from '../../src/db/heartbeats';
import type { StreamHeartbeat } from '../../src/heartbeats/heartbeat';
import {
  appendHeartbeats,
  ensureConsumerGroup,
  heartbeatStreamNames,
  readGroup,
  streamBacklog,
} from '../../src/heartbeats/stream';
import { heartbeatDrain } from '../../workflows/heartbeat-drain';
import { drainStatusQuery, stopDrainSignal } from '../../contracts';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import {
  connectTestTemporal,
  eventually,
  replayAndRecord,
  startTestWorker,
  testLogger,
  uniqueTaskQueue,
  type TestTemporal,
} from '../helpers/temporal';

const hb = (
  d: number | undefined,
  w: string,
  t: number,
  extra: Partial<StreamHeartbeat> = {},
): StreamHeartbeat => ({
  ...(d === undefined ? {} : { d }),
  w,
  t,
  cpu: 10,
  mem: 20,
  disk: 30,
  n8n: 'healthy',
  sv: '1.0.0',
  nv: '1.70.0',
  up: 5,
  ...extra,
});

describe('heartbeat drain workflow', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let t: TestTemporal;
  const observed: ObservedHeartbeat[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    t = await connectTestTemporal();
    for (let i = 1; i <= 20; i++) await seedDroplet(db.pool, { id: i, workspaceId: `ws-${i}` });
    await db.pool.query(`UPDATE droplets SET state = 'REBOOTING' WHERE id = 20`);
  });

  afterAll(async () => {
    await t.close();
    await r.cleanup();
    await db.drop();
  });

  it('drains the stream into Postgres and accounts for every entry', async () => {
    const stream = heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');
    const taskQueue = uniqueTaskQueue('drain');
    const w = await startTestWorker(t, {
      taskQueue,
      deps: {
        pool: db.pool,
        redis: r.redis,
        logger: testLogger,
        heartbeatStream: stream,
        heartbeatRetentionDays: 7,
        remediation: { heartbeatsObserved: async (o) => void observed.push(...o) },
      },
    });
    try {
      const t0 = Date.now() - 60_000;
      // Entries a dead consumer ("ghost") read and never acknowledged.
      await ensureConsumerGroup(r.redis, stream);
      await appendHeartbeats(r.redis, stream, [hb(19, 'ws-19', t0 + 500)]);
      expect(await readGroup(r.redis, stream, 'ghost', { count: 10, fromId: '>' })).toHaveLength(1);

      // Droplets 1..10: three heartbeats each in one entry; the newest must win.
      for (let i = 1; i <= 10; i++) {
        await appendHeartbeats(r.redis, stream, [
          hb(i, `ws-${i}`, t0 + 1000, { cpu: 1 }),
          hb(i, `ws-${i}`, t0 + 3000, { cpu: 3 }),
          hb(i, `ws-${i}`, t0 + 2000, { cpu: 2 }),
        ]);
      }
      await appendHeartbeats(r.redis, stream, [hb(999, 'ws-nobody', t0)]); // unknown droplet
      await appendHeartbeats(r.redis, stream, [hb(11, 'ws-wrong', t0)]); // droplet of another workspace
      await appendHeartbeats(r.redis, stream, [hb(20, 'ws-20', t0 + 4000)]); // under remediation
      await appendHeartbeats(r.redis, stream, [
        hb(undefined, 'ws-12', t0 + 4000, { url: 'http://10.1.1.12:3100', cpu: undefined }),
      ]); // handshake
      await r.redis.xadd(stream.key, '*', 'hb', '{"not":"a list"}'); // malformed

      const handle = await t.client.workflow.start(heartbeatDrain, {
        taskQueue,
        workflowId: `drain-test-${taskQueue}`,
        args: [
          { consumer: 'drain-0', activityRunMs: 1_500, runsPerExecution: 2, claimIdleMs: 300, blockMs: 200 },
        ],
      });

      const rows = await eventually(
        async () =>
          (
            await db.pool.query(
              `SELECT id, cpu_percent FROM droplets WHERE last_heartbeat_at IS NOT NULL ORDER BY id`,
            )
          ).rows,
        (rs) => rs.length >= 13,
        { what: 'droplets updated' },
      );
      expect(rows.filter((x) => x.id <= 10).every((x) => x.cpu_percent === 3)).toBe(true);

      // Out-of-order and duplicate heartbeats after the fact.
      await appendHeartbeats(r.redis, stream, [hb(1, 'ws-1', t0 + 2500, { cpu: 99 })]); // older than stored
      await appendHeartbeats(r.redis, stream, [hb(2, 'ws-2', t0 + 3000, { cpu: 99 })]); // same instant again

      await eventually(
        () => streamBacklog(r.redis, stream),
        (b) => b.length === 0 && b.pending === 0,
        {
          what: 'stream empty',
        },
      );
      // Wait for at least one continue-as-new so totals span executions.
      const status = await eventually(
        () => handle.query(drainStatusQuery),
        (s) => s.runs >= 3 && s.totals.outOfOrder >= 1,
        {
          what: 'drain totals',
        },
      );
      expect(status.totals).toMatchObject({
        unknown: 2,
        malformed: 1,
        duplicates: 1,
        outOfOrder: 1,
        claimed: 1,
        remediationSignals: 1,
      });
      expect(status.totals.heartbeats).toBe(1 + 30 + 4 + 2);
      expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId); // continued as new

      const d1 = (await db.pool.query(`SELECT cpu_percent FROM droplets WHERE id = 1`)).rows[0];
      expect(d1.cpu_percent).toBe(3); // the out-of-order heartbeat did not win
      const d12 = (await db.pool.query(`SELECT sidecar_url, last_heartbeat_at FROM droplets WHERE id = 12`))
        .rows[0];
      expect(d12.sidecar_url).toBe('http://10.1.1.12:3100');
      expect(d12.last_heartbeat_at).not.toBeNull();
      const d11 = (await db.pool.query(`SELECT last_heartbeat_at FROM droplets WHERE id = 11`)).rows[0];
      expect(d11.last_heartbeat_at).toBeNull(); // another workspace cannot update it
      const history = (await db.pool.query(`SELECT count(*)::int AS n FROM heartbeat_history`)).rows[0].n;
      expect(history).toBe(1 + 30 + 1 + 1 + 1); // ghost's + 3x10 + remediation + handshake + out-of-order (new instant)
      expect(observed).toEqual([
        expect.objectContaining({ dropletId: 20, state: 'REBOOTING', workspaceId: 'ws-20' }),
      ]);

      await handle.signal(stopDrainSignal);
      const final = await handle.result();
      expect(final.stopping).toBe(true);

      // The last execution's history replays deterministically against today's workflow code;
      // RECORD_HISTORIES=1 refreshes the fixture the replay test keeps for future changes.
      await replayAndRecord('heartbeat-drain', await handle.fetchHistory());
    } finally {
      await w.stop();
    }
  });
});
