/**
 * The rules of hibernate (workflows/power/hibernate-droplet.ts) against stub activities: a
 * shutdown without a status read, its action looked up once it had time, power_off only when it
 * did not finish.
 */
import type { HibernateDropletInput } from '../../src/domain/power';
import { workflowIds } from '../../contracts';
import type { ActivityStubs } from '../helpers/stub-activities';
import { dropletRecord, failureOf, stubWorkerPerFile, WORKSPACE } from './support';

jest.setTimeout(30_000);

const timings = { actionPollMs: 50, actionTimeoutMs: 5_000, actionFirstLookMs: 300 };
/** What lookUpAction answers per droplet and action type (default completed). */
const looks = new Map<string, 'completed' | 'errored' | 'in-progress'>();
/** Droplets DigitalOcean already reports off. */
const off = new Set<number>();
const lookedAt = new Map<number, number>();

const stubs: ActivityStubs = {
  getDropletRecord: (id) => dropletRecord(id, 'ACTIVE_HEALTHY'),
  runningChangesOn: () => [],
  transitionDroplet: () => ({ from: 'ACTIVE_HEALTHY', changed: true }),
  settleDroplet: () => ({ from: 'HIBERNATING', changed: true }),
  startPowerAction: (req) =>
    off.has(req.dropletId) ? { actionId: null } : { actionId: req.type === 'shutdown' ? 61 : 62 },
  lookUpAction: (req) => {
    if (!lookedAt.has(req.dropletId)) lookedAt.set(req.dropletId, Date.now());
    return looks.get(`${req.dropletId}/${req.actionId}`) ?? 'completed';
  },
};
const ctx = stubWorkerPerFile('hibernate-rules', stubs);

let nextId = 83_000;
function hibernate(dropletId: number, extra: Partial<HibernateDropletInput> = {}) {
  return ctx.start('hibernateDroplet', workflowIds.power(dropletId), [
    { workspaceId: WORKSPACE, dropletId, gracefulTimeoutMs: 2_000, timings, ...extra },
  ]);
}

it.concurrent(
  'shutdown without a status read, looked up once after actionFirstLookMs: completed -> HIBERNATED, no power_off',
  async () => {
    const id = nextId++;
    const started = Date.now();
    const handle = await hibernate(id, { reason: 'idle' });
    expect(await handle.result()).toEqual({ dropletId: id, outcome: 'hibernated', attempts: 1 });
    expect(ctx.transitions(id)).toEqual(['HIBERNATING', 'HIBERNATED']);
    expect(ctx.calls(id, 'startPowerAction').map((c) => c.arg)).toEqual([
      {
        key: `${handle.firstExecutionRunId}/shutdown`,
        dropletId: id,
        type: 'shutdown',
        purpose: { operation: 'hibernate', reason: 'idle' },
        single: false,
      },
    ]);
    expect(ctx.calls(id, 'lookUpAction').map((c) => c.arg)).toEqual([
      expect.objectContaining({ actionId: 61, firstLookMs: 300, timeoutMs: 2_000 }),
    ]);
    expect(lookedAt.get(id)! - started).toBeLessThan(2_000);
    expect(ctx.calls(id).map((c) => c.name)).not.toContain('getProviderStatus');
  },
);

it.concurrent('already off ("already powered off"): HIBERNATED without any lookup', async () => {
  const id = nextId++;
  off.add(id);
  await (await hibernate(id)).result();
  expect(ctx.calls(id, 'lookUpAction')).toEqual([]);
  expect(ctx.transitions(id)).toEqual(['HIBERNATING', 'HIBERNATED']);
});

it.concurrent(
  'a shutdown not done by the graceful timeout: power_off (single, its own key), looked up, HIBERNATED',
  async () => {
    const id = nextId++;
    looks.set(`${id}/61`, 'in-progress');
    const handle = await hibernate(id);
    await handle.result();
    const runId = handle.firstExecutionRunId;
    expect(
      ctx.calls(id, 'startPowerAction').map((c) => {
        const a = c.arg as { key: string; type: string; single: boolean };
        return [a.key, a.type, a.single];
      }),
    ).toEqual([
      [`${runId}/shutdown`, 'shutdown', false],
      [`${runId}/power_off`, 'power_off', true],
    ]);
    expect(ctx.calls(id, 'lookUpAction').map((c) => (c.arg as { actionId: number }).actionId)).toEqual([
      61, 62,
    ]);
    expect(ctx.transitions(id)).toEqual(['HIBERNATING', 'HIBERNATED']);
  },
);

it.concurrent('an unknown hibernation reason is refused before anything happens', async () => {
  const id = nextId++;
  const failure = await failureOf(
    (await hibernate(id, { reason: 'bored' as unknown as HibernateDropletInput['reason'] })).result(),
  );
  expect(failure.type).toBe('InvalidInput');
  expect(ctx.calls(id)).toEqual([]);
});
