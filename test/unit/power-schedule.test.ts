import {
  formatWindow,
  invalidPowerSchedule,
  parseWindowSpec,
  localToUtc,
  plannedPower,
  powerIntent,
  resolvePowerSchedule,
  type PowerScheduleInput,
  type ScheduledDroplet,
} from '../../src/domain/power-schedule';

const iso = (s: string) => Date.parse(s);
const MIN = 60_000;

const campaigns = (over: Partial<PowerScheduleInput> = {}) =>
  resolvePowerSchedule({
    workspaceId: 'ws-1',
    timeZone: 'Europe/Berlin',
    windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '18:00' }],
    wakeLeadMinutes: 15,
    idleMinutes: 30,
    ...over,
  });

const droplet = (over: Partial<ScheduledDroplet> = {}): ScheduledDroplet => ({
  dropletId: 1,
  workspaceId: 'ws-1',
  state: 'HIBERNATED',
  stateChangedAt: iso('2026-11-01T00:00:00Z'),
  ...over,
});

describe('local time to UTC', () => {
  it('maps wall times through the zone, DST gap forward and repeated hour to its first occurrence', () => {
    // Berlin in winter is UTC+1, in summer UTC+2
    expect(localToUtc(iso('2026-01-15T08:30:00Z'), 'Europe/Berlin')).toBe(iso('2026-01-15T07:30:00Z'));
    expect(localToUtc(iso('2026-07-15T08:30:00Z'), 'Europe/Berlin')).toBe(iso('2026-07-15T06:30:00Z'));
    // 2026-03-29 02:30 does not exist in Berlin: the clock jumps from 02:00 to 03:00
    expect(localToUtc(iso('2026-03-29T02:30:00Z'), 'Europe/Berlin')).toBe(iso('2026-03-29T01:30:00Z'));
    // 2026-10-25 02:30 happens twice: the first (CEST, UTC+2)
    expect(localToUtc(iso('2026-10-25T02:30:00Z'), 'Europe/Berlin')).toBe(iso('2026-10-25T00:30:00Z'));
    expect(localToUtc(iso('2026-03-08T09:00:00Z'), 'America/New_York')).toBe(iso('2026-03-08T13:00:00Z'));
  });
});

