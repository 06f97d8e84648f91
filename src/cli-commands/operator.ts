/**
 * Operator commands of genesis-cp: power operations, fleet status, schedules, worker groups and
 * alerts. Human tables by default, --json for scripts. Exit codes: 0 ok, 1 the operation failed,
 * 2 bad usage or configuration, 3 the droplet/schedule/group is not known.
 */
import {
  type Client,
  Connection,
  Client as TemporalClient,
  ScheduleNotFoundError,
  WorkflowFailedError,
} from '@temporalio/client';
import { type Command, CommanderError, InvalidArgumentError } from 'commander';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { listOpenAlerts } from '../db/alerts';
import type { Config } from '../config';
import { createPool } from '../db/pool';
import { DROPLET_ID_RULE, parseDropletId } from '../domain/droplet-id';
import { dropletWorkspace as workspaceOfDroplet } from '../db/fleet-view';
import {
  REBOOT_REASONS,
  timingsForHeartbeatTimeout,
  WAKE_REASONS,
  type RebootReason,
  type WakeReason,
} from '../domain/power';
import { createLogger, type Logger } from '../logger';
import { createRedis } from '../redis';
import { temporalConnectionSettings } from '../temporal/connection-options';
import { setActivityHold } from '../temporal/activity-hold';
import { dataConverterFor } from '../temporal/payload-codec';
import { startHardReboot, startHibernate, startWake, type StartedPower } from '../temporal/power-starts';
import { liveWorkers } from '../temporal/worker-groups';
import { groupPause, pauseGroup, pausedGroups, resumeGroup } from '../worker/pause-flag';
import { scaleAlertIds, scaleAlertsContract } from '../../contracts/scale-alerts';
import { executeWorkflow } from '../temporal/start';
import { print } from './output';
import { EXIT_INTERRUPTED, waitForPower } from './progress';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_FOUND = 3;

export interface Ctx {
  config: Config;
  logger: Logger;
  pool?: Pool;
  redis?: Redis;
  client?: Client;
  connection?: Connection;
}

export async function withContext<T>(
  loadConfig: () => Config,
  needs: { pool?: boolean; redis?: boolean; temporal?: boolean },
  fn: (ctx: Ctx) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const logger = createLogger({ level: 'warn', name: 'genesis-cp' });
  const ctx: Ctx = { config, logger };
  try {
    if (needs.pool) ctx.pool = createPool(config.database, logger, { max: 2 });
    if (needs.redis) {
      if (!config.redis.url)
        throw new CommanderError(EXIT_USAGE, 'genesis-cp.usage', 'REDIS_URL is required for this command');
      ctx.redis = createRedis(config.redis.url, logger, { enableOfflineQueue: true });
    }
    if (needs.temporal) {
      ctx.connection = await Connection.connect({
        ...temporalConnectionSettings(config.temporal),
        connectTimeout: 5_000,
      });
      ctx.client = new TemporalClient({
        connection: ctx.connection,
        namespace: config.temporal.namespace,
        dataConverter: dataConverterFor(config.codec.keys),
      });
    }
    return await fn(ctx);
  } finally {
    await ctx.pool?.end();
    ctx.redis?.disconnect();
    await ctx.connection?.close();
  }
}

export const fail = (code: number, message: string) => new CommanderError(code, 'genesis-cp.failed', message);

/**
 * Parser of a `<droplet>` argument: commander refuses anything else before the command runs
 * (exit 2, usage), so a malformed or out-of-range id never reaches Postgres or Temporal.
 */
export function dropletIdArgument(text: string): number {
  const id = parseDropletId(text);
  if (id === undefined) throw new InvalidArgumentError(`${DROPLET_ID_RULE}.`);
  return id;
}

/** A droplet id read as text elsewhere: exit 2 (usage) with the rule unless it is one. */
export function dropletIdArg(dropletId: string): number {
  const id = parseDropletId(dropletId);
  if (id === undefined)
    throw new CommanderError(EXIT_USAGE, 'genesis-cp.usage', `droplet ${dropletId}: ${DROPLET_ID_RULE}`);
  return id;
}

