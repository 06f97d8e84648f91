/**
 * The rollout's status row has one writer. A pause then a quick resume must leave the row saying
 * what the workflow is (running), even when the "paused" write is slow and the "running" write
 * fast, which is exactly the order two concurrent writers (the handlers' own activities) got
 * wrong. Stub activities keep the row in memory; the workflow is the real fleetRollout.
 */
import { WorkflowUpdateStage } from '@temporalio/client';
import type { RolloutStatusName } from '../../src/domain/rollout';
import { pauseRolloutUpdate, resumeRolloutUpdate, rolloutProgressQuery } from '../../contracts';
import { startStubWorker, type StubWorker } from '../helpers/stub-activities';
import { connectTestTemporal, eventually, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';

describe('fleet rollout status row', () => {
  let t: TestTemporal;
  let w: StubWorker;
  const taskQueue = uniqueTaskQueue('rollout-status');
  // the rollouts row as the stubbed setRolloutStatus leaves it
  let row: { status: RolloutStatusName; reason: string | null } | undefined;
  let writing = 0;
  let planned = 0;

  beforeAll(async () => {
    t = await connectTestTemporal();
    w = await startStubWorker(t, {
      taskQueue,
      stubs: {
        planRollout: () => {
          planned++;
          return { totalTenants: 30, totalWaves: 3, skipped: 0, created: true };
        },
        startRolloutWave: () => [],
        finishRolloutWave: () => undefined,
        recordRolloutResults: () => undefined,
        rolloutSucceededTargets: () => [],
        // each passed wave moves its tenants' desired state (workflows/rollout/rollout.ts)
        moveRolloutDesired: () => undefined,
        setRolloutStatus: async (req) => {
          writing++;
          // the paused write is slow, everything else fast: concurrent writers land out of order
          await new Promise((r) => setTimeout(r, req.status === 'paused' ? 1_500 : 10));
          row = { status: req.status, reason: req.reason ?? null };
          writing--;
        },
      },
    });
  });
  afterAll(async () => {
    await w?.stop();
    await t?.close();
  });

  it('pause then a quick resume: the row ends running, as the workflow does', async () => {
    const rolloutId = `r-status-${Date.now()}`;
    const handle = await t.client.workflow.start('fleetRollout', {
      taskQueue,
      workflowId: `rollout-${rolloutId}`,
      args: [
        {
          rolloutId,
          kind: 'n8n',
          targetVersion: '1.2.0',
          n8n: {},
          selector: { all: true },
          canarySize: 10,
          waveSize: 10,
          // a long bake between waves keeps the rollout running while we steer it
          pauseBetweenWavesMs: 120_000,
        },
      ],
    });
    try {
      await eventually(
        async () => planned,
        (n) => n > 0,
        { what: 'the rollout planned' },
      );
      const pause = await handle.startUpdate(pauseRolloutUpdate, {
        args: [{ reason: 'looks odd', by: 'test' }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      await handle.executeUpdate(resumeRolloutUpdate, { args: [{ by: 'test' }] });
      await pause.result();
      // wait until no status write is in flight, then compare the row with the workflow
      await eventually(
        async () => ({ writing, row }),
        (v) => v.writing === 0 && v.row !== undefined,
        { what: 'status writes settled' },
      );
      const progress = await handle.query(rolloutProgressQuery);
      expect(progress.status).toBe('running');
      expect(row).toEqual({ status: 'running', reason: null });
    } finally {
      await handle.terminate('test done').catch(() => undefined);
    }
  });
});
