/**
 * Storm brake: 30 % of a 1,000-agent fleet goes silent at once (a suspected ingest or provider
 * outage, not 300 broken droplets). The watchdog issues zero power actions, opens exactly one
 * critical alert however many ticks pass, and resumes by itself (alert resolved) when they return.
 */
import { watchdog } from '../../workflows/watchdog';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { eventually } from '../helpers/temporal';

jest.setTimeout(150_000);

describe('watchdog storm brake', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };
  const ids = Array.from({ length: 1_000 }, (_, i) => 20_000 + i);
  const silent = ids.slice(0, 300);

  beforeAll(async () => {
    // the subject is the watchdog over native heartbeats (their drain), not the v1 keep-alive route
    h = await createFleetHarness('storm', { heartbeatIntervalMs: 2_000, heartbeatMode: 'native' });
    await h.fleet.addDroplets(
      h.db.pool,
      ids.map((id) => ({ dropletId: id, workspaceId: `ws-s${id}` })),
    );
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const tick = (n: number) =>
    h.temporal.client.workflow.execute(watchdog, {
      taskQueue: h.taskQueue,
      workflowId: `watchdog-storm-tick-${n}-${Date.now()}`,
      args: [{ heartbeatTimeoutS: 4, wake: { timings: { verifyWindowMs: 3_000, verifyPollMs: 500 } } }],
    });
  const powerActions = () =>
    ids.reduce(
      (n, id) =>
        n +
        ['power_on', 'power_cycle', 'power_off', 'shutdown'].reduce(
          (m, t) => m + h.fleet.digitalocean.actionCount(id, t),
          0,
        ),
      0,
    );

  const wholeFleetHeartbeating = (what: string) =>
    eventually(
      async () =>
        (
          await h.db.pool.query(
            `SELECT count(*)::int AS n FROM droplets WHERE last_heartbeat_at > now() - interval '3 seconds'`,
          )
        ).rows[0].n,
      (n) => n === 1_000,
      { timeoutMs: 30_000, what },
    );

  it('brakes, alerts once, and resumes on its own', async () => {
    // The whole fleet heartbeats first.
    await wholeFleetHeartbeating('all 1,000 heartbeating');
    const calm = await tick(0);
    expect(calm).toMatchObject({ stale: 0, braked: false, remediationsStarted: 0 });

    for (const id of silent) h.fleet.sidecars.setFault(id, { kind: 'crash' });
    await new Promise((r) => setTimeout(r, 6_500)); // past the 4 s timeout for every silent one

    const storm1 = await tick(1);
    const storm2 = await tick(2);
    const storm3 = await tick(3);
    for (const s of [storm1, storm2, storm3]) {
      expect(s.braked).toBe(true);
      expect(s.remediationsStarted).toBe(0);
      expect(s.stale).toBeGreaterThanOrEqual(290);
    }
    expect(powerActions()).toBe(0);
    const stormAlerts = () => h.alerts.filter((a) => a.key === 'watchdog:storm');
    expect(stormAlerts()).toHaveLength(1);
    expect(stormAlerts()[0]).toMatchObject({ severity: 'critical', status: 'firing' });
    const states = await h.db.pool.query(`SELECT state, count(*)::int AS n FROM droplets GROUP BY state`);
    expect(states.rows).toEqual([{ state: 'ACTIVE_HEALTHY', n: 1_000 }]); // nobody was touched

    // They come back (the "outage" ends): the brake releases by itself.
    for (const id of silent) h.fleet.sidecars.powerCycle(id);
    await wholeFleetHeartbeating('fleet heartbeating again');
    const after = await tick(4);
    expect(after).toMatchObject({ braked: false, stale: 0 });
    expect(stormAlerts().map((a) => a.status)).toEqual(['firing', 'resolved']);
    const runs = await h.db.pool.query(`SELECT braked FROM watchdog_runs ORDER BY id`);
    expect(runs.rows.map((r) => r.braked)).toEqual([false, true, true, true, false]);
  });
});
