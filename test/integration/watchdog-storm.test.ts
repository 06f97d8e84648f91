/**
 * Storm brake: 30 % of a 1,000-agent fleet goes silent at once (a suspected ingest or provider
 * outage, not 300 broken droplets). The watchdog issues zero power actions, opens exactly one
 * critical alert however many ticks pass, and resumes by itself (alert resolved) when they return.
 *
 * Every wait is on a condition the watchdog itself uses (heartbeats newer or older than its
 * timeout, as Postgres has them), never on a fixed window: on a loaded 2-core machine the worker's
 * start, the drain and the 1,000 agents all run late, and a "fresh within 3 s" snapshot of the
 * whole fleet may never happen.
 */
import { watchdog } from '../../workflows/watchdog';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { eventually } from '../helpers/temporal';

jest.setTimeout(300_000);

/** The watchdog's heartbeat timeout in this test (agents heartbeat every 2 s). */
const TIMEOUT_S = 8;
/** Readiness waits depend on machine speed: bounded only so a broken run still ends. */
const READY_MS = 180_000;

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
      args: [
        { heartbeatTimeoutS: TIMEOUT_S, wake: { timings: { verifyWindowMs: 3_000, verifyPollMs: 500 } } },
      ],
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

  /** Droplets (of `among`) whose newest drained heartbeat is older than the timeout, or missing. */
  const staleCount = async (among: number[]) =>
    (
      await h.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM droplets WHERE id = ANY($1::bigint[])
            AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $2))`,
        [among, TIMEOUT_S],
      )
    ).rows[0]!.n;

  /** Ticks until one sees the whole fleet fresh (the drain may lag behind a loaded machine). */
  const calmTick = async (what: string) => {
    await eventually(
      () => staleCount(ids),
      (n) => n === 0,
      { timeoutMs: READY_MS, what },
    );
    let n = 0;
    return eventually(
      () => tick(100 + n++),
      (s) => s.stale === 0 && !s.braked,
      { timeoutMs: READY_MS, intervalMs: 1_000, what: `${what}: a calm watchdog run` },
    );
  };

  it('brakes, alerts once, and resumes on its own', async () => {
    // Ready: the fleet is seeded, the drain runs and every agent's heartbeat is fresh.
    const calm = await calmTick('all 1,000 heartbeating');
    expect(calm).toMatchObject({ stale: 0, braked: false, remediationsStarted: 0 });

    for (const id of silent) h.fleet.sidecars.setFault(id, { kind: 'crash' });
    // past the timeout for every silent one (as the watchdog will see it), the others still fresh
    await eventually(
      () => staleCount(silent),
      (n) => n === silent.length,
      {
        timeoutMs: READY_MS,
        what: 'the 300 silent droplets stale',
      },
    );

    const storm1 = await tick(1);
    const storm2 = await tick(2);
    const storm3 = await tick(3);
    for (const s of [storm1, storm2, storm3]) {
      expect(s.braked).toBe(true);
      expect(s.remediationsStarted).toBe(0);
      expect(s.stale).toBeGreaterThanOrEqual(silent.length);
    }
    expect(powerActions()).toBe(0);
    const stormAlerts = () => h.alerts.filter((a) => a.key === 'watchdog:storm');
    expect(stormAlerts()).toHaveLength(1);
    expect(stormAlerts()[0]).toMatchObject({ severity: 'critical', status: 'firing' });
    const states = await h.db.pool.query(`SELECT state, count(*)::int AS n FROM droplets GROUP BY state`);
    expect(states.rows).toEqual([{ state: 'ACTIVE_HEALTHY', n: 1_000 }]); // nobody was touched

    // They come back (the "outage" ends): the brake releases by itself.
    for (const id of silent) h.fleet.sidecars.powerCycle(id);
    const after = await calmTick('fleet heartbeating again');
    expect(after).toMatchObject({ braked: false, stale: 0 });
    expect(stormAlerts().map((a) => a.status)).toEqual(['firing', 'resolved']);
    // the runs: calm ones until the fleet was fresh, the 3 braked ones, calm ones again
    const runs = (await h.db.pool.query(`SELECT braked FROM watchdog_runs ORDER BY id`)).rows.map(
      (r) => r.braked as boolean,
    );
    const firstBraked = runs.indexOf(true);
    expect(runs.slice(0, firstBraked).every((b) => !b)).toBe(true);
    expect(runs.slice(firstBraked, firstBraked + 3)).toEqual([true, true, true]);
    expect(runs.slice(firstBraked + 3).every((b) => !b)).toBe(true);
    expect(runs.length).toBeGreaterThanOrEqual(5);
  });
});
