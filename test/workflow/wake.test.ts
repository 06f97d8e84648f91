/**
 * The rules of wake (workflows/power/wake-droplet.ts) against stub activities: each test names
 * the rule, starts the real workflow and checks what it did through the activities it called.
 */
import type { WakeDropletInput } from '../../src/domain/power';
import { heartbeatObservedSignal, powerStatusQuery, workflowIds } from '../../contracts';
import type { ActivityStubs } from '../helpers/stub-activities';
import { eventually } from '../helpers/temporal';
import { dropletRecord, failureOf, nowIso, stubWorkerPerFile, WORKSPACE } from './support';

jest.setTimeout(30_000);

const timings = { verifyWindowMs: 1_500, verifyPollMs: 100, actionPollMs: 50, actionTimeoutMs: 5_000 };
/** What the droplets answer; each test sets the droplet it needs. */
const provider = new Map<number, 'active' | 'off'>();
const healthy = new Map<number, boolean | 'degraded'>();
const heartbeats = new Map<number, boolean>();
/** ACTIVE_HEALTHY with a fresh heartbeat; the others are HIBERNATED. */
const awake = new Set<number>();
/** power_on actions a droplet needs before it boots (default 1; Infinity: never boots). */
const bootsAfter = new Map<number, number>();
const powerOns = new Map<number, number>();
/** What lookUpAction answers, in order (default: 'completed'); a droplet boots when it says so. */
const looks = new Map<number, ('completed' | 'errored' | 'in-progress')[]>();
/** The cohort that starts a droplet's power_on, if any. */
const cohortOf = new Map<number, string>();
/** When each droplet's action was first looked up. */
const lookedAt = new Map<number, number>();
/** Droplets that boot only once a lookup sees their action complete (a slow action). */
const bootsLate = new Set<number>();
const booted = (id: number) => (powerOns.get(id) ?? 0) >= (bootsAfter.get(id) ?? 1);

const stubs: ActivityStubs = {
  getDropletRecord: (id) =>
    awake.has(id) ? dropletRecord(id, 'ACTIVE_HEALTHY', nowIso()) : dropletRecord(id, 'HIBERNATED'),
  transitionDroplet: () => ({ from: 'HIBERNATED', changed: true }),
  settleDroplet: () => ({ from: 'WAKING', changed: true }),
  startPowerAction: (req) => {
    if (req.type === 'power_cycle') {
      healthy.set(req.dropletId, true); // a reboot fixes it
      return { actionId: 77 };
    }
    // "Droplet is already powered on": the goal holds
    if (provider.get(req.dropletId) === 'active') return { actionId: null };
    powerOns.set(req.dropletId, (powerOns.get(req.dropletId) ?? 0) + 1);
    if (booted(req.dropletId) && !bootsLate.has(req.dropletId)) provider.set(req.dropletId, 'active');
    const cohort = req.single ? undefined : cohortOf.get(req.dropletId);
    return { actionId: 40 + (powerOns.get(req.dropletId) ?? 0), ...(cohort ? { cohort } : {}) };
  },
  lookUpAction: (req) => {
    if (!lookedAt.has(req.dropletId)) lookedAt.set(req.dropletId, Date.now());
    const answer = looks.get(req.dropletId)?.shift() ?? 'completed';
    if (answer === 'completed' && bootsLate.has(req.dropletId)) provider.set(req.dropletId, 'active');
    return answer;
  },
  sidecarHealthCheck: (id) => {
    if (provider.get(id) !== 'active') return { ok: false, error: 'connect ECONNREFUSED' };
    const h = healthy.get(id) ?? true;
    return h === false
      ? { ok: false, error: 'n8n down' }
      : { ok: true, n8nStatus: h === true ? 'healthy' : h };
  },
  heartbeatSince: (req) =>
    provider.get(req.dropletId) === 'active' && (heartbeats.get(req.dropletId) ?? true) ? nowIso() : null,
  // a verified wake asks for the tenant's reconciliation (workflows/reconcile/after-wake.ts)
  requestReconcileAfterWake: () => ({ workflowId: null }),
};
const ctx = stubWorkerPerFile('wake-rules', stubs);

