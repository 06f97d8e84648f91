/**
 * Every droplet operation refuses a droplet of another workspace before it changes anything: one
 * prologue (workflows/droplet-prologue.ts), a non-retryable InvalidInput, and no activity other than
 * the record read ran (no state transition, no DigitalOcean action, no sidecar command).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DropletRecord } from '../../activities/power';
import { startStubWorker, type StubWorker } from '../helpers/stub-activities';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';

const OWNER = 'ws-owner';
const INTRUDER = 'ws-intruder';
const DROPLET = 4242;

const record = (dropletId: number): DropletRecord => ({
  dropletId,
  workspaceId: OWNER,
  state: 'ACTIVE_HEALTHY',
  sidecarUrl: 'http://203.0.113.7:3100',
  lastHeartbeatAt: null,
  n8nStatus: 'healthy',
  agentDropletId: null,
});

const operations: [string, Record<string, unknown>][] = [
  ['wakeDroplet', { reason: 'user_login' }],
  ['hibernateDroplet', {}],
  ['hardReboot', { reason: 'admin_request', maxAttempts: 1 }],
  ['n8nContainerUpdate', { toTag: '1.2.0', autoPromote: true }],
  [
    'workflowUpdate',
    {
      workflowName: 'lead-sync',
      workflowJson: { name: 'lead-sync', nodes: [], connections: {}, settings: {} },
      version: '7',
    },
  ],
  [
    'credentialInjection',
    { credentials: [{ type: 'openai_api', name: 'OpenAI', encryptedData: 'aXYtdGFnLWNpcGhlcnRleHQ=' }] },
  ],
];

describe('droplet operations refuse another workspace’s droplet', () => {
  let t: TestTemporal;
  let w: StubWorker;
  const taskQueue = uniqueTaskQueue('owner');
  beforeAll(async () => {
    t = await connectTestTemporal();
    w = await startStubWorker(t, { taskQueue, stubs: { getDropletRecord: record } });
  });
  afterAll(async () => {
    await w?.stop();
    await t?.close();
  });

  it.each(operations)('%s', async (workflowType, extra) => {
    w.calls.length = 0;
    const err = await t.client.workflow
      .execute(workflowType, {
        taskQueue,
        workflowId: `owner-${workflowType}-${Date.now()}`,
        args: [{ workspaceId: INTRUDER, dropletId: DROPLET, ...extra }],
        workflowExecutionTimeout: '60s',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({
      type: 'InvalidInput',
      nonRetryable: true,
      message: `invalid input: dropletId ${DROPLET} belongs to another workspace`,
    });
    expect(cause!.message).not.toContain(OWNER);
    // nothing changed: the record read is the only activity that ran
    expect(w.names()).toEqual(['getDropletRecord']);
  });

  it('the owner’s own request passes the prologue (the check is not refusing everyone)', async () => {
    w.calls.length = 0;
    const err = await t.client.workflow
      .execute('hardReboot', {
        taskQueue,
        workflowId: `owner-self-${Date.now()}`,
        args: [{ workspaceId: OWNER, dropletId: DROPLET, reason: 'admin_request', maxAttempts: 1 }],
        workflowExecutionTimeout: '60s',
      })
      .catch((e: unknown) => e);
    // the stub worker has no transition activity: the reboot gets past the prologue and stops there
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(w.names().slice(0, 2)).toEqual(['getDropletRecord', 'transitionDroplet']);
  });
});
