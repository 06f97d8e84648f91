/**
 * A droplet never stays in a transitional state (HIBERNATING, WAKING, REBOOTING, UPDATING):
 *   - the incident: a hibernate under budget pressure whose fallback power_off reached DigitalOcean
 *     after the graceful shutdown had finished (422 "Droplet is already powered off") -- the goal
 *     holds, so the hibernate succeeds (real power activities, the DigitalOcean simulator);
 *   - any failure of an operation, a cancellation included, settles the droplet to FAILED with
 *     the reason (real workflows, stub activities);
 *   - the settle step touches only a droplet the failing workflow itself left transitional;
 *   - droplets left transitional past the deadline (terminated workflows) are re-driven by the
 *     watchdog.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import type { ActivityDeps } from '../../activities';
import type { DropletRecord } from '../../activities/power';
import { createWatchdogActivities } from '../../activities/watchdog';
import { settleTransitional, transitionDroplet } from '../../src/db/droplets';
import { DigitalOceanBudget } from '../../src/digitalocean/budget';
import { DigitalOceanClient } from '../../src/digitalocean/client';
import {
  createDigitalOceanSimulator,
  DEFAULT_SIMULATOR_TOKEN,
  type DigitalOceanSimulator,
} from '../../src/simulator/digitalocean';
import { startWake } from '../../src/temporal/power-starts';
import { workflowIds } from '../../contracts';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import { startStubWorker, type ActivityStubs } from '../helpers/stub-activities';
import {
  connectTestTemporal,
  eventually,
  startTestWorker,
  terminateStarted,
  testLogger,
  uniqueTaskQueue,
  type TestTemporal,
} from '../helpers/temporal';

jest.setTimeout(120_000);

let t: TestTemporal;
let db: TestDatabase;
let r: TestRedis;
beforeAll(async () => {
  t = await connectTestTemporal();
  db = await createTestDatabase();
  r = await createTestRedis();
});
afterAll(async () => {
  await r?.cleanup();
  await db?.drop();
  await t?.close();
});

const stateOf = async (id: number) =>
  (await db.pool.query<{ state: string }>('SELECT state FROM droplets WHERE id = $1', [id])).rows[0]!.state;

describe('hibernate under budget pressure', () => {
  let sim: DigitalOceanSimulator;
  let worker: { stop(): Promise<void> } | undefined;
  const taskQueue = uniqueTaskQueue('hibernate-pressure');
  beforeAll(async () => {
    // the graceful shutdown takes 1.5 s, longer than the 600 ms the hibernate grants it
    sim = await createDigitalOceanSimulator({ actionDelayMs: 1_500 });
    // budget pressure: the fallback power_off waits 4 s before it reaches DigitalOcean
    const pressured: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && String(init.body).includes('"power_off"'))
        await new Promise((res) => setTimeout(res, 4_000));
      return fetch(input, init);
    };
    const deps = {
      pool: db.pool,
      redis: r.redis,
      logger: testLogger,
      digitalocean: new DigitalOceanClient({
        baseUrl: sim.url,
        token: DEFAULT_SIMULATOR_TOKEN,
        budget: new DigitalOceanBudget({
          redis: r.redis,
          keyPrefix: r.prefix,
          token: DEFAULT_SIMULATOR_TOKEN,
        }),
        logger: testLogger,
        userAgent: 'genesis-control-plane/test',
        fetch: pressured,
      }),
      temporal: { client: t.client, taskQueue },
    } as unknown as ActivityDeps;
    worker = await startTestWorker(t, { taskQueue, deps });
  });
  afterAll(async () => {
    await worker?.stop();
    await sim?.close();
  });

  it('a power_off refused with "already powered off" is success: HIBERNATED, not stuck in HIBERNATING', async () => {
    const id = 7_301;
    await seedDroplet(db.pool, { id, workspaceId: 'ws-hp' });
    sim.addDroplet({ id, status: 'active' });
    const result = await t.client.workflow.execute('hibernateDroplet', {
      taskQueue,
      workflowId: workflowIds.power(id),
      args: [{ workspaceId: 'ws-hp', dropletId: id, gracefulTimeoutMs: 600, timings: { actionPollMs: 100 } }],
      workflowExecutionTimeout: '90s',
    });
    expect(result).toMatchObject({ dropletId: id, outcome: 'hibernated' });
    expect(await stateOf(id)).toBe('HIBERNATED');
    expect(sim.getDroplet(id)?.status).toBe('off');
    // the incident's exchange did happen: the fallback power_off was refused with 422
    const powerOff = sim
      .requestLog()
      .filter((e) => e.method === 'POST' && e.path === `/v2/droplets/${id}/actions`);
    expect(powerOff.map((e) => e.status)).toEqual([201, 422]);
  });
});

describe('a failing operation settles its droplet', () => {
  const owner = 'ws-settle';
  const record = (dropletId: number): DropletRecord => ({
    dropletId,
    workspaceId: owner,
    state: 'ACTIVE_HEALTHY',
    sidecarUrl: 'http://203.0.113.9:3100',
    lastHeartbeatAt: null,
    n8nStatus: 'healthy',
    agentDropletId: null,
  });
  /** An activity that runs until it is cancelled (heartbeating, so the cancellation reaches it). */
  const untilCancelled = async () => {
    const ctx = Context.current();
    for (;;) {
      ctx.heartbeat();
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const settled: unknown[] = [];
  const blocked: string[] = [];
  const stubs: ActivityStubs = {
    getDropletRecord: record,
    runningChangesOn: () => [],
    transitionDroplet: () => ({ from: 'ACTIVE_HEALTHY', changed: true }),
    // the power action itself runs until cancelled (wake, hibernate and hard reboot send it first)
    startPowerAction: async (i) => {
      blocked.push(`start:${i.type}`);
      return untilCancelled();
    },
    recordedN8nTag: () => '1.0.0',
    sidecarSwapN8nContainer: async () => {
      blocked.push('swap');
      return untilCancelled();
    },
    settleDroplet: (req) => {
      settled.push(req);
      return { from: 'WAKING', changed: true };
    },
  };
  let w: Awaited<ReturnType<typeof startStubWorker>>;
  const taskQueue = uniqueTaskQueue('settle');
  beforeAll(async () => {
    w = await startStubWorker(t, { taskQueue, stubs });
  });
  afterAll(() => w?.stop());

  it.each([
    ['wakeDroplet', 'wake', { reason: 'user_login' }],
    ['hibernateDroplet', 'hibernate', {}],
    ['hardReboot', 'hard_reboot', { reason: 'admin_request', maxAttempts: 1 }],
    ['n8nContainerUpdate', 'n8n_update', { toTag: '1.2.0', autoPromote: true }],
  ])('%s cancelled mid-operation -> settleDroplet FAILED with the reason', async (type, operation, extra) => {
    settled.length = 0;
    blocked.length = 0;
    const dropletId = 7_400 + operation.length;
    const workflowId = `settle-${type}-${Date.now()}`;
    const handle = await t.client.workflow.start(type, {
      taskQueue,
      workflowId,
      args: [{ workspaceId: owner, dropletId, ...extra }],
      workflowExecutionTimeout: '60s',
    });
    await eventually(
      async () => blocked.length,
      (n) => n > 0,
      { what: `${type} in flight` },
    );
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    await eventually(
      async () => settled.length,
      (n) => n > 0,
      { what: 'the settle step' },
    );
    expect(settled).toEqual([
      {
        dropletId,
        workflowId,
        to: 'FAILED',
        cause: `${operation}:failed`,
        detail: { reason: expect.stringMatching(/cancel/i) },
      },
    ]);
  });
});

