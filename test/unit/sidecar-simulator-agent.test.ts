/**
 * The simulated v1 agent beyond the recorded exchanges (those are in
 * sidecar-simulator-contract.test.ts): docker available, the n8n container swap and its faults,
 * degraded n8n, execution statistics, drift edits, the agent's DROPLET_ID, power and crash faults.
 * Raw HTTP with real tokens; no control-plane client involved.
 */
import { signSidecarJwt } from '../../src/sidecar/jwt';
import { createSidecarFleet, flakyDraw, type SidecarFleet } from '../../src/simulator/sidecars';
import { waitFor } from '../helpers/wait';
import { rsaTestKeys } from '../helpers/keys';

const dashboard = rsaTestKeys();
const privatePem = dashboard.privatePem;

let fleet: SidecarFleet;
let nextId = 100;
const agentDropletIds = new Map<number, string>();

function addAgent(over: Partial<Parameters<SidecarFleet['addAgent']>[0]> = {}): number {
  const dropletId = ++nextId;
  fleet.addAgent({ dropletId, workspaceId: `ws_${dropletId}`, poweredOn: true, ...over });
  agentDropletIds.set(dropletId, fleet.agent(dropletId)!.agentDropletId);
  return dropletId;
}

async function cmd(
  dropletId: number,
  action: string,
  payload: Record<string, unknown> = {},
): Promise<{ status: number; body: { success: boolean; result?: Record<string, unknown>; error?: string } }> {
  const token = await signSidecarJwt(privatePem, {
    workspaceId: `ws_${dropletId}`,
    dropletId: agentDropletIds.get(dropletId)!,
    action,
  });
  const res = await fetch(`${fleet.urlFor(dropletId)}/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-genesis-jwt': token },
    body: JSON.stringify({ action, payload }),
  });
  return { status: res.status, body: (await res.json()) as never };
}
const result = async (dropletId: number, action: string, payload: Record<string, unknown> = {}) => {
  const r = await cmd(dropletId, action, payload);
  expect(r).toMatchObject({ status: 200, body: { success: true } });
  return r.body.result!;
};

beforeAll(async () => {
  fleet = await createSidecarFleet({
    publicKey: dashboard.publicKey,
    masterKey: 'unit-master-key',
    bootDelayMs: 50,
    pullDelayMs: 30,
    swapDelayMs: 30,
    swapHealthWaitMs: 150,
    restartDelayMs: 30,
    executionsPerMinute: 60_000, // 1,000 per second per active workflow
  });
});
afterAll(() => fleet?.close());

describe('identity', () => {
  it('expects DROPLET_ID = the host of its sidecar_url by default, or what provisioning wrote', async () => {
    const byIp = addAgent();
    expect(fleet.agent(byIp)!.agentDropletId).toBe('127.0.0.1');
    expect(fleet.agent(byIp)!.sidecarUrl).toBe(`http://127.0.0.1:${fleet.port}/agents/${byIp}`);
    expect((await cmd(byIp, 'HEALTH_CHECK')).status).toBe(200);
    const numeric = addAgent({ agentDropletId: '98765' });
    expect((await cmd(numeric, 'HEALTH_CHECK')).status).toBe(200);
    const health = (await (await fetch(`${fleet.urlFor(numeric)}/health`)).json()) as Record<string, unknown>;
    expect(health).toEqual({
      status: 'ok',
      uptime: expect.any(Number),
      workspace_id: `ws_${numeric}`,
      droplet_id: '98765',
      smtp_enabled: false,
      n8n_bootstrapped: false,
    });
    // a token signed with the numeric DigitalOcean id is refused by an agent provisioned with its IP
    const res = await fetch(`${fleet.urlFor(byIp)}/command`, {
      method: 'POST',
      headers: {
        'x-genesis-jwt': await signSidecarJwt(privatePem, {
          workspaceId: `ws_${byIp}`,
          dropletId: byIp,
          action: 'HEALTH_CHECK',
        }),
      },
      body: JSON.stringify({ action: 'HEALTH_CHECK', payload: {} }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe(
      `Droplet mismatch (expected 127.0.0.1, got ${byIp})`,
    );
  });
});

describe('HEALTH_CHECK', () => {
  it('with docker: container fields, never a version; without: container_status unknown only', async () => {
    const id = addAgent();
    const r = await result(id, 'HEALTH_CHECK');
    expect(r).toEqual({
      n8n_status: 'healthy',
      container_status: 'running',
      container_health: 'healthy',
      cpu_percent: expect.any(Number),
      memory_usage_mb: expect.any(Number),
      memory_limit_mb: expect.any(Number),
    });
    fleet.setFault(id, { kind: 'dockerUnavailable' });
    expect(await result(id, 'HEALTH_CHECK')).toEqual({ n8n_status: 'healthy', container_status: 'unknown' });
    fleet.clearFault(id, 'dockerUnavailable');
    fleet.setFault(id, { kind: 'n8nStopped' });
    expect(await result(id, 'HEALTH_CHECK')).toEqual({ n8n_status: 'down', container_status: 'exited' });
  });

  it('is degraded above 50 running executions; a restart ends them', async () => {
    const id = addAgent();
    fleet.setFault(id, { kind: 'runningExecutions', count: 50 });
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('healthy');
    fleet.setFault(id, { kind: 'runningExecutions', count: 51 });
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('degraded');
    expect(fleet.agent(id)!.runningExecutions).toBe(51);
    expect(await result(id, 'RESTART_N8N')).toEqual({ success: true, newPid: expect.any(Number) });
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('healthy');
    expect(fleet.agent(id)!.n8nRestarts).toBe(1);
  });

  it('degraded {clearsOnRestart} is cleared by RESTART_N8N; plain degraded is not', async () => {
    const id = addAgent();
    fleet.setFault(id, { kind: 'degraded' });
    await result(id, 'RESTART_N8N');
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('degraded');
    fleet.setFault(id, { kind: 'degraded', clearsOnRestart: true });
    await result(id, 'RESTART_N8N');
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('healthy');
  });
});

describe('PULL_IMAGE and SWAP_CONTAINER (the n8n container)', () => {
  it('PULL_IMAGE pulls allowed images only and never changes what runs', async () => {
    const id = addAgent({ n8nImageTag: '1.70.0' });
    expect(
      await result(id, 'PULL_IMAGE', { image_name: 'ghcr.io/acme/genesis-sidecar', tag: '2.0.0' }),
    ).toEqual({
      success: true,
    });
    expect(await result(id, 'PULL_IMAGE', { image_name: 'n8nio/n8n', tag: '1.80.0' })).toEqual({
      success: true,
    });
    expect(await result(id, 'PULL_IMAGE', { image_name: 'evil/miner', tag: '1' })).toEqual({
      success: false,
    });
    const v = fleet.agent(id)!;
    expect(v.n8nImageTag).toBe('1.70.0');
    expect(v.pulledImages).toEqual(
      expect.arrayContaining(['ghcr.io/acme/genesis-sidecar:2.0.0', 'n8nio/n8n:1.80.0', 'n8nio/n8n:1.70.0']),
    );
    expect(v.agentVersion).toBe('1.0.0');
  });

  it('a good swap replaces the n8n container (old id answered), keeps workflows, never the agent', async () => {
    const id = addAgent({ n8nImageTag: '1.70.0', sidecarVersion: '3.3.3' });
    const wf = await result(id, 'DEPLOY_WORKFLOW', {
      workflow_json: { name: 'w', nodes: [], connections: {}, settings: {} },
    });
    const oldContainerId = fleet.agent(id)!.containerId;
    expect(await result(id, 'SWAP_CONTAINER', { new_image_tag: '1.80.0' })).toEqual({
      success: true,
      oldContainerId,
    });
    const v = fleet.agent(id)!;
    expect(v).toMatchObject({ n8nImageTag: '1.80.0', agentVersion: '3.3.3', swaps: 1, n8nStatus: 'healthy' });
    expect(v.containerId).not.toBe(oldContainerId);
    expect(v.workflows.map((w) => w.id)).toEqual([wf.id]);
    // rollback is another swap
    expect((await result(id, 'SWAP_CONTAINER', { new_image_tag: '1.70.0' })).success).toBe(true);
    expect(fleet.agent(id)!.n8nImageTag).toBe('1.70.0');
  });

  it('brokenTag: the health wait fails, the new container is removed, the old one keeps serving', async () => {
    const id = addAgent({ n8nImageTag: '1.70.0' });
    fleet.setFault(id, { kind: 'brokenTag', tag: '1.81.0-bad' });
    const started = Date.now();
    const r = await cmd(id, 'SWAP_CONTAINER', { new_image_tag: '1.81.0-bad' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140); // waited out swapHealthWaitMs
    expect(r).toEqual({
      status: 200,
      body: { success: true, result: { success: false }, execution_time_ms: expect.any(Number) },
    });
    expect(fleet.agent(id)).toMatchObject({ n8nImageTag: '1.70.0', n8nStatus: 'healthy', swaps: 0 });
  });

  it('unhealthyTag: the swap succeeds, then n8n is down (or degraded) until swapped back', async () => {
    const id = addAgent({ n8nImageTag: '1.70.0' });
    fleet.setFault(id, { kind: 'unhealthyTag', tag: '1.82.0' });
    fleet.setFault(id, { kind: 'unhealthyTag', tag: '1.83.0', status: 'degraded' });
    expect((await result(id, 'SWAP_CONTAINER', { new_image_tag: '1.82.0' })).success).toBe(true);
    expect(await result(id, 'HEALTH_CHECK')).toMatchObject({
      n8n_status: 'down',
      container_status: 'running',
    });
    expect(await cmd(id, 'GET_WORKFLOW', { workflow_id: 'x' })).toMatchObject({
      body: { success: false, error: 'Failed to get workflow: Request failed with status code 503' },
    });
    expect((await result(id, 'SWAP_CONTAINER', { new_image_tag: '1.83.0' })).success).toBe(true);
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('degraded');
    expect((await result(id, 'SWAP_CONTAINER', { new_image_tag: '1.70.0' })).success).toBe(true);
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('healthy');
  });

  it('flakyTag: the same deterministic share of agents fails the health wait', async () => {
    const ids = Array.from({ length: 40 }, () => addAgent({ n8nImageTag: '1.70.0' }));
    for (const id of ids) fleet.setFault(id, { kind: 'flakyTag', tag: '1.90.0', share: 0.2 });
    const outcomes = await Promise.all(
      ids.map(async (id) => (await result(id, 'SWAP_CONTAINER', { new_image_tag: '1.90.0' })).success),
    );
    const failed = ids.filter((_, i) => outcomes[i] === false);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(ids.length);
    expect(failed).toEqual(ids.filter((id) => flakyDraw(id, '1.90.0') < 0.2));
    for (const id of failed) expect(fleet.agent(id)!.n8nImageTag).toBe('1.70.0');
    // the hash spreads: over 5,000 droplet ids the share is close to 20 %
    let n = 0;
    for (let id = 1; id <= 5_000; id++) if (flakyDraw(id, '1.90.0') < 0.2) n++;
    expect(n / 5_000).toBeGreaterThan(0.17);
    expect(n / 5_000).toBeLessThan(0.23);
  });

  it('docker unavailable: container actions answer {success:false} inside success:true, logs are empty', async () => {
    const id = addAgent();
    await result(id, 'RESTART_N8N');
    expect((await result(id, 'GET_LOGS', { lines: 5 })).logs).toEqual([expect.stringContaining('restarted')]);
    fleet.setFault(id, { kind: 'dockerUnavailable' });
    for (const [action, payload] of [
      ['RESTART_N8N', {}],
      ['PULL_IMAGE', { image_name: 'n8nio/n8n', tag: '1.2.3' }],
      ['SWAP_CONTAINER', { new_image_tag: '1.2.3' }],
    ] as const) {
      expect(await result(id, action, payload)).toEqual({ success: false });
    }
    expect(await result(id, 'GET_LOGS', { lines: 5 })).toEqual({ logs: [] });
  });

  it('a power loss during a swap drops the request and leaves the old container', async () => {
    const id = addAgent({ n8nImageTag: '1.70.0' });
    const pending = cmd(id, 'SWAP_CONTAINER', { new_image_tag: '1.99.0' }).then(
      () => 'answered',
      () => 'dropped',
    );
    await new Promise((r) => setTimeout(r, 10));
    fleet.setPower(id, false);
    expect(await pending).toBe('dropped');
    expect(fleet.agent(id)!.n8nImageTag).toBe('1.70.0');
  });
});

describe('workflows and executions', () => {
  const flow = (over: Record<string, unknown> = {}) => ({
    name: 'flow',
    nodes: [
      { id: 'a', name: 'Start', type: 'n8n-nodes-base.manualTrigger', parameters: {}, position: [0, 0] },
    ],
    connections: {},
    settings: {},
    ...over,
  });

  it('an n8n error status reads as "Failed to <verb>: Request failed with status code <n>"', async () => {
    const id = addAgent();
    expect((await cmd(id, 'GET_WORKFLOW', { workflow_id: 'nope' })).body).toMatchObject({
      success: false,
      error: 'Failed to get workflow: Request failed with status code 404',
    });
    expect((await cmd(id, 'DEPLOY_WORKFLOW', { workflow_json: { name: 'no nodes' } })).body.error).toBe(
      'Failed to create workflow: Request failed with status code 400',
    );
    fleet.setFault(id, { kind: 'failAction', action: 'GET_LOGS', error: 'boom' });
    expect((await cmd(id, 'GET_LOGS')).body).toMatchObject({ success: false, error: 'boom' });
  });

  it('a hand edit on the droplet shows in GET_WORKFLOW (drift)', async () => {
    const id = addAgent();
    const { id: wfId } = await result(id, 'DEPLOY_WORKFLOW', { workflow_json: flow() });
    fleet.editWorkflow(id, wfId as string, (wf) => {
      wf.name = 'edited by hand';
      (wf.nodes as { parameters: Record<string, unknown> }[])[0]!.parameters.x = 1;
    });
    const got = await result(id, 'GET_WORKFLOW', { workflow_id: wfId });
    expect(got.workflow).toMatchObject({
      id: wfId,
      name: 'edited by hand',
      nodes: [{ parameters: { x: 1 } }],
    });
    expect(() => fleet.editWorkflow(id, 'missing', () => undefined)).toThrow(/no n8n workflow/);
  });

  it('COLLECT_METRICS: active workflows execute at a steady rate; failingExecutions fails a share', async () => {
    const id = addAgent();
    expect(await result(id, 'COLLECT_METRICS')).toEqual({
      executions_total: 0,
      executions_success: 0,
      executions_failed: 0,
      avg_duration_ms: 0,
      since: 'all-time',
    });
    const { id: wfId } = await result(id, 'DEPLOY_WORKFLOW', { workflow_json: flow() });
    await result(id, 'ACTIVATE_WORKFLOW', { workflow_id: wfId });
    await new Promise((r) => setTimeout(r, 200)); // ~200 executions at 1,000/s
    const before = await result(id, 'COLLECT_METRICS');
    expect(before.executions_total).toBeGreaterThan(50);
    expect(before).toMatchObject({ executions_failed: 0, since: 'all-time' });
    expect(before.avg_duration_ms).toBeGreaterThan(0);

    fleet.setFault(id, { kind: 'failingExecutions', share: 0.5 });
    await new Promise((r) => setTimeout(r, 1_200)); // the window (last 1,000) is now all "failing" time
    const failing = await result(id, 'COLLECT_METRICS');
    expect(failing.executions_total).toBe(1_000);
    expect(failing.executions_failed).toBeGreaterThanOrEqual(450);
    expect(failing.executions_failed).toBeLessThanOrEqual(500);
    expect((failing.executions_success as number) + (failing.executions_failed as number)).toBe(1_000);

    fleet.clearFault(id, 'failingExecutions');
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 100));
    const recent = await result(id, 'COLLECT_METRICS', { since });
    expect(recent).toMatchObject({ executions_failed: 0, since });
    expect(recent.executions_total).toBeGreaterThan(0);

    await result(id, 'DEACTIVATE_WORKFLOW', { workflow_id: wfId });
    const a = (await result(id, 'COLLECT_METRICS')).executions_total;
    await new Promise((r) => setTimeout(r, 50));
    expect((await result(id, 'COLLECT_METRICS')).executions_total).toBe(a);
  });
});

