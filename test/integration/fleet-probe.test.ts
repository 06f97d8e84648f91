/**
 * The fleet probe on v1 simulated agents, real worker, dev server and Postgres: short periods
 * (2 s in 2 slices), each run started directly (the Schedule is the same workflow every period).
 *   - a tenant whose executions start failing gets one alert within one period, resolved once
 *     they recover;
 *   - n8n stopped: ACTIVE_DEGRADED and an n8n_down alert, healthy and resolved after a restart;
 *   - 30 % of the fleet turning bad at once: one fleet alert, no per-droplet ones, released by a
 *     calm period;
 *   - hibernated, transitional and busy (a change running) droplets are never probed;
 *   - the Schedule runs it.
 */
import { randomUUID } from 'node:crypto';
import type { FleetProbeInput, FleetProbeSummary } from '../../contracts/fleet-probe';
import { fleetProbeContract, fleetProbeIds } from '../../contracts/fleet-probe';
import { DropletIdKey, OperationKey } from '../../contracts/search-attributes';
import { sidecarTargetOf } from '../../src/sidecar/target';
import { ensureFleetProbeSchedule } from '../../src/temporal/schedules';
import { watchdog } from '../../workflows/watchdog';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { eventually } from '../helpers/temporal';

jest.setTimeout(180_000);

const ACTIVE = Array.from({ length: 40 }, (_, i) => 31_000 + i);
const HIBERNATED = [31_100, 31_101];
const UPDATING = 31_102;
const BUSY = ACTIVE[39]!; // ACTIVE, but a change workflow is running on it
const PROBED = ACTIVE.filter((id) => id !== BUSY);
const FAILING = ACTIVE[0]!;
const STOPPED = ACTIVE[1]!;

const INPUT: FleetProbeInput = {
  periodS: 2,
  slices: 2,
  concurrency: 10,
  commandTimeoutMs: 2_000,
  executions: { windowS: 3, failedShare: 0.5, minExecutions: 10 },
  stormFraction: 0.1,
  stormMinBad: 5,
};

