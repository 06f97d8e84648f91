/**
 * Scheduled power on the real dev server and Postgres: the dashboard's client sets a schedule
 * through `powerScheduleCommand`, and a `powerScheduleTick` run starts exactly the operations the
 * schedules want: a wake (reason scheduled_campaign) for a hibernated droplet whose window is open,
 * a hibernation (reason scheduled) for an idle one outside its window; a busy droplet, a droplet
 * active a few minutes ago and one a user logged into (a user_login wake, seen in visibility) are
 * left alone; a second tick starts nothing twice. The power workflows are started on a task queue
 * no worker polls, so they stay as started (what the reconciler did, not what a wake does).
 */
import { randomBytes } from 'node:crypto';
import { ReasonKey } from '../../contracts/search-attributes';
import { powerScheduleTickContract, type PowerScheduleTickSummary } from '../../contracts/power-schedule';
import { createActivities } from '../../activities';
import { createGenesisClient, GenesisInputError, type GenesisClient } from '../../src/client';
import { startWake } from '../../src/temporal/power-starts';
import { baseActivityDeps } from '../helpers/activity-deps';
import { seedDroplet } from '../helpers/db';
import { useTestStores } from '../helpers/stores';
import {
  connectTestTemporal,
  eventually,
  startTestWorker,
  terminateStarted,
  testConfig,
  testLogger,
  uniqueTaskQueue,
  type TestTemporal,
} from '../helpers/temporal';
import { heartbeatStreamNames } from '../../src/heartbeats/stream';

jest.setTimeout(120_000);

const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
const MIN = 60_000;