describe('settleTransitional', () => {
  it('settles only a droplet the failing workflow itself left transitional', async () => {
    const id = 7_501;
    await seedDroplet(db.pool, { id, workspaceId: 'ws-st' });
    await transitionDroplet(db.pool, {
      dropletId: id,
      to: 'HIBERNATING',
      cause: 'hibernate',
      workflowId: 'wf-a',
    });
    // another workflow's failure does not touch it
    expect(
      await settleTransitional(db.pool, { dropletId: id, workflowId: 'wf-b', to: 'FAILED', cause: 'x' }),
    ).toMatchObject({ changed: false });
    expect(await stateOf(id)).toBe('HIBERNATING');
    const r1 = await settleTransitional(db.pool, {
      dropletId: id,
      workflowId: 'wf-a',
      to: 'FAILED',
      cause: 'hibernate:failed',
      detail: { reason: 'ProviderRefused: boom' },
    });
    expect(r1).toEqual({ from: 'HIBERNATING', to: 'FAILED', changed: true });
    expect(await stateOf(id)).toBe('FAILED');
    const log = await db.pool.query(
      `SELECT from_state, to_state, cause, workflow_id, detail FROM droplet_lifecycle_log WHERE droplet_id = $1 ORDER BY id DESC LIMIT 1`,
      [id],
    );
    expect(log.rows[0]).toEqual({
      from_state: 'HIBERNATING',
      to_state: 'FAILED',
      cause: 'hibernate:failed',
      workflow_id: 'wf-a',
      detail: { reason: 'ProviderRefused: boom' },
    });
    // a resting droplet is left alone
    expect(
      await settleTransitional(db.pool, { dropletId: id, workflowId: 'wf-a', to: 'FAILED', cause: 'x' }),
    ).toMatchObject({ changed: false });
  });
});

