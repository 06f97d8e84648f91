/**
 * The control plane's sidecar client against the simulated v1 fleet, over real HTTP: every typed
 * helper parses what the simulated agent answers (the two sides of the contract tests meeting),
 * the agent's refusals and failures map to the client's typed errors (403 droplet mismatch with
 * the expected claim, 200 success:false, two-level success of container actions, 500, timeouts,
 * unreachable agents), and power, crash and swap faults behave end to end.
 */
import pino from 'pino';
import { SidecarClient, type SidecarTarget } from '../../src/sidecar/client';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import {
  SidecarActionFailedError,
  SidecarCommandFailedError,
  SidecarError,
  SidecarForbiddenError,
  SidecarServerError,
  SidecarTimeoutError,
  SidecarUnknownActionError,
  SidecarUnreachableError,
} from '../../src/sidecar/errors';
import { createSidecarFleet, type NewSidecarAgent, type SidecarFleet } from '../../src/simulator/sidecars';
import { waitFor } from '../helpers/wait';
import { rsaTestKeys } from '../helpers/keys';

const logger = pino({ level: 'silent' });
const dashboard = rsaTestKeys();
const privatePem = dashboard.privatePem;
const MASTER_KEY = 'fleet-master-key-for-integration-tests';

async function failure(p: Promise<unknown>): Promise<SidecarError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SidecarError) return err;
    throw err;
  }
  throw new Error('expected a SidecarError');
}

