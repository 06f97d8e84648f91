/**
 * Side effects of the fleet probe: one slice of the ACTIVE fleet probed (HEALTH_CHECK then
 * COLLECT_METRICS per droplet, started at an even pace across the slice's time, at most
 * `concurrency` in flight), its results written in one statement, ACTIVE_HEALTHY <-> ACTIVE_DEGRADED
 * through the droplets' transition function, per-droplet alerts raised or resolved (or one fleet
 * alert under the storm brake); and the run's end: its row, the brake's release, the history's
 * upkeep and the metrics. No DigitalOcean call anywhere.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { AlertSink } from './deps';
import type { ProbeRecord, ProbeTarget } from '../src/db/fleet-probe';
import { IllegalTransitionError, type DropletState } from '../src/domain/droplet-state';
import {
  assessProbe,
  emptySliceResult,
  isBad,
  paceOffsets,
  PROBE_ALERT_KINDS,
  PROBE_LATENCY_BUCKETS_S,
  PROBE_STORM_ALERT_KEY,
  probeAlertKey,
  probeAlertKinds,
  probeStormBrake,
  type FleetProbeConfig,
  type ProbeAlertKind,
  type ProbeAssessment,
  type ProbeObservation,
  type ProbeSliceResult,
} from '../src/domain/fleet-probe';
import { SHARED, type SharedMetrics } from '../src/observability/shared-metrics';
import { recordScheduleRun } from '../src/observability/schedule-runs';
import { SidecarError } from '../src/sidecar/errors';
import { sidecarTargetOf } from '../src/sidecar/target';
import { portsOf, type ActivityDeps } from './deps';
import { required } from './errors';

export interface ProbeSliceInput {
  slice: number;
  slices: number;
  /** the slice's share of the period: its probes are started evenly across it */
  sliceMs: number;
  config: FleetProbeConfig;
  /** this run's answered and bad droplets before this slice (the storm brake's running totals) */
  prior: { answered: number; bad: number };
  workflowId: string;
}

export interface FinishProbeRunInput {
  workflowId: string;
  startedAtMs: number;
  config: FleetProbeConfig;
  totals: ProbeSliceResult;
}

/** Droplet ids with a change workflow running on them (one visibility query for the whole fleet). */
async function dropletsWithRunningChanges(client: Client): Promise<Set<number>> {
  const busy = new Set<number>();
  const query =
    'ExecutionStatus = "Running" AND Operation IN ("n8n_update", "workflow_update", "credential_injection")';
  for await (const wf of client.workflow.list({ query })) {
    const raw = wf.searchAttributes?.DropletId;
    const id = Array.isArray(raw) ? Number(raw[0]) : Number(raw);
    if (Number.isFinite(id)) busy.add(id);
  }
  return busy;
}

function errorKind(err: unknown): string {
  if (err instanceof SidecarError) return err.code;
  return 'error';
}

