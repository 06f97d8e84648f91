/** The rules of the hard reboot (workflows/power/hard-reboot.ts) against stub activities. */
import { ApplicationFailure } from '@temporalio/activity';
import type { HardRebootInput } from '../../src/domain/power';
import { workflowIds } from '../../contracts';
import type { ActivityStubs } from '../helpers/stub-activities';
import { dropletRecord, failureOf, nowIso, stubWorkerPerFile, WORKSPACE } from './support';

jest.setTimeout(30_000);

const timings = { verifyWindowMs: 200, verifyPollMs: 100, actionPollMs: 50, actionTimeoutMs: 5_000 };
/** Power cycles each droplet needs before it answers HEALTH_CHECK (Infinity: never). */
const cyclesToRecover = new Map<number, number>();
const cycles = new Map<number, number[]>();
/** Droplets DigitalOcean refuses for good (gone). */
const refusing = new Set<number>();

const stubs: ActivityStubs = {
  getDropletRecord: (id) => dropletRecord(id, 'ACTIVE_HEALTHY'),
  transitionDroplet: () => ({ from: 'ACTIVE_HEALTHY', changed: true }),
  settleDroplet: () => ({ from: 'REBOOTING', changed: true }),
  raiseAlert: () => ({ notified: true }),
  startPowerAction: (req) => {
    if (refusing.has(req.dropletId))
      throw ApplicationFailure.nonRetryable('droplet not found', 'DigitalOceanNotFoundError');
    cycles.set(req.dropletId, [...(cycles.get(req.dropletId) ?? []), Date.now()]);
    return { actionId: 50 + (cycles.get(req.dropletId)?.length ?? 0) };
  },
  lookUpAction: () => 'completed',
  sidecarHealthCheck: (id) =>
    (cycles.get(id)?.length ?? 0) >= (cyclesToRecover.get(id) ?? 1)
      ? { ok: true, n8nStatus: 'healthy' }
      : { ok: false, error: 'connect ECONNREFUSED' },
  heartbeatSince: () => nowIso(),
};
const ctx = stubWorkerPerFile('reboot-rules', stubs);

let nextId = 82_000;
function reboot(dropletId: number, extra: Partial<HardRebootInput> = {}) {
  return ctx.start('hardReboot', workflowIds.power(dropletId), [
    { workspaceId: WORKSPACE, dropletId, reason: 'admin_request', timings, ...extra },
  ]);
}

it.concurrent(
  'never recovers: one power_cycle per attempt with exponential backoff, then ZOMBIE, one critical alert, DropletZombie',
  async () => {
    const id = nextId++;
    cyclesToRecover.set(id, Infinity);
    const handle = await reboot(id, { maxAttempts: 3, backoffInitialMs: 150 });
    const failure = await failureOf(handle.result());
    expect(failure.type).toBe('DropletZombie');
    expect(ctx.transitions(id)).toEqual(['REBOOTING', 'REBOOTING', 'REBOOTING', 'ZOMBIE']);
    const runId = handle.firstExecutionRunId;
    expect(ctx.calls(id, 'startPowerAction').map((c) => c.arg)).toEqual(
      [1, 2, 3].map((n) => ({
        key: `${runId}/attempt-${n}`,
        dropletId: id,
        type: 'power_cycle',
        purpose: { operation: 'hard_reboot', reason: 'admin_request' },
        single: false,
      })),
    );
    // no action polled: each attempt's action is looked up once, after its verification failed
    expect(ctx.calls(id, 'waitForAction')).toEqual([]);
    expect(ctx.calls(id, 'lookUpAction')).toHaveLength(3);
    // backoff 150 ms then 300 ms between the attempts (on top of each attempt's verification)
    const [first, , third] = cycles.get(id)!;
    expect(third! - first!).toBeGreaterThanOrEqual(450);
    const alerts = ctx.calls(id, 'raiseAlert').map((c) => c.arg);
    expect(alerts).toEqual([
      expect.objectContaining({ key: `droplet:${id}:zombie`, kind: 'droplet_zombie', severity: 'critical' }),
    ]);
  },
);

it.concurrent(
  'recovers on a later attempt: ACTIVE_HEALTHY after the second power cycle, no alert',
  async () => {
    const id = nextId++;
    cyclesToRecover.set(id, 2);
    const result = await (await reboot(id, { maxAttempts: 3, backoffInitialMs: 100 })).result();
    expect(result).toEqual({ dropletId: id, outcome: 'healthy', attempts: 2 });
    expect(ctx.transitions(id)).toEqual(['REBOOTING', 'REBOOTING', 'ACTIVE_HEALTHY']);
    expect(ctx.calls(id, 'raiseAlert')).toEqual([]);
  },
);

it.concurrent(
  'a provider refusal no retry can fix ends at once: FAILED, no second attempt, the refusal surfaces',
  async () => {
    const id = nextId++;
    refusing.add(id);
    const failure = await failureOf((await reboot(id, { maxAttempts: 3, backoffInitialMs: 100 })).result());
    expect(failure.type).toBe('DigitalOceanNotFoundError');
    expect(ctx.transitions(id)).toEqual(['REBOOTING', 'FAILED']);
    expect(ctx.calls(id, 'startPowerAction')).toHaveLength(1);
  },
);
