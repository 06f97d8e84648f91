/**
 * A fleet rollout run by two real worker processes (`genesis-cp worker`), one SIGKILLed in the
 * middle of a wave: after it restarts, the rollout finishes and no tenant was updated twice (one
 * UPDATING -> promoted per droplet in the lifecycle log, one child workflow per droplet). The
 * fleet-wide n8n-update limit (4) holds across both processes: the simulated sidecars never see
 * more than 4 SWAP_CONTAINER commands at once although the rollout asks for 20 at a time.
 */
import { rolloutProgress, startFleetRollout } from '../../src/temporal/rollout-starts';
import { createFleetHarness, harnessWorkerEnv, type FleetHarness } from '../helpers/fleet-harness';
import { runCli, type ChildRun } from '../helpers/processes';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(300_000);

const TENANTS = 60;
const FIRST = 24_000;

describe('fleet rollout survives a worker SIGKILL mid-wave', () => {
  let h: FleetHarness;
  const workers: ChildRun[] = [];

  beforeAll(async () => {
    h = await createFleetHarness('rollout-crash', { swapDelayMs: 300 });
    await h.fleet.addDroplets(
      h.db.pool,
      Array.from({ length: TENANTS }, (_, i) => ({ dropletId: FIRST + i, workspaceId: `ws-rc-${i}` })),
    );
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    await h?.close();
  });

  const env = (group: string) =>
    harnessWorkerEnv(h, {
      SIDECAR_COMMAND_TIMEOUT_MS: '5000',
      SCALE_ALERTS_ENABLED: 'false',
      WORKER_GROUP: group,
      FLEET_CONCURRENCY_N8N_UPDATE: '4',
    });
  const startWorker = async (group: string) => {
    const w = runCli(['worker'], env(group));
    workers.push(w);
    await w.waitFor(/worker polling/, 60_000);
    return w;
  };

  it('finishes after a restart with every tenant updated exactly once, within the fleet-wide limit', async () => {
    const a = await startWorker('a');
    await startWorker('b');
    const started = await startFleetRollout(h.temporal.client, h.taskQueue, {
      rolloutId: 'crash-1',
      kind: 'n8n',
      targetVersion: '2.0.0',
      // the window covers the heartbeat drain's own recovery if the killed worker was running it
      // (its activity is retried after a 30 s heartbeat timeout) and a probe lost with the worker
      // (20 s StartToClose). Seen failing before the gates treated lost probes as "not yet": a
      // tenant's health probe was on the killed worker and the update rolled back.
      n8n: { verifyWindowMs: 90_000, verifyPollMs: 250 },
      selector: { all: true },
      canarySize: 10,
      waveSize: 25,
      maxConcurrency: 20,
    });

    await eventually(
      () => rolloutProgress(h.temporal.client, 'crash-1'),
      (p) => p.currentWave === 1 && p.totals.succeeded >= 15,
      { timeoutMs: 120_000, intervalMs: 100, what: 'the middle of wave 1' },
    );
    a.child.kill('SIGKILL');
    await a.exited;
    await startWorker('a');

    const result = await started.handle.result();
    if (result.totals.failed > 0)
      console.log('failed tenants', (await rolloutProgress(h.temporal.client, 'crash-1')).failures);
    expect(result).toMatchObject({
      status: 'completed',
      totals: { succeeded: TENANTS, failed: 0, rolledBack: 0 },
      wavesRun: 3,
    });

    for (let i = 0; i < TENANTS; i++) expect(h.fleet.sidecars.agent(FIRST + i)?.n8nImageTag).toBe('2.0.0');
    // exactly one update per droplet: one UPDATING and one promotion in the lifecycle log
    const log = await h.db.pool.query<{ droplet_id: string; updating: string; promoted: string }>(
      `SELECT droplet_id,
              count(*) FILTER (WHERE to_state = 'UPDATING') AS updating,
              count(*) FILTER (WHERE cause LIKE 'n8n_update:%:promoted') AS promoted
         FROM droplet_lifecycle_log WHERE droplet_id >= $1 GROUP BY droplet_id`,
      [FIRST],
    );
    expect(log.rows).toHaveLength(TENANTS);
    for (const r of log.rows)
      expect([r.droplet_id, r.updating, r.promoted]).toEqual([r.droplet_id, '1', '1']);
    // one child workflow per droplet
    const children = new Map<string, number>();
    for await (const w of h.temporal.client.workflow.list({
      query: `WorkflowType = 'n8nContainerUpdate' AND RolloutId = 'crash-1'`,
    }))
      children.set(w.workflowId, (children.get(w.workflowId) ?? 0) + 1);
    expect(children.size).toBe(TENANTS);
    expect([...children.values()].every((n) => n === 1)).toBe(true);
    // the fleet-wide limit held across both processes, and was reached
    const maxSwaps = h.fleet.sidecars.stats().commands.maxInFlight.SWAP_CONTAINER ?? 0;
    expect(maxSwaps).toBeLessThanOrEqual(4);
    expect(maxSwaps).toBeGreaterThanOrEqual(3);
    // no slot left held (the killed worker's leases expired; the rest were released)
    await eventually(
      () => h.redis.redis.zcount(`${h.redis.prefix}concurrency:n8n_update`, Date.now(), '+inf'),
      (n) => n === 0,
      { timeoutMs: 35_000, what: 'every n8n_update slot free' },
    );

    await replayAndRecord('fleet-rollout-after-worker-crash', await started.handle.fetchHistory());
  });
});
