/**
 * Interactive power operations on their own task queue, end to end: a real worker polling both of
 * the control plane's queues, the DigitalOcean simulator and v1 sidecar simulators.
 *
 * The base queue's backlog is made to stand still (its activity dispatch held on the server, as a
 * storm of thousands of bulk wakes fills it); a user_login wake started through its contract
 * still runs, on `<queue>-interactive`, and verifies, while the scheduled wakes started before it
 * have not sent their power_on. Released, they run too. Route the login to the base queue (as
 * before the interactive queue) and it waits behind the held backlog: the test fails. The
 * heartbeat drain runs on the interactive queue too (its keep-alives verify the login), and a
 * drain still on the base queue from before is moved when a worker starts.
 */
import { temporal as proto } from '@temporalio/proto';
import { drainIds, heartbeatDrainContract, interactiveTaskQueue } from '../../contracts';
import { ensureDrainWorkflows } from '../../src/heartbeats/drain-starter';
import { setQueueActivityHold } from '../../src/temporal/activity-hold';
import { startWake } from '../../src/temporal/power-starts';
import { startOptions } from '../../src/temporal/start';
import {
  createFleetHarness,
  harnessPowerTimings,
  lifecyclePath,
  type FleetHarness,
} from '../helpers/fleet-harness';
import { eventually, startTestWorker, testConfig } from '../helpers/temporal';

jest.setTimeout(120_000);

// a login's verification may take a little longer than the harness's while the test holds a queue
const timings = { ...harnessPowerTimings, verifyWindowMs: 5_000 };

