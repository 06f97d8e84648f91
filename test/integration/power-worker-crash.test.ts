/**
 * SIGKILL the worker process in the middle of a hard reboot (the power_cycle sent and still in
 * progress, the workflow verifying); after a restart the workflow finishes with exactly one
 * power_cycle per attempt, counted by the DigitalOcean simulator.
 */
import { startHardReboot } from '../../src/temporal/power-starts';
import { powerStatusQuery } from '../../contracts';
import {
  createFleetHarness,
  harnessWorkerEnv,
  lifecyclePath,
  type FleetHarness,
} from '../helpers/fleet-harness';
import { runCli, type ChildRun } from '../helpers/processes';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(150_000);

describe('hard reboot survives a worker SIGKILL', () => {
  let h: FleetHarness;
  let worker: ChildRun | undefined;

  beforeAll(async () => {
    h = await createFleetHarness('reboot-crash', { actionDelayMs: 4_000 });
    await h.fleet.addDroplets(h.db.pool, [{ dropletId: 31_000, workspaceId: 'ws-crash' }]);
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await h?.close();
  });

  const env = () => harnessWorkerEnv(h, { SIDECAR_COMMAND_TIMEOUT_MS: '2000' });

  it('finishes with one power_cycle for its one attempt', async () => {
    const id = 31_000;
    h.fleet.sidecars.setFault(id, { kind: 'recoverOnlyAfterPowerCycle' });
    worker = runCli(['worker'], env());
    await worker.waitFor(/worker polling/);
    const started = await startHardReboot(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-crash',
      dropletId: id,
      reason: 'admin_request',
      maxAttempts: 3,
      backoffInitialMs: 500,
      // The verify window covers the drain's own recovery: the killed worker also ran the heartbeat
      // drain, whose activity is retried after its 30 s heartbeat timeout.
      timings: { verifyWindowMs: 45_000, verifyPollMs: 500, actionTimeoutMs: 30_000, actionPollMs: 300 },
    });
    await eventually(
      () => started.handle.query(powerStatusQuery),
      (s) => s.phase === 'verifying',
      {
        what: 'verifying after the power_cycle',
      },
    );
    expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(1);
    // the action is still in progress: the worker dies before it completes
    expect(h.fleet.digitalocean.getDroplet(id)?.pendingActionId).toEqual(expect.any(Number));
    worker.child.kill('SIGKILL');
    await worker.exited;

    worker = runCli(['worker'], env());
    await worker.waitFor(/worker polling/);
    const result = await started.handle.result();
    expect(result).toMatchObject({ dropletId: id, outcome: 'healthy', attempts: 1 });
    expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(result.attempts);
    expect(await lifecyclePath(h.db, id)).toEqual(['REBOOTING', 'ACTIVE_HEALTHY']);
    // (hard-reboot-after-worker-crash.json is the same run before 'power-calls-floor': kept for replay)
    await replayAndRecord('hard-reboot-calls-floor-after-worker-crash', await started.handle.fetchHistory());
  });
});
