/**
 * genesis-cp power-schedule set|get|clear|list: a workspace's power schedule, as the dashboard sets
 * it through the client (the same table, the same validation). `get` and `list` also say what the
 * schedule wants right now (awake until, or asleep and the next wake). Exit 3 for an unknown
 * workspace or schedule, 2 for a bad schedule.
 */
import { type Command, CommanderError } from 'commander';
import type { Config } from '../config';
import {
  deletePowerSchedule,
  getPowerSchedule,
  listPowerSchedules,
  UnknownWorkspaceError,
  upsertPowerSchedule,
  type StoredPowerSchedule,
} from '../db/power-schedules';
import {
  formatWindow,
  invalidPowerSchedule,
  parseWindowSpec,
  powerIntent,
  resolvePowerSchedule,
  type PowerScheduleInput,
  type PowerWindow,
} from '../domain/power-schedule';
import { EXIT_NOT_FOUND, EXIT_USAGE, fail, withContext } from './operator';
import { print } from './output';

const usage = (message: string) => new CommanderError(EXIT_USAGE, 'genesis-cp.usage', message);

function row(s: StoredPowerSchedule, now = Date.now()): Record<string, unknown> {
  const intent = powerIntent(s, now);
  return {
    workspace: s.workspaceId,
    timeZone: s.timeZone,
    windows: s.windows.map(formatWindow).join(' ') || '-',
    leadMin: s.wakeLeadMinutes,
    idleMin: s.idleMinutes ?? 'never',
    now:
      intent.kind === 'awake'
        ? `awake until ${new Date(intent.until).toISOString()}`
        : `asleep${intent.nextAwake ? `, wakes ${new Date(intent.nextAwake).toISOString()}` : ''}`,
    updated: `${s.updatedAt}${s.updatedBy ? ` by ${s.updatedBy}` : ''}`,
  };
}

const asJson = (s: StoredPowerSchedule) => ({ ...s, now: row(s).now });

export function registerPowerScheduleCommands(program: Command, loadConfig: () => Config): void {
  const cmd = program
    .command('power-schedule')
    .description("a workspace's power schedule: awake windows, wake lead time, idle hibernation");

  cmd
    .command('set <workspace>')
    .description('set (or replace) the schedule, e.g. --tz Europe/Berlin --window mon-fri@08:30-18:00')
    .requiredOption('--tz <zone>', 'IANA time zone of the windows (Europe/Berlin, America/New_York, UTC)')
    .option(
      '--window <days@HH:MM-HH:MM>',
      'an awake window (repeatable): mon-fri@08:30-18:00, sat@22:00-02:00 (crossing midnight)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--lead <minutes>', 'wake this many minutes before a window opens (default 15)')
    .option('--idle <minutes|never>', 'hibernate outside windows after this many idle minutes (default 30)')
    .option('--json', 'JSON output')
    .action(
      (
        workspace: string,
        o: { tz: string; window: string[]; lead?: string; idle?: string; json?: boolean },
      ) =>
        withContext(loadConfig, { pool: true }, async ({ pool }) => {
          const windows: PowerWindow[] = [];
          for (const spec of o.window) {
            const w = parseWindowSpec(spec);
            if (typeof w === 'string') throw usage(w);
            windows.push(w);
          }
          const input: PowerScheduleInput = {
            workspaceId: workspace,
            timeZone: o.tz,
            windows,
            ...(o.lead !== undefined ? { wakeLeadMinutes: Number(o.lead) } : {}),
            ...(o.idle !== undefined ? { idleMinutes: o.idle === 'never' ? null : Number(o.idle) } : {}),
          };
          const problem = invalidPowerSchedule(input);
          if (problem) throw usage(problem);
          try {
            const stored = await upsertPowerSchedule(
              pool!,
              resolvePowerSchedule(input),
              `operator:${process.env.USER ?? 'cli'}`,
            );
            print(o.json ? asJson(stored) : row(stored), !!o.json);
          } catch (err) {
            if (err instanceof UnknownWorkspaceError) throw fail(EXIT_NOT_FOUND, err.message);
            throw err;
          }
        }),
    );

  cmd
    .command('get <workspace>')
    .description('the schedule and what it wants now')
    .option('--json', 'JSON output')
    .action((workspace: string, o: { json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const s = await getPowerSchedule(pool!, workspace);
        if (!s) throw fail(EXIT_NOT_FOUND, `workspace ${workspace} has no power schedule`);
        print(o.json ? asJson(s) : row(s), !!o.json);
      }),
    );

  cmd
    .command('clear <workspace>')
    .description('remove the schedule (its droplets stay as they are)')
    .action((workspace: string) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        if (!(await deletePowerSchedule(pool!, workspace)))
          throw fail(EXIT_NOT_FOUND, `workspace ${workspace} has no power schedule`);
        process.stdout.write(`cleared: ${workspace}\n`);
      }),
    );

  cmd
    .command('list')
    .description('every schedule, in workspace order')
    .option('--limit <n>', 'at most this many', '100')
    .option('--after <workspace>', 'start after this workspace (paging)')
    .option('--json', 'JSON output')
    .action((o: { limit: string; after?: string; json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw usage('--limit must be 1..10000');
        const all = await listPowerSchedules(pool!, { limit, after: o.after });
        print(o.json ? all.map(asJson) : all.map((s) => row(s)), !!o.json);
      }),
    );
}