describe('the watchdog re-drives droplets stuck in a transitional state', () => {
  // no worker polls this queue: the test looks at what was started
  const taskQueue = uniqueTaskQueue('redrive');
  const started: string[] = [];
  afterAll(() => terminateStarted(t.client, started));

  it('starts the operation that finishes each one (past the deadline, nothing running), leaves the rest', async () => {
    const seed = async (id: number, state: string, agoS: number) => {
      await seedDroplet(db.pool, { id, workspaceId: `ws-${id}`, state });
      await db.pool.query(
        `UPDATE droplets SET state_changed_at = now() - make_interval(secs => $2) WHERE id = $1`,
        [id, agoS],
      );
    };
    await seed(7_601, 'HIBERNATING', 1_200);
    await seed(7_602, 'WAKING', 1_200);
    await seed(7_603, 'REBOOTING', 1_200);
    await seed(7_604, 'UPDATING', 1_200);
    await seed(7_605, 'HIBERNATING', 60); // not past the deadline
    await seed(7_606, 'WAKING', 1_200); // its wake is still running
    await seed(7_607, 'ACTIVE_HEALTHY', 5_000); // resting
    const running = await startWake(t.client, taskQueue, {
      workspaceId: 'ws-7606',
      dropletId: 7_606,
      reason: 'user_login',
    });
    started.push(running.workflowId);

    const deps = {
      pool: db.pool,
      logger: pino({ level: 'silent' }),
      temporal: { client: t.client, taskQueue },
    } as unknown as ActivityDeps;
    const env = new MockActivityEnvironment();
    const out = (await env.run(createWatchdogActivities(deps).redriveStuckDroplets, {
      olderThanS: 600,
      limit: 20,
      wake: {},
    })) as { found: number; redriven: number; busy: number; workflowIds: string[] };
    started.push(...out.workflowIds);
    expect(out).toMatchObject({ found: 5, redriven: 4, busy: 1 });
    const types = Object.fromEntries(
      await Promise.all(
        [7_601, 7_602, 7_603, 7_604].map(async (id) => {
          const d = await t.client.workflow.getHandle(workflowIds.power(id)).describe();
          return [id, d.type];
        }),
      ),
    );
    expect(types).toEqual({
      7601: 'hibernateDroplet',
      7602: 'wakeDroplet',
      7603: 'hardReboot',
      7604: 'wakeDroplet',
    });
    // UPDATING with no update running: FAILED with the reason first, then woken from there
    expect(await stateOf(7_604)).toBe('FAILED');
    const cause = await db.pool.query(
      `SELECT cause FROM droplet_lifecycle_log WHERE droplet_id = 7604 ORDER BY id DESC LIMIT 1`,
    );
    expect(cause.rows[0].cause).toBe('watchdog:stuck_in_UPDATING');
    expect(await stateOf(7_605)).toBe('HIBERNATING');
    await expect(t.client.workflow.getHandle(workflowIds.power(7_605)).describe()).rejects.toThrow();
  });

  it('the watchdog run asks for it with the configured deadline', async () => {
    const calls: unknown[] = [];
    const stubs: ActivityStubs = {
      scanFleet: () => ({ eligible: 10, staleCount: 0, stale: [], breaches: [], queryMs: 1 }),
      resolveAlert: () => ({ resolved: false }),
      syncBreachAlerts: () => ({ raised: 0, resolved: 0 }),
      checkHeartbeatBacklog: () => ({ length: 0, pending: 0, alerting: false }),
      recordWatchdogRun: () => undefined,
      redriveStuckDroplets: (i) => {
        calls.push(i);
        return { found: 2, redriven: 2, busy: 0, workflowIds: ['a', 'b'] };
      },
    };
    const q = uniqueTaskQueue('watchdog-redrive');
    const w = await startStubWorker(t, { taskQueue: q, stubs });
    try {
      const summary = await t.client.workflow.execute('watchdog', {
        taskQueue: q,
        workflowId: `watchdog-redrive-${Date.now()}`,
        args: [{ transitionalDeadlineS: 1_234, maxStartsPerTick: 7 }],
      });
      expect(calls).toEqual([{ olderThanS: 1_234, limit: 7, wake: {} }]);
      expect(summary).toMatchObject({ stuckRedriven: 2, braked: false });
    } finally {
      await w.stop();
    }
  });
});