/** Runs `fn(item)` for each item, item i started at `offsets[i]` from now, at most `limit` at once. */
async function paced<T>(
  items: readonly T[],
  offsets: readonly number[],
  limit: number,
  signal: AbortSignal,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const started = performance.now();
  const running = new Set<Promise<void>>();
  for (let i = 0; i < items.length; i++) {
    signal.throwIfAborted();
    const wait = started + offsets[i]! - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (running.size >= limit) await Promise.race(running);
    const p = fn(items[i]!).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
}

function observeLatency(metrics: SharedMetrics | undefined, seconds: number): void {
  if (!metrics) return;
  for (const le of PROBE_LATENCY_BUCKETS_S)
    if (seconds <= le) metrics.inc(SHARED.probeLatencyBucket, { le: String(le) });
  metrics.inc(SHARED.probeLatencyBucket, { le: '+Inf' });
  metrics.inc(SHARED.probeLatencyCount);
  metrics.inc(SHARED.probeLatencySum, {}, seconds);
}

export function createFleetProbeActivities(deps: ActivityDeps) {
  const { droplets, alerts, fleetProbe } = portsOf(deps);
  const metrics = deps.sharedMetrics;

  const alertFor = (t: ProbeTarget, kind: ProbeAlertKind, a: ProbeAssessment, cfg: FleetProbeConfig) =>
    kind === 'n8n_down'
      ? {
          key: probeAlertKey(t.dropletId, kind),
          kind,
          severity: 'critical' as const,
          title: `Droplet ${t.dropletId}: n8n is down`,
          message:
            `The agent of droplet ${t.dropletId} (workspace ${t.workspaceId}) answers, but n8n is not serving ` +
            `(${a.problems.join(', ')}): the tenant's workflows do not run.`,
          workspaceId: t.workspaceId,
          dropletId: t.dropletId,
          reason: a.problems.includes('n8n_down') ? 'n8n_down' : 'container_not_running',
        }
      : {
          key: probeAlertKey(t.dropletId, kind),
          kind,
          severity: 'warning' as const,
          title: `Droplet ${t.dropletId}: ${Math.round((a.failedShare ?? 0) * 100)}% of executions failing`,
          message:
            `${Math.round((a.failedShare ?? 0) * 100)}% of the n8n executions of the last ${cfg.executions.windowS} s ` +
            `failed on droplet ${t.dropletId} of workspace ${t.workspaceId} (threshold ${cfg.executions.failedShare * 100}%).`,
          workspaceId: t.workspaceId,
          dropletId: t.dropletId,
          reason: 'executions_failing',
          value: a.failedShare,
          threshold: cfg.executions.failedShare,
        };

  async function probeOne(
    t: ProbeTarget,
    cfg: FleetProbeConfig,
    signal: AbortSignal,
  ): Promise<{ record: ProbeRecord; assessment: ProbeAssessment }> {
    const probedAt = new Date();
    const base = { dropletId: t.dropletId, workspaceId: t.workspaceId, probedAt };
    const target = sidecarTargetOf({
      workspace_id: t.workspaceId,
      sidecar_url: t.sidecarUrl,
      agent_droplet_id: t.agentDropletId,
    });
    const observation: ProbeObservation = {};
    let error: string | undefined;
    const started = performance.now();
    if (!target) {
      observation.errorKind = 'no_agent';
      error = 'no sidecar_url recorded';
    } else {
      const sidecar = required(deps.sidecar, 'the sidecar client');
      const opts = { timeoutMs: cfg.commandTimeoutMs, signal };
      try {
        observation.health = (await sidecar.healthCheck(target, opts)).result;
      } catch (err) {
        observation.errorKind = `health_check:${errorKind(err)}`;
        error = (err as Error).message;
      }
      if (observation.health) {
        const since = new Date(Date.now() - cfg.executions.windowS * 1000).toISOString();
        try {
          observation.executions = (await sidecar.collectMetrics(target, { since }, opts)).result;
        } catch (err) {
          // n8n down: COLLECT_METRICS fails with the agent's error; the health answer stands
          metrics?.inc(SHARED.probeFailures, { kind: `collect_metrics:${errorKind(err)}` });
        }
      }
    }
    const latencyMs = performance.now() - started;
    if (observation.errorKind) metrics?.inc(SHARED.probeFailures, { kind: observation.errorKind });
    else observeLatency(metrics, latencyMs / 1000);
    const a = assessProbe(observation, cfg.executions);
    const record: ProbeRecord = { ...base, verdict: a.verdict, problems: a.problems };
    if (observation.health) {
      record.n8nStatus = observation.health.n8n_status;
      record.containerStatus = observation.health.container_status;
      record.latencyMs = latencyMs;
    }
    if (a.cpuPercent !== undefined) record.cpuPercent = a.cpuPercent;
    if (a.memoryPercent !== undefined) record.memoryPercent = a.memoryPercent;
    if (observation.executions) {
      record.executionsTotal = observation.executions.executions_total;
      record.executionsFailed = observation.executions.executions_failed;
    }
    if (error) record.error = error.slice(0, 500);
    return { record, assessment: a };
  }

  async function raise(sink: AlertSink | undefined, alert: Parameters<AlertSink['raise']>[0]) {
    if (!sink) {
      deps.logger.warn(alert, 'probe alert (no alert sink configured)');
      return false;
    }
    return (await sink.raise(alert)).notified;
  }

  /** One slice: see the module comment. */
  async function probeSlice(
    input: ProbeSliceInput,
    progress: { probed: () => number },
  ): Promise<ProbeSliceResult> {
    const ctx = Context.current();
    const cfg = input.config;
    const result = emptySliceResult();
    const targets = await fleetProbe.targets({ slice: input.slice, slices: input.slices });
    const busy = deps.temporal ? await dropletsWithRunningChanges(deps.temporal.client) : new Set<number>();
    const eligible = targets.filter((t) => !busy.has(t.dropletId));
    result.skippedBusy = targets.length - eligible.length;

    const probed: { target: ProbeTarget; record: ProbeRecord; assessment: ProbeAssessment }[] = [];
    progress.probed = () => probed.length;
    await paced(
      eligible,
      paceOffsets(eligible.length, input.sliceMs),
      cfg.concurrency,
      ctx.cancellationSignal,
      async (target) => {
        const r = await probeOne(target, cfg, ctx.cancellationSignal);
        probed.push({ target, ...r });
      },
    );

    // Latest on the droplet (still ACTIVE ones only) and every result in the history.
    const written = new Map<number, DropletState>();
    for (let i = 0; i < probed.length; i += 1_000) {
      const rows = await fleetProbe.recordResults(probed.slice(i, i + 1_000).map((p) => p.record));
      for (const r of rows) written.set(r.dropletId, r.state);
    }
    const current = probed.filter((p) => written.has(p.target.dropletId));
    for (const p of probed) {
      result.probed++;
      if (p.assessment.verdict === 'unreachable') result.unreachable++;
      else {
        result.answered++;
        if (p.assessment.verdict === 'healthy') result.healthy++;
        else result.degraded++;
        if (isBad(p.assessment)) result.bad++;
      }
      metrics?.inc(SHARED.probes, { verdict: p.assessment.verdict });
    }

    // Something measured: ACTIVE_HEALTHY <-> ACTIVE_DEGRADED (an unreachable agent changes nothing).
    for (const p of current) {
      if (p.assessment.verdict === 'unreachable') continue;
      const from = written.get(p.target.dropletId)!;
      const to: DropletState = p.assessment.verdict === 'healthy' ? 'ACTIVE_HEALTHY' : 'ACTIVE_DEGRADED';
      if (from === to) continue;
      try {
        const t = await droplets.transition({
          dropletId: p.target.dropletId,
          to,
          expectedFrom: [from],
          cause: to === 'ACTIVE_HEALTHY' ? 'probe:healthy' : `probe:${p.assessment.problems.join(',')}`,
          workflowId: input.workflowId,
          detail: { problems: p.assessment.problems },
        });
        if (t.changed) result.transitions++;
      } catch (err) {
        // the droplet moved on meanwhile (a hibernate, a change): its new owner decides
        if (!(err instanceof IllegalTransitionError)) throw err;
      }
    }

    // Alerts: the brake over this run's answers so far, or kept on while the fleet alert is open.
    const answered = input.prior.answered + result.answered;
    const bad = input.prior.bad + result.bad;
    const stormOpen = (await alerts.openSeverity(PROBE_STORM_ALERT_KEY)) !== null;
    result.braked = stormOpen || probeStormBrake(bad, answered, cfg);
    if (result.braked) {
      metrics?.set(SHARED.probeStormBraking, {}, 1);
      {
        await raise(deps.alerts, {
          key: PROBE_STORM_ALERT_KEY,
          kind: 'probe_storm',
          severity: 'critical',
          title: `Fleet probe: ${bad} of ${answered} droplets bad at once`,
          message:
            `${bad} of the ${answered} droplets the fleet probe reached this period have n8n down, degraded or ` +
            'failing executions. Suspect something shared (an n8n release, a provider incident): one alert for the ' +
            'fleet instead of one per droplet until a whole probe period is calm.',
          workflowId: input.workflowId,
          reason: 'probe_storm_brake',
          value: answered ? bad / answered : 0,
          threshold: cfg.stormFraction,
        });
      }
    }
    const open = await fleetProbe.openAlerts({
      dropletIds: current.map((p) => p.target.dropletId),
      kinds: PROBE_ALERT_KINDS,
    });
    const openByDroplet = new Map<number, Set<string>>();
    for (const o of open) {
      const s = openByDroplet.get(o.dropletId) ?? new Set<string>();
      s.add(o.key);
      openByDroplet.set(o.dropletId, s);
    }
    for (const p of current) {
      if (p.assessment.verdict === 'unreachable') continue; // nothing learned: leave its alerts as they are
      const kinds = probeAlertKinds(p.assessment);
      const keys = new Set(kinds.map((k) => probeAlertKey(p.target.dropletId, k)));
      if (!result.braked)
        for (const k of kinds)
          if (await raise(deps.alerts, alertFor(p.target, k, p.assessment, cfg))) result.alertsRaised++;
      for (const key of openByDroplet.get(p.target.dropletId) ?? [])
        if (!keys.has(key) && deps.alerts && (await deps.alerts.resolve(key)).resolved)
          result.alertsResolved++;
    }
    if (result.alertsRaised) metrics?.inc(SHARED.probeAlerts, { action: 'raised' }, result.alertsRaised);
    if (result.alertsResolved)
      metrics?.inc(SHARED.probeAlerts, { action: 'resolved' }, result.alertsResolved);
    return result;
  }

  return {
    /** Probes one slice of the ACTIVE fleet; see the module comment. Heartbeats every 2 s. */
    async probeFleetSlice(input: ProbeSliceInput): Promise<ProbeSliceResult> {
      const ctx = Context.current();
      const progress = { probed: () => 0 };
      // heartbeats throughout (probes, writes, alerts): a dead worker's slice is retried soon
      const beat = setInterval(() => ctx.heartbeat({ probed: progress.probed() }), 2_000);
      try {
        return await probeSlice(input, progress);
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * The run's end: its row (with the p99 latency), the storm brake released when the whole period
     * was calm, probe_history's partitions maintained, the run's gauges and the schedule's last run.
     */
    async finishFleetProbeRun(
      input: FinishProbeRunInput,
    ): Promise<{ p99LatencyMs: number | null; brakeReleased: boolean }> {
      const t = input.totals;
      const stillBad = probeStormBrake(t.bad, t.answered, input.config);
      let brakeReleased = false;
      if (!stillBad && deps.alerts)
        brakeReleased = (await deps.alerts.resolve(PROBE_STORM_ALERT_KEY)).resolved;
      const { p99LatencyMs } = await fleetProbe.recordRun({
        workflowId: input.workflowId,
        startedAt: new Date(input.startedAtMs),
        periodS: input.config.periodS,
        probed: t.probed,
        answered: t.answered,
        healthy: t.healthy,
        degraded: t.degraded,
        unreachable: t.unreachable,
        skippedBusy: t.skippedBusy,
        braked: stillBad,
      });
      const retention = await fleetProbe.maintainHistory({ retentionDays: deps.heartbeatRetentionDays });
      if (retention.created.length || retention.dropped.length)
        deps.logger.info({ ...retention }, 'probe history partitions maintained');
      if (metrics) {
        const seconds = (Date.now() - input.startedAtMs) / 1000;
        metrics.inc(SHARED.probeRuns);
        metrics.set(SHARED.probeLastRunProbed, {}, t.probed);
        metrics.set(SHARED.probeLastRunDurationSeconds, {}, seconds);
        metrics.set(SHARED.probeAgentsPerSecond, {}, seconds > 0 ? t.probed / seconds : 0);
        metrics.set(SHARED.probeLastRunDegraded, {}, t.degraded);
        metrics.set(SHARED.probeStormBraking, {}, stillBad ? 1 : 0);
        recordScheduleRun(metrics, 'fleet_probe', input.config.periodS);
      }
      deps.logger.info({ ...t, p99LatencyMs, brakeReleased }, 'fleet probe run finished');
      return { p99LatencyMs, brakeReleased };
    },
  };
}