export async function dropletWorkspace(
  pool: Pool,
  dropletId: number | string,
): Promise<{ id: number; workspaceId: string }> {
  const id = typeof dropletId === 'number' ? dropletId : dropletIdArg(dropletId);
  const workspaceId = await workspaceOfDroplet(pool, id);
  if (!workspaceId) throw fail(EXIT_NOT_FOUND, `droplet ${id} is not known`);
  return { id, workspaceId };
}

async function report(
  ctx: { client: Client; config: Config },
  started: StartedPower,
  dropletId: number,
  wait: boolean,
  json: boolean,
): Promise<void> {
  const row: Record<string, unknown> = {
    workflowId: started.workflowId,
    runId: started.runId,
    type: started.workflowType,
    joined: started.joined,
  };
  if (!wait) return print(row, json);
  try {
    const result = await waitForPower(ctx.client, started.handle, dropletId, {
      hasCodecKeys: !!ctx.config.codec.keys,
      // --json is for scripts: only the final object
      onLine: json ? () => undefined : undefined,
    });
    if (result === 'interrupted') {
      process.stderr.write(
        `stopped waiting; ${started.workflowType} ${started.workflowId} keeps running (genesis-cp droplets show ${dropletId})\n`,
      );
      throw new CommanderError(EXIT_INTERRUPTED, 'genesis-cp.interrupted', 'interrupted');
    }
    row.result = JSON.stringify(result);
    print(row, json);
  } catch (err) {
    if (err instanceof CommanderError) throw err;
    const cause =
      err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
    row.error = cause;
    print(row, json);
    throw fail(EXIT_FAILED, `${started.workflowType} failed: ${cause}`);
  }
}

/** Every operator command, one group at a time. */
export function registerOperatorCommands(program: Command, loadConfig: () => Config): void {
  registerPowerCommands(program, loadConfig);
  registerScheduleCommands(program, loadConfig);
  registerWorkerGroupCommands(program, loadConfig);
  registerActivityHoldCommands(program, loadConfig);
  registerScaleCommands(program, loadConfig);
  registerAlertCommands(program, loadConfig);
}

/** wake, hibernate, reboot: start (or join) the droplet's power workflow, optionally wait for it. */
function registerPowerCommands(program: Command, loadConfig: () => Config): void {
  const power = (name: string, description: string) =>
    program
      .command(name)
      .argument('<droplet>', 'DigitalOcean droplet id', dropletIdArgument)
      .description(description)
      .option('--wait', 'wait for the workflow to finish (exit 1 if it fails)')
      .option('--json', 'JSON output');

  power('wake', 'wake a droplet and verify it (joins a running power operation)')
    .option('--reason <reason>', `one of ${WAKE_REASONS.join(', ')}`, 'admin_request')
    .action((droplet: number, o: { wait?: boolean; json?: boolean; reason: string }) =>
      withContext(loadConfig, { pool: true, temporal: true }, async ({ pool, client, config }) => {
        if (!WAKE_REASONS.includes(o.reason as WakeReason))
          throw new CommanderError(
            EXIT_USAGE,
            'genesis-cp.usage',
            `--reason must be one of ${WAKE_REASONS.join(', ')}`,
          );
        const d = await dropletWorkspace(pool!, droplet);
        const s = await startWake(client!, config.temporal.taskQueue, {
          workspaceId: d.workspaceId,
          dropletId: d.id,
          reason: o.reason as WakeReason,
          timings: timingsForHeartbeatTimeout(config.watchdog.heartbeatTimeoutS),
        });
        await report({ client: client!, config }, s, d.id, !!o.wait, !!o.json);
      }),
    );

  power('hibernate', 'hibernate a droplet (graceful shutdown, power_off as fallback)').action(
    (droplet: number, o: { wait?: boolean; json?: boolean }) =>
      withContext(loadConfig, { pool: true, temporal: true }, async ({ pool, client, config }) => {
        const d = await dropletWorkspace(pool!, droplet);
        await report(
          { client: client!, config },
          await startHibernate(client!, config.temporal.taskQueue, {
            workspaceId: d.workspaceId,
            dropletId: d.id,
          }),
          d.id,
          !!o.wait,
          !!o.json,
        );
      }),
  );

  power('reboot', 'hard reboot a droplet with retries (power_cycle + verify)')
    .option('--reason <reason>', `one of ${REBOOT_REASONS.join(', ')}`, 'admin_request')
    .option('--attempts <n>', 'maximum power cycles', '3')
    .action((droplet: number, o: { wait?: boolean; json?: boolean; reason: string; attempts: string }) =>
      withContext(loadConfig, { pool: true, temporal: true }, async ({ pool, client, config }) => {
        if (!REBOOT_REASONS.includes(o.reason as RebootReason))
          throw new CommanderError(
            EXIT_USAGE,
            'genesis-cp.usage',
            `--reason must be one of ${REBOOT_REASONS.join(', ')}`,
          );
        const attempts = Number(o.attempts);
        if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20)
          throw new CommanderError(EXIT_USAGE, 'genesis-cp.usage', '--attempts must be 1..20');
        const d = await dropletWorkspace(pool!, droplet);
        const s = await startHardReboot(client!, config.temporal.taskQueue, {
          workspaceId: d.workspaceId,
          dropletId: d.id,
          reason: o.reason as RebootReason,
          maxAttempts: attempts,
          timings: timingsForHeartbeatTimeout(config.watchdog.heartbeatTimeoutS),
        });
        await report({ client: client!, config }, s, d.id, !!o.wait, !!o.json);
      }),
    );
}

