/**
 * The Vercel client: input validated before anything is sent (the error names the field), and a
 * retried request starts nothing new (same workflow, `joined: true`). No worker polls this task
 * queue, so the workflows stay as started and are terminated at the end.
 */
import { randomBytes } from 'node:crypto';
import { createGenesisClient, GenesisInputError, type GenesisClient } from '../../src/client';
import { terminateStarted, uniqueTaskQueue } from '../helpers/temporal';

describe('genesis-control-plane/client', () => {
  let genesis: GenesisClient;
  const taskQueue = uniqueTaskQueue('client');
  const started: string[] = [];

  beforeAll(async () => {
    genesis = await createGenesisClient({
      address: process.env.TEMPORAL_ADDRESS,
      taskQueue,
      codecKeys: `k1:${randomBytes(32).toString('base64')}`,
    });
  });
  afterAll(async () => {
    await terminateStarted(genesis.temporal, started);
    await genesis.temporal.connection.close();
  });

  it('starts one workflow for the same request sent twice', async () => {
    const dropletId = 70_000 + Math.floor(Math.random() * 10_000);
    const input = { workspaceId: 'ws-client', dropletId, reason: 'user_login' as const };
    const first = await genesis.wake(input);
    const second = await genesis.wake(input);
    started.push(first.workflowId);
    expect(first).toMatchObject({ workflowId: `power-${dropletId}`, joined: false });
    expect(second).toEqual({ ...first, joined: true });

    const update = { workspaceId: 'ws-client', dropletId, toTag: '1.71.0', autoPromote: true };
    const u1 = await genesis.n8nUpdate(update);
    const u2 = await genesis.n8nUpdate(update);
    started.push(u1.workflowId);
    expect(u2.runId).toBe(u1.runId);
    expect(u2.joined).toBe(true);
    const running = await genesis.temporal.workflow.count(`WorkflowId = "${u1.workflowId}"`);
    expect(running.count).toBe(1);
  });

  it('refuses bad input before sending anything, naming the field', async () => {
    await expect(genesis.wake({ workspaceId: 'ws', dropletId: -1, reason: 'user_login' })).rejects.toThrow(
      /dropletId must be a positive integer/,
    );
    await expect(
      genesis.wake({ workspaceId: 'ws', dropletId: 5, reason: 'because' as never }),
    ).rejects.toBeInstanceOf(GenesisInputError);
    await expect(
      genesis.hardReboot({ workspaceId: '', dropletId: 5, reason: 'admin_request' }),
    ).rejects.toThrow(/workspaceId/);
    await expect(
      genesis.fleetRollout({
        rolloutId: 'client-bad',
        kind: 'n8n',
        targetVersion: '1.71.0',
        selector: { percentage: 150 },
      }),
    ).rejects.toThrow(/fleetRollout: invalid input: selector\.percentage/);
    // the agent itself cannot be updated through protocol v1: refused with the reason
    await expect(genesis.sidecarUpdate({})).rejects.toThrow(/cannot update itself/);
    await expect(
      genesis.fleetRollout({
        rolloutId: 'client-agent',
        kind: 'sidecar' as never,
        targetVersion: '2.0.0',
        selector: { all: true },
      }),
    ).rejects.toThrow(/cannot update itself/);
    await expect(
      genesis.setAgentDropletId({ workspaceId: 'ws', dropletId: 5, agentDropletId: 'has space' }),
    ).rejects.toThrow(/agentDropletId/);
    await expect(genesis.rolloutProgress('')).rejects.toThrow(/rolloutId/);
    await expect(genesis.temporal.workflow.getHandle('power-5').describe()).rejects.toThrow(/not found/i);
    await expect(genesis.temporal.workflow.getHandle('rollout-client-bad').describe()).rejects.toThrow(
      /not found/i,
    );
  });
});
