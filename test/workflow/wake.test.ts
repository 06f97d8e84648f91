/**
 * The rules of wake (workflows/power/wake-droplet.ts) against stub activities: each test names
 * the rule, starts the real workflow and checks what it did through the activities it called.
 */
import type { WakeDropletInput } from '../../src/domain/power';
import { heartbeatObservedSignal, workflowIds } from '../../contracts';
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

const stubs: ActivityStubs = {
  getDropletRecord: (id) =>
    awake.has(id) ? dropletRecord(id, 'ACTIVE_HEALTHY', nowIso()) : dropletRecord(id, 'HIBERNATED'),
  transitionDroplet: () => ({ from: 'HIBERNATED', changed: true }),
  settleDroplet: () => ({ from: 'WAKING', changed: true }),
  getProviderStatus: (id) => provider.get(id) ?? 'off',
  powerAction: (req) => {
    if (req.type === 'power_on') provider.set(req.dropletId, 'active');
    if (req.type === 'power_cycle') healthy.set(req.dropletId, true); // a reboot fixes it
    return 41;
  },
  waitForAction: () => 'completed',
  sidecarHealthCheck: (id) => {
    const h = healthy.get(id) ?? true;
    return h === false
      ? { ok: false, error: 'n8n down' }
      : { ok: true, n8nStatus: h === true ? 'healthy' : h };
  },
  heartbeatSince: (req) => ((heartbeats.get(req.dropletId) ?? true) ? nowIso() : null),
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
  'an off droplet: WAKING, power_on once, the action awaited, ACTIVE_HEALTHY once HEALTH_CHECK and a fresh heartbeat agree',
  async () => {
    const id = nextId++;
    const result = await (await wake(id)).result();
    expect(result).toEqual({ dropletId: id, outcome: 'healthy', attempts: 1 });
    expect(ctx.transitions(id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
    expect(ctx.calls(id, 'powerAction').map((c) => (c.arg as { type: string }).type)).toEqual(['power_on']);
    expect(ctx.calls(id, 'sidecarHealthCheck').length).toBe(1);
    // its last step: the tenant reconciled right after the wake verified
    expect(ctx.calls(id).at(-1)).toEqual({
      name: 'requestReconcileAfterWake',
      arg: { workspaceId: WORKSPACE, dropletId: id },
    });
  },
);

it.concurrent('a droplet DigitalOcean already reports active is not powered on', async () => {
  const id = nextId++;
  provider.set(id, 'active');
  await (await wake(id)).result();
  expect(ctx.calls(id, 'powerAction')).toEqual([]);
  expect(ctx.transitions(id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
});

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
