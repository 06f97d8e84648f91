/**
 * The rules of scheduled power's workflows against stub activities: a tick hands exactly the
 * plan's bounded starts (with the tick's timings) to one start activity and reports plan and
 * starts together; a tick with nothing due starts nothing; a schedule command refuses bad input
 * before any activity and records who changed the schedule.
 */
import type {
  PlannedStart,
  PowerSchedulePlan,
  PowerScheduleTickSummary,
} from '../../src/domain/power-schedule';
import type { ActivityStubs } from '../helpers/stub-activities';
import { failureOf, stubWorkerPerFile } from './support';

jest.setTimeout(45_000);

const plans = new Map<number, PowerSchedulePlan>();
const starts = (n: number, action: 'wake' | 'hibernate', first: number): PlannedStart[] =>
  Array.from({ length: n }, (_, i) => ({
    action,
    dueSince: 1_000 + i,
    dropletId: first + i,
    workspaceId: `ws-${first + i}`,
  }));

const stubs: ActivityStubs = {
  // the tick's bound picks the scenario: the plan is what the activity would answer
  planScheduledPower: (input) => plans.get(input.maxStartsPerTick!)!,
  startScheduledPower: (input) => ({
    started: {
      wake: input.starts.filter((s) => s.action === 'wake').length,
      hibernate: input.starts.filter((s) => s.action === 'hibernate').length - 1,
    },
    joined: 1,
    maxLagMs: { wake: 5_000, hibernate: 7_000 },
  }),
  recordPowerScheduleTick: () => undefined,
  setPowerSchedule: (input) => ({
    ...input.schedule,
    wakeLeadMinutes: 15,
    idleMinutes: 30,
    updatedBy: input.by ?? null,
    updatedAt: 'now',
  }),
  clearPowerSchedule: () => true,
};
const tier = stubWorkerPerFile('power-schedule-rules', stubs);

describe('powerScheduleTick', () => {
  it('starts the plan with the tick timings and reports plan and starts together', async () => {
    plans.set(3, {
      at: Date.parse('2026-12-01T08:15:00Z'),
      schedules: 4,
      droplets: 9,
      due: { wake: 4, hibernate: 2 },
      busy: 1,
      deferred: 2,
      starts: [...starts(2, 'wake', 500), ...starts(1, 'hibernate', 600)],
    });
    const h = await tier.start('powerScheduleTick', `tick-a-${Date.now()}`, [
      { maxStartsPerTick: 3, timings: { heartbeatTimeoutMs: 30_000 }, gracefulTimeoutMs: 9_000 },
    ]);
    const summary = (await h.result()) as PowerScheduleTickSummary;
    expect(summary).toEqual({
      at: '2026-12-01T08:15:00.000Z',
      schedules: 4,
      droplets: 9,
      due: { wake: 4, hibernate: 2 },
      started: { wake: 2, hibernate: 0 },
      joined: 1,
      busy: 1,
      deferred: 2,
      maxLagMs: { wake: 5_000, hibernate: 7_000 },
    });
    const calls = tier.w.calls.filter((c) => c.name === 'startScheduledPower');
    expect(calls.map((c) => c.arg)).toContainEqual({
      starts: plans.get(3)!.starts,
      timings: { heartbeatTimeoutMs: 30_000 },
      gracefulTimeoutMs: 9_000,
    });
    expect(tier.w.calls.filter((c) => c.name === 'recordPowerScheduleTick').map((c) => c.arg)).toContainEqual(
      summary,
    );
  });

  it('starts nothing when nothing is due', async () => {
    plans.set(7, {
      at: 0,
      schedules: 1,
      droplets: 1,
      due: { wake: 0, hibernate: 0 },
      busy: 0,
      deferred: 0,
      starts: [],
    });
    const before = tier.w.calls.filter((c) => c.name === 'startScheduledPower').length;
    const h = await tier.start('powerScheduleTick', `tick-b-${Date.now()}`, [{ maxStartsPerTick: 7 }]);
    expect(await h.result()).toMatchObject({ started: { wake: 0, hibernate: 0 }, joined: 0 });
    expect(tier.w.calls.filter((c) => c.name === 'startScheduledPower').length).toBe(before);
  });
});

describe('powerScheduleCommand', () => {
  it('refuses a bad schedule before any activity, and records who set or cleared one', async () => {
    const before = tier.w.calls.length;
    const bad = await tier.start('powerScheduleCommand', `cmd-bad-${Date.now()}`, [
      { op: 'set', schedule: { workspaceId: 'ws-1', timeZone: 'Nowhere/Atlantis', windows: [] } },
    ]);
    const failure = await failureOf(bad.result());
    expect(failure.type).toBe('InvalidInput');
    expect(failure.message).toMatch(/timeZone/);
    expect(tier.w.calls.length).toBe(before);

    const set = await tier.start('powerScheduleCommand', `cmd-set-${Date.now()}`, [
      { op: 'set', schedule: { workspaceId: 'ws-1', timeZone: 'UTC', windows: [] }, by: 'dashboard:bob' },
    ]);
    expect(await set.result()).toMatchObject({
      schedule: { workspaceId: 'ws-1', updatedBy: 'dashboard:bob' },
    });
    const id = `cmd-clear-${Date.now()}`;
    const clear = await tier.start('powerScheduleCommand', id, [{ op: 'clear', workspaceId: 'ws-1' }]);
    expect(await clear.result()).toEqual({ schedule: null, cleared: true });
    expect(tier.w.calls.filter((c) => c.name === 'clearPowerSchedule').map((c) => c.arg)).toContainEqual({
      workspaceId: 'ws-1',
      by: `workflow:${id}`,
    });
  });
});
