/**
 * The fleet at a glance: `fleet status`, `droplets list` and `droplets show`. Postgres through
 * src/db/fleet-view.ts (staleness with the watchdog's own timeout and rule), Temporal for what is
 * running now (visibility by DropletId, then each workflow's `status` query), Redis for paused
 * worker groups, the task queue's config for an activity hold.
 */
import type { Client } from '@temporalio/client';
import { type Command, CommanderError } from 'commander';
import type { Config } from '../config';
import { dropletDetail, dropletsByState, listDroplets } from '../db/fleet-view';
import { scanFleet } from '../db/watchdog';
import { DROPLET_STATES, type DropletState } from '../domain/droplet-state';
import { activityHold } from '../temporal/activity-hold';
import { pausedGroups } from '../worker/pause-flag';
import { dropletIdArg, EXIT_NOT_FOUND, EXIT_USAGE, fail, withContext } from './operator';
import { print } from './output';
import { codecKeyError, isCodecKeyProblem } from './progress';

const ago = (s: number | null) =>
  s === null
    ? 'never'
    : s < 120
      ? `${s}s ago`
      : s < 7200
        ? `${Math.round(s / 60)}m ago`
        : `${Math.round(s / 3600)}h ago`;
const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v)}%`);

export interface RunningOperation {
  workflowId: string;
  type: string;
  startedAt?: Date;
  phase?: string;
  attempt?: number;
  lastError?: string;
}

/** The droplet's running workflows (visibility by DropletId) with the phase their status query reports. */
export async function runningOperations(
  client: Client,
  dropletId: number,
  opts: { hasCodecKeys: boolean },
): Promise<RunningOperation[]> {
  const out: RunningOperation[] = [];
  for await (const w of client.workflow.list({
    query: `DropletId = "${dropletId}" AND ExecutionStatus = "Running"`,
  })) {
    const op: RunningOperation = { workflowId: w.workflowId, type: w.type, startedAt: w.startTime };
    try {
      const s = (await client.workflow.getHandle(w.workflowId).query('status')) as {
        phase?: string;
        attempt?: number;
        lastError?: string;
      };
      op.phase = s.phase;
      op.attempt = s.attempt;
      op.lastError = s.lastError;
    } catch (err) {
      if (isCodecKeyProblem(err)) throw codecKeyError(`${w.workflowId} is running`, opts.hasCodecKeys);
      op.phase = '(no answer to the status query)';
    }
    out.push(op);
  }
  return out;
}

function stateArg(v: string | undefined): DropletState | undefined {
  if (v === undefined) return undefined;
  const s = v.toUpperCase();
  if (!DROPLET_STATES.includes(s as DropletState))
    throw new CommanderError(
      EXIT_USAGE,
      'genesis-cp.usage',
      `--state must be one of ${DROPLET_STATES.join(', ')}`,
    );
  return s as DropletState;
}

export function registerFleetCommands(program: Command, loadConfig: () => Config): void {
  program
    .command('fleet')
    .command('status')
    .description(
      'droplets by state, stale droplets (as the watchdog sees them), operations, holds, paused groups',
    )
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) =>
      withContext(
        loadConfig,
        { pool: true, redis: true, temporal: true },
        async ({ pool, redis, client, config }) => {
          const w = config.watchdog;
          const timeoutS = w.heartbeatTimeoutS;
          const [states, scan, running, paused, hold] = await Promise.all([
            dropletsByState(pool!, timeoutS),
            // the watchdog's own scan: the same stale count it acts on
            scanFleet(pool!, { timeoutS, limit: 0, ...w.thresholds }),
            client!.workflow.count(
              `ExecutionStatus = "Running" AND Operation IN ("wake", "hard_reboot", "hibernate")`,
            ),
            pausedGroups(redis!, config.redis.keyPrefix),
            activityHold(client!, {
              namespace: config.temporal.namespace,
              taskQueue: config.temporal.taskQueue,
            }),
          ]);
          const summary = {
            byState: Object.fromEntries(states.map((r) => [r.state, r.droplets])),
            heartbeatTimeoutS: timeoutS,
            stale: scan.staleCount,
            eligible: scan.eligible,
            breaches: scan.breaches.length,
            runningPowerOperations: running.count,
            activityHold: hold,
            pausedWorkerGroups: paused,
          };
          if (o.json) return print(summary, true);
          print(
            states.map((r) => ({ state: r.state, droplets: r.droplets, silent: r.stale || '' })),
            false,
          );
          print(
            {
              stale: `${scan.staleCount} of ${scan.eligible} (no keep-alive for ${timeoutS} s)`,
              breaches: scan.breaches.length,
              running_power_operations: running.count,
              activities: hold.held
                ? `HELD since ${hold.since?.toISOString() ?? '?'}${hold.reason ? ` (${hold.reason})` : ''}; genesis-cp activities release`
                : 'dispatched',
              paused_groups: paused.map((p) => `${p.group} (by ${p.by})`).join(', ') || '-',
            },
            false,
          );
        },
      ),
    );

  const droplets = program.command('droplets').description('the droplets of the fleet');
  droplets
    .command('list')
    .description(
      'droplets with state, last keep-alive and metrics; stale ones are marked whatever their state says',
    )
    .option('--state <state>', `only this state (${DROPLET_STATES.join(', ')})`)
    .option('--stale', 'only droplets without a keep-alive within WATCHDOG_HEARTBEAT_TIMEOUT_S')
    .option('--workspace <id>', 'only this workspace')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'JSON output')
    .action((o: { state?: string; stale?: boolean; workspace?: string; limit: string; json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool, config }) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new CommanderError(EXIT_USAGE, 'genesis-cp.usage', '--limit must be a positive whole number');
        const rows = await listDroplets(pool!, config.watchdog.heartbeatTimeoutS, {
          state: stateArg(o.state),
          stale: o.stale,
          workspaceId: o.workspace,
          limit,
        });
        if (o.json) return print(rows as unknown as Record<string, unknown>[], true);
        print(
          rows.map((r) => ({
            droplet: r.dropletId,
            workspace: r.workspaceId,
            state: r.stale ? `${r.state} STALE` : r.state,
            since: r.stateSince.toISOString().slice(0, 19).replace('T', ' '),
            keep_alive: ago(r.heartbeatAgeS),
            n8n: r.n8nStatus ?? '-',
            cpu: pct(r.cpuPercent),
            mem: pct(r.memoryPercent),
            disk: pct(r.diskPercent),
          })),
          false,
        );
      }),
    );

  droplets
    .command('show <droplet>')
    .description('one droplet: state, keep-alive, versions, metrics, running operation, lifecycle, alerts')
    .option('--history <n>', 'lifecycle entries to show', '10')
    .option('--json', 'JSON output')
    .action((droplet: string, o: { history: string; json?: boolean }) =>
      withContext(loadConfig, { pool: true, temporal: true }, async ({ pool, client, config }) => {
        const id = dropletIdArg(droplet);
        const d = await dropletDetail(pool!, id, config.watchdog.heartbeatTimeoutS, Number(o.history) || 10);
        if (!d) throw fail(EXIT_NOT_FOUND, `droplet ${droplet} is not known`);
        const running = await runningOperations(client!, id, { hasCodecKeys: !!config.codec.keys });
        if (o.json) return print({ ...d, running } as unknown as Record<string, unknown>, true);
        const line = (k: string, v: unknown) => process.stdout.write(`${k.padEnd(12)}${String(v)}\n`);
        line('droplet', `${d.dropletId} (workspace ${d.workspaceId}, ${d.region ?? 'region ?'})`);
        line(
          'state',
          `${d.state} since ${d.stateSince.toISOString()}${d.stale ? '  STALE: no keep-alive within the heartbeat timeout' : ''}`,
        );
        line(
          'keep-alive',
          `${d.lastHeartbeatAt?.toISOString() ?? 'never'} (${ago(d.heartbeatAgeS)}; stale after ${config.watchdog.heartbeatTimeoutS} s)`,
        );
        line(
          'n8n',
          `${d.n8nStatus ?? '-'}; cpu ${pct(d.cpuPercent)} mem ${pct(d.memoryPercent)} disk ${pct(d.diskPercent)}; uptime ${d.uptimeSeconds ?? '-'} s`,
        );
        line('sidecar', d.sidecarUrl ?? '-');
        line(
          'row',
          `sidecar ${d.row.sidecarVersion ?? '-'}, n8n ${d.row.n8nVersion ?? '-'} (as the droplets row records them)`,
        );
        process.stdout.write('\nversions recorded by the control plane\n');
        print(
          d.versions.map((v) => ({
            component: v.component,
            version: v.version,
            previous: v.previousVersion ?? '-',
            since: v.updatedAt,
          })),
          false,
        );
        if (d.desired.length) {
          process.stdout.write('\ndesired by running rollouts\n');
          print(
            d.desired.map((x) => ({
              rollout: x.rolloutId,
              kind: x.kind,
              target: x.targetVersion,
              wave: x.wave,
              status: x.status,
            })),
            false,
          );
        }
        process.stdout.write('\nrunning operations\n');
        print(
          running.map((r) => ({
            workflow: r.workflowId,
            type: r.type,
            phase: r.phase ?? '-',
            attempt: r.attempt ?? '-',
            last_error: r.lastError ?? '',
            started: r.startedAt,
          })),
          false,
        );
        process.stdout.write('\nrecent lifecycle\n');
        print(
          d.lifecycle.map((l) => ({
            at: l.at,
            from: l.from ?? '-',
            to: l.to,
            cause: l.cause,
            workflow: l.workflowId ?? '',
          })),
          false,
        );
        process.stdout.write('\nopen alerts\n');
        print(
          d.alerts.map((a) => ({ severity: a.severity, key: a.key, opened: a.openedAt, message: a.message })),
          false,
        );
      }),
    );
}