/** schedules list|pause|resume|trigger: the control plane's Temporal Schedules. */
function registerScheduleCommands(program: Command, loadConfig: () => Config): void {
  const schedules = program.command('schedules').description('the control plane Temporal Schedules');
  const scheduleId = (name: string, config: Config) =>
    name.includes('/') ? name : `${name}/${config.temporal.taskQueue}`;
  schedules
    .command('list')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(loadConfig, { temporal: true }, async ({ client }) => {
        const rows: Record<string, unknown>[] = [];
        for await (const s of client!.schedule.list()) {
          const d = await client!.schedule.getHandle(s.scheduleId).describe();
          rows.push({
            id: s.scheduleId,
            paused: d.state.paused,
            every: d.spec.intervals?.map((i) => `${Number(i.every) / 1000}s`).join(',') ?? '',
            nextRun: d.info.nextActionTimes[0],
            lastRun: d.info.recentActions.at(-1)?.takenAt,
          });
        }
        print(rows, !!o.json);
      }),
    );
  for (const [verb, what] of [
    ['pause', 'pause a schedule (e.g. watchdog, scale-alerts)'],
    ['resume', 'resume a paused schedule'],
    ['trigger', 'run a schedule now'],
  ] as const) {
    schedules
      .command(`${verb} <schedule>`)
      .description(what)
      .option('--note <note>', 'why (recorded on the schedule)')
      .action((name: string, o: { note?: string }) =>
        withContext(loadConfig, { temporal: true }, async ({ client, config }) => {
          const handle = client!.schedule.getHandle(scheduleId(name, config));
          try {
            if (verb === 'pause') await handle.pause(o.note ?? 'paused with genesis-cp');
            else if (verb === 'resume') await handle.unpause(o.note ?? 'resumed with genesis-cp');
            else await handle.trigger();
          } catch (err) {
            if (err instanceof ScheduleNotFoundError)
              throw fail(EXIT_NOT_FOUND, `schedule ${handle.scheduleId} does not exist`);
            throw err;
          }
          process.stdout.write(`${verb}: ${handle.scheduleId}\n`);
        }),
      );
  }
}

