/**
 * Blue-green n8n container updates end to end, on the real dev server with the v1 fleet simulator
 * (the deployed agent's protocol: SWAP_CONTAINER of the n8n container with two-level success,
 * handshake keep-alives every 1 s here, 60 s on the fleet; every window an input):
 *   - a good tag passes the gate (HEALTH_CHECK healthy + a keep-alive after the swap) and is
 *     recorded as the control plane's own record of the tag;
 *   - a tag whose container fails its docker health wait: the agent keeps the old container, the
 *     update fails naming it, nothing to roll back;
 *   - a gate failure after a good swap swaps back to the recorded previous tag, verified;
 *   - a manual gate waits for `promote`; `abort` at the gate swaps back;
 *   - an agent provisioned with another DROPLET_ID refuses commands until its claim is recorded
 *     (the client's setAgentDropletId), then accepts them; bad input names the field.
 */
import { abortSignal, changeIds, n8nUpdateStatusQuery, promoteUpdate } from '../../contracts';
import { n8nContainerUpdate } from '../../workflows/changes/n8n-container-update';
import { runSetAgentDropletId, startN8nUpdate } from '../../src/temporal/change-starts';
import { startHibernate } from '../../src/temporal/power-starts';
import { createFleetHarness, lifecyclePath, type FleetHarness } from '../helpers/fleet-harness';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(120_000);

const BASE = 9_300;

