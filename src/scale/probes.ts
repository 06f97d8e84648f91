/**
 * The scale probes: each measures one limit of the platform from its real source and returns
 * `{name, value, unit, status, detail}`. A probe whose subject does not exist here (a table that
 * was never created, Redis without maxmemory, a Temporal server without task-queue stats) is
 * `not_applicable`: it never alerts and never fails the run. Anything else that goes wrong
 * (Postgres down) throws, so the activity retries.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type Redis from 'ioredis';
import type { ScaleProbeQueries } from '../db/scale-probes';
import type { ProbeResult, ScaleAlertConfig } from '../domain/scale';
import { streamBacklog, type HeartbeatStreamNames } from '../heartbeats/stream';
import { controlPlaneTaskQueues } from '../../contracts/task-queues';

export interface ProbeContext {
  /** what the probes read from Postgres */
  scale: ScaleProbeQueries;
  redis: Redis;
  heartbeatStream: HeartbeatStreamNames;
  temporal?: { client: Client; taskQueue: string };
  clock?: () => number;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${(Math.round(n * 100) / 100).toString()} %`;
const notApplicable = (name: ProbeResult['name'], unit: string, detail: string): ProbeResult => ({
  name,
  value: null,
  unit,
  status: 'not_applicable',
  detail,
});

/** Partitions of the leads table (direct children in pg_inherits). */
export async function probeLeadsPartitions(ctx: ProbeContext, cfg: ScaleAlertConfig): Promise<ProbeResult> {
  const row = await ctx.scale.tablePartitions(cfg.leadsTable);
  if (!row) return notApplicable('leads_partitions', 'partitions', `table ${cfg.leadsTable} does not exist`);
  if (row.relkind !== 'p' && row.partitions === 0)
    return notApplicable('leads_partitions', 'partitions', `table ${cfg.leadsTable} is not partitioned`);
  return {
    name: 'leads_partitions',
    value: row.partitions,
    unit: 'partitions',
    status: 'ok',
    detail: `${fmt(row.partitions)} partitions of ${cfg.leadsTable} (maximum ${fmt(cfg.leadsMaxPartitions)})`,
  };
}

/**
 * Rows of email_events as the planner estimates them (pg_class.reltuples, summed over the leaf
 * partitions of a partitioned table): count(*) over a billion rows is not a probe.
 */
export async function probeEmailEventsRows(ctx: ProbeContext, cfg: ScaleAlertConfig): Promise<ProbeResult> {
  const row = await ctx.scale.tableRowEstimate(cfg.emailEventsTable);
  if (!row) return notApplicable('email_events_rows', 'rows', `table ${cfg.emailEventsTable} does not exist`);
  const parts = row.relkind === 'p' ? ` over ${row.leaves} partitions` : '';
  const never = row.unanalyzed > 0 ? `; ${row.unanalyzed} never analyzed (counted as 0)` : '';
  return {
    name: 'email_events_rows',
    value: row.estimate,
    unit: 'rows',
    status: 'ok',
    detail: `planner estimate (pg_class.reltuples${parts}), not count(*): ~${fmt(row.estimate)} rows in ${cfg.emailEventsTable}${never}`,
  };
}

/** Client connections in use as a percentage of the server's own max_connections. */
export async function probeConnections(ctx: ProbeContext): Promise<ProbeResult> {
  const { used, max } = await ctx.scale.clientConnections();
  const value = (used / max) * 100;
  return {
    name: 'db_connections',
    value,
    unit: 'percent',
    status: 'ok',
    detail: `${used} of max_connections ${max} client connections in use (${pct(value)})`,
  };
}

/** Database size and its five largest tables (informational: no thresholds by default). */
export async function probeDatabaseSize(ctx: ProbeContext): Promise<ProbeResult> {
  const size = await ctx.scale.databaseSize();
  const mb = (b: string) => `${(Number(b) / 1024 / 1024).toFixed(1)} MiB`;
  return {
    name: 'db_size',
    value: Number(size.bytes),
    unit: 'bytes',
    status: 'ok',
    detail: `${mb(size.bytes)}; largest tables: ${size.largest.map((r) => `${r.name} ${mb(r.bytes)}`).join(', ')}`,
  };
}

/** Entries waiting in the heartbeat stream (and delivered but unacknowledged). */
export async function probeHeartbeatBacklog(ctx: ProbeContext): Promise<ProbeResult> {
  const b = await streamBacklog(ctx.redis, ctx.heartbeatStream);
  return {
    name: 'heartbeat_backlog',
    value: b.length,
    unit: 'entries',
    status: 'ok',
    detail: `${fmt(b.length)} entries in ${ctx.heartbeatStream.key}; ${fmt(b.pending)} pending; lag ${b.lag ?? 'unknown'}`,
  };
}

const { TaskQueueType, TaskQueueKind } = temporal.api.enums.v1;

/**
 * Approximate backlog (workflow + activity tasks) of the control plane's task queues (the base one
 * and its siblings, contracts/task-queues.ts), from DescribeTaskQueue stats.
 */
export async function probeTemporalBacklog(ctx: ProbeContext, cfg: ScaleAlertConfig): Promise<ProbeResult> {
  if (!ctx.temporal)
    return notApplicable('temporal_task_queue_backlog', 'tasks', 'no Temporal client configured');
  const { client } = ctx.temporal;
  const taskQueue = cfg.taskQueue ?? ctx.temporal.taskQueue;
  let total = 0;
  const parts: string[] = [];
  for (const { queue } of controlPlaneTaskQueues(taskQueue))
    for (const [label, type] of [
      ['workflow', TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW],
      ['activity', TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
    ] as const) {
      let stats: temporal.api.taskqueue.v1.ITaskQueueStats | null | undefined;
      try {
        const res = await client.workflowService.describeTaskQueue({
          namespace: client.options.namespace,
          taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: type,
          reportStats: true,
        });
        stats = res.stats;
      } catch (err) {
        // gRPC UNIMPLEMENTED (12) / INVALID_ARGUMENT (3): a server that does not report stats.
        const code = (err as { code?: number }).code;
        if (code === 12 || code === 3)
          return notApplicable(
            'temporal_task_queue_backlog',
            'tasks',
            'server does not report task-queue stats',
          );
        throw err;
      }
      if (!stats)
        return notApplicable(
          'temporal_task_queue_backlog',
          'tasks',
          'server does not report task-queue stats',
        );
      const n = Number(stats.approximateBacklogCount ?? 0);
      total += n;
      parts.push(`${queue} ${label} ${fmt(n)}`);
    }
  return {
    name: 'temporal_task_queue_backlog',
    value: total,
    unit: 'tasks',
    status: 'ok',
    detail: `ApproximateBacklogCount: ${parts.join(', ')}`,
  };
}

/** Failed / closed workflows of the control plane's task queues that closed in the last window (visibility counts). */
export async function probeTemporalFailures(ctx: ProbeContext, cfg: ScaleAlertConfig): Promise<ProbeResult> {
  if (!ctx.temporal) return notApplicable('temporal_failed_ratio', 'ratio', 'no Temporal client configured');
  const { client } = ctx.temporal;
  const taskQueue = cfg.taskQueue ?? ctx.temporal.taskQueue;
  const since = new Date((ctx.clock ?? Date.now)() - cfg.failedWindowMs).toISOString();
  const queues = controlPlaneTaskQueues(taskQueue).map((q) => JSON.stringify(q.queue));
  const scope = `TaskQueue IN (${queues.join(', ')}) AND CloseTime > "${since}"`;
  const [failed, closed] = await Promise.all([
    client.workflow.count(`ExecutionStatus = "Failed" AND ${scope}`),
    client.workflow.count(`ExecutionStatus != "Running" AND ${scope}`),
  ]);
  const value = closed.count === 0 ? 0 : failed.count / closed.count;
  return {
    name: 'temporal_failed_ratio',
    value,
    unit: 'ratio',
    status: 'ok',
    detail: `${failed.count} of ${closed.count} workflows on ${taskQueue} (and its siblings) closed since ${since} failed`,
  };
}

/** Fraction of the droplets expected to heartbeat whose heartbeat is older than staleAfterS. */
export async function probeFleetStale(ctx: ProbeContext, cfg: ScaleAlertConfig): Promise<ProbeResult> {
  const { eligible, stale } = await ctx.scale.fleetStaleCounts(cfg.staleAfterS);
  if (eligible === 0)
    return notApplicable('fleet_stale_fraction', 'fraction', 'no droplet is expected to heartbeat');
  return {
    name: 'fleet_stale_fraction',
    value: stale / eligible,
    unit: 'fraction',
    status: 'ok',
    detail: `${fmt(stale)} of ${fmt(eligible)} non-hibernated droplets without a heartbeat for ${cfg.staleAfterS} s`,
  };
}

/** used_memory / maxmemory from INFO memory. */
export function parseRedisMemory(info: string): { used: number; max: number } {
  const field = (k: string) => {
    const m = new RegExp(`^${k}:(\\d+)\\s*$`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${k}`);
    return Number(m[1]);
  };
  return { used: field('used_memory'), max: field('maxmemory') };
}

export async function probeRedisMemory(ctx: ProbeContext): Promise<ProbeResult> {
  const { used, max } = parseRedisMemory(await ctx.redis.info('memory'));
  if (max === 0)
    return notApplicable(
      'redis_memory',
      'percent',
      `maxmemory 0 (unlimited); used_memory ${fmt(used)} bytes`,
    );
  const value = (used / max) * 100;
  return {
    name: 'redis_memory',
    value,
    unit: 'percent',
    status: 'ok',
    detail: `used_memory ${fmt(used)} of maxmemory ${fmt(max)} bytes (${pct(value)})`,
  };
}