/** workers pause|resume|status: worker groups. */
function registerWorkerGroupCommands(program: Command, loadConfig: () => Config): void {
  const workers = program
    .command('workers')
    .description('worker groups: pause to roll back, resume to bring back');
  workers
    .command('pause <group>')
    .description("stop a group's workers polling (in-flight work finishes); survives their restarts")
    .option('--reason <text>', 'why')
    .option('--force', 'pause a group no live worker belongs to (e.g. before deploying it)')
    .action((group: string, o: { reason?: string; force?: boolean }) =>
      withContext(loadConfig, { redis: true, temporal: true }, async ({ redis, client, config }) => {
        if (!o.force && !(await groupPause(redis!, config.redis.keyPrefix, group))) {
          const groups = [
            ...new Set(
              (
                await liveWorkers(client!, {
                  namespace: config.temporal.namespace,
                  taskQueue: config.temporal.taskQueue,
                })
              ).map((w) => w.group),
            ),
          ];
          if (!groups.includes(group))
            throw fail(
              EXIT_NOT_FOUND,
              `no live worker of task queue ${config.temporal.taskQueue} is in group "${group}" (live groups: ${
                groups.join(', ') || 'none'
              }); --force pauses it anyway`,
            );
        }
        await pauseGroup(redis!, config.redis.keyPrefix, {
          group,
          by: process.env.USER ?? 'operator',
          at: new Date().toISOString(),
          reason: o.reason,
        });
        process.stdout.write(`paused: ${group} (its workers stop polling within seconds)\n`);
      }),
    );
  workers.command('resume <group>').action((group: string) =>
    withContext(loadConfig, { redis: true }, async ({ redis, config }) => {
      if (!(await groupPause(redis!, config.redis.keyPrefix, group)))
        throw fail(EXIT_NOT_FOUND, `worker group ${group} is not paused`);
      await resumeGroup(redis!, config.redis.keyPrefix, group);
      process.stdout.write(`resumed: ${group}\n`);
    }),
  );
  workers
    .command('status')
    .description('live workers of the task queue by group, and paused groups')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(loadConfig, { redis: true, temporal: true }, async ({ redis, client, config }) => {
        const paused = await pausedGroups(redis!, config.redis.keyPrefix);
        const live = await liveWorkers(client!, {
          namespace: config.temporal.namespace,
          taskQueue: config.temporal.taskQueue,
        });
        const groups = [...new Set([...live.map((w) => w.group), ...paused.map((p) => p.group)])].sort();
        const rows = groups.map((g) => {
          const p = paused.find((x) => x.group === g);
          const workers = live.filter((w) => w.group === g);
          return {
            group: g,
            workers: workers.length,
            builds: [...new Set(workers.map((w) => w.buildId))].join(',') || '-',
            paused: p ? `since ${p.at} by ${p.by}${p.reason ? ` (${p.reason})` : ''}` : 'no',
          };
        });
        print(rows, !!o.json);
      }),
    );
}

/** activities hold|release: all activity work of the task queue. */
function registerActivityHoldCommands(program: Command, loadConfig: () => Config): void {
  const activities = program
    .command('activities')
    .description('hold or release all activity work of the task queue (provider outage)');
  for (const verb of ['hold', 'release'] as const) {
    activities
      .command(verb)
      .option('--reason <text>', 'why (recorded on the task queue)', `${verb} with genesis-cp`)
      .action((o: { reason: string }) =>
        withContext(loadConfig, { temporal: true }, async ({ client, config }) => {
          await setActivityHold(client!, {
            namespace: config.temporal.namespace,
            taskQueue: config.temporal.taskQueue,
            hold: verb === 'hold',
            reason: o.reason,
            identity: `genesis-cp:${process.env.USER ?? 'operator'}`,
          });
          process.stdout.write(
            verb === 'hold'
              ? `held: no activity of ${config.temporal.taskQueue} (nor of its interactive queue) is dispatched until \`genesis-cp activities release\`\n`
              : `released: activities of ${config.temporal.taskQueue} are dispatched again\n`,
          );
        }),
      );
  }
}

/** scale run: the scale probes now, on a worker. */
function registerScaleCommands(program: Command, loadConfig: () => Config): void {
  program
    .command('scale')
    .description('scale alerts')
    .command('run')
    .description('run the scale probes now (on a worker) and print the summary')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(loadConfig, { temporal: true }, async ({ client, config }) => {
        const taskQueue = config.temporal.taskQueue;
        const summary = await executeWorkflow(client!, scaleAlertsContract, config.scaleAlerts.input, {
          taskQueue,
          workflowId: scaleAlertIds.manualRun(taskQueue, Date.now()),
        });
        if (o.json) return print(summary as unknown as Record<string, unknown>, true);
        print(
          summary.probes.map((p) => ({
            probe: p.name,
            status: p.status,
            value: p.value,
            unit: p.unit,
            severity: p.severity ?? '',
          })),
          false,
        );
      }),
    );
}

/** alerts: the open alerts. */
function registerAlertCommands(program: Command, loadConfig: () => Config): void {
  program
    .command('alerts')
    .description('open alerts, most severe first')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const rows = await listOpenAlerts(pool!);
        print(
          rows.map((a) => ({
            severity: a.severity,
            key: a.key,
            opened: a.openedAt,
            droplet: a.dropletId,
            message: a.message,
          })),
          !!o.json,
        );
      }),
    );
}
