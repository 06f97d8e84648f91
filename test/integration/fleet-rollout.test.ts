/**
 * Fleet rollouts end to end on the real dev server with the v1 fleet simulator (keep-alive
 * handshakes every 1 s through the real API and drain, real sidecar commands, every child a real
 * n8nContainerUpdate through the agent's SWAP_CONTAINER):
 *   - a good n8n tag reaches every selected tenant, canary then waves, recorded in Postgres;
 *   - a tag whose container fails 20 % of health waits halts at the canary and leaves nobody on it;
 *   - autoPromote=false pauses after the canary until `resume`; `abort` during the pause between
 *     waves rolls every updated tenant back; pause/resume are refused when they make no sense;
 *   - a workflow-kind rollout pushes an n8n workflow to each tenant;
 *   - a retried start joins the running rollout and an ended rollout's id cannot be reused.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { FleetRolloutInput } from '../../src/domain/rollout';
import {
  abortRollout,
  pauseRollout,
  resumeRollout,
  RolloutIdUsedError,
  rolloutProgress,
  startFleetRollout,
} from '../../src/temporal/rollout-starts';
import { rolloutIds } from '../../contracts';
import { createFleetHarness, harnessCli, type FleetHarness } from '../helpers/fleet-harness';
import { requireBuild } from '../helpers/processes';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(180_000);

describe('fleet rollout', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };

  const group = (prefix: string, first: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ dropletId: first + i, workspaceId: `${prefix}-${i}` }));
  const good = group('ws-good', 20_000, 40);
  const broken = group('ws-broken', 21_000, 50);
  const gated = group('ws-gated', 22_000, 12);
  const wf = group('ws-wf', 23_000, 6);

  beforeAll(async () => {
    h = await createFleetHarness('fleet-rollout');
    await h.fleet.addDroplets(h.db.pool, [...good, ...broken, ...gated, ...wf]);
    // every 5th tenant of the broken group cannot run 2.0.0-bad: its container fails the health wait
    for (const [i, d] of broken.entries())
      if (i % 5 === 0) h.fleet.sidecars.setFault(d.dropletId, { kind: 'brokenTag', tag: '2.0.0-bad' });
    await h.db.pool.query(`UPDATE workspaces SET plan = 'pro' WHERE id LIKE 'ws-good-%'`);
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const n8nRollout = (over: Partial<FleetRolloutInput>): FleetRolloutInput => ({
    rolloutId: 'r',
    kind: 'n8n',
    targetVersion: '2.0.0',
    n8n: { verifyWindowMs: 8_000, verifyPollMs: 250 },
    selector: { all: true },
    canarySize: 5,
    waveSize: 15,
    maxConcurrency: 10,
    failureBudgetRatio: 0.1,
    ...over,
  });
  const rolloutRow = async (id: string) =>
    (
      await h.db.pool.query<Record<string, unknown>>(
        `SELECT status, total_tenants, succeeded, failed, rolled_back, skipped, halt_reason
           FROM rollouts WHERE id = $1`,
        [id],
      )
    ).rows[0];
  const waves = async (id: string) =>
    (
      await h.db.pool.query<Record<string, unknown>>(
        `SELECT wave, canary, size, succeeded, failed, rolled_back, status
           FROM rollout_waves WHERE rollout_id = $1 ORDER BY wave`,
        [id],
      )
    ).rows;
  const targetCounts = async (id: string) =>
    Object.fromEntries(
      (
        await h.db.pool.query<{ status: string; n: string }>(
          `SELECT status, count(*) AS n FROM rollout_targets WHERE rollout_id = $1 GROUP BY status`,
          [id],
        )
      ).rows.map((r) => [r.status, Number(r.n)]),
    );
  const versions = (ds: { dropletId: number }[]) =>
    ds.map((d) => h.fleet.sidecars.agent(d.dropletId)?.n8nImageTag);
  const historyLength = async (workflowId: string, runId?: string) =>
    (await h.temporal.client.workflow.getHandle(workflowId, runId).fetchHistory()).events?.length ?? 0;

  it('rolls a good version out to the selected plan: canary, then waves, recorded in Postgres', async () => {
    const input = n8nRollout({ rolloutId: 'good-1', selector: { plan: 'pro' } });
    const started = await startFleetRollout(h.temporal.client, h.taskQueue, input);
    expect(started.workflowId).toBe(rolloutIds.rollout('good-1'));
    const again = await startFleetRollout(h.temporal.client, h.taskQueue, input);
    expect(again.joined).toBe(true);

    const seen = new Set<number>();
    const t0 = Date.now();
    const poll = setInterval(() => {
      rolloutProgress(h.temporal.client, 'good-1')
        .then((p) => {
          if (p.currentWave !== null) seen.add(p.currentWave);
        })
        .catch(() => undefined);
    }, 200);
    const result = await started.handle.result().finally(() => clearInterval(poll));
    const tookMs = Date.now() - t0;

    expect(result).toMatchObject({
      rolloutId: 'good-1',
      status: 'completed',
      totals: { succeeded: 40, failed: 0, rolledBack: 0, skipped: 0 },
      wavesRun: 4,
    });
    expect(versions(good).every((v) => v === '2.0.0')).toBe(true);
    // the other groups were not selected
    expect(versions(broken).every((v) => v === '1.70.0')).toBe(true);
    expect(await rolloutRow('good-1')).toMatchObject({
      status: 'completed',
      total_tenants: 40,
      succeeded: 40,
      failed: 0,
    });
    expect(await waves('good-1')).toEqual([
      { wave: 0, canary: true, size: 5, succeeded: 5, failed: 0, rolled_back: 0, status: 'succeeded' },
      { wave: 1, canary: false, size: 15, succeeded: 15, failed: 0, rolled_back: 0, status: 'succeeded' },
      { wave: 2, canary: false, size: 15, succeeded: 15, failed: 0, rolled_back: 0, status: 'succeeded' },
      { wave: 3, canary: false, size: 5, succeeded: 5, failed: 0, rolled_back: 0, status: 'succeeded' },
    ]);
    expect(seen.size).toBeGreaterThanOrEqual(2); // the progress query followed the waves
    // tenant_versions recorded by each child; each tenant updated exactly once
    const tv = await h.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM tenant_versions WHERE component = 'n8n' AND version = '2.0.0'
          AND workspace_id LIKE 'ws-good-%'`,
    );
    expect(Number(tv.rows[0]!.n)).toBe(40);
    for (const d of good) expect(h.fleet.sidecars.commandCount(d.dropletId, 'SWAP_CONTAINER')).toBe(1);

    // continue-as-new between waves: every run's history is one wave's worth
    const runs: string[] = [];
    for await (const w of h.temporal.client.workflow.list({
      query: `WorkflowId = '${rolloutIds.rollout('good-1')}'`,
    }))
      runs.push(w.runId);
    expect(runs.length).toBe(4);
    const lengths = await Promise.all(runs.map((r) => historyLength(rolloutIds.rollout('good-1'), r)));
    expect(Math.max(...lengths)).toBeLessThan(200);
    console.log(`rollout good-1: 40 tenants in ${tookMs} ms, run histories ${lengths.join('/')} events`);

    // an ended rollout's id is never reused
    await expect(startFleetRollout(h.temporal.client, h.taskQueue, input)).rejects.toBeInstanceOf(
      RolloutIdUsedError,
    );
    // already on the version: a second rollout skips them all
    const noop = await startFleetRollout(h.temporal.client, h.taskQueue, {
      ...input,
      rolloutId: 'good-2',
    });
    await expect(noop.handle.result()).resolves.toMatchObject({
      status: 'completed',
      totals: { succeeded: 0, skipped: 40 },
      wavesRun: 0,
    });
  });

  it('halts at the canary when a version breaks 20 % of tenants, and leaves nobody on it', async () => {
    const started = await startFleetRollout(
      h.temporal.client,
      h.taskQueue,
      n8nRollout({
        rolloutId: 'bad-1',
        targetVersion: '2.0.0-bad',
        selector: { workspaceIds: broken.map((d) => d.workspaceId) },
        canarySize: 10,
        waveSize: 20,
        maxConcurrency: 10,
        failureBudgetRatio: 0.05,
        n8n: { verifyWindowMs: 3_000, verifyPollMs: 250 },
      }),
    );
    const err = await started.handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/halted: wave \d/);

    expect(versions(broken).every((v) => v === '1.70.0')).toBe(true);
    const row = await rolloutRow('bad-1');
    expect(row).toMatchObject({ status: 'halted', succeeded: 0 });
    expect(String(row!.halt_reason)).toMatch(/failed, budget/);
    const counts = await targetCounts('bad-1');
    expect(counts.succeeded ?? 0).toBe(0); // every success rolled back
    expect(counts.failed).toBeGreaterThan(0);
    // the halting wave and none after it: the rest never started
    const w = await waves('bad-1');
    expect(w[w.length - 1]).toMatchObject({ status: 'halted' });
    expect(w.length).toBeLessThanOrEqual(2);
    expect(counts.pending).toBeGreaterThanOrEqual(30);
    // the droplets are healthy on the old version again
    const states = await h.db.pool.query<{ state: string; n: string }>(
      `SELECT state, count(*) AS n FROM droplets WHERE workspace_id LIKE 'ws-broken-%' GROUP BY state`,
    );
    expect(states.rows).toEqual([{ state: 'ACTIVE_HEALTHY', n: '50' }]);
    await replayAndRecord('fleet-rollout-halted-at-canary', await started.handle.fetchHistory());
  });

  it('pauses after the canary without autoPromote; abort during the pause rolls everything back', async () => {
    const input = n8nRollout({
      rolloutId: 'gated-1',
      targetVersion: '2.1.0',
      selector: { workspaceIds: gated.map((d) => d.workspaceId) },
      canarySize: 2,
      waveSize: 5,
      autoPromote: false,
      pauseBetweenWavesMs: 60_000,
      rollbackScope: 'rollout',
    });
    const started = await startFleetRollout(h.temporal.client, h.taskQueue, input);
    await expect(resumeRollout(h.temporal.client, 'gated-1')).rejects.toThrow(/not paused/);
    const paused = await eventually(
      () => rolloutProgress(h.temporal.client, 'gated-1'),
      (p) => p.status === 'paused',
      { timeoutMs: 60_000, what: 'the pause after the canary' },
    );
    expect(paused.reason).toMatch(/canary passed/);
    expect(paused.totals.succeeded).toBe(2);
    await eventually(
      () => rolloutRow('gated-1'),
      (r) => r?.status === 'paused',
      { what: 'rollouts.status paused in Postgres' },
    );
    await expect(pauseRollout(h.temporal.client, 'gated-1')).rejects.toThrow(/already paused/);

    // the promotion: wave 1 runs, then the 60 s pause between waves
    const resumed = await resumeRollout(h.temporal.client, 'gated-1', { by: 'alice' });
    expect(resumed.status).toBe('running');
    await eventually(
      () => rolloutProgress(h.temporal.client, 'gated-1'),
      (p) => p.totals.succeeded === 7 && p.currentWave === 2,
      { timeoutMs: 60_000, what: 'wave 1 done, waiting between waves' },
    );
    expect(versions(gated).filter((v) => v === '2.1.0')).toHaveLength(7);

    const aborted = await abortRollout(h.temporal.client, 'gated-1', { by: 'bob', reason: 'bad metrics' });
    expect(aborted.status).toBe('aborted');
    await expect(started.handle.result()).resolves.toMatchObject({
      status: 'aborted',
      reason: 'aborted by bob: bad metrics',
      totals: { succeeded: 0, rolledBack: 7, failed: 0 },
    });
    expect(versions(gated).every((v) => v === '1.70.0')).toBe(true);
    expect(await rolloutRow('gated-1')).toMatchObject({ status: 'aborted', rolled_back: 7 });
    await expect(abortRollout(h.temporal.client, 'gated-1')).rejects.toThrow(/has ended \(COMPLETED\)/);
    await replayAndRecord('fleet-rollout-aborted-rolled-back', await started.handle.fetchHistory());
  });

  it('treats a cancel of the workflow (Web UI) as abort: the canary is rolled back', async () => {
    const started = await startFleetRollout(
      h.temporal.client,
      h.taskQueue,
      n8nRollout({
        rolloutId: 'gated-2',
        targetVersion: '2.2.0',
        selector: { workspaceIds: gated.map((d) => d.workspaceId) },
        canarySize: 3,
        waveSize: 5,
        autoPromote: false,
      }),
    );
    await eventually(
      () => rolloutProgress(h.temporal.client, 'gated-2'),
      (p) => p.status === 'paused' && p.totals.succeeded === 3,
      { timeoutMs: 60_000, what: 'the canary done and the gate closed' },
    );
    await started.handle.cancel();
    await expect(started.handle.result()).resolves.toMatchObject({
      status: 'aborted',
      reason: 'aborted: the workflow was cancelled',
      totals: { succeeded: 0, rolledBack: 3 },
    });
    expect(versions(gated).every((v) => v === '1.70.0')).toBe(true);
    expect((await started.handle.describe()).status.name).toBe('COMPLETED');
  });

  it('pushes an n8n workflow version to every tenant (kind workflow)', async () => {
    const started = await startFleetRollout(h.temporal.client, h.taskQueue, {
      rolloutId: 'wf-1',
      kind: 'workflow',
      targetVersion: 'v7',
      workflow: {
        workflowName: 'lead-sync',
        workflowJson: {
          name: 'lead-sync',
          nodes: [{ type: 'n8n-nodes-base.start' }],
          connections: {},
          settings: {},
        },
      },
      selector: { workspaceIds: wf.map((d) => d.workspaceId) },
      canarySize: 2,
      waveSize: 4,
    });
    await expect(started.handle.result()).resolves.toMatchObject({
      status: 'completed',
      totals: { succeeded: 6, failed: 0 },
    });
    const tv = await h.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM tenant_versions WHERE component = 'workflow:lead-sync' AND version = 'v7'`,
    );
    expect(Number(tv.rows[0]!.n)).toBe(6);
  });

  it('refuses bad input at the start, naming the field', async () => {
    const started = await startFleetRollout(
      h.temporal.client,
      h.taskQueue,
      n8nRollout({ rolloutId: 'bad-input', waveSize: 5_000 }),
    );
    await expect(started.handle.result()).rejects.toThrow(WorkflowFailedError);
    const err = await started.handle.result().catch((e: WorkflowFailedError) => e);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/waveSize must be an integer/);
  });
});

describe('genesis-cp rollout (the real CLI process)', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };
  const tenants = Array.from({ length: 4 }, (_, i) => ({
    dropletId: 25_000 + i,
    workspaceId: `ws-cli-${i}`,
  }));

  beforeAll(async () => {
    requireBuild();
    h = await createFleetHarness('rollout-cli');
    await h.fleet.addDroplets(h.db.pool, tenants);
    worker = await h.startWorker();
  });
  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const cli = (...args: string[]) => harnessCli(h)(...args);

  it('starts, follows, lists and refuses what makes no sense, with trustworthy exit codes', async () => {
    // the agent itself cannot be updated through protocol v1: refused with the reason
    const agent = await cli('rollout', 'start', '--kind', 'sidecar', '--version', '2.0.0', '--all');
    expect(agent.code).toBe(1);
    expect(agent.out).toMatch(/cannot update itself/);
    const two = await cli('rollout', 'start', '--kind', 'n8n', '--version', '2', '--all', '--plan', 'pro');
    expect(two.code).toBe(2);
    expect(two.out).toMatch(/exactly one of --all/);

    const started = await cli(
      'rollout',
      'start',
      '--id',
      'cli-1',
      '--kind',
      'n8n',
      '--version',
      '3.0.0',
      '--all',
      '--canary',
      '1',
      '--wave-size',
      '2',
      '--verify-window-ms',
      '8000',
      '--wait',
      '--json',
    );
    expect(started.code).toBe(0);
    expect(JSON.parse(started.out)).toMatchObject({ rollout: 'cli-1', status: 'completed', succeeded: 4 });

    const status = await cli('rollout', 'status', 'cli-1', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({
      status: 'completed',
      totalWaves: 3,
      totals: { succeeded: 4 },
    });
    const human = await cli('rollout', 'status', 'cli-1');
    expect(human.out).toMatch(/completed/);

    const list = await cli('rollout', 'list', '--json');
    expect(JSON.parse(list.out)).toEqual([
      expect.objectContaining({ id: 'cli-1', status: 'completed', succeeded: 4 }),
    ]);

    expect((await cli('rollout', 'pause', 'cli-1')).code).toBe(1); // ended: refused
    expect((await cli('rollout', 'status', 'no-such-rollout')).code).toBe(3);
    const reused = await cli(
      'rollout',
      'start',
      '--id',
      'cli-1',
      '--kind',
      'n8n',
      '--version',
      '3.0.0',
      '--all',
    );
    expect(reused.code).toBe(1);
    expect(reused.out).toMatch(/already used/);

    // update-n8n: one workspace, from the recorded tag
    const up = await cli('update-n8n', 'ws-cli-0', '3.1.0', '--json');
    expect(up.code).toBe(0);
    const [row] = JSON.parse(up.out) as { workflowId: string }[];
    expect(row!.workflowId).toBe('n8n-update-25000-3.1.0');
    await h.temporal.client.workflow.getHandle(row!.workflowId).result();
    expect(h.fleet.sidecars.agent(25_000)?.n8nImageTag).toBe('3.1.0');
    const same = await cli('update-n8n', 'ws-cli-0', '3.1.0', '--json');
    expect({ code: same.code, out: same.code === 0 ? '' : same.out }).toEqual({ code: 0, out: '' });
    expect(JSON.parse(same.out)).toEqual([expect.objectContaining({ note: 'already on 3.1.0' })]);
    expect((await cli('update-n8n', 'ws-nobody', '3.1.0')).code).toBe(3);
    // update-sidecar (the agent itself): refused, naming what the agent advertised
    const refused = await cli('update-sidecar', 'ws-cli-0', '9.9.9');
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/cannot update itself.*\[deploy, gmail\]/);
  });
});
