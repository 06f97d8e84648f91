/**
 * Desired state and the reconciler end to end on the real dev server with the v1 fleet simulator
 * (keep-alives through the real API and drain, real sidecar commands, every change a real change
 * workflow):
 *   - a rollout to 100 tenants while 20 are hibernated: the 80 awake are updated by the rollout,
 *     its completion moves desired state for all 100, drift shows 20 (CLI view and /metrics
 *     gauge); each of the 20 is brought to the version right after its wake verifies; drift 0;
 *   - a workflow edited by hand on the droplet is found by the reconciler's read-back and restored;
 *   - a tenant whose reconciliation fails N times is marked and alerted and not retried, until its
 *     desired state changes.
 */
import {
  fleetDrift,
  moveRolloutDesired,
  revertRolloutDesired,
  setDesiredState as writeDesired,
  tenantReconcileRows,
} from '../../src/db/desired-state';
import { GenesisClient } from '../../src/client';
import { SharedMetrics, SHARED } from '../../src/observability/shared-metrics';
import { startFleetRollout } from '../../src/temporal/rollout-starts';
import { startWake } from '../../src/temporal/power-starts';
import { ensureReconcilerSchedule } from '../../src/temporal/schedules';
import { executeWorkflow } from '../../src/temporal/start';
import {
  reconcileIds,
  reconcilerContract,
  type ReconcilerInput,
  type ReconcileTenantResult,
} from '../../contracts';
import { createFleetHarness, harnessCli, type FleetHarness } from '../helpers/fleet-harness';
import { eventually } from '../helpers/temporal';

jest.setTimeout(240_000);

/** Power timings for the simulator (its actions take 400 ms, keep-alives come every second). */
const quick = { verifyWindowMs: 8_000, verifyPollMs: 250, actionTimeoutMs: 10_000, actionPollMs: 200 };

const campaign = (subject: string) => ({
  name: 'Campaign sender',
  nodes: [
    {
      id: 'n1',
      name: 'Send',
      type: 'n8n-nodes-base.emailSend',
      parameters: { subject },
      position: [0, 0],
    },
  ],
  connections: {},
  settings: { executionOrder: 'v1' },
});

