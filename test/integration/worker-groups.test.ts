/**
 * Rollback by pausing a worker group: two groups (a, b) poll one task queue on the dev server;
 * group a is paused in the middle of a stream of 200 workflows; group b finishes every one, none
 * is lost or run twice, and group a resumes without a process restart.
 */
import { temporal } from '@temporalio/proto';
import { groupPause, pauseGroup, resumeGroup } from '../../src/worker/pause-flag';
import { wakeDroplet } from '../../workflows/power/wake-droplet';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { runCli } from '../helpers/processes';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';
import { workerEnv } from '../helpers/worker-env';

jest.setTimeout(120_000);

const EventType = temporal.api.enums.v1.EventType;

describe('worker groups', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let t: TestTemporal;
  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    t = await connectTestTemporal();
    const ids = Array.from({ length: 200 }, (_, i) => 40_000 + i);
    await db.pool.query(`INSERT INTO workspaces (id) SELECT 'ws-' || x FROM unnest($1::bigint[]) x`, [ids]);
    await db.pool.query(
      `INSERT INTO droplets (id, workspace_id, state, last_heartbeat_at) SELECT x, 'ws-' || x, 'ACTIVE_HEALTHY', now() FROM unnest($1::bigint[]) x`,
      [ids],
    );
  });
  afterAll(async () => {
    await t.close();
    await r.cleanup();
    await db.drop();
  });

  it('pauses group a mid-stream; group b finishes all 200; a resumes in-process', async () => {
    const taskQueue = uniqueTaskQueue('groups');
    // Each group is its own worker process, as in production (the SDK allows one worker per task
    // queue per process); both run the real control-plane bootstrap with its pause supervisor.
    const env = (group: string) =>
      workerEnv(
        { databaseUrl: db.url, redisPrefix: r.prefix, taskQueue, digitaloceanToken: 'unused' },
        {
          WATCHDOG_ENABLED: 'false',
          SCALE_ALERTS_ENABLED: 'false',
          WORKER_GROUP: group,
          WORKER_SHUTDOWN_GRACE_MS: '3000',
          LOG_LEVEL: 'info',
        },
      );
    const a = runCli(['worker'], env('a'));
    const b = runCli(['worker'], env('b'));
    try {
      await a.waitFor(/worker polling/);
      await b.waitFor(/worker polling/);
      const handles = [];
      let pausedAfter = -1;
      for (let i = 0; i < 200; i++) {
        handles.push(
          await t.client.workflow.start(wakeDroplet, {
            taskQueue,
            workflowId: `groups-${taskQueue}-${i}`,
            args: [{ workspaceId: `ws-${40_000 + i}`, dropletId: 40_000 + i, reason: 'admin_request' }],
          }),
        );
        if (i === 60) {
          await pauseGroup(r.redis, r.prefix, { group: 'a', by: 'test', at: new Date().toISOString() });
          await a.waitFor(/"msg":"worker paused"/, 20_000);
          pausedAfter = i;
        }
      }
      const results = await Promise.all(handles.map((h) => h.result()));
      expect(results.every((x) => x.outcome === 'already_healthy')).toBe(true);

      // Every workflow ran its one activity exactly once; after the pause only group b worked.
      let byA = 0;
      let byAAfterPause = 0;
      for (let i = 0; i < handles.length; i++) {
        const history = await handles[i]!.fetchHistory();
        const events = history.events ?? [];
        const started = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED);
        expect(started).toHaveLength(1);
        expect(
          events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED),
        ).toHaveLength(1);
        const identities = events
          .map(
            (e) =>
              e.activityTaskStartedEventAttributes?.identity ??
              e.workflowTaskStartedEventAttributes?.identity,
          )
          .filter((x): x is string => !!x);
        if (identities.some((id) => id.startsWith('a/'))) {
          byA++;
          if (i > pausedAfter) byAAfterPause++;
        }
      }
      expect(byAAfterPause).toBe(0);
      expect(byA).toBeGreaterThan(0); // a really took part before the pause
      expect(a.child.exitCode).toBeNull(); // paused, not exited

      await resumeGroup(r.redis, r.prefix, 'a');
      await a.waitFor(/worker polling[\s\S]*worker paused[\s\S]*worker polling/, 20_000);
      expect(await groupPause(r.redis, r.prefix, 'a')).toBeUndefined();
    } finally {
      await a.kill('SIGTERM');
      await b.kill('SIGTERM');
    }
  });
});
