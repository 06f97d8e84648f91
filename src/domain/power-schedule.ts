/**
 * Scheduled power: a workspace's weekly awake windows in its own time zone, the wake lead time and
 * the idle rule, and the pure rule that turns them, a droplet's record and the clock into the
 * power operation the reconciler should start (or none). Pure (Intl only): unit-tested, and shared
 * by the contract (validation), the activities (planning) and the CLI.
 *
 * Semantics:
 * - A window `{days, start, end}` opens on each listed local day at `start` and closes at `end` the
 *   same day, or the next day when `end <= start` (crossing midnight: `22:00`-`02:00`); `24:00`
 *   closes at the next midnight. The days are those on which the window OPENS.
 * - Local times are wall-clock times of the schedule's IANA time zone: across a DST change a
 *   window still opens at 08:30 local. A local time that does not exist (the spring-forward gap)
 *   is taken as the instant the clock jumps to (02:30 -> 03:30); one that exists twice (fall
 *   back) is its first occurrence.
 * - The workspace is due awake from `start - wakeLeadMinutes` until `end` (overlapping windows
 *   merge). A HIBERNATED droplet is woken when it was hibernated before that awake period began;
 *   one hibernated during the period (by an operator, the dashboard) stays so until the next.
 * - Outside awake periods an ACTIVE droplet is hibernated once idle for `idleMinutes`: no state
 *   change and no interactive (user_login, admin_request) wake for that long. `idleMinutes: null`
 *   never hibernates.
 */
import type { DropletState } from './droplet-state';
import type { PowerTimings } from './power';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface PowerWindow {
  /** the local days on which the window opens */
  days: Weekday[];
  /** local "HH:MM" (00:00-23:59) */
  start: string;
  /** local "HH:MM" (00:00-24:00); at or before start: the next day */
  end: string;
}

export interface PowerSchedule {
  workspaceId: string;
  /** IANA time zone, e.g. "Europe/Berlin" */
  timeZone: string;
  windows: PowerWindow[];
  /** wake this many minutes before a window opens (default 15) */
  wakeLeadMinutes: number;
  /** hibernate outside windows after this many idle minutes; null: never hibernate */
  idleMinutes: number | null;
}

/** A schedule as stored: who set it last and when. */
export interface StoredPowerSchedule extends PowerSchedule {
  updatedBy: string | null;
  updatedAt: string;
}

export type PowerScheduleInput = Omit<PowerSchedule, 'wakeLeadMinutes' | 'idleMinutes'> & {
  wakeLeadMinutes?: number;
  idleMinutes?: number | null;
};

export const POWER_SCHEDULE_DEFAULTS = { wakeLeadMinutes: 15, idleMinutes: 30 };
export const POWER_SCHEDULE_LIMITS = {
  windows: 28,
  wakeLeadMinutes: 12 * 60,
  idleMinutes: { min: 5, max: 7 * 24 * 60 },
};

/** The schedule with its defaults applied. */
export function resolvePowerSchedule(input: PowerScheduleInput): PowerSchedule {
  return {
    workspaceId: input.workspaceId,
    timeZone: input.timeZone,
    windows: input.windows.map((w) => ({ days: [...new Set(w.days)], start: w.start, end: w.end })),
    wakeLeadMinutes: input.wakeLeadMinutes ?? POWER_SCHEDULE_DEFAULTS.wakeLeadMinutes,
    idleMinutes: input.idleMinutes === undefined ? POWER_SCHEDULE_DEFAULTS.idleMinutes : input.idleMinutes,
  };
}

const HHMM = /^([01]\d|2[0-4]):([0-5]\d)$/;

/** Minutes after local midnight of "HH:MM", or undefined when malformed (24:00 only as an end). */
export function parseLocalTime(s: unknown, allow24 = false): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = HHMM.exec(s);
  if (!m) return undefined;
  const minutes = Number(m[1]) * 60 + Number(m[2]);
  if (minutes > 24 * 60 || (minutes === 24 * 60 && !allow24)) return undefined;
  return minutes;
}

