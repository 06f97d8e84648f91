/**
 * The fleet heals itself, end to end on the real dev server with the fleet simulator: the watchdog
 * Schedule ticks every 2 s with a 3 s heartbeat timeout (production: 60 s and 300 s; every
 * duration is an input).
 *   - a droplet that went off is woken by the watchdog and verified healthy;
 *   - a sidecar that only a power cycle revives: the wake fails verification and escalates to a
 *     hard reboot;
 *   - one that never comes back: ZOMBIE and exactly one alert;
 *   - a wake, a hibernate and the single-flight id on demand.
 */
import { hardReboot } from '../../workflows/power/hard-reboot';
import { workflowIds } from '../../contracts';
import { startHibernate, startWake } from '../../src/temporal/power-starts';
import { ensureWatchdogSchedule } from '../../src/temporal/schedules';
import { createFleetHarness, lifecyclePath, type FleetHarness } from '../helpers/fleet-harness';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(300_000);

const quick = { verifyWindowMs: 4_000, verifyPollMs: 500, actionTimeoutMs: 10_000, actionPollMs: 200 };

describe('power lifecycle and the watchdog', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };
  let scheduleId: string;

  beforeAll(async () => {
    h = await createFleetHarness('power');
    await h.fleet.addDroplets(
      h.db.pool,
      Array.from({ length: 12 }, (_, i) => ({ dropletId: 9_100 + i, workspaceId: `ws-p${i}` })),
    );
    worker = await h.startWorker();
    scheduleId = await ensureWatchdogSchedule(h.temporal.client, {
      taskQueue: h.taskQueue,
      everyMs: 2_000,
      input: {
        heartbeatTimeoutS: 3,
        stormMinStale: 5,
        wake: { timings: quick, reboot: { maxAttempts: 2, backoffInitialMs: 500 } },
      },
    });
  });

  afterAll(async () => {
    if (!h) return;
    await h.temporal.client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => undefined);
    await worker?.stop();
    await h?.close();
  });

  const watchdogRuns = async () =>
    (await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM watchdog_runs')).rows[0]!.n;

  const state = async (id: number) =>
    (await h.db.pool.query<{ state: string }>('SELECT state FROM droplets WHERE id = $1', [id])).rows[0]!
      .state;

  it('wakes a droplet that went off and verifies it (watchdog_recovery)', async () => {
    const id = 9_100;
    await eventually(
      () => state(id),
      (s) => s === 'ACTIVE_HEALTHY',
    );
    const wentDown = Date.now();
    h.fleet.digitalocean.setDropletStatus(id, 'off'); // the sidecar goes with it
    await eventually(
      async () => h.fleet.digitalocean.actionCount(id, 'power_on'),
      (n) => n === 1,
      {
        timeoutMs: 3_000 + 2 * 2_000 + 5_000,
        what: 'a power_on within timeout + 2 ticks',
      },
    );
    const issuedAfterMs = Date.now() - wentDown;
    await eventually(
      () => state(id),
      (s) => s === 'ACTIVE_HEALTHY',
      { timeoutMs: 30_000 },
    );
    expect(await lifecyclePath(h.db, id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
    expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(0);
    expect(issuedAfterMs).toBeLessThan(3_000 + 2 * 2_000 + 5_000);
  });

  it('escalates to a hard reboot when only a power cycle revives the sidecar', async () => {
    const id = 9_101;
    h.fleet.sidecars.setFault(id, { kind: 'recoverOnlyAfterPowerCycle' });
    await eventually(
      () => state(id),
      (s) => s === 'REBOOTING',
      { timeoutMs: 90_000, what: 'escalation' },
    );
    await eventually(
      () => state(id),
      (s) => s === 'ACTIVE_HEALTHY',
      { timeoutMs: 90_000 },
    );
    expect(await lifecyclePath(h.db, id)).toEqual(['WAKING', 'REBOOTING', 'ACTIVE_HEALTHY']);
    expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(1);
    expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(0); // DigitalOcean said active
  });

  it('marks a droplet that never recovers ZOMBIE and alerts a human exactly once', async () => {
    const id = 9_102;
    h.fleet.sidecars.setFault(id, { kind: 'bootFailure' });
    h.fleet.sidecars.setFault(id, { kind: 'crash' });
    await eventually(
      () => state(id),
      (s) => s === 'ZOMBIE',
      { timeoutMs: 120_000, what: 'zombie' },
    );
    // Ticks keep coming (two more watchdog runs, however late a loaded machine runs them); the
    // zombie is not remediated again and not alerted twice.
    const runsNow = await watchdogRuns();
    await eventually(watchdogRuns, (n) => n >= runsNow + 2, { timeoutMs: 120_000, what: 'two more ticks' });
    const zombieAlerts = h.alerts.filter((a) => a.key === `droplet:${id}:zombie`);
    expect(zombieAlerts).toHaveLength(1);
    expect(zombieAlerts[0]).toMatchObject({ severity: 'critical', status: 'firing', droplet_id: id });
    // attempt 2's REBOOTING is a no-op transition (already REBOOTING), so it logs nothing
    expect(await lifecyclePath(h.db, id)).toEqual(['WAKING', 'REBOOTING', 'ZOMBIE']);
    expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(2); // maxAttempts
  });

  it('hibernates gracefully, refuses nothing twice, and a second wake joins the first', async () => {
    const id = 9_103;
    await eventually(
      () => state(id),
      (s) => s === 'ACTIVE_HEALTHY',
    );
    const hib = await startHibernate(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-p3',
      dropletId: id,
      gracefulTimeoutMs: 5_000,
      timings: quick,
    });
    expect(await hib.handle.result()).toMatchObject({ outcome: 'hibernated' });
    expect(await state(id)).toBe('HIBERNATED');
    expect(h.fleet.digitalocean.actionCount(id, 'shutdown')).toBe(1);
    expect(h.fleet.digitalocean.actionCount(id, 'power_off')).toBe(0);

    const first = await startWake(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-p3',
      dropletId: id,
      reason: 'user_login',
      timings: quick,
    });
    const second = await startWake(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-p3',
      dropletId: id,
      reason: 'admin_request',
      timings: quick,
    });
    expect(second.runId).toBe(first.runId);
    expect(first.workflowId).toBe(workflowIds.power(id));
    expect(await first.handle.result()).toMatchObject({ outcome: 'healthy' });
    await replayAndRecord('wake-droplet', await first.handle.fetchHistory());
    await replayAndRecord('hibernate-droplet', await hib.handle.fetchHistory());
    expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(1);
    expect(await lifecyclePath(h.db, id)).toEqual(['HIBERNATING', 'HIBERNATED', 'WAKING', 'ACTIVE_HEALTHY']);
  });

  it("verifies a wake by the agent's HEALTH_CHECK: n8n that never becomes healthy fails it and escalates", async () => {
    const id = 9_105;
    // the agent runs and sends its keep-alives (version "down"), but n8n on this tag never serves
    h.fleet.sidecars.setFault(id, { kind: 'unhealthyTag', tag: '1.70.0' });
    h.fleet.digitalocean.setDropletStatus(id, 'off');
    h.fleet.sidecars.setPower(id, false);
    await h.db.pool.query(`UPDATE droplets SET state = 'HIBERNATED' WHERE id = $1`, [id]);
    const before = Date.now();
    const wake = await startWake(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-p5',
      dropletId: id,
      reason: 'watchdog_recovery',
      timings: quick,
      reboot: { maxAttempts: 1, backoffInitialMs: 200 },
    });
    await eventually(
      () => state(id),
      (s) => s === 'ZOMBIE',
      { timeoutMs: 60_000, what: 'zombie after the escalated reboot' },
    );
    expect(await lifecyclePath(h.db, id)).toEqual(['WAKING', 'REBOOTING', 'ZOMBIE']);
    // keep-alives did arrive after the power action: it is HEALTH_CHECK that refused
    const row = await h.db.pool.query<{ last_heartbeat_at: Date; n8n_status: string }>(
      'SELECT last_heartbeat_at, n8n_status FROM droplets WHERE id = $1',
      [id],
    );
    expect(row.rows[0]!.last_heartbeat_at.getTime()).toBeGreaterThan(before);
    expect(row.rows[0]!.n8n_status).toBe('down');
    const reboot = h.temporal.client.workflow.getHandle(workflowIds.powerEscalation(id));
    await expect(reboot.result()).rejects.toMatchObject({
      cause: { type: 'DropletZombie', message: expect.stringMatching(/HEALTH_CHECK.*n8n down/) },
    });
    await wake.handle.result().catch(() => undefined);
    expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(1);
    expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(1);
  });

  it('fails a user wake with a typed reason, and refuses bad input naming the field', async () => {
    const id = 9_104;
    // A hibernated droplet whose sidecar will not come up after power_on.
    h.fleet.sidecars.setFault(id, { kind: 'bootFailure' });
    h.fleet.digitalocean.setDropletStatus(id, 'off');
    await h.db.pool.query(`UPDATE droplets SET state = 'HIBERNATED' WHERE id = $1`, [id]);
    const wake = await startWake(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-p4',
      dropletId: id,
      reason: 'user_login',
      timings: { ...quick, verifyWindowMs: 2_000 },
    });
    await expect(wake.handle.result()).rejects.toMatchObject({ cause: { type: 'VerificationFailed' } });
    expect(await state(id)).toBe('FAILED');

    const bad = await h.temporal.client.workflow.start(hardReboot, {
      taskQueue: h.taskQueue,
      workflowId: `bad-input-${Date.now()}`,
      args: [{ workspaceId: 'ws-p5', dropletId: -3, reason: 'admin_request' } as never],
    });
    await expect(bad.result()).rejects.toMatchObject({
      cause: { type: 'InvalidInput', message: expect.stringMatching(/dropletId must be a positive integer/) },
    });
  });
});