describe('powerIntent', () => {
  it('is awake from the lead time before the window opens until it closes, on listed days only', () => {
    const s = campaigns();
    // Tuesday 2026-12-01, Berlin UTC+1: window 07:30-17:00 UTC, due from 07:15 UTC
    expect(powerIntent(s, iso('2026-12-01T07:14:00Z')).kind).toBe('asleep');
    expect(powerIntent(s, iso('2026-12-01T07:15:00Z'))).toEqual({
      kind: 'awake',
      since: iso('2026-12-01T07:15:00Z'),
      until: iso('2026-12-01T17:00:00Z'),
    });
    expect(powerIntent(s, iso('2026-12-01T16:59:00Z')).kind).toBe('awake');
    expect(powerIntent(s, iso('2026-12-01T17:00:00Z'))).toEqual({
      kind: 'asleep',
      since: iso('2026-12-01T17:00:00Z'),
      nextAwake: iso('2026-12-02T07:15:00Z'),
    });
    // Saturday: no window; the last one closed Friday 17:00 UTC, the next opens Monday
    expect(powerIntent(s, iso('2026-12-05T10:00:00Z'))).toEqual({
      kind: 'asleep',
      since: iso('2026-12-04T17:00:00Z'),
      nextAwake: iso('2026-12-07T07:15:00Z'),
    });
  });

  it('keeps local wall times across DST: 08:30 local on both sides of the change', () => {
    const s = campaigns({
      wakeLeadMinutes: 0,
      windows: [{ days: ['fri', 'mon'], start: '08:30', end: '09:00' }],
    });
    // Friday 2026-03-27 (CET, UTC+1) and Monday 2026-03-30 (CEST, UTC+2)
    expect(powerIntent(s, iso('2026-03-27T07:30:00Z')).kind).toBe('awake');
    expect(powerIntent(s, iso('2026-03-30T07:30:00Z')).kind).toBe('asleep');
    expect(powerIntent(s, iso('2026-03-30T06:30:00Z')).kind).toBe('awake');
  });

  it('a window in the DST gap opens when the clock jumps to its local time', () => {
    const s = campaigns({ wakeLeadMinutes: 0, windows: [{ days: ['sun'], start: '02:30', end: '04:00' }] });
    // Sunday 2026-03-29: 02:30 local does not exist, 03:30 CEST = 01:30 UTC
    expect(powerIntent(s, iso('2026-03-29T01:29:00Z')).kind).toBe('asleep');
    expect(powerIntent(s, iso('2026-03-29T01:30:00Z')).kind).toBe('awake');
    expect(powerIntent(s, iso('2026-03-29T02:00:00Z')).kind).toBe('asleep'); // 04:00 CEST
  });

  it('a window crossing midnight belongs to the day it opens and closes the next day', () => {
    const s = resolvePowerSchedule({
      workspaceId: 'ws-1',
      timeZone: 'UTC',
      windows: [{ days: ['fri'], start: '22:00', end: '02:00' }],
      wakeLeadMinutes: 30,
    });
    // Friday 2026-12-04 21:30 UTC to Saturday 02:00
    expect(powerIntent(s, iso('2026-12-04T21:29:00Z')).kind).toBe('asleep');
    expect(powerIntent(s, iso('2026-12-04T21:30:00Z')).kind).toBe('awake');
    expect(powerIntent(s, iso('2026-12-05T01:59:00Z'))).toEqual({
      kind: 'awake',
      since: iso('2026-12-04T21:30:00Z'),
      until: iso('2026-12-05T02:00:00Z'),
    });
    expect(powerIntent(s, iso('2026-12-05T02:00:00Z')).kind).toBe('asleep');
    // Thursday night is not Friday's window
    expect(powerIntent(s, iso('2026-12-04T01:00:00Z')).kind).toBe('asleep');
  });

  it('merges windows that touch or overlap into one period (24:00 closes at midnight)', () => {
    const s = resolvePowerSchedule({
      workspaceId: 'ws-1',
      timeZone: 'UTC',
      windows: [
        { days: ['mon'], start: '20:00', end: '24:00' },
        { days: ['tue'], start: '00:00', end: '06:00' },
      ],
      wakeLeadMinutes: 0,
    });
    expect(powerIntent(s, iso('2026-12-01T03:00:00Z'))).toEqual({
      kind: 'awake',
      since: iso('2026-11-30T20:00:00Z'),
      until: iso('2026-12-01T06:00:00Z'),
    });
  });
});

describe('plannedPower', () => {
  const s = campaigns();
  const opened = iso('2026-12-01T07:20:00Z'); // Tuesday, 5 min into the awake period

  it('wakes a droplet hibernated before the period, not one hibernated during it', () => {
    expect(plannedPower(s, droplet(), opened)).toEqual({
      action: 'wake',
      dueSince: iso('2026-12-01T07:15:00Z'),
    });
    expect(plannedPower(s, droplet({ stateChangedAt: iso('2026-12-01T07:16:00Z') }), opened)).toBeUndefined();
    for (const state of ['ACTIVE_HEALTHY', 'WAKING', 'HIBERNATING', 'FAILED', 'ZOMBIE'] as const)
      expect(plannedPower(s, droplet({ state }), opened)).toBeUndefined();
  });

  it('hibernates outside the period only after the idle time since the last change or interactive wake', () => {
    const evening = iso('2026-12-01T17:20:00Z');
    const active = droplet({ state: 'ACTIVE_HEALTHY', stateChangedAt: iso('2026-12-01T07:20:00Z') });
    expect(plannedPower(s, active, evening)).toEqual({
      action: 'hibernate',
      dueSince: iso('2026-12-01T17:00:00Z'),
    });
    expect(plannedPower(s, { ...active, state: 'ACTIVE_DEGRADED' }, evening)?.action).toBe('hibernate');
    // a user logged in 10 minutes ago: not idle
    expect(plannedPower(s, { ...active, lastInteractiveAt: evening - 10 * MIN }, evening)).toBeUndefined();
    // a change 40 minutes ago: idle since 10 minutes ago
    expect(plannedPower(s, { ...active, stateChangedAt: evening - 40 * MIN }, evening)).toEqual({
      action: 'hibernate',
      dueSince: evening - 10 * MIN,
    });
    // never inside the period, never with idleMinutes null, never a transitional droplet
    expect(plannedPower(s, active, opened + 60 * MIN)).toBeUndefined();
    expect(plannedPower({ ...s, idleMinutes: null }, active, evening)).toBeUndefined();
    expect(plannedPower(s, { ...active, state: 'WAKING' }, evening)).toBeUndefined();
  });
});