export function isTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const intInRange = (v: unknown, min: number, max: number) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** The first problem of a schedule a caller must not store, or undefined. */
export function invalidPowerSchedule(
  input: Partial<Record<keyof PowerScheduleInput, unknown>>,
): string | undefined {
  if (typeof input.workspaceId !== 'string' || input.workspaceId.length === 0)
    return 'workspaceId must be a non-empty string';
  if (!isTimeZone(input.timeZone)) return 'timeZone must be an IANA time zone such as "Europe/Berlin"';
  if (!Array.isArray(input.windows)) return 'windows must be a list';
  if (input.windows.length > POWER_SCHEDULE_LIMITS.windows)
    return `at most ${POWER_SCHEDULE_LIMITS.windows} windows`;
  for (const [i, w] of (input.windows as unknown[]).entries()) {
    const win = (w ?? {}) as Partial<Record<keyof PowerWindow, unknown>>;
    if (!Array.isArray(win.days) || win.days.length === 0)
      return `windows[${i}].days must list days (${WEEKDAYS.join(', ')})`;
    const bad = (win.days as unknown[]).find((d) => !(WEEKDAYS as readonly unknown[]).includes(d));
    if (bad !== undefined) return `windows[${i}].days: "${String(bad)}" is not one of ${WEEKDAYS.join(', ')}`;
    const start = parseLocalTime(win.start);
    if (start === undefined) return `windows[${i}].start must be "HH:MM" (00:00-23:59)`;
    const end = parseLocalTime(win.end, true);
    if (end === undefined) return `windows[${i}].end must be "HH:MM" (00:00-24:00)`;
    if (start === end) return `windows[${i}] is empty: start equals end`;
  }
  if (
    input.wakeLeadMinutes !== undefined &&
    !intInRange(input.wakeLeadMinutes, 0, POWER_SCHEDULE_LIMITS.wakeLeadMinutes)
  )
    return `wakeLeadMinutes must be an integer from 0 to ${POWER_SCHEDULE_LIMITS.wakeLeadMinutes}`;
  const idle = POWER_SCHEDULE_LIMITS.idleMinutes;
  if (
    input.idleMinutes !== undefined &&
    input.idleMinutes !== null &&
    !intInRange(input.idleMinutes, idle.min, idle.max)
  )
    return `idleMinutes must be null (never hibernate) or an integer from ${idle.min} to ${idle.max}`;
  return undefined;
}

// --- local time <-> UTC ------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall clock of `t` in `tz` as if it were UTC (epoch ms). */
function wallClockMs(t: number, tz: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(t))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!);
}