let nextId = 81_000;
function wake(dropletId: number, extra: Partial<WakeDropletInput> = {}) {
  return ctx.start('wakeDroplet', workflowIds.power(dropletId), [
    { workspaceId: WORKSPACE, dropletId, reason: 'user_login', timings, ...extra },
  ]);
}

it.concurrent(
  'a healthy droplet with a fresh heartbeat is already awake: no transition, no power action',
  async () => {
    const id = nextId++;
    awake.add(id);
    const result = await (await wake(id)).result();
    expect(result).toEqual({ dropletId: id, outcome: 'already_healthy', attempts: 0 });
    expect(ctx.calls(id).map((c) => c.name)).toEqual(['getDropletRecord']);
  },
);

it.concurrent(
  'an off droplet: WAKING, power_on without a status read, ACTIVE_HEALTHY once HEALTH_CHECK and a fresh heartbeat agree; the action is never looked up',
  async () => {
    const id = nextId++;
    const handle = await wake(id);
    const result = await handle.result();
    expect(result).toEqual({ dropletId: id, outcome: 'healthy', attempts: 1 });
    expect(ctx.transitions(id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
    expect(ctx.calls(id, 'startPowerAction').map((c) => c.arg)).toEqual([
      {
        key: `${handle.firstExecutionRunId}/power_on`,
        dropletId: id,
        type: 'power_on',
        purpose: { operation: 'wake', reason: 'user_login' },
        single: false,
      },
    ]);
    const names = ctx.calls(id).map((c) => c.name);
    for (const never of ['getProviderStatus', 'powerAction', 'waitForAction', 'lookUpAction'])
      expect(names).not.toContain(never);
    expect(ctx.calls(id, 'sidecarHealthCheck').length).toBe(1);
    // its last step: the tenant reconciled right after the wake verified
    expect(ctx.calls(id).at(-1)).toEqual({
      name: 'requestReconcileAfterWake',
      arg: { workspaceId: WORKSPACE, dropletId: id },
    });
  },
);

it.concurrent(
  'a droplet DigitalOcean already reports active: power_on answers "already on", verified, nothing looked up',
  async () => {
    const id = nextId++;
    provider.set(id, 'active');
    await (await wake(id)).result();
    expect(ctx.calls(id, 'startPowerAction')).toHaveLength(1);
    expect(ctx.calls(id, 'lookUpAction')).toEqual([]);
    expect(ctx.transitions(id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
  },
);

it.concurrent(
  'the agent does not come back and the action errored: looked up only after the verify window, one single retry under a new key, verified',
  async () => {
    const id = nextId++;
    bootsAfter.set(id, 2);
    looks.set(id, ['errored']);
    const started = Date.now();
    const handle = await wake(id, { timings: { ...timings, verifyWindowMs: 800 } });
    expect(await handle.result()).toMatchObject({ outcome: 'healthy' });
    const runId = handle.firstExecutionRunId;
    const starts = ctx.calls(id, 'startPowerAction').map((c) => c.arg as { key: string; single: boolean });
    expect(starts.map((a) => [a.key, a.single])).toEqual([
      [`${runId}/power_on`, false],
      [`${runId}/power_on#2`, true],
    ]);
    const lookups = ctx
      .calls(id, 'lookUpAction')
      .map((c) => c.arg as { actionId: number; timeoutMs: number });
    expect(lookups).toEqual([expect.objectContaining({ actionId: 41, timeoutMs: 0 })]);
    // the lookup came after the window, not before
    expect(lookedAt.get(id)! - started).toBeGreaterThanOrEqual(800);
    expect(ctx.transitions(id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
  },
);

it.concurrent(
  'the action completed but the droplet never boots: one single retry, then FAILED with VerificationFailed (user_login)',
  async () => {
    const id = nextId++;
    bootsAfter.set(id, Infinity);
    const failure = await failureOf(
      (await wake(id, { timings: { ...timings, verifyWindowMs: 500 } })).result(),
    );
    expect(failure.type).toBe('VerificationFailed');
    expect(ctx.calls(id, 'startPowerAction')).toHaveLength(2);
    expect(ctx.calls(id, 'lookUpAction')).toHaveLength(1);
    expect(ctx.transitions(id)).toEqual(['WAKING', 'FAILED']);
  },
);

it.concurrent(
  'an action still in progress after the window is waited for, and the droplet verified once it completes: no retry',
  async () => {
    const id = nextId++;
    bootsLate.add(id);
    looks.set(id, ['in-progress', 'completed']);
    const handle = await wake(id, { timings: { ...timings, verifyWindowMs: 500 } });
    expect(await handle.result()).toMatchObject({ outcome: 'healthy' });
    expect(ctx.calls(id, 'startPowerAction')).toHaveLength(1);
    const lookups = ctx.calls(id, 'lookUpAction').map((c) => c.arg as { timeoutMs: number });
    expect(lookups).toHaveLength(2);
    expect(lookups[1]!.timeoutMs).toBeGreaterThan(0);
  },
);

it.concurrent(
  'a power_on started by a cohort: the status and the verified lifecycle entry name the cohort',
  async () => {
    const id = nextId++;
    cohortOf.set(id, 'genesis-cohort-7');
    const handle = await wake(id, { reason: 'scheduled_campaign' });
    await handle.result();
    expect((await handle.query(powerStatusQuery)).cohort).toBe('genesis-cohort-7');
    const verified = ctx.calls(id, 'transitionDroplet').map((c) => c.arg as { to: string; detail?: unknown });
    expect(verified[1]).toMatchObject({ to: 'ACTIVE_HEALTHY', detail: { cohort: 'genesis-cohort-7' } });
    expect(ctx.calls(id, 'startPowerAction')[0]!.arg).toMatchObject({
      purpose: { operation: 'wake', reason: 'scheduled_campaign' },
    });
  },
);

it.concurrent('n8n reporting degraded wakes the droplet ACTIVE_DEGRADED', async () => {
  const id = nextId++;
  healthy.set(id, 'degraded');
  expect(await (await wake(id)).result()).toMatchObject({ outcome: 'degraded' });
  expect(ctx.transitions(id)).toEqual(['WAKING', 'ACTIVE_DEGRADED']);
});

it.concurrent(
  'HEALTH_CHECK alone is not enough: with no heartbeat newer than the wake it fails VerificationFailed, droplet FAILED',
  async () => {
    const id = nextId++;
    heartbeats.set(id, false);
    const failure = await failureOf(
      (await wake(id, { timings: { ...timings, verifyWindowMs: 600 } })).result(),
    );
    expect(failure.type).toBe('VerificationFailed');
    expect(failure.message).toContain('no heartbeat newer than the power change');
    expect(ctx.transitions(id)).toEqual(['WAKING', 'FAILED']);
  },
);

it.concurrent(
  'a heartbeat signalled by the drain passes verification without the heartbeat probe finding one',
  async () => {
    const id = nextId++;
    heartbeats.set(id, false);
    healthy.set(id, true);
    const handle = await wake(id, { timings: { ...timings, verifyWindowMs: 20_000, verifyPollMs: 10_000 } });
    await eventually(
      async () => ctx.calls(id, 'heartbeatSince').length,
      (n) => n > 0,
      { what: 'verification started' },
    );
    await handle.signal(heartbeatObservedSignal, {
      observedAt: nowIso(),
      n8nStatus: 'healthy',
      sidecarVersion: null,
    });
    const started = Date.now();
    expect(await handle.result()).toMatchObject({ outcome: 'healthy' });
    // the signal ended the 10 s poll wait at once
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ctx.calls(id, 'heartbeatSince').length).toBe(1);
  },
);

it.concurrent(
  'a failed watchdog_recovery wake escalates to a hard reboot child, which recovers the droplet',
  async () => {
    const id = nextId++;
    healthy.set(id, false); // until a power cycle
    const handle = await wake(id, {
      reason: 'watchdog_recovery',
      timings: { ...timings, verifyWindowMs: 600 },
      reboot: { maxAttempts: 1 },
    });
    expect(await handle.result()).toEqual({ dropletId: id, outcome: 'healthy', attempts: 2 });
    expect(ctx.transitions(id)).toEqual(['WAKING', 'REBOOTING', 'ACTIVE_HEALTHY']);
    const reboot = ctx.t.client.workflow.getHandle(workflowIds.powerEscalation(id));
    expect((await reboot.describe()).type).toBe('hardReboot');
  },
);
