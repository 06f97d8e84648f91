/** `activities hold` parks every activity of the task queue (rate limit 0); `release` lets them run. */
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { setActivityHold } from '../../src/temporal/activity-hold';
import { workflowsSourcePath } from '../../src/worker/worker';
import { hardReboot } from '../../workflows/power/hard-reboot';
import { connectTestTemporal, eventually, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';

jest.setTimeout(90_000);

describe('activity hold', () => {
  let t: TestTemporal;
  beforeAll(async () => {
    t = await connectTestTemporal();
  });
  afterAll(() => t.close());

  it('holds activities while workflows wait, and releases them', async () => {
    const taskQueue = uniqueTaskQueue('hold');
    const calls: string[] = [];
    // A stand-in for the real activities: records that an activity ran (the hold is what is tested).
    const worker = await Worker.create({
      connection: t.nativeConnection,
      taskQueue,
      workflowsPath: workflowsSourcePath(),
      activities: {
        // the droplet operations' prologue reads the droplet first
        async getDropletRecord() {
          calls.push(Context.current().info.activityType);
          throw new Error('stop here');
        },
      },
    });
    const running = worker.run();
    try {
      await setActivityHold(t.client, {
        namespace: 'default',
        taskQueue,
        hold: true,
        reason: 'test: provider outage',
      });
      const handle = await t.client.workflow.start(hardReboot, {
        taskQueue,
        workflowId: `hold-${taskQueue}`,
        args: [{ workspaceId: 'ws-hold', dropletId: 1, reason: 'admin_request', maxAttempts: 1 }],
      });
      await new Promise((r) => setTimeout(r, 5_000));
      expect(calls).toEqual([]); // the workflow scheduled its first activity; nothing dispatched it
      expect((await handle.describe()).status.name).toBe('RUNNING');

      await setActivityHold(t.client, {
        namespace: 'default',
        taskQueue,
        hold: false,
        reason: 'test: outage over',
      });
      await eventually(
        async () => calls.length,
        (n) => n > 0,
        { timeoutMs: 30_000, what: 'activity released' },
      );
      expect(calls[0]).toBe('getDropletRecord');
      await handle.terminate('test over');
    } finally {
      worker.shutdown();
      await running;
    }
  });
});