describe('invalidPowerSchedule', () => {
  const ok = {
    workspaceId: 'ws-1',
    timeZone: 'UTC',
    windows: [{ days: ['mon'], start: '08:00', end: '17:00' }],
  };
  it('accepts a good schedule and names the first bad field', () => {
    expect(invalidPowerSchedule(ok)).toBeUndefined();
    expect(invalidPowerSchedule({ ...ok, timeZone: 'Mars/Olympus' })).toMatch(/timeZone/);
    expect(
      invalidPowerSchedule({ ...ok, windows: [{ days: ['monday'], start: '08:00', end: '17:00' }] }),
    ).toMatch(/"monday"/);
    expect(
      invalidPowerSchedule({ ...ok, windows: [{ days: ['mon'], start: '24:00', end: '17:00' }] }),
    ).toMatch(/start/);
    expect(
      invalidPowerSchedule({ ...ok, windows: [{ days: ['mon'], start: '08:00', end: '8:00' }] }),
    ).toMatch(/end/);
    expect(
      invalidPowerSchedule({ ...ok, windows: [{ days: ['mon'], start: '08:00', end: '08:00' }] }),
    ).toMatch(/empty/);
    expect(invalidPowerSchedule({ ...ok, wakeLeadMinutes: -1 })).toMatch(/wakeLeadMinutes/);
    expect(invalidPowerSchedule({ ...ok, idleMinutes: 1 })).toMatch(/idleMinutes/);
    expect(invalidPowerSchedule({ ...ok, idleMinutes: null })).toBeUndefined();
    expect(invalidPowerSchedule({ ...ok, workspaceId: '' })).toMatch(/workspaceId/);
  });
});

describe('the CLI window notation', () => {
  it('parses days, ranges (wrapping over the weekend) and times, and names what is wrong', () => {
    expect(parseWindowSpec('mon-fri@08:30-18:00')).toEqual({
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      start: '08:30',
      end: '18:00',
    });
    expect(parseWindowSpec('fri-mon@22:00-02:00')).toEqual({
      days: ['sun', 'mon', 'fri', 'sat'],
      start: '22:00',
      end: '02:00',
    });
    expect(parseWindowSpec('sat,sun@10:00-12:00')).toMatchObject({ days: ['sun', 'sat'] });
    expect(parseWindowSpec('monday@10:00-12:00')).toMatch(/"monday" is not a day/);
    expect(parseWindowSpec('mon 10-12')).toMatch(/expected <days>@HH:MM-HH:MM/);
    expect(formatWindow({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:30', end: '18:00' })).toBe(
      'mon-fri@08:30-18:00',
    );
    expect(formatWindow({ days: ['sun', 'mon', 'sat'], start: '22:00', end: '02:00' })).toBe(
      'sun,mon,sat@22:00-02:00',
    );
  });
});