describe('power and process faults', () => {
  it('is unreachable while off, booting, crashed; boots with a fresh uptime', async () => {
    const id = addAgent();
    fleet.setFault(id, { kind: 'crash' });
    await expect(cmd(id, 'HEALTH_CHECK')).rejects.toThrow();
    expect(fleet.agent(id)!.condition).toBe('crashed');
    fleet.setPower(id, true); // a no-op on a droplet already on: the sidecar stays crashed
    expect(fleet.agent(id)!.condition).toBe('crashed');
    fleet.setPower(id, false);
    fleet.setPower(id, true);
    expect(fleet.agent(id)!.condition).toBe('booting');
    await waitFor(() => fleet.agent(id)!.condition === 'running', 'boot');
    expect(fleet.agent(id)!.boots).toBe(2);
    expect((await result(id, 'HEALTH_CHECK')).n8n_status).toBe('healthy');
  });

  it('recoverOnlyAfterPowerCycle survives off/on; bootFailure never comes up; hang holds requests', async () => {
    const id = addAgent();
    fleet.setFault(id, { kind: 'recoverOnlyAfterPowerCycle' });
    fleet.setPower(id, false);
    fleet.setPower(id, true);
    await waitFor(() => fleet.agent(id)!.power === 'on', 'boot');
    expect(fleet.agent(id)!.condition).toBe('crashed');
    fleet.powerCycle(id);
    await waitFor(() => fleet.agent(id)!.condition === 'running', 'power cycle');

    const bad = addAgent();
    fleet.setFault(bad, { kind: 'bootFailure' });
    fleet.powerCycle(bad);
    await waitFor(() => fleet.agent(bad)!.power === 'on', 'boot attempt');
    expect(fleet.agent(bad)!.condition).toBe('boot_failed');

    const hung = addAgent();
    fleet.setFault(hung, { kind: 'hang' });
    const pending = cmd(hung, 'HEALTH_CHECK');
    const timedOut = await Promise.race([
      pending.then(() => false).catch(() => false),
      new Promise((r) => setTimeout(() => r(true), 200)),
    ]);
    expect(timedOut).toBe(true);
    fleet.powerCycle(hung); // drops the held request
    await expect(pending).rejects.toThrow();
  });

  it('serverError answers 500', async () => {
    const id = addAgent();
    fleet.setFault(id, { kind: 'serverError' });
    expect((await cmd(id, 'HEALTH_CHECK')).status).toBe(500);
  });
});