describe('n8n container update (blue-green through SWAP_CONTAINER)', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    h = await createFleetHarness('n8n-update', { swapHealthWaitMs: 1_500 });
    await h.fleet.addDroplets(h.db.pool, [
      ...Array.from({ length: 6 }, (_, i) => ({ dropletId: BASE + i, workspaceId: `ws-u${i}` })),
      // provisioned by hand with the numeric id as DROPLET_ID
      { dropletId: BASE + 6, workspaceId: 'ws-u6', agentDropletId: String(BASE + 6) },
    ]);
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const droplet = async (id: number) =>
    (
      await h.db.pool.query<{ state: string; n8n_version: string; agent_droplet_id: string | null }>(
        'SELECT state, n8n_version, agent_droplet_id FROM droplets WHERE id = $1',
        [id],
      )
    ).rows[0]!;
  const tenantTag = async (ws: string) =>
    (
      await h.db.pool.query<{ version: string; previous_version: string | null }>(
        `SELECT version, previous_version FROM tenant_versions WHERE workspace_id = $1 AND component = 'n8n'`,
        [ws],
      )
    ).rows[0];
  const input = (i: number, over: Partial<Parameters<typeof n8nContainerUpdate>[0]> = {}) => ({
    workspaceId: `ws-u${i}`,
    dropletId: BASE + i,
    toTag: '1.71.0',
    autoPromote: true,
    verifyWindowMs: 8_000,
    verifyPollMs: 250,
    ...over,
  });
  const tagOf = (id: number) => h.fleet.sidecars.agent(id)?.n8nImageTag;

  it('promotes a good tag: the swap, the gate, the record', async () => {
    const id = BASE;
    const started = await startN8nUpdate(h.temporal.client, h.taskQueue, input(0));
    expect(started.workflowId).toBe(changeIds.n8nUpdate(id, '1.71.0'));
    const again = await startN8nUpdate(h.temporal.client, h.taskQueue, input(0));
    expect(again.runId).toBe(started.runId); // USE_EXISTING: a retried start joins
    const t0 = Date.now();
    await expect(started.handle.result()).resolves.toEqual({
      dropletId: id,
      tag: '1.71.0',
      previousTag: '1.70.0', // from the control plane's record, not from the agent
      promotedBy: 'auto',
    });
    const tookMs = Date.now() - t0;
    expect(tagOf(id)).toBe('1.71.0');
    expect(await tenantTag('ws-u0')).toEqual({ version: '1.71.0', previous_version: '1.70.0' });
    expect(await droplet(id)).toMatchObject({ state: 'ACTIVE_HEALTHY', n8n_version: '1.71.0' });
    expect(await lifecyclePath(h.db, id)).toEqual(['UPDATING', 'ACTIVE_HEALTHY']);
    expect(h.fleet.sidecars.commandCount(id, 'SWAP_CONTAINER')).toBe(1);
    expect(await started.handle.query(n8nUpdateStatusQuery)).toMatchObject({
      phase: 'done',
      fromTag: '1.70.0',
    });
    // the sidecar's own version is never touched by an n8n swap
    expect(h.fleet.sidecars.agent(id)?.agentVersion).toBe('1.0.0');
    console.log(`n8n update promoted in ${tookMs} ms`);
  });

  it("a tag whose container fails its health wait leaves the old container serving and fails with the agent's verdict", async () => {
    const id = BASE + 1;
    h.fleet.sidecars.setFault(id, { kind: 'brokenTag', tag: '1.71.0' });
    const started = await startN8nUpdate(h.temporal.client, h.taskQueue, input(1));
    await expect(started.handle.result()).rejects.toMatchObject({
      cause: {
        type: 'UpdateFailed',
        message: expect.stringMatching(
          /SWAP_CONTAINER to 1\.71\.0 failed, n8n 1\.70\.0 still serving.*result\.success false/,
        ),
      },
    });
    expect(tagOf(id)).toBe('1.70.0');
    expect(h.fleet.sidecars.commandCount(id, 'SWAP_CONTAINER')).toBe(1); // no blind retry, nothing to undo
    expect(await tenantTag('ws-u1')).toBeUndefined();
    expect(await droplet(id)).toMatchObject({ state: 'ACTIVE_HEALTHY', n8n_version: '1.70.0' });
    expect(await lifecyclePath(h.db, id)).toEqual(['UPDATING', 'ACTIVE_HEALTHY']);
  });

  it('a gate failure after a good swap rolls back by swapping to the previous tag', async () => {
    const id = BASE + 2;
    h.fleet.sidecars.setFault(id, { kind: 'unhealthyTag', tag: '1.71.0' });
    const started = await startN8nUpdate(h.temporal.client, h.taskQueue, input(2, { verifyWindowMs: 3_000 }));
    await expect(started.handle.result()).rejects.toMatchObject({
      cause: {
        type: 'UpdateRolledBack',
        message: expect.stringMatching(/did not pass HEALTH_CHECK.*n8n down/),
      },
    });
    expect(tagOf(id)).toBe('1.70.0');
    expect(h.fleet.sidecars.commandCount(id, 'SWAP_CONTAINER')).toBe(2); // to 1.71.0, back to 1.70.0
    expect(await tenantTag('ws-u2')).toBeUndefined();
    expect(await droplet(id)).toMatchObject({ state: 'ACTIVE_HEALTHY', n8n_version: '1.70.0' });
    expect(await started.handle.query(n8nUpdateStatusQuery)).toMatchObject({
      phase: 'rolled_back',
      fromTag: '1.70.0',
      toTag: '1.71.0',
      lastError: expect.stringMatching(/HEALTH_CHECK/),
    });
  });

  it('waits at a manual gate for promote, then completes', async () => {
    const id = BASE + 3;
    const started = await startN8nUpdate(
      h.temporal.client,
      h.taskQueue,
      input(3, { autoPromote: false, promotionDeadlineMs: 60_000 }),
    );
    await expect(
      started.handle.executeUpdate(promoteUpdate, { args: [{ by: 'early' }] }),
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/only accepted at the promotion gate/) },
    });
    await eventually(
      () => started.handle.query(n8nUpdateStatusQuery),
      (s) => s.phase === 'awaiting_promotion',
      { timeoutMs: 15_000 },
    );
    expect(await tenantTag('ws-u3')).toBeUndefined(); // recorded only after promotion
    expect((await droplet(id)).state).toBe('UPDATING');
    // A hibernate meanwhile is refused: the droplet is busy with the update.
    const hib = await startHibernate(h.temporal.client, h.taskQueue, { workspaceId: 'ws-u3', dropletId: id });
    await expect(hib.handle.result()).rejects.toMatchObject({ cause: { type: 'DropletBusy' } });

    const st = await started.handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] });
    expect(st.phase).toBe('awaiting_promotion');
    await expect(started.handle.result()).resolves.toMatchObject({ tag: '1.71.0', promotedBy: 'manual' });
    expect(await tenantTag('ws-u3')).toEqual({ version: '1.71.0', previous_version: '1.70.0' });
    expect((await droplet(id)).state).toBe('ACTIVE_HEALTHY');
    await replayAndRecord('n8n-update-manual-gate', await started.handle.fetchHistory());
  });

  it('swaps back when aborted at the gate', async () => {
    const id = BASE + 4;
    const started = await startN8nUpdate(
      h.temporal.client,
      h.taskQueue,
      input(4, { autoPromote: false, promotionDeadlineMs: 60_000 }),
    );
    await eventually(
      () => started.handle.query(n8nUpdateStatusQuery),
      (s) => s.phase === 'awaiting_promotion',
      { timeoutMs: 15_000 },
    );
    expect(tagOf(id)).toBe('1.71.0');
    await started.handle.signal(abortSignal, { reason: 'operator changed their mind' });
    await expect(started.handle.result()).rejects.toMatchObject({
      cause: { type: 'UpdateRolledBack', message: expect.stringMatching(/aborted: operator changed/) },
    });
    expect(tagOf(id)).toBe('1.70.0');
    expect(await tenantTag('ws-u4')).toBeUndefined();
    expect((await droplet(id)).state).toBe('ACTIVE_HEALTHY');
  });

  it('signs the claim the agent was provisioned with: refused until recorded, then every command passes', async () => {
    const id = BASE + 6;
    // learned from its registration: the host of its sidecar_url, which this agent does not expect
    await eventually(
      () => droplet(id),
      (d) => d.agent_droplet_id === '127.0.0.1',
    );
    const refused = await startN8nUpdate(h.temporal.client, h.taskQueue, input(6, { verifyWindowMs: 3_000 }));
    await expect(refused.handle.result()).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/Droplet mismatch \(expected 9306, got 127\.0\.0\.1\)/) },
    });
    expect(tagOf(id)).toBe('1.70.0');
    await refused.handle.terminate().catch(() => undefined);

    // the dashboard knows what provisioning wrote; a later handshake does not override it
    await runSetAgentDropletId(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-u6',
      dropletId: id,
      agentDropletId: String(id),
    });
    const seenBefore = h.fleet.sidecars.agent(id)!.heartbeatsSent;
    await eventually(
      () => Promise.resolve(h.fleet.sidecars.agent(id)!.heartbeatsSent),
      (n) => n >= seenBefore + 2,
    );
    expect((await droplet(id)).agent_droplet_id).toBe(String(id));
    const started = await h.temporal.client.workflow.start(n8nContainerUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `n8n-update-claim-${Date.now()}`,
      args: [input(6)],
    });
    await expect(started.result()).resolves.toMatchObject({ tag: '1.71.0' });
    expect(tagOf(id)).toBe('1.71.0');
  });

  it('refuses bad input naming the field, and an unknown recorded tag', async () => {
    const bad = await h.temporal.client.workflow.start(n8nContainerUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `bad-update-${Date.now()}`,
      args: [input(5, { toTag: 'no spaces allowed' })],
    });
    await expect(bad.result()).rejects.toMatchObject({
      cause: { type: 'InvalidInput', message: expect.stringMatching(/toTag must be a docker image tag/) },
    });
    const wrongFrom = await h.temporal.client.workflow.start(n8nContainerUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `bad-from-${Date.now()}`,
      args: [input(5, { fromTag: '1.69.0' })],
    });
    await expect(wrongFrom.result()).rejects.toMatchObject({
      cause: {
        type: 'UpdateFailed',
        message: expect.stringMatching(/runs n8n 1\.70\.0 by the control plane's record/),
      },
    });
    expect(h.fleet.sidecars.commandCount(BASE + 5, 'SWAP_CONTAINER')).toBe(0);
  });
});
