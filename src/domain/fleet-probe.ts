/**
 * The fleet probe's rules: what a HEALTH_CHECK + COLLECT_METRICS answer means for a droplet, how a
 * period is cut into slices and paced, and the storm brake. Pure; shared by the workflow, the
 * activities and tests.
 */

export interface FleetProbeInput {
  /** The whole ACTIVE fleet is probed once per period. Production default 300 s. */
  periodS?: number;
  /** Slices of the period (droplet id modulo slices); one activity per slice. Default: one per 10 s. */
  slices?: number;
  /** Probes in flight at once, fleet-wide (one probe run at a time, one slice at a time). */
  concurrency?: number;
  /** Per sidecar command. */
  commandTimeoutMs?: number;
  /** Executions failing: the failed share of the last `windowS` above `failedShare`, at least `minExecutions`. */
  executions?: { windowS?: number; failedShare?: number; minExecutions?: number };
  /** Brake: more than this share of the answering droplets bad this period... */
  stormFraction?: number;
  /** ...or more than this many... */
  stormMaxBad?: number;
  /** ...but never for fewer bad droplets than this. */
  stormMinBad?: number;
}

export const FLEET_PROBE_DEFAULTS = {
  periodS: 300,
  /** seconds of a period one slice covers (when `slices` is not given) */
  sliceS: 10,
  /** at most this many slices (bounds the run's history: ~6 events per slice) */
  maxSlices: 360,
  concurrency: 50,
  commandTimeoutMs: 10_000,
  executions: { windowS: 900, failedShare: 0.5, minExecutions: 10 },
  stormFraction: 0.1,
  stormMaxBad: 1_500,
  stormMinBad: 5,
};

export type FleetProbeConfig = Omit<typeof FLEET_PROBE_DEFAULTS, 'sliceS' | 'maxSlices'> & {
  slices: number;
};

/** The input completed with the defaults; slices derived from the period when not given. */
export function resolveFleetProbeInput(input: FleetProbeInput = {}): FleetProbeConfig {
  const d = FLEET_PROBE_DEFAULTS;
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const periodS = input.periodS ?? d.periodS;
  const slices = Math.min(
    d.maxSlices,
    Math.max(1, Math.floor(input.slices ?? Math.ceil(periodS / d.sliceS))),
  );
  return {
    ...d,
    ...defined,
    periodS,
    slices,
    executions: { ...d.executions, ...input.executions },
  } as FleetProbeConfig;
}

/** The share of the period the slices cover: the run ends before the Schedule's next start. */
export const PROBE_WINDOW_SHARE = 0.9;

/** When slice `i` of a period of `periodMs` in `slices` slices starts, from the period's start. */
export function sliceStartMs(i: number, slices: number, periodMs: number): number {
  return Math.floor((i * periodMs) / slices);
}

/**
 * The start offsets of `count` probes spread evenly over `windowMs` (the first at 0): a slice's
 * droplets are started at this pace, so the fleet is probed at a steady rate, not in bursts.
 */
export function paceOffsets(count: number, windowMs: number): number[] {
  if (count <= 0) return [];
  const step = windowMs / count;
  return Array.from({ length: count }, (_, i) => Math.floor(i * step));
}

export type ProbeVerdict = 'healthy' | 'degraded' | 'unreachable';
export type ProbeProblem = 'n8n_down' | 'n8n_degraded' | 'container_not_running' | 'executions_failing';

/** What one probe saw (the agent's answers, or why there were none). */
export interface ProbeObservation {
  health?: {
    n8n_status: 'healthy' | 'degraded' | 'down';
    container_status: string;
    cpu_percent?: number;
    memory_usage_mb?: number;
    memory_limit_mb?: number;
  };
  executions?: { executions_total: number; executions_failed: number };
  /** the error kind when HEALTH_CHECK failed (unreachable, timeout, refused, ...) */
  errorKind?: string;
}

export interface ProbeAssessment {
  verdict: ProbeVerdict;
  problems: ProbeProblem[];
  /** n8n container CPU and memory in percent, when docker reported them */
  cpuPercent?: number;
  memoryPercent?: number;
  /** executions failing (share above threshold over the window, with the minimum count) */
  failedShare?: number;
}

/** The failed share of the window, or undefined when too few executions ran to say. */
export function failingShare(
  e: { executions_total: number; executions_failed: number } | undefined,
  rule: { failedShare: number; minExecutions: number },
): { share: number; failing: boolean } | undefined {
  if (!e || e.executions_total < rule.minExecutions || e.executions_total <= 0) return undefined;
  const share = e.executions_failed / e.executions_total;
  return { share, failing: share > rule.failedShare };
}

/**
 * ACTIVE_DEGRADED is something measured on an awake droplet: n8n down or degraded (more than 50
 * running executions), or the n8n container not running (where docker reports it). Failing
 * executions are the tenant's problem (an alert), not the droplet's health. An agent that did not
 * answer is `unreachable`: the watchdog's keep-alive timeout decides about those, not the probe.
 */