describe('desired state and the reconciler', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };
  let shared: SharedMetrics;
  let runs = 0;

  const fleet = Array.from({ length: 100 }, (_, i) => ({
    dropletId: 40_000 + i,
    workspaceId: `ws-ds-${String(i).padStart(3, '0')}`,
    poweredOn: i >= 20, // the first 20 are hibernated
  }));
  const hibernated = fleet.slice(0, 20);
  const EDIT = { dropletId: 41_000, workspaceId: 'ws-edit' };
  const BROKEN = { dropletId: 42_000, workspaceId: 'ws-broken' };

  beforeAll(async () => {
    h = await createFleetHarness('desired-state', { swapHealthWaitMs: 300 });
    shared = new SharedMetrics(h.redis.redis, h.redis.prefix);
    h.deps.sharedMetrics = shared;
    h.deps.reconcile = { maxFailures: 2 };
    await h.fleet.addDroplets(h.db.pool, [
      ...fleet,
      EDIT,
      { ...BROKEN, fault: { kind: 'brokenTag', tag: '9.9.9-bad' } },
    ]);
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  /** One reconciler run (what the Schedule starts), under its own id. */
  const reconcile = (input: ReconcilerInput = {}) =>
    executeWorkflow(
      h.temporal.client,
      reconcilerContract,
      {
        maxStartsPerTick: 50,
        verifySample: 5,
        maxFailures: 2,
        n8n: { verifyWindowMs: 8_000, verifyPollMs: 250 },
        ...input,
      },
      { taskQueue: h.taskQueue, workflowId: `reconciler-test-${++runs}` },
    );
  const tenantResult = (dropletId: number) =>
    h.temporal.client.workflow
      .getHandle(reconcileIds.tenant(dropletId))
      .result() as Promise<ReconcileTenantResult>;
  const driftGauge = async () =>
    (await shared.read()).gauges.find((g) => g.name === SHARED.desiredDriftTenants && g.labels.kind === 'any')
      ?.value;
  const tag = (dropletId: number) => h.fleet.sidecars.agent(dropletId)?.n8nImageTag;
  const cli = (...args: string[]) => harnessCli(h)(...args);

  it('a rollout while 20 of 100 tenants are hibernated: drift 20, each caught up after its wake, drift 0', async () => {
    const tRollout = Date.now();
    const rollout = await startFleetRollout(h.temporal.client, h.taskQueue, {
      rolloutId: 'ds-1',
      kind: 'n8n',
      targetVersion: '2.0.0',
      n8n: { verifyWindowMs: 8_000, verifyPollMs: 250 },
      selector: { workspaceIds: fleet.map((d) => d.workspaceId) },
      canarySize: 10,
      waveSize: 45,
      maxConcurrency: 20,
    });
    const result = await rollout.handle.result();
    console.log(`rollout to 100 tenants (80 awake) in ${Date.now() - tRollout} ms`);
    expect(result).toMatchObject({ status: 'completed', totals: { succeeded: 80, failed: 0, skipped: 20 } });
    expect(fleet.slice(20).every((d) => tag(d.dropletId) === '2.0.0')).toBe(true);
    expect(hibernated.every((d) => tag(d.dropletId) === '1.70.0')).toBe(true);

    // the rollout moved desired state for every tenant it selected, the hibernated ones included
    const moved = await h.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM desired_components
        WHERE component = 'n8n' AND version = '2.0.0' AND rollout_id = 'ds-1' AND workspace_id LIKE 'ws-ds-%'`,
    );
    expect(Number(moved.rows[0]!.n)).toBe(100);

    // drift: the 20 hibernated; the reconciler leaves them alone while they sleep
    const before = await fleetDrift(h.db.pool, { limit: 100 });
    expect(before).toMatchObject({
      tenants: 100,
      drifted: 20,
      byKind: { n8n: 20, workflow: 0, credential: 0 },
    });
    expect(before.driftedTenants.map((t) => t.dropletId).sort()).toEqual(hibernated.map((d) => d.dropletId));
    const shown = await cli('drift', '--json', '--limit', '5');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ tenants: 100, drifted: 20, byKind: { n8n: 20 } });
    const run1 = await reconcile();
    expect(run1).toMatchObject({ tenants: 100, drifted: 20, eligible: 0, started: 0 });
    expect(await driftGauge()).toBe(20);

    // wake them: each wake that verifies reconciles its tenant right away
    const t0 = Date.now();
    await Promise.all(
      hibernated.map((d) =>
        startWake(h.temporal.client, h.taskQueue, { ...d, reason: 'user_login', timings: quick }).then((s) =>
          s.handle.result(),
        ),
      ),
    );
    const results = await Promise.all(
      hibernated.map((d) =>
        eventually(
          () => tenantResult(d.dropletId).catch(() => undefined),
          (r) => r !== undefined,
          { timeoutMs: 60_000, what: `reconcile-${d.dropletId}` },
        ),
      ),
    );
    for (const r of results)
      expect(r).toMatchObject({
        outcome: 'reconciled',
        drift: [{ kind: 'n8n', from: '1.70.0', to: '2.0.0' }],
      });
    expect(hibernated.every((d) => tag(d.dropletId) === '2.0.0')).toBe(true);
    for (const d of hibernated) expect(h.fleet.sidecars.commandCount(d.dropletId, 'SWAP_CONTAINER')).toBe(1);
    const desc = await h.temporal.client.workflow
      .getHandle(reconcileIds.tenant(hibernated[0]!.dropletId))
      .describe();
    expect(desc.searchAttributes.Reason).toEqual(['after_wake']);
    console.log(`20 hibernated tenants woken and reconciled in ${Date.now() - t0} ms`);

    expect(await fleetDrift(h.db.pool, { limit: 100 })).toMatchObject({ tenants: 100, drifted: 0 });
    const table = await cli('drift');
    expect(table.out).toMatch(/^TENANTS\s+DRIFTED.*\n100\s+0\s/m);
    const run2 = await reconcile();
    expect(run2).toMatchObject({ drifted: 0, started: 0 });
    expect(await driftGauge()).toBe(0);
    const lastRun = (await shared.read()).gauges.find(
      (g) => g.name === SHARED.scheduleLastRun && g.labels.schedule === 'reconciler',
    );
    expect(lastRun?.value).toBeGreaterThan(t0 / 1000);
  });

  it('a workflow edited by hand on the droplet is detected by the read-back and restored', async () => {
    // the client's path (the Vercel app): setDesiredState through Temporal
    const genesis = new GenesisClient(h.temporal.client, h.taskQueue);
    const view = await genesis.setDesiredState({
      workspaceId: EDIT.workspaceId,
      workflows: [{ name: 'campaign', version: 'v1', workflowJson: campaign('Hello') }],
    });
    expect(view.workflows).toMatchObject([{ name: 'campaign', version: 'v1', setBy: 'client' }]);
    expect(JSON.stringify(view)).not.toContain('Hello'); // no JSON in the view
    expect(await genesis.getDesiredState(EDIT.workspaceId)).toEqual(view);
    expect(await genesis.getDrift(EDIT.workspaceId)).toMatchObject({
      drift: [{ kind: 'workflow', name: 'campaign', why: 'missing' }],
    });
    await expect(
      genesis.setDesiredState({ workspaceId: EDIT.workspaceId, n8nTag: 'bad tag' }),
    ).rejects.toThrow(/n8nTag must be a docker image tag/);

    // missing -> deployed by the reconciler
    await reconcile({ verifySample: 0 });
    expect(await tenantResult(EDIT.dropletId)).toMatchObject({
      outcome: 'reconciled',
      drift: [{ kind: 'workflow', name: 'campaign', why: 'missing' }],
    });
    const deployed = h.fleet.sidecars.agent(EDIT.dropletId)!.workflows;
    expect(deployed).toHaveLength(1);
    const n8nId = deployed[0]!.id;

    // edited by hand: nothing in the record changed, so only a read-back can see it
    h.fleet.sidecars.editWorkflow(EDIT.dropletId, n8nId, (w) => {
      (w.nodes[0] as { parameters: { subject: string } }).parameters.subject = 'edited by hand';
    });
    expect((await fleetDrift(h.db.pool, { limit: 10 })).drifted).toBe(0);
    const updatesBefore = h.fleet.sidecars.commandCount(EDIT.dropletId, 'UPDATE_WORKFLOW');
    await reconcile({ verifySample: 5 });
    const restored = await tenantResult(EDIT.dropletId);
    expect(restored).toMatchObject({
      outcome: 'reconciled',
      drift: [{ kind: 'workflow', name: 'campaign', from: 'v1', to: 'v1', why: 'modified' }],
    });
    const now = h.fleet.sidecars.agent(EDIT.dropletId)!.workflows;
    expect(now).toHaveLength(1);
    expect(now[0]!.id).toBe(n8nId); // updated in place
    expect(JSON.stringify(now[0]!.nodes)).toContain('Hello');
    expect(JSON.stringify(now[0]!.nodes)).not.toContain('edited by hand');
    expect(h.fleet.sidecars.commandCount(EDIT.dropletId, 'UPDATE_WORKFLOW')).toBe(updatesBefore + 1);

    // read back again: in sync
    await reconcile({ verifySample: 5 });
    expect(await tenantResult(EDIT.dropletId)).toMatchObject({ outcome: 'in_sync', drift: [] });
    expect(await genesis.getDrift()).toMatchObject({ drifted: 0 });
  });

  it('a tenant that fails reconciliation N times is marked, alerted and not retried until desired state changes', async () => {
    expect(
      await writeDesired(h.db.pool, { workspaceId: BROKEN.workspaceId, n8nTag: '9.9.9-bad', setBy: 'test' }),
    ).toBe(true);
    const swaps = () => h.fleet.sidecars.commandCount(BROKEN.dropletId, 'SWAP_CONTAINER');
    await reconcile({ maxFailures: 2, verifySample: 0 });
    expect(await tenantResult(BROKEN.dropletId)).toMatchObject({ outcome: 'failed', failures: 1 });
    await reconcile({ maxFailures: 2, verifySample: 0 });
    expect(await tenantResult(BROKEN.dropletId)).toMatchObject({ outcome: 'marked', failures: 2 });
    expect(swaps()).toBe(2);
    const alert = await eventually(
      async () => h.alerts.find((a) => a.key === `reconcile:${BROKEN.workspaceId}`),
      (a) => a !== undefined,
      { what: 'the reconcile alert' },
    );
    expect(alert).toMatchObject({ status: 'firing', severity: 'warning' });

    // marked: not retried
    const run = await reconcile({ maxFailures: 2, verifySample: 0 });
    expect(run).toMatchObject({ marked: 1, started: 0 });
    expect(swaps()).toBe(2);
    const marked = await cli('drift', '--workspace', BROKEN.workspaceId);
    expect(marked.out).toMatch(
      /ws-broken\s+42000\s+ACTIVE_HEALTHY\s+n8n 1\.70\.0 -> 9\.9\.9-bad\s+2\s+MARKED/,
    );
    const row = (await tenantReconcileRows(h.db.pool, { workspaceIds: [BROKEN.workspaceId] }))[0]!;
    expect(row.status).toMatchObject({ failures: 2, marked: true, lastOutcome: 'failed' });

    // an operator's clear: retried once more (and failing, counted afresh)
    expect((await cli('desired', 'clear', BROKEN.workspaceId)).code).toBe(0);
    await reconcile({ maxFailures: 2, verifySample: 0 });
    expect(await tenantResult(BROKEN.dropletId)).toMatchObject({ outcome: 'failed', failures: 1 });
    expect(swaps()).toBe(3);

    // desired state changes (back to what it runs): the mark is lifted, it is in sync, the alert resolves
    const set = await cli('desired', 'set', BROKEN.workspaceId, '--n8n', '1.70.0', '--by', 'test', '--json');
    expect(set.code).toBe(0);
    expect(JSON.parse(set.out)).toMatchObject({ workspaceId: BROKEN.workspaceId, n8nTag: '1.70.0' });
    expect((await fleetDrift(h.db.pool, { limit: 10 })).marked).toBe(0);
    const settled = await reconcile({ maxFailures: 2, verifySample: 0 });
    expect(settled).toMatchObject({ marked: 0, drifted: 0, started: 0 });
    await eventually(
      async () =>
        h.alerts.find((a) => a.key === `reconcile:${BROKEN.workspaceId}` && a.status === 'resolved'),
      (a) => a !== undefined,
      { what: 'the reconcile alert resolved' },
    );
    const after = (await tenantReconcileRows(h.db.pool, { workspaceIds: [BROKEN.workspaceId] }))[0]!;
    expect(after.status).toMatchObject({ failures: 0, marked: false });
  });

  it('runs as a Schedule with overlap SKIP at the configured period', async () => {
    const since = Date.now() / 1000;
    const id = await ensureReconcilerSchedule(h.temporal.client, {
      taskQueue: h.taskQueue,
      everyMs: 1_000,
      input: { verifySample: 0 },
    });
    expect(id).toBe(reconcileIds.schedule(h.taskQueue));
    const handle = h.temporal.client.schedule.getHandle(id);
    try {
      const d = await handle.describe();
      expect(d.policies.overlap).toBe('SKIP');
      expect(d.spec.intervals?.map((i) => Number(i.every))).toEqual([1_000]);
      await eventually(
        async () =>
          (await shared.read()).gauges.find(
            (g) => g.name === SHARED.scheduleLastRun && g.labels.schedule === 'reconciler',
          )?.value ?? 0,
        (v) => v > since,
        { timeoutMs: 30_000, what: 'a scheduled reconciler run' },
      );
    } finally {
      await handle.delete();
    }
  });

  it("a rollout's move of desired state keeps what it replaced, and a revert puts exactly that back", async () => {
    const ws = ['ws-ds-000', 'ws-ds-001', EDIT.workspaceId];
    await h.db.pool.query(
      `INSERT INTO rollouts (id, kind, target_version, spec, status) VALUES ('rv-1', 'workflow', 'v9', '{}', 'running')`,
    );
    await h.db.pool.query(
      `INSERT INTO rollout_targets (rollout_id, workspace_id, droplet_id, wave, status)
       VALUES ('rv-1', $1, 40000, 0, 'succeeded'), ('rv-1', $2, 40001, 0, 'succeeded'), ('rv-1', $3, 41000, -1, 'skipped')`,
      ws,
    );
    const move = (wave: number) =>
      moveRolloutDesired(h.db.pool, {
        rolloutId: 'rv-1',
        component: 'workflow:campaign',
        version: 'v9',
        workflow: { workflowJson: campaign('v9') },
        wave,
      });
    expect(await move(0)).toBe(2);
    expect(await move(0)).toBe(0); // a retried move changes nothing
    expect(await move(-1)).toBe(1); // ws-edit had v1 (set by the client)
    const rows = async () =>
      (
        await h.db.pool.query<{
          workspace_id: string;
          version: string;
          set_by: string;
          rollout_id: string | null;
        }>(
          `SELECT workspace_id, version, set_by, rollout_id FROM desired_components
            WHERE component = 'workflow:campaign' ORDER BY workspace_id`,
        )
      ).rows;
    expect(await rows()).toEqual([
      { workspace_id: 'ws-ds-000', version: 'v9', set_by: 'rollout:rv-1', rollout_id: 'rv-1' },
      { workspace_id: 'ws-ds-001', version: 'v9', set_by: 'rollout:rv-1', rollout_id: 'rv-1' },
      { workspace_id: EDIT.workspaceId, version: 'v9', set_by: 'rollout:rv-1', rollout_id: 'rv-1' },
    ]);
    expect(await revertRolloutDesired(h.db.pool, 'rv-1')).toBe(3);
    expect(await rows()).toEqual([
      { workspace_id: EDIT.workspaceId, version: 'v1', set_by: 'client', rollout_id: null },
    ]);
  });
});