describe('fleet probe', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };
  let n = 0;

  beforeAll(async () => {
    // 600 executions a minute per active workflow: a failing share shows within a second or two
    h = await createFleetHarness('probe', { executionsPerMinute: 600 });
    await h.fleet.addDroplets(h.db.pool, [
      ...ACTIVE.map((id) => ({ dropletId: id, workspaceId: `ws-p${id}` })),
      ...HIBERNATED.map((id) => ({ dropletId: id, workspaceId: `ws-p${id}`, poweredOn: false })),
      { dropletId: UPDATING, workspaceId: `ws-p${UPDATING}` },
    ]);
    await h.db.pool.query(`UPDATE droplets SET state = 'UPDATING' WHERE id = $1`, [UPDATING]);
    worker = await h.startWorker();
    // A change "running" on BUSY: a container update waiting on a task queue nobody polls.
    await h.temporal.client.workflow.start('n8nContainerUpdate', {
      taskQueue: `nobody-${randomUUID()}`,
      workflowId: `probe-busy-${BUSY}-${randomUUID()}`,
      args: [{}],
      typedSearchAttributes: [
        { key: OperationKey, value: 'n8n_update' },
        { key: DropletIdKey, value: String(BUSY) },
      ],
    });
    await eventually(
      async () => {
        let found = 0;
        for await (const _ of h.temporal.client.workflow.list({
          query: `DropletId = "${BUSY}" AND ExecutionStatus = "Running"`,
        }))
          found++;
        return found;
      },
      (f) => f === 1,
      { what: 'the busy change visible' },
    );
    // FAILING runs an active n8n workflow (so it has executions), deployed through its agent.
    const row = (await h.db.pool.query('SELECT * FROM droplets WHERE id = $1', [FAILING])).rows[0];
    const target = sidecarTargetOf(row)!;
    const deployed = await h.deps.sidecar!.deployWorkflow(target, {
      workflow_json: { name: 'campaign', nodes: [], connections: {}, settings: {} },
    });
    await h.deps.sidecar!.activateWorkflow(target, { workflow_id: deployed.result.id });
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const run = (): Promise<FleetProbeSummary> =>
    h.temporal.client.workflow.execute<(i: FleetProbeInput) => Promise<FleetProbeSummary>>(
      fleetProbeContract.workflowType,
      { taskQueue: h.taskQueue, workflowId: `probe-run-${n++}-${randomUUID()}`, args: [INPUT] },
    );
  const alertsOf = (key: string) => h.alerts.filter((a) => a.key === key).map((a) => a.status);
  const stateOf = async (id: number) =>
    (await h.db.pool.query<{ state: string }>('SELECT state FROM droplets WHERE id = $1', [id])).rows[0]!
      .state;
  const healthChecks = (id: number) => h.fleet.sidecars.commandCount(id, 'HEALTH_CHECK');

  it('probes every ACTIVE droplet once per period, and never hibernated, transitional or busy ones', async () => {
    const s = await run();
    expect(s).toMatchObject({ probed: PROBED.length, answered: PROBED.length, healthy: PROBED.length });
    expect(s.skippedBusy).toBe(1);
    for (const id of PROBED) expect(healthChecks(id)).toBe(1);
    for (const id of [...HIBERNATED, UPDATING, BUSY]) expect(healthChecks(id)).toBe(0);
    const latest = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM droplets WHERE probe_verdict = 'healthy' AND probed_at IS NOT NULL`,
    );
    expect(latest.rows[0].n).toBe(PROBED.length);
    const hist = await h.db.pool.query(`SELECT count(*)::int AS n FROM probe_history`);
    expect(hist.rows[0].n).toBe(PROBED.length);
    // bounded like heartbeat_history: today's partition holds them, none left in the default one
    const today = `probe_history_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
    const parts = await h.db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'probe_history'::regclass`,
    );
    expect(parts.rows.map((r) => r.name)).toContain(today);
    const inDefault = await h.db.pool.query(`SELECT count(*)::int AS n FROM probe_history_default`);
    expect(inDefault.rows[0].n).toBe(0);
    const runs = await h.db.pool.query(`SELECT probed, braked, p99_latency_ms FROM fleet_probe_runs`);
    expect(runs.rows).toEqual([{ probed: PROBED.length, braked: false, p99_latency_ms: expect.any(Number) }]);
    expect(h.alerts).toEqual([]);
  });

  it('a tenant whose executions fail gets one alert within one period, resolved when they recover', async () => {
    const key = `droplet:${FAILING}:executions_failing`;
    h.fleet.sidecars.setFault(FAILING, { kind: 'failingExecutions', share: 1 });
    await new Promise((r) => setTimeout(r, 2_000)); // the failures fill more than half the 3 s window
    const started = Date.now();
    const first = await run();
    const elapsedS = (Date.now() - started) / 1000;
    expect(first.alertsRaised).toBe(1);
    expect(alertsOf(key)).toEqual(['firing']);
    // within one period (2 s) plus the run's own bookkeeping on a loaded machine
    expect(elapsedS).toBeLessThan(INPUT.periodS! * 4);
    await run(); // still failing: still one alert
    expect(alertsOf(key)).toEqual(['firing']);
    expect(await stateOf(FAILING)).toBe('ACTIVE_HEALTHY'); // failing executions are not n8n's health

    h.fleet.sidecars.clearFault(FAILING, 'failingExecutions');
    await eventually(
      async () => (await run(), alertsOf(key)),
      (s) => s.length === 2,
      { what: 'the executions alert resolved', intervalMs: 500 },
    );
    expect(alertsOf(key)).toEqual(['firing', 'resolved']);
  });

  it('n8n stopped: ACTIVE_DEGRADED and an n8n_down alert; healthy and resolved after a restart', async () => {
    const key = `droplet:${STOPPED}:n8n_down`;
    h.fleet.sidecars.setFault(STOPPED, { kind: 'n8nStopped' });
    const s = await run();
    expect(s).toMatchObject({ degraded: 1, transitions: 1, braked: false });
    expect(await stateOf(STOPPED)).toBe('ACTIVE_DEGRADED');
    expect(alertsOf(key)).toEqual(['firing']);
    const log = await h.db.pool.query(
      `SELECT from_state, to_state, cause FROM droplet_lifecycle_log WHERE droplet_id = $1 ORDER BY id DESC LIMIT 1`,
      [STOPPED],
    );
    expect(log.rows[0]).toEqual({
      from_state: 'ACTIVE_HEALTHY',
      to_state: 'ACTIVE_DEGRADED',
      cause: 'probe:n8n_down,container_not_running',
    });

    h.fleet.sidecars.clearFault(STOPPED, 'n8nStopped'); // as RESTART_N8N would
    const after = await run();
    expect(after).toMatchObject({ degraded: 0, transitions: 1 });
    expect(await stateOf(STOPPED)).toBe('ACTIVE_HEALTHY');
    expect(alertsOf(key)).toEqual(['firing', 'resolved']);
  });

  it('30 % of the fleet turning bad at once gives one fleet alert, not one per droplet', async () => {
    const bad = PROBED.slice(2, 2 + 12); // 12 of 39 probed
    const before = h.alerts.length;
    for (const id of bad) h.fleet.sidecars.setFault(id, { kind: 'n8nStopped' });
    const storm = await run();
    expect(storm).toMatchObject({ braked: true, bad: 12, degraded: 12, alertsRaised: 0 });
    const storm2 = await run(); // still storming: the same one alert
    expect(storm2.braked).toBe(true);
    const raised = h.alerts.slice(before);
    expect(raised.map((a) => `${a.key} ${a.status}`)).toEqual(['probe:storm firing']);
    // the states are measured facts all the same
    const degraded = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM droplets WHERE state = 'ACTIVE_DEGRADED'`,
    );
    expect(degraded.rows[0].n).toBe(12);

    for (const id of bad) h.fleet.sidecars.clearFault(id, 'n8nStopped');
    const calm = await run();
    expect(calm).toMatchObject({ degraded: 0, transitions: 12 });
    expect(alertsOf('probe:storm')).toEqual(['firing', 'resolved']);
    expect(h.alerts.slice(before).filter((a) => a.key !== 'probe:storm')).toEqual([]);
  });

  it("feeds the watchdog's resource thresholds: container CPU and memory from the probe", async () => {
    const withCpu = await h.db.pool.query<{ id: string }>(
      `SELECT id FROM droplets WHERE cpu_percent IS NOT NULL AND memory_percent IS NOT NULL ORDER BY id`,
    );
    expect(withCpu.rows.map((r) => Number(r.id))).toEqual(PROBED);
    const before = h.alerts.length;
    const summary = await h.temporal.client.workflow.execute(watchdog, {
      taskQueue: h.taskQueue,
      workflowId: `probe-watchdog-${randomUUID()}`,
      args: [{ heartbeatTimeoutS: 60, thresholds: { cpu: 0, memory: 100, disk: 100 }, stormMinStale: 1_000 }],
    });
    expect(summary.breached).toBe(PROBED.length);
    const cpuAlerts = h.alerts.slice(before).filter((a) => /^droplet:\d+:cpu$/.test(a.key));
    expect(cpuAlerts).toHaveLength(PROBED.length);
  });

  it('runs from its Schedule (overlap SKIP), every period', async () => {
    const runsBefore = (await h.db.pool.query(`SELECT count(*)::int AS n FROM fleet_probe_runs`)).rows[0].n;
    const scheduleId = await ensureFleetProbeSchedule(h.temporal.client, {
      taskQueue: h.taskQueue,
      input: { ...INPUT, periodS: 3 },
    });
    expect(scheduleId).toBe(fleetProbeIds.schedule(h.taskQueue));
    try {
      await eventually(
        async () => (await h.db.pool.query(`SELECT count(*)::int AS n FROM fleet_probe_runs`)).rows[0].n,
        (c: number) => c >= runsBefore + 2,
        { timeoutMs: 60_000, what: 'two scheduled runs', intervalMs: 500 },
      );
    } finally {
      await h.temporal.client.schedule.getHandle(scheduleId).delete();
    }
  });
});