describe('scheduled power', () => {
  const { db, r } = useTestStores();
  const taskQueue = uniqueTaskQueue('power-schedule');
  /** where the reconciler starts power workflows: nobody polls it */
  const powerQueue = uniqueTaskQueue('power-schedule-power');
  const codecKeys = `k1:${randomBytes(32).toString('base64')}`;
  const base = 60_000 + Math.floor(Math.random() * 1_000) * 20;
  const id = {
    due: base + 1,
    busy: base + 2,
    idle: base + 3,
    recent: base + 4,
    loggedIn: base + 5,
    unscheduled: base + 6,
  };
  let t: TestTemporal;
  let worker: { stop(): Promise<void> };
  let genesis: GenesisClient;
  const started = Object.values(id).map((d) => `power-${d}`);

  beforeAll(async () => {
    const config = testConfig({ PAYLOAD_CODEC_KEYS: codecKeys });
    t = await connectTestTemporal(config);
    const deps = baseActivityDeps(
      {
        pool: db.pool,
        redis: r.redis,
        logger: testLogger,
        heartbeatStream: heartbeatStreamNames(r.prefix, 'heartbeats', 'drain'),
      },
      { temporal: { client: t.client, taskQueue: powerQueue } },
    );
    worker = await startTestWorker(t, { taskQueue, deps, config });
    genesis = await createGenesisClient({ address: process.env.TEMPORAL_ADDRESS, taskQueue, codecKeys });
    expect(Object.keys(createActivities(deps))).toContain('planScheduledPower');

    const longAgo = new Date(Date.now() - 2 * 60 * MIN);
    for (const [name, d] of Object.entries(id)) {
      const awake = ['idle', 'recent', 'loggedIn'].includes(name);
      const ws =
        name === 'due' || name === 'busy' ? 'ws-open' : name === 'unscheduled' ? 'ws-none' : 'ws-closed';
      await db.pool.query('INSERT INTO workspaces (id) VALUES ($1) ON CONFLICT DO NOTHING', [
        `${ws}-${base}`,
      ]);
      await seedDroplet(db.pool, {
        id: d,
        workspaceId: `${ws}-${base}`,
        state: awake ? 'ACTIVE_HEALTHY' : 'HIBERNATED',
        lastHeartbeatAt: new Date(),
      });
      const changed = name === 'recent' ? new Date(Date.now() - 10 * MIN) : longAgo;
      await db.pool.query('UPDATE droplets SET state_changed_at = $2 WHERE id = $1', [d, changed]);
    }
  });

  afterAll(async () => {
    await terminateStarted(t.client, started);
    await worker?.stop();
    await genesis?.temporal.connection.close();
    await t?.close();
  });

  const tick = () =>
    t.client.workflow.execute<(i?: object) => Promise<PowerScheduleTickSummary>>(
      powerScheduleTickContract.workflowType,
      { taskQueue, workflowId: `power-schedule-tick-${randomBytes(4).toString('hex')}`, args: [{}] },
    );

  it('the client sets, reads and clears a schedule; bad input and unknown workspaces are refused', async () => {
    const schedule = {
      workspaceId: `ws-none-${base}`,
      timeZone: 'Europe/Berlin',
      windows: [{ days: ['mon' as const, 'fri' as const], start: '08:30', end: '18:00' }],
    };
    await expect(
      genesis.setPowerSchedule({ ...schedule, timeZone: 'Nowhere/Atlantis' }),
    ).rejects.toBeInstanceOf(GenesisInputError);
    await expect(
      genesis.setPowerSchedule({ ...schedule, workspaceId: `ws-unknown-${base}` }),
    ).rejects.toThrow();

    const stored = await genesis.setPowerSchedule(schedule, 'dashboard:alice');
    expect(stored).toMatchObject({
      ...schedule,
      wakeLeadMinutes: 15,
      idleMinutes: 30,
      updatedBy: 'dashboard:alice',
    });
    expect(await genesis.getPowerSchedule(schedule.workspaceId)).toEqual(stored);
    expect(await genesis.clearPowerSchedule(schedule.workspaceId)).toBe(true);
    expect(await genesis.getPowerSchedule(schedule.workspaceId)).toBeNull();
    expect(await genesis.clearPowerSchedule(schedule.workspaceId)).toBe(false);
  });

  it('starts the wakes and hibernations the schedules want, skips busy and active droplets, never twice', async () => {
    const now = Date.now();
    const allDays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
    // ws-open: a window that opened 10 minutes ago (UTC, every day); ws-closed: one 3 hours away
    await genesis.setPowerSchedule({
      workspaceId: `ws-open-${base}`,
      timeZone: 'UTC',
      windows: [{ days: [...allDays], start: hhmm(now - 10 * MIN), end: hhmm(now + 60 * MIN) }],
      wakeLeadMinutes: 0,
    });
    await genesis.setPowerSchedule({
      workspaceId: `ws-closed-${base}`,
      timeZone: 'UTC',
      windows: [{ days: [...allDays], start: hhmm(now + 180 * MIN), end: hhmm(now + 240 * MIN) }],
      wakeLeadMinutes: 0,
      idleMinutes: 30,
    });
    // busy: an operator's wake runs on it; loggedIn: a user logged in 0 minutes ago (its wake ended)
    await startWake(t.client, powerQueue, {
      workspaceId: `ws-open-${base}`,
      dropletId: id.busy,
      reason: 'admin_request',
    });
    const login = await startWake(t.client, powerQueue, {
      workspaceId: `ws-closed-${base}`,
      dropletId: id.loggedIn,
      reason: 'user_login',
    });
    await t.client.workflow.getHandle(login.workflowId).terminate('the user is in: already healthy');
    await eventually(
      () => t.client.workflow.count(`WorkflowId IN ("power-${id.busy}", "power-${id.loggedIn}")`),
      (c) => c.count === 2,
      { what: 'visibility to list the two earlier wakes' },
    );

    const first = await tick();
    expect(first).toMatchObject({
      due: { wake: 2, hibernate: 1 },
      started: { wake: 1, hibernate: 1 },
      joined: 0,
      busy: 1,
      deferred: 0,
    });
    const wake = await t.client.workflow.getHandle(`power-${id.due}`).describe();
    expect(wake).toMatchObject({ type: 'wakeDroplet', taskQueue: powerQueue, status: { name: 'RUNNING' } });
    expect(wake.typedSearchAttributes.get(ReasonKey)).toBe('scheduled_campaign');
    const hibernate = await t.client.workflow.getHandle(`power-${id.idle}`).describe();
    expect(hibernate).toMatchObject({ type: 'hibernateDroplet', status: { name: 'RUNNING' } });
    expect(hibernate.typedSearchAttributes.get(ReasonKey)).toBe('scheduled');
    for (const d of [id.recent, id.unscheduled]) {
      expect((await t.client.workflow.count(`WorkflowId = "power-${d}"`)).count).toBe(0);
    }
    // the busy droplet's running wake is still the operator's, the logged-in one has no new run
    expect((await t.client.workflow.count(`WorkflowId = "power-${id.busy}"`)).count).toBe(1);
    expect((await t.client.workflow.count(`WorkflowId = "power-${id.loggedIn}"`)).count).toBe(1);
    expect(first.maxLagMs.wake).toBeGreaterThanOrEqual(9 * MIN);

    // the next tick: the two it started run, so nothing starts again (busy, or joined at worst)
    const second = await tick();
    expect(second.started).toEqual({ wake: 0, hibernate: 0 });
    expect((await t.client.workflow.getHandle(`power-${id.due}`).describe()).runId).toBe(wake.runId);
    expect((await t.client.workflow.getHandle(`power-${id.idle}`).describe()).runId).toBe(hibernate.runId);
    expect(
      (await t.client.workflow.count(`WorkflowId IN ("power-${id.due}", "power-${id.idle}")`)).count,
    ).toBe(2);
  });
});