describe('interactive power on its own task queue', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };
  const bulk = Array.from({ length: 5 }, (_, i) => 42_100 + i);
  const login = 42_000;

  /** Holds (or releases) activity dispatch of one queue only, as `genesis-cp activities hold` does for all. */
  const holdActivities = (queue: string, hold: boolean) =>
    setQueueActivityHold(h.temporal.client, queue, {
      namespace: 'default',
      identity: 'test',
      hold,
      reason: hold ? 'test: a backlog that does not move' : 'test over',
    });

  beforeAll(async () => {
    h = await createFleetHarness('power-interactive');
    await h.fleet.addDroplets(h.db.pool, [
      { dropletId: login, workspaceId: 'ws-login', poweredOn: false },
      ...bulk.map((dropletId, i) => ({ dropletId, workspaceId: `ws-bulk${i}`, poweredOn: false })),
    ]);
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await holdActivities(h.taskQueue, false).catch(() => undefined);
    await worker?.stop();
    await h?.close();
  });

  const powerOnsOf = (ids: number[], since: number) =>
    h.fleet.digitalocean
      .requestLog()
      .filter(
        (e) =>
          e.at >= since && e.method === 'POST' && ids.some((id) => e.path === `/v2/droplets/${id}/actions`),
      );

  it('a user_login wake verifies while the base queue stands still; the bulk wakes follow on release', async () => {
    const since = Date.now();
    await holdActivities(h.taskQueue, true);
    const scheduled = await Promise.all(
      bulk.map((dropletId, i) =>
        startWake(h.temporal.client, h.taskQueue, {
          workspaceId: `ws-bulk${i}`,
          dropletId,
          reason: 'scheduled_campaign',
          timings,
        }),
      ),
    );
    const started = Date.now();
    const { handle } = await startWake(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-login',
      dropletId: login,
      reason: 'user_login',
      timings,
    });
    expect((await handle.describe()).taskQueue).toBe(interactiveTaskQueue(h.taskQueue));
    expect(await handle.result()).toMatchObject({ outcome: 'healthy' });
    const loginMs = Date.now() - started;
    expect(await lifecyclePath(h.db, login)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);

    // the scheduled wakes, started first, are still where the held queue keeps them
    expect(powerOnsOf(bulk, since)).toEqual([]);
    for (const s of scheduled) {
      const d = await s.handle.describe();
      expect(d.taskQueue).toBe(h.taskQueue);
      expect(d.status.name).toBe('RUNNING');
    }

    await holdActivities(h.taskQueue, false);
    for (const s of scheduled) expect(await s.handle.result()).toMatchObject({ outcome: 'healthy' });
    expect(powerOnsOf(bulk, since).length).toBeGreaterThanOrEqual(bulk.length);
    // the login took one wake's time, not the held backlog's (it would never end while held)
    expect(loginMs).toBeLessThan(timings.verifyWindowMs + timings.actionTimeoutMs);
  });

  it('the worker polls both queues', async () => {
    const pollers = async (queue: string) =>
      (
        await h.temporal.client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: queue, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        })
      ).pollers ?? [];
    await eventually(
      () => pollers(h.taskQueue),
      (p) => p.length > 0,
      { what: 'base pollers' },
    );
    await eventually(
      () => pollers(interactiveTaskQueue(h.taskQueue)),
      (p) => p.length > 0,
      {
        what: 'interactive pollers',
      },
    );
  });

  it('moves a drain still running on the base queue (started before the split) to the interactive queue', async () => {
    const old = await h.temporal.client.workflow.start(heartbeatDrainContract.workflowType, {
      ...startOptions(
        heartbeatDrainContract,
        { consumer: 'drain-1', blockMs: 200 },
        { taskQueue: h.taskQueue },
      ),
      taskQueue: h.taskQueue, // where a drain started by the code before the split runs
    });
    expect((await old.describe()).taskQueue).toBe(h.taskQueue);
    const drains = await ensureDrainWorkflows(h.temporal.client, {
      taskQueue: h.taskQueue,
      consumers: 2,
      batchSize: 100,
      overrides: { blockMs: 200 },
    });
    // drain-0 (the harness's) already runs on its queue; drain-1 was stopped and started there
    expect(drains).toEqual({
      workflowIds: [drainIds.consumer(h.taskQueue, 0), drainIds.consumer(h.taskQueue, 1)],
      moved: [drainIds.consumer(h.taskQueue, 1)],
      notMoved: [],
    });
    const now = h.temporal.client.workflow.getHandle(drainIds.consumer(h.taskQueue, 1));
    const d = await now.describe();
    expect(d.status.name).toBe('RUNNING');
    expect(d.taskQueue).toBe(interactiveTaskQueue(h.taskQueue));
    expect(d.runId).not.toBe(old.firstExecutionRunId);
    // a second start (another replica, a restart) finds nothing to move
    expect(
      (
        await ensureDrainWorkflows(h.temporal.client, {
          taskQueue: h.taskQueue,
          consumers: 2,
          batchSize: 100,
        })
      ).moved,
    ).toEqual([]);
    await now.terminate('test over');
  });

  it('WORKER_TASK_QUEUES splits the queues between pools: a login waits for a worker of the interactive queue', async () => {
    await worker.stop();
    const pools: { stop(): Promise<void> }[] = [];
    try {
      const bulkPool = await startTestWorker(h.temporal, {
        taskQueue: h.taskQueue,
        deps: h.deps,
        config: testConfig({ WORKER_TASK_QUEUES: 'default' }),
      });
      pools.push(bulkPool);
      expect([...bulkPool.worker.workers.keys()]).toEqual([h.taskQueue]);
      const { handle } = await startWake(h.temporal.client, h.taskQueue, {
        workspaceId: 'ws-bulk0',
        dropletId: bulk[0]!,
        reason: 'admin_request',
        timings,
      });
      // nothing polls the interactive queue yet: the wake waits there until a worker of it starts
      expect((await handle.describe()).taskQueue).toBe(interactiveTaskQueue(h.taskQueue));
      const loginPool = await startTestWorker(h.temporal, {
        taskQueue: h.taskQueue,
        deps: h.deps,
        config: testConfig({ WORKER_TASK_QUEUES: 'interactive' }),
      });
      pools.push(loginPool);
      expect([...loginPool.worker.workers.keys()]).toEqual([interactiveTaskQueue(h.taskQueue)]);
      expect(await handle.result()).toMatchObject({ outcome: expect.stringMatching(/^(already_)?healthy$/) });
    } finally {
      for (const p of pools) await p.stop();
    }
  });
});