/** UTC offset of `tz` at instant `t`, ms (positive east of Greenwich). */
export function zoneOffsetMs(t: number, tz: string): number {
  return wallClockMs(Math.floor(t / 1000) * 1000, tz) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant of a local date and time in `tz` (`localMs` = that wall clock as if UTC). A wall
 * time in a DST gap maps to the instant the clock jumps to; a repeated one to its first occurrence.
 */
export function localToUtc(localMs: number, tz: string): number {
  // the offsets a wall time can have lie within a day of it: try both sides' offsets
  const before = zoneOffsetMs(localMs - 86_400_000, tz);
  const after = zoneOffsetMs(localMs + 86_400_000, tz);
  const candidates = [localMs - before, localMs - after].filter((t) => wallClockMs(t, tz) === localMs);
  if (candidates.length > 0) return Math.min(...candidates);
  // in the gap: the wall clock skips it; the instant the clock jumps at is where offsets change
  return localMs - before;
}

/** The local calendar day of `t` in `tz`, as the UTC midnight of that date (epoch ms). */
function localDay(t: number, tz: string): number {
  const w = wallClockMs(t, tz);
  return w - (((w % 86_400_000) + 86_400_000) % 86_400_000);
}

// --- awake periods ----------------------------------------------------------------------------

export interface AwakePeriod {
  /** when the workspace is due awake: the window's start less the lead time */
  from: number;
  /** the window's start */
  opens: number;
  /** the window's end */
  until: number;
}

const DAY = 86_400_000;

/** Every window occurrence opening on the local days from `fromDay` to `toDay` (UTC-midnight ms). */
function occurrences(
  s: PowerSchedule,
  fromDay: number,
  toDay: number,
  cache?: Map<string, number>,
): AwakePeriod[] {
  const toUtc = (local: number) => {
    if (!cache) return localToUtc(local, s.timeZone);
    const key = `${s.timeZone}|${local}`;
    let v = cache.get(key);
    if (v === undefined) cache.set(key, (v = localToUtc(local, s.timeZone)));
    return v;
  };
  const out: AwakePeriod[] = [];
  for (let day = fromDay; day <= toDay; day += DAY) {
    const weekday = WEEKDAYS[new Date(day).getUTCDay()]!;
    for (const w of s.windows) {
      if (!w.days.includes(weekday)) continue;
      const start = parseLocalTime(w.start)!;
      const end = parseLocalTime(w.end, true)!;
      const opens = toUtc(day + start * 60_000);
      const until = toUtc(day + (end > start ? 0 : DAY) + end * 60_000);
      out.push({ from: opens - s.wakeLeadMinutes * 60_000, opens, until });
    }
  }
  return out.sort((a, b) => a.from - b.from);
}

export type PowerIntent =
  /** due awake since `since` (the merged period's start, lead included) until `until` */
  | { kind: 'awake'; since: number; until: number }
  /** outside every awake period; `since` is when the last one ended (undefined: none this week) */
  | { kind: 'asleep'; since: number | undefined; nextAwake: number | undefined };

/** Whether the workspace is due awake at `now`, and since when. `cache` memoises local->UTC. */
export function powerIntent(s: PowerSchedule, now: number, cache?: Map<string, number>): PowerIntent {
  const today = localDay(now, s.timeZone);
  // a window opening up to 8 days ago may still be open (end after start + lead + midnight);
  // one opening within 2 days is the next
  const periods = occurrences(s, today - 8 * DAY, today + 2 * DAY, cache);
  // merge overlapping/adjacent periods, so a window that opens as another closes is one period
  const merged: { since: number; until: number }[] = [];
  for (const p of periods) {
    const last = merged[merged.length - 1];
    if (last && p.from <= last.until) last.until = Math.max(last.until, p.until);
    else merged.push({ since: p.from, until: p.until });
  }
  const current = merged.find((m) => m.since <= now && now < m.until);
  if (current) return { kind: 'awake', since: current.since, until: current.until };
  const ended = merged.filter((m) => m.until <= now).map((m) => m.until);
  const next = merged.find((m) => m.since > now);
  return {
    kind: 'asleep',
    since: ended.length ? Math.max(...ended) : undefined,
    nextAwake: next?.since,
  };
}

// --- what to start ------------------------------------------------------------------------------

export interface ScheduledDroplet {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  /** when its state last changed (droplets.state_changed_at), epoch ms */
  stateChangedAt: number;
  /** the latest interactive wake (user_login, admin_request) started for it, epoch ms, if known */
  lastInteractiveAt?: number;
}

export type ScheduledAction = 'wake' | 'hibernate';

export interface PlannedPower {
  action: ScheduledAction;
  /** since when the action has been due (for the schedule lag) */
  dueSince: number;
}

const AWAKE_STATES: readonly DropletState[] = ['ACTIVE_HEALTHY', 'ACTIVE_DEGRADED'];

/** When the droplet last showed activity: its last state change or interactive wake. */
export const lastActivity = (d: ScheduledDroplet) => Math.max(d.stateChangedAt, d.lastInteractiveAt ?? 0);

/**
 * The power operation the schedule wants for this droplet now, or undefined (nothing to do, or
 * the droplet is in a state the schedule does not touch: transitional, FAILED, ZOMBIE...).
 */
export function plannedPower(
  s: PowerSchedule,
  d: ScheduledDroplet,
  now: number,
  intent: PowerIntent = powerIntent(s, now),
): PlannedPower | undefined {
  if (intent.kind === 'awake') {
    if (d.state === 'HIBERNATED' && d.stateChangedAt < intent.since)
      return { action: 'wake', dueSince: intent.since };
    return undefined;
  }
  if (s.idleMinutes === null || !AWAKE_STATES.includes(d.state)) return undefined;
  const idleSince = lastActivity(d) + s.idleMinutes * 60_000;
  if (idleSince > now) return undefined;
  return { action: 'hibernate', dueSince: Math.max(idleSince, intent.since ?? idleSince) };
}

// --- the reconciler's tick ---------------------------------------------------------------------

export interface PowerScheduleTickInput {
  /** power operations started per tick (wakes first, oldest due first); the rest wait a tick */
  maxStartsPerTick?: number;
  /** passed to every wake and hibernation started (the fleet's heartbeat timeout) */
  timings?: Partial<PowerTimings>;
  /** graceful shutdown time of the hibernations started */
  gracefulTimeoutMs?: number;
}

export const POWER_SCHEDULE_TICK_DEFAULTS = { maxStartsPerTick: 500 };

export interface PlannedStart extends PlannedPower {
  dropletId: number;
  workspaceId: string;
}

export interface PowerSchedulePlan {
  /** when the plan was made, epoch ms */
  at: number;
  schedules: number;
  droplets: number;
  /** due now, by action (started or not) */
  due: Record<ScheduledAction, number>;
  /** due but a power operation or change runs on it: left for a later tick */
  busy: number;
  /** due but beyond this tick's bound */
  deferred: number;
  starts: PlannedStart[];
}

export interface PowerScheduleTickSummary {
  at: string;
  schedules: number;
  droplets: number;
  due: Record<ScheduledAction, number>;
  started: Record<ScheduledAction, number>;
  /** a start that found the droplet's power workflow running (USE_EXISTING): nothing doubled */
  joined: number;
  busy: number;
  deferred: number;
  /** the longest time from due to started this tick, ms, by action (0 when none started) */
  maxLagMs: Record<ScheduledAction, number>;
}

// --- the operator's notation -------------------------------------------------------------------

/**
 * A window in the CLI's notation: `<days>@<start>-<end>`, days a list and/or ranges of weekdays
 * (`mon-fri`, `sat,sun`, `fri-mon` wraps over the weekend): `mon-fri@08:30-18:00`,
 * `sat@22:00-02:00`. Returns the window or the problem.
 */
export function parseWindowSpec(spec: string): PowerWindow | string {
  const m = /^([a-z,-]+)@(\d\d:\d\d)-(\d\d:\d\d)$/.exec(spec.trim().toLowerCase());
  if (!m) return `window "${spec}": expected <days>@HH:MM-HH:MM, e.g. mon-fri@08:30-18:00`;
  const days = new Set<Weekday>();
  for (const part of m[1]!.split(',')) {
    const [from, to] = part.split('-') as [string, string | undefined];
    const a = WEEKDAYS.indexOf(from as Weekday);
    const b = to === undefined ? a : WEEKDAYS.indexOf(to as Weekday);
    if (a < 0 || b < 0) return `window "${spec}": "${part}" is not a day or range of ${WEEKDAYS.join(', ')}`;
    for (let i = a; ; i = (i + 1) % 7) {
      days.add(WEEKDAYS[i]!);
      if (i === b) break;
    }
  }
  return { days: WEEKDAYS.filter((d) => days.has(d)), start: m[2]!, end: m[3]! };
}

/** A window in the CLI's notation (days in week order, consecutive runs as ranges). */
export function formatWindow(w: PowerWindow): string {
  const idx = WEEKDAYS.map((d, i) => (w.days.includes(d) ? i : -1)).filter((i) => i >= 0);
  const runs: string[] = [];
  for (let k = 0; k < idx.length;) {
    let e = k;
    while (e + 1 < idx.length && idx[e + 1] === idx[e]! + 1) e++;
    runs.push(
      e - k >= 2
        ? `${WEEKDAYS[idx[k]!]}-${WEEKDAYS[idx[e]!]}`
        : idx
            .slice(k, e + 1)
            .map((i) => WEEKDAYS[i])
            .join(','),
    );
    k = e + 1;
  }
  return `${runs.join(',')}@${w.start}-${w.end}`;
}
