/**
 * n8n workflow updates through the v1 simulated agent: the first push deploys (the agent applies
 * the credential map, answers `{id}`, drops `meta`), the next updates the same n8n workflow in
 * place (credential ids substituted by the control plane: the agent does not); each is activated
 * and read back (name, nodes, connections, settings compared with what was sent) before
 * tenant_versions records the version (with the previous artifact kept for a rollback). A retried
 * deploy never creates a second n8n workflow.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createChangeActivities } from '../../activities/changes';
import { startCredentialInjection, startWorkflowUpdate } from '../../src/temporal/change-starts';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import { changeIds, changeStatusQuery } from '../../contracts';
import { workflowUpdate } from '../../workflows/changes/workflow-update';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { replayAndRecord } from '../helpers/temporal';

jest.setTimeout(90_000);

const WS = 'ws-w0';
const ID = 9_500;

const campaign = (subject: string) => ({
  name: 'Campaign sender',
  nodes: [
    {
      id: 'n1',
      name: 'Send',
      type: 'n8n-nodes-base.emailSend',
      parameters: { subject },
      position: [0, 0],
      credentials: { smtp: { id: 'TEMPLATE-SMTP', name: 'SMTP' } },
    },
  ],
  connections: {},
  settings: { executionOrder: 'v1' },
  meta: { templateCredsSetupCompleted: true },
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
      credentialMap: { 'TEMPLATE-SMTP': credId },
    });
    expect(v1.workflowId).toBe(changeIds.workflowUpdate(ID, 'campaign-sender', '2026.1'));
    const r1 = await v1.handle.result();
    expect(r1).toMatchObject({ action: 'deploy', version: '2026.1', previousVersion: null });
    const wf = h.fleet.sidecars.agent(ID)!.workflows;
    expect(wf).toHaveLength(1);
    expect(wf[0]).toMatchObject({ id: r1.n8nWorkflowId, active: true, name: 'Campaign sender' });
    // the agent substituted the template credential and dropped meta: the version is only ours
    expect(JSON.stringify(wf[0]!.nodes)).toContain(credId);
    expect(JSON.stringify(wf[0]!.nodes)).not.toContain('TEMPLATE-SMTP');
    expect(wf[0]).not.toHaveProperty('meta');
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
      credentialMap: { 'TEMPLATE-SMTP': credId },
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
    // UPDATE_WORKFLOW got the credential ids already substituted
    const updated = h.fleet.sidecars.agent(ID)!.workflows[0]!;
    expect(JSON.stringify(updated.nodes)).toContain(credId);
    expect(JSON.stringify(updated.nodes)).toContain('v2 subject');
    const r = (await row())!;
    expect(r.version).toBe('2026.2');
    expect(r.previous_version).toBe('2026.1');
    expect(JSON.stringify(r.artifact.workflow_json)).toContain('v2 subject');
    expect(JSON.stringify(r.previous_artifact!.workflow_json)).toContain('v1 subject'); // for a rollback
    expect(await v2.handle.query(changeStatusQuery)).toMatchObject({ phase: 'done' });
    await replayAndRecord('workflow-update', await v2.handle.fetchHistory());
  });

  it('a retried deploy reuses the n8n workflow the first attempt created; an unknown outcome is not repeated', async () => {
    const acts = createChangeActivities(h.deps);
    const env = new MockActivityEnvironment();
    const deploy = {
      dropletId: ID + 1,
      workspaceId: 'ws-w1',
      workflowId: `workflow-update-retry-${Date.now()}`,
      workflowName: 'retry-probe',
      workflowJson: { ...campaign('retry'), name: 'Retry probe' },
    };
    const before = h.fleet.sidecars.commandCount(ID + 1, 'DEPLOY_WORKFLOW');
    const first = await env.run(acts.sidecarDeployWorkflow, deploy);
    const retried = await env.run(acts.sidecarDeployWorkflow, deploy); // the activity's retry
    expect(retried).toBe(first);
    expect(h.fleet.sidecars.commandCount(ID + 1, 'DEPLOY_WORKFLOW')).toBe(before + 1);
    expect(h.fleet.sidecars.agent(ID + 1)!.workflows.filter((w) => w.name === 'Retry probe')).toHaveLength(1);

    // an attempt that sent DEPLOY_WORKFLOW and died before its answer was recorded
    const lost = { ...deploy, workflowId: `workflow-update-lost-${Date.now()}` };
    await h.db.pool.query(
      `INSERT INTO workflow_deploys (workflow_id, workspace_id, droplet_id, workflow_name) VALUES ($1, $2, $3, $4)`,
      [lost.workflowId, lost.workspaceId, lost.dropletId, lost.workflowName],
    );
    await expect(env.run(acts.sidecarDeployWorkflow, lost)).rejects.toMatchObject({
      type: 'DeployOutcomeUnknown',
      nonRetryable: true,
    });
    expect(h.fleet.sidecars.commandCount(ID + 1, 'DEPLOY_WORKFLOW')).toBe(before + 1);
  });

  it('fails without recording when n8n is down, and refuses bad input', async () => {
    h.fleet.sidecars.setFault(ID + 1, { kind: 'n8nStopped' });
    const run = await startWorkflowUpdate(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-w1',
      dropletId: ID + 1,
      workflowName: 'campaign-sender',
      workflowJson: campaign('x'),
      version: '1',
    });
    await expect(run.handle.result()).rejects.toMatchObject({
      cause: {
        type: 'VerificationFailed',
        message: expect.stringMatching(/Failed to create workflow: connect ECONNREFUSED/),
      },
    });
    h.fleet.sidecars.clearFault(ID + 1, 'n8nStopped');
    const none = await h.db.pool.query(
      `SELECT 1 FROM tenant_versions WHERE workspace_id = 'ws-w1' AND component = 'workflow:campaign-sender'`,
    );
    expect(none.rowCount).toBe(0);

    const bad = await h.temporal.client.workflow.start(workflowUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `bad-wf-${Date.now()}`,
      args: [{ workspaceId: WS, dropletId: ID, workflowName: 'x', workflowJson: [] as never, version: '1' }],
    });
    await expect(bad.result()).rejects.toMatchObject({
      cause: { type: 'InvalidInput', message: expect.stringMatching(/workflowJson must be an object/) },
    });
    const { settings: _s, ...noSettings } = campaign('x');
    const refused = await h.temporal.client.workflow.start(workflowUpdate, {
      taskQueue: h.taskQueue,
      workflowId: `bad-wf-settings-${Date.now()}`,
      args: [{ workspaceId: WS, dropletId: ID, workflowName: 'x', workflowJson: noSettings, version: '1' }],
    });
    await expect(refused.result()).rejects.toMatchObject({
      cause: {
        type: 'InvalidInput',
        message: expect.stringMatching(/workflowJson\.settings must be an object/),
      },
    });
  });
});
