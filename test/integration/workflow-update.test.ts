/**
 * n8n workflow updates through the simulated sidecar: the first push deploys, the next updates the
 * same n8n workflow in place; each is activated and read back with its version before
 * tenant_versions records it (with the previous artifact kept for a rollback).
 */
import { startCredentialInjection, startWorkflowUpdate } from '../../src/temporal/change-starts';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import { changeIds, changeStatusQuery } from '../../workflows/messages';
import { workflowUpdate } from '../../workflows/changes/workflow-update';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { replayAndRecord } from '../helpers/temporal';

jest.setTimeout(90_000);

const WS = 'ws-w0';
const ID = 9_500;

const campaign = (subject: string) => ({
  name: 'Campaign sender',
  nodes: [{ name: 'Send', type: 'n8n-nodes-base.emailSend', parameters: { subject } }],
  connections: {},
});

describe('workflow update', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    h = await createFleetHarness('workflow-update');
    await h.fleet.addDroplets(h.db.pool, [
      { dropletId: ID, workspaceId: WS },
      { dropletId: ID + 1, workspaceId: 'ws-w1' },
    ]);
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const row = async () =>
    (
      await h.db.pool.query<{
        version: string;
        previous_version: string | null;
        artifact: { workflow_id: string; workflow_json: Record<string, unknown> };
        previous_artifact: { workflow_id: string; workflow_json: Record<string, unknown> } | null;
      }>(
        `SELECT version, previous_version, artifact, previous_artifact FROM tenant_versions
          WHERE workspace_id = $1 AND component = 'workflow:campaign-sender'`,
        [WS],
      )
    ).rows[0];

  it('deploys, then updates in place; verifies the version and records both artifacts', async () => {
    // A credential the workflow's credential_map refers to.
    const cred = await startCredentialInjection(h.temporal.client, h.taskQueue, {
      workspaceId: WS,
      dropletId: ID,
      credentials: [
        {
          type: 'smtp',
          name: 'SMTP',
          encryptedData: encryptCredential('simulator-master-key', WS, { p: 1 }),
        },
      ],
    });
    const credId = (await cred.handle.result()).succeeded[0]!.credentialId!;

    const v1 = await startWorkflowUpdate(h.temporal.client, h.taskQueue, {
      workspaceId: WS,
      dropletId: ID,
      workflowName: 'campaign-sender',
      workflowJson: campaign('v1 subject'),
      version: '2026.1',
      credentialMap: { smtp: credId },
    });
    expect(v1.workflowId).toBe(changeIds.workflowUpdate(ID, 'campaign-sender', '2026.1'));
    const r1 = await v1.handle.result();
    expect(r1).toMatchObject({ action: 'deploy', version: '2026.1', previousVersion: null });
    const wf = h.fleet.sidecars.agent(ID)!.workflows;
    expect(wf).toHaveLength(1);
    expect(wf[0]).toMatchObject({ id: r1.n8nWorkflowId, active: true, credentialMap: { smtp: credId } });
    expect((wf[0]!.meta as Record<string, unknown>).genesisVersion).toBe('2026.1');
    expect(await row()).toMatchObject({
      version: '2026.1',
      previous_version: null,
      artifact: { workflow_id: r1.n8nWorkflowId, workflow_json: { name: 'Campaign sender' } },
      previous_artifact: null,
    });

    const v2 = await startWorkflowUpdate(h.temporal.client, h.taskQueue, {
      workspaceId: WS,
      dropletId: ID,
      workflowName: 'campaign-sender',
      workflowJson: campaign('v2 subject'),
      version: '2026.2',
    });
    const r2 = await v2.handle.result();
    expect(r2).toMatchObject({
      action: 'update',
      n8nWorkflowId: r1.n8nWorkflowId,
      previousVersion: '2026.1',
    });
    expect(h.fleet.sidecars.agent(ID)!.workflows).toHaveLength(1); // updated in place
    expect(h.fleet.sidecars.commandCount(ID, 'DEPLOY_WORKFLOW')).toBe(1);
    expect(h.fleet.sidecars.commandCount(ID, 'UPDATE_WORKFLOW')).toBe(1);
    const r = (await row())!;
    expect(r.version).toBe('2026.2');
    expect(r.previous_version).toBe('2026.1');
    expect(JSON.stringify(r.artifact.workflow_json)).toContain('v2 subject');
    expect(JSON.stringify(r.previous_artifact!.workflow_json)).toContain('v1 subject'); // for a rollback
    expect(await v2.handle.query(changeStatusQuery)).toMatchObject({ phase: 'done' });
    await replayAndRecord('workflow-update', await v2.handle.fetchHistory());
  });

  it('fails without recording when the deploy is refused, and refuses bad input', async () => {
    const run = await startWorkflowUpdate(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-w1',
      dropletId: ID + 1,
      workflowName: 'campaign-sender',
      workflowJson: campaign('x'),
      version: '1',
      credentialMap: { smtp: 'cred-does-not-exist' },
    });
    await expect(run.handle.result()).rejects.toMatchObject({
      cause: { type: 'VerificationFailed', message: expect.stringMatching(/unknown credential id/) },
    });
    const none = await h.db.pool.query(`SELECT 1 FROM tenant_versions WHERE workspace_id = 'ws-w1'`);
    expect(none.rowCount).toBe(0);

    const bad = await h.temporal.client.workflow.start(workflowUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `bad-wf-${Date.now()}`,
      args: [{ workspaceId: WS, dropletId: ID, workflowName: 'x', workflowJson: [] as never, version: '1' }],
    });
    await expect(bad.result()).rejects.toMatchObject({
      cause: { type: 'InvalidInput', message: expect.stringMatching(/workflowJson must be an object/) },
    });
  });
});
