/**
 * Blue-green sidecar updates end to end on the real dev server with the fleet simulator (heartbeats
 * every 1 s through the real API and drain; production windows are minutes, every one an input):
 *   - a good version passes the health gate and is promoted (tenant_versions, heartbeats);
 *   - a broken version (fault brokenVersion) rolls back by itself; the tenant stays healthy on the
 *     old version and tenant_versions is untouched;
 *   - a manual gate waits for `promote` (rejected before the gate), then completes;
 *   - `abort` at the gate rolls back.
 */
import { abortSignal, changeIds, promoteUpdate, sidecarUpdateStatusQuery } from '../../workflows/messages';
import { sidecarUpdate } from '../../workflows/changes/sidecar-update';
import { startSidecarUpdate } from '../../src/temporal/change-starts';
import { startHibernate } from '../../src/temporal/power-starts';
import { createFleetHarness, lifecyclePath, type FleetHarness } from '../helpers/fleet-harness';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(120_000);

const IMAGE = 'ghcr.io/genesis/sidecar';

describe('sidecar update (blue-green)', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    h = await createFleetHarness('sidecar-update');
    await h.fleet.addDroplets(
      h.db.pool,
      Array.from({ length: 5 }, (_, i) => ({ dropletId: 9_300 + i, workspaceId: `ws-u${i}` })),
    );
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const droplet = async (id: number) =>
    (
      await h.db.pool.query<{ state: string; sidecar_version: string; last_heartbeat_at: Date }>(
        'SELECT state, sidecar_version, last_heartbeat_at FROM droplets WHERE id = $1',
        [id],
      )
    ).rows[0]!;
  const tenantVersion = async (ws: string) =>
    (
      await h.db.pool.query<{ version: string; previous_version: string | null }>(
        `SELECT version, previous_version FROM tenant_versions WHERE workspace_id = $1 AND component = 'sidecar'`,
        [ws],
      )
    ).rows[0];
  const input = (i: number, over: Partial<Parameters<typeof sidecarUpdate>[0]> = {}) => ({
    workspaceId: `ws-u${i}`,
    dropletId: 9_300 + i,
    fromVersion: '1.0.0',
    toVersion: '1.1.0',
    image: IMAGE,
    autoPromote: true,
    verifyWindowMs: 8_000,
    verifyPollMs: 250,
    ...over,
  });

  it('promotes a good version: tenant_versions and heartbeats report it', async () => {
    const id = 9_300;
    const started = await startSidecarUpdate(h.temporal.client, h.taskQueue, input(0));
    expect(started.workflowId).toBe(changeIds.sidecarUpdate(id, '1.1.0'));
    const again = await startSidecarUpdate(h.temporal.client, h.taskQueue, input(0));
    expect(again.runId).toBe(started.runId); // USE_EXISTING: a retried start joins
    const t0 = Date.now();
    await expect(started.handle.result()).resolves.toEqual({
      dropletId: id,
      version: '1.1.0',
      previousVersion: '1.0.0',
      promotedBy: 'auto',
    });
    const tookMs = Date.now() - t0;
    expect(await tenantVersion('ws-u0')).toEqual({ version: '1.1.0', previous_version: '1.0.0' });
    expect(h.fleet.sidecars.agent(id)?.sidecarVersion).toBe('1.1.0');
    const d = await droplet(id);
    expect(d).toMatchObject({ state: 'ACTIVE_HEALTHY', sidecar_version: '1.1.0' });
    const beats = await h.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM heartbeat_history WHERE droplet_id = $1 AND sidecar_version = '1.1.0'`,
      [id],
    );
    expect(Number(beats.rows[0]!.n)).toBeGreaterThan(0);
    expect(await lifecyclePath(h.db, id)).toEqual(['UPDATING', 'ACTIVE_HEALTHY']);
    expect(h.fleet.sidecars.commandCount(id, 'PULL_IMAGE')).toBe(1);
    expect(h.fleet.sidecars.commandCount(id, 'SWAP_CONTAINER')).toBe(1);
    expect(await started.handle.query(sidecarUpdateStatusQuery)).toMatchObject({ phase: 'done' });
    console.log(`sidecar update promoted in ${tookMs} ms, ${beats.rows[0]!.n} heartbeats with 1.1.0`);
  });

  it('rolls a broken version back by itself; the tenant stays healthy on the old version', async () => {
    const id = 9_301;
    h.fleet.sidecars.setFault(id, { kind: 'brokenVersion', tag: '1.1.0' });
    const started = await startSidecarUpdate(
      h.temporal.client,
      h.taskQueue,
      input(1, { verifyWindowMs: 3_000 }),
    );
    await expect(started.handle.result()).rejects.toMatchObject({
      cause: { type: 'UpdateRolledBack', message: expect.stringMatching(/did not pass HEALTH_CHECK.*n8n/) },
    });
    expect(h.fleet.sidecars.agent(id)?.sidecarVersion).toBe('1.0.0');
    expect(h.fleet.sidecars.commandCount(id, 'SWAP_CONTAINER')).toBe(2); // to 1.1.0, back to 1.0.0
    expect(await tenantVersion('ws-u1')).toBeUndefined();
    await eventually(
      () => droplet(id),
      (d) => d.sidecar_version === '1.0.0',
    );
    expect((await droplet(id)).state).toBe('ACTIVE_HEALTHY');
    expect(await lifecyclePath(h.db, id)).toEqual(['UPDATING', 'ACTIVE_HEALTHY']);
    expect(await started.handle.query(sidecarUpdateStatusQuery)).toMatchObject({
      phase: 'rolled_back',
      fromVersion: '1.0.0',
      toVersion: '1.1.0',
      lastError: expect.stringMatching(/HEALTH_CHECK/),
    });
  });

  it('waits at a manual gate for promote, then completes', async () => {
    const id = 9_302;
    const started = await startSidecarUpdate(
      h.temporal.client,
      h.taskQueue,
      input(2, { autoPromote: false, promotionDeadlineMs: 60_000 }),
    );
    // Before the gate the update validator refuses.
    await expect(
      started.handle.executeUpdate(promoteUpdate, { args: [{ by: 'early' }] }),
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/only accepted at the promotion gate/) },
    });
    await eventually(
      () => started.handle.query(sidecarUpdateStatusQuery),
      (s) => s.phase === 'awaiting_promotion',
      { timeoutMs: 15_000 },
    );
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await started.handle.describe()).status.name).toBe('RUNNING');
    expect((await started.handle.query(sidecarUpdateStatusQuery)).phase).toBe('awaiting_promotion');
    expect(await tenantVersion('ws-u2')).toBeUndefined(); // recorded only after promotion
    expect((await droplet(id)).state).toBe('UPDATING');
    // A hibernate meanwhile is refused: the droplet is busy with the update.
    const hib = await startHibernate(h.temporal.client, h.taskQueue, { workspaceId: 'ws-u2', dropletId: id });
    await expect(hib.handle.result()).rejects.toMatchObject({ cause: { type: 'DropletBusy' } });

    const st = await started.handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] });
    expect(st.phase).toBe('awaiting_promotion');
    await expect(started.handle.result()).resolves.toMatchObject({ version: '1.1.0', promotedBy: 'manual' });
    expect(await tenantVersion('ws-u2')).toEqual({ version: '1.1.0', previous_version: '1.0.0' });
    expect((await droplet(id)).state).toBe('ACTIVE_HEALTHY');
    await replayAndRecord('sidecar-update-manual-gate', await started.handle.fetchHistory());
  });

  it('rolls back when aborted at the gate', async () => {
    const id = 9_303;
    const started = await startSidecarUpdate(
      h.temporal.client,
      h.taskQueue,
      input(3, { autoPromote: false, promotionDeadlineMs: 60_000 }),
    );
    await eventually(
      () => started.handle.query(sidecarUpdateStatusQuery),
      (s) => s.phase === 'awaiting_promotion',
      { timeoutMs: 15_000 },
    );
    expect(h.fleet.sidecars.agent(id)?.sidecarVersion).toBe('1.1.0');
    await started.handle.signal(abortSignal, { reason: 'operator changed their mind' });
    await expect(started.handle.result()).rejects.toMatchObject({
      cause: { type: 'UpdateRolledBack', message: expect.stringMatching(/aborted: operator changed/) },
    });
    expect(h.fleet.sidecars.agent(id)?.sidecarVersion).toBe('1.0.0');
    expect(await tenantVersion('ws-u3')).toBeUndefined();
    expect((await droplet(id)).state).toBe('ACTIVE_HEALTHY');
  });

  it('refuses bad input naming the field', async () => {
    const bad = await h.temporal.client.workflow.start(sidecarUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `bad-update-${Date.now()}`,
      args: [input(4, { toVersion: '1.0.0' })],
    });
    await expect(bad.result()).rejects.toMatchObject({
      cause: { type: 'InvalidInput', message: expect.stringMatching(/toVersion must differ/) },
    });
  });
});