describe('sidecar client against the simulated v1 fleet', () => {
  let fleet: SidecarFleet;
  const client = new SidecarClient({ privateKey: privatePem, logger, timeoutMs: 5_000 });
  let nextId = 100;
  /** a fresh agent per test; the target carries the claim the agent was provisioned with */
  const agentFor = (over: Partial<NewSidecarAgent> = {}): SidecarTarget & { id: number } => {
    const id = ++nextId;
    const workspaceId = over.workspaceId ?? `ws_${id}`;
    const sidecarUrl = fleet.addAgent({ dropletId: id, workspaceId, poweredOn: true, ...over });
    return { id, sidecarUrl, workspaceId, agentDropletId: fleet.agent(id)!.agentDropletId };
  };

  beforeAll(async () => {
    fleet = await createSidecarFleet({
      publicKey: dashboard.publicKey,
      masterKey: MASTER_KEY,
      bootDelayMs: 150,
      pullDelayMs: 50,
      swapDelayMs: 50,
      swapHealthWaitMs: 200,
      logger,
    });
  });
  afterAll(() => fleet?.close());

  it('every typed helper parses the v1 agent', async () => {
    const t = agentFor({ n8nImageTag: '1.70.0' });
    expect((await client.healthCheck(t)).result).toMatchObject({
      n8n_status: 'healthy',
      container_status: 'running',
    });
    expect(await client.health(t.sidecarUrl)).toMatchObject({ status: 'ok', droplet_id: '127.0.0.1' });

    const cred = await client.injectCredential(t, {
      credential_type: 'openai_api',
      credential_name: 'OpenAI',
      encrypted_data: encryptCredential(MASTER_KEY, t.workspaceId, { apiKey: 'sk-1' }),
    });
    const credentialId = cred.result.credential_id;
    await client.rotateCredential(t, {
      credential_id: credentialId,
      encrypted_data: encryptCredential(MASTER_KEY, t.workspaceId, { apiKey: 'sk-2' }),
    });
    expect(fleet.agent(t.id)!.credentials[0]).toMatchObject({ type: 'openAiApi', data: { apiKey: 'sk-2' } });

    const workflow_json = {
      name: 'w',
      nodes: [{ id: 'a', name: 'Hook', type: 'n8n-nodes-base.webhook', webhookId: 'h1', parameters: {} }],
      connections: {},
      settings: {},
      meta: { dropped: true },
    };
    const deployed = await client.deployWorkflow(t, { workflow_json });
    const workflow_id = deployed.result.id;
    expect(deployed.result.webhookUrl).toMatch(/\/webhook\/h1$/);
    await client.updateWorkflow(t, { workflow_id, workflow_json: { ...workflow_json, name: 'w2' } });
    await client.activateWorkflow(t, { workflow_id });
    const got = await client.getWorkflow(t, { workflow_id });
    expect(got.result.workflow).toMatchObject({ id: workflow_id, name: 'w2', active: true });
    await client.deactivateWorkflow(t, { workflow_id });
    expect((await client.collectMetrics(t)).result).toMatchObject({ since: 'all-time' });
    await client.deleteWorkflow(t, { workflow_id });

    await client.pullImage(t, { image_name: 'n8nio/n8n', tag: '1.80.0' });
    const swapped = await client.swapContainer(t, { new_image_tag: '1.80.0' });
    expect(swapped.result).toMatchObject({ success: true, oldContainerId: expect.any(String) });
    expect(fleet.agent(t.id)!.n8nImageTag).toBe('1.80.0');
    expect((await client.restartN8n(t)).result).toMatchObject({ success: true });
    expect(Array.isArray((await client.getLogs(t, { lines: 10 })).result.logs)).toBe(true);
  });

  it('a token signed for another droplet_id is refused with the claim the agent expects', async () => {
    const t = agentFor({ agentDropletId: '203.0.113.7' });
    const err = await failure(client.healthCheck({ ...t, agentDropletId: String(t.id) }));
    expect(err).toBeInstanceOf(SidecarForbiddenError);
    expect((err as SidecarForbiddenError).expectedDropletId).toBe('203.0.113.7');
    expect(fleet.stats().commands.forbiddenByReason.droplet_mismatch).toBeGreaterThanOrEqual(1);
    await expect(client.healthCheck(t)).resolves.toBeDefined();
  });

  it('maps the agent failures: success:false, unknown action, inner success:false, 500', async () => {
    const t = agentFor();
    fleet.setFault(t.id, { kind: 'n8nStopped' });
    const down = await failure(client.getWorkflow(t, { workflow_id: 'x' }));
    expect(down).toBeInstanceOf(SidecarCommandFailedError);
    expect((down as SidecarCommandFailedError).sidecarError).toBe(
      'Failed to get workflow: connect ECONNREFUSED 127.0.0.1:5678',
    );
    expect(await failure(client.command(t, 'NOT_AN_ACTION'))).toBeInstanceOf(SidecarUnknownActionError);

    fleet.setFault(t.id, { kind: 'brokenTag', tag: '9.9.9' });
    const swap = await failure(client.swapContainer(t, { new_image_tag: '9.9.9' }));
    expect(swap).toBeInstanceOf(SidecarActionFailedError);
    expect(swap.action).toBe('SWAP_CONTAINER');

    fleet.setFault(t.id, { kind: 'serverError' });
    const err = await failure(client.healthCheck(t));
    expect(err).toBeInstanceOf(SidecarServerError);
    expect(err.retryable).toBe(true);
  });

  it('times out on a hung agent, is unreachable while crashed or off, and reboots', async () => {
    const hung = agentFor();
    fleet.setFault(hung.id, { kind: 'hang' });
    const t0 = Date.now();
    expect(await failure(client.healthCheck(hung, { timeoutMs: 300 }))).toBeInstanceOf(SidecarTimeoutError);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

    const t = agentFor();
    fleet.setFault(t.id, { kind: 'crash' });
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);
    fleet.setPower(t.id, false);
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);
    fleet.setPower(t.id, true);
    await waitFor(() => fleet.agent(t.id)!.condition === 'running', 'boot');
    expect((await client.healthCheck(t)).result.n8n_status).toBe('healthy');
    expect((await client.health(t.sidecarUrl)).uptime).toBeLessThan(5);
  });

  it('signs a fresh token for every call, so repeated calls are never replays', async () => {
    const t = agentFor();
    for (let i = 0; i < 5; i++) await client.healthCheck(t);
    expect(fleet.commandCount(t.id, 'HEALTH_CHECK')).toBe(5);
    expect(fleet.stats().commands.forbiddenByReason.replayed ?? 0).toBe(0);
  });
});
