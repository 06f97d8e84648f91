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
import { listOpenAlerts } from '../alerts/store';
import type { Config } from '../config';
import { createPool } from '../db/pool';
import { DROPLET_ID_RULE, parseDropletId } from '../domain/droplet-id';
import { REBOOT_REASONS, WAKE_REASONS, type RebootReason, type WakeReason } from '../domain/power';
import { createLogger, type Logger } from '../logger';
import { createRedis } from '../redis';
import { temporalConnectionSettings } from '../temporal/connection-options';
import { setActivityHold } from '../temporal/activity-hold';
import { dataConverterFor } from '../temporal/payload-codec';
import { startHardReboot, startHibernate, startWake, type StartedPower } from '../temporal/power-starts';
import { groupPause, pauseGroup, pausedGroups, resumeGroup } from '../worker/pause-flag';
import { scaleAlertIds } from '../../workflows/messages';
import { scaleAlerts } from '../../workflows/scale-alerts';
import { print } from './output';

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
    if (needs.pool) ctx.pool = createPool(config.database.url, logger, { max: 2 });
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

async function dropletWorkspace(pool: Pool, id: number): Promise<{ id: number; workspaceId: string }> {
  const { rows } = await pool.query<{ workspace_id: string }>(
    'SELECT workspace_id FROM droplets WHERE id = $1',
    [id],
  );
  if (!rows[0]) throw fail(EXIT_NOT_FOUND, `droplet ${id} is not known`);
  return { id, workspaceId: rows[0].workspace_id };
}

async function report(started: StartedPower, wait: boolean, json: boolean): Promise<void> {
  const row: Record<string, unknown> = {
    workflowId: started.workflowId,
    runId: started.runId,
    type: started.workflowType,
    joined: started.joined,
  };
  if (!wait) return print(row, json);
  try {
    row.result = JSON.stringify(await started.handle.result());
    print(row, json);
  } catch (err) {
    const cause =
      err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
    row.error = cause;
    print(row, json);
    throw fail(EXIT_FAILED, `${started.workflowType} failed: ${cause}`);
  }
}

export function registerOperatorCommands(program: Command, loadConfig: () => Config): void {
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
        });
        await report(s, !!o.wait, !!o.json);
      }),
    );

  power('hibernate', 'hibernate a droplet (graceful shutdown, power_off as fallback)').action(
    (droplet: number, o: { wait?: boolean; json?: boolean }) =>
      withContext(loadConfig, { pool: true, temporal: true }, async ({ pool, client, config }) => {
        const d = await dropletWorkspace(pool!, droplet);
        await report(
          await startHibernate(client!, config.temporal.taskQueue, {
            workspaceId: d.workspaceId,
            dropletId: d.id,
          }),
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
        });
        await report(s, !!o.wait, !!o.json);
      }),
    );

  program
    .command('fleet')
    .command('status')
    .description('droplets by state, stale droplets, running remediations, paused worker groups')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(
        loadConfig,
        { pool: true, redis: true, temporal: true },
        async ({ pool, redis, client, config }) => {
          const states = await pool!.query<{ state: string; n: number }>(
            'SELECT state, count(*)::int AS n FROM droplets GROUP BY state ORDER BY state',
          );
          const stale = await pool!.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM droplets WHERE state IN ('ACTIVE_HEALTHY','ACTIVE_DEGRADED')
             AND (last_heartbeat_at IS NULL OR last_heartbeat_at < now() - make_interval(secs => $1))`,
            [config.watchdog.heartbeatTimeoutS],
          );
          const running = await client!.workflow.count(
            `ExecutionStatus = "Running" AND Operation IN ("wake", "hard_reboot", "hibernate")`,
          );
          const paused = await pausedGroups(redis!, config.redis.keyPrefix);
          const summary = {
            byState: Object.fromEntries(states.rows.map((r) => [r.state, r.n])),
            stale: stale.rows[0]!.n,
            runningPowerOperations: running.count,
            pausedWorkerGroups: paused.map((p) => p.group),
          };
          if (o.json) return print(summary, true);
          print(
            states.rows.map((r) => ({ state: r.state, droplets: r.n })),
            false,
          );
          print(
            {
              stale: summary.stale,
              running_power_operations: summary.runningPowerOperations,
              paused_groups: summary.pausedWorkerGroups.join(',') || '-',
            },
            false,
          );
        },
      ),
    );

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

  const workers = program
    .command('workers')
    .description('worker groups: pause to roll back, resume to bring back');
  workers
    .command('pause <group>')
    .description("stop a group's workers polling (in-flight work finishes); survives their restarts")
    .option('--reason <text>', 'why')
    .action((group: string, o: { reason?: string }) =>
      withContext(loadConfig, { redis: true }, async ({ redis, config }) => {
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
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(loadConfig, { redis: true }, async ({ redis, config }) => {
        print(
          (await pausedGroups(redis!, config.redis.keyPrefix)) as unknown as Record<string, unknown>[],
          !!o.json,
        );
      }),
    );

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
              ? `held: no activity of ${config.temporal.taskQueue} is dispatched until \`genesis-cp activities release\`\n`
              : `released: activities of ${config.temporal.taskQueue} are dispatched again\n`,
          );
        }),
      );
  }

  program
    .command('scale')
    .description('scale alerts')
    .command('run')
    .description('run the scale probes now (on a worker) and print the summary')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(loadConfig, { temporal: true }, async ({ client, config }) => {
        const summary = await client!.workflow.execute(scaleAlerts, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `${scaleAlertIds.run(config.temporal.taskQueue)}-manual-${Date.now()}`,
          args: [config.scaleAlerts.input],
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