export function assessProbe(
  o: ProbeObservation,
  rule: { failedShare: number; minExecutions: number },
): ProbeAssessment {
  if (!o.health) return { verdict: 'unreachable', problems: [] };
  const h = o.health;
  const problems: ProbeProblem[] = [];
  if (h.n8n_status === 'down') problems.push('n8n_down');
  if (h.n8n_status === 'degraded') problems.push('n8n_degraded');
  if (h.container_status !== 'unknown' && h.container_status !== 'running')
    problems.push('container_not_running');
  const verdict: ProbeVerdict = problems.length > 0 ? 'degraded' : 'healthy';
  const failing = failingShare(o.executions, rule);
  if (failing?.failing) problems.push('executions_failing');
  const a: ProbeAssessment = { verdict, problems };
  if (h.cpu_percent !== undefined) a.cpuPercent = h.cpu_percent;
  if (h.memory_usage_mb !== undefined && h.memory_limit_mb !== undefined && h.memory_limit_mb > 0)
    a.memoryPercent = (h.memory_usage_mb / h.memory_limit_mb) * 100;
  if (failing) a.failedShare = failing.share;
  return a;
}

/** A droplet counts as bad for the storm brake when any problem was measured. */
export function isBad(a: Pick<ProbeAssessment, 'problems'>): boolean {
  return a.problems.length > 0;
}

/** The per-droplet alerts: n8n down (or its container not running) and executions failing. */
export type ProbeAlertKind = 'n8n_down' | 'executions_failing';
export const PROBE_ALERT_KINDS: readonly ProbeAlertKind[] = ['n8n_down', 'executions_failing'];

export function probeAlertKinds(a: Pick<ProbeAssessment, 'problems'>): ProbeAlertKind[] {
  const kinds: ProbeAlertKind[] = [];
  if (a.problems.includes('n8n_down') || a.problems.includes('container_not_running')) kinds.push('n8n_down');
  if (a.problems.includes('executions_failing')) kinds.push('executions_failing');
  return kinds;
}

/** The stable dedup key of a droplet's probe alert: one open alert per droplet and kind. */
export const probeAlertKey = (dropletId: number, kind: ProbeAlertKind) => `droplet:${dropletId}:${kind}`;

/**
 * The storm brake over what this period's probe saw so far (this slice included): when too much
 * of the answering fleet is bad at once, suspect something shared (an n8n release, a provider
 * incident, our own probe), and send one fleet alert instead of one per droplet.
 */
export function probeStormBrake(
  bad: number,
  answered: number,
  opts: { stormFraction: number; stormMaxBad: number; stormMinBad: number },
): boolean {
  if (bad < opts.stormMinBad || answered === 0) return false;
  return bad / answered > opts.stormFraction || bad > opts.stormMaxBad;
}

export const PROBE_STORM_ALERT_KEY = 'probe:storm';

/** What one slice did (and, summed, one run). */
export interface ProbeSliceResult {
  /** ACTIVE droplets of the slice probed */
  probed: number;
  /** of them, the agent answered HEALTH_CHECK */
  answered: number;
  healthy: number;
  degraded: number;
  unreachable: number;
  /** answered with any problem (the storm brake's numerator) */
  bad: number;
  /** ACTIVE droplets left alone because a change is running on them */
  skippedBusy: number;
  /** state changes ACTIVE_HEALTHY <-> ACTIVE_DEGRADED */
  transitions: number;
  alertsRaised: number;
  alertsResolved: number;
  braked: boolean;
}

export interface FleetProbeSummary extends ProbeSliceResult {
  slices: number;
  periodS: number;
  /** p99 of this run's probe latencies (HEALTH_CHECK + COLLECT_METRICS), from the history */
  p99LatencyMs: number | null;
}

/** Adds a slice's counts to the run's (braked: any slice braked). */
export function addSlice(total: ProbeSliceResult, s: ProbeSliceResult): ProbeSliceResult {
  return {
    probed: total.probed + s.probed,
    answered: total.answered + s.answered,
    healthy: total.healthy + s.healthy,
    degraded: total.degraded + s.degraded,
    unreachable: total.unreachable + s.unreachable,
    bad: total.bad + s.bad,
    skippedBusy: total.skippedBusy + s.skippedBusy,
    transitions: total.transitions + s.transitions,
    alertsRaised: total.alertsRaised + s.alertsRaised,
    alertsResolved: total.alertsResolved + s.alertsResolved,
    braked: total.braked || s.braked,
  };
}

/** Probe latency histogram buckets (seconds), for the shared counters /metrics serves. */
export const PROBE_LATENCY_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function emptySliceResult(): ProbeSliceResult {
  return {
    probed: 0,
    answered: 0,
    healthy: 0,
    degraded: 0,
    unreachable: 0,
    bad: 0,
    skippedBusy: 0,
    transitions: 0,
    alertsRaised: 0,
    alertsResolved: 0,
    braked: false,
  };
}
