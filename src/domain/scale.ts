/**
 * Scale alerts: the probes run every 15 minutes, their thresholds and the summary of a run. Pure:
 * shared by the scaleAlerts workflow and its activities.
 *
 * Defaults are the production limits of DESIGN.md section 2 (leads partitions 12,000 / 14,000 of a
 * maximum 15,000; email_events rows 800 M / 950 M; connections 80 % / 95 % of max_connections) and
 * the seed's monitoring table (heartbeat backlog > 1,000, failed workflows > 1 %, stale heartbeats).
 * A level is entered at value >= threshold and left below threshold * (1 - hysteresis).
 */
import { DEFAULT_HEARTBEAT_TIMEOUT_S } from './liveness';

export const SCALE_PROBES = [
  'leads_partitions',
  'email_events_rows',
  'db_connections',
  'db_size',
  'heartbeat_backlog',
  'temporal_task_queue_backlog',
  'temporal_failed_ratio',
  'fleet_stale_fraction',
  'redis_memory',
] as const;
export type ScaleProbeName = (typeof SCALE_PROBES)[number];

export interface ProbeResult {
  name: ScaleProbeName;
  /** null when the probe is not applicable. */
  value: number | null;
  unit: string;
  status: 'ok' | 'not_applicable';
  detail?: string;
}

export interface ScaleThreshold {
  warning?: number;
  critical?: number;
}

export interface ScaleAlertInput {
  /** Partitioned table whose partition count is watched. Default `leads`. */
  leadsTable?: string;
  /** Table whose planner row estimate is watched. Default `email_events`. */
  emailEventsTable?: string;
  /** Hard partition limit reported in the detail. Default 15,000. */
  leadsMaxPartitions?: number;
  /** Window of the failed-workflow ratio. Default 15 min (one schedule interval). */
  failedWindowMs?: number;
  /** A heartbeat older than this is stale. Default 300 s. */
  staleAfterS?: number;
  /** Task queue the Temporal probes look at. Default the worker's own. */
  taskQueue?: string;
  hysteresis?: number;
  /** Per-probe overrides; a probe without thresholds (db_size) is informational and never alerts. */
  thresholds?: Partial<Record<ScaleProbeName, ScaleThreshold>>;
}

export interface ScaleAlertConfig {
  leadsTable: string;
  emailEventsTable: string;
  leadsMaxPartitions: number;
  failedWindowMs: number;
  staleAfterS: number;
  taskQueue?: string;
  hysteresis: number;
  thresholds: Partial<Record<ScaleProbeName, ScaleThreshold>>;
}

export const SCALE_DEFAULTS: ScaleAlertConfig = {
  // The Genesis app's own tables, in public (the control plane's live in its schema, which is
  // the search_path of its connections: an unqualified name would not find them).
  leadsTable: 'public.leads',
  emailEventsTable: 'public.email_events',
  leadsMaxPartitions: 15_000,
  failedWindowMs: 15 * 60 * 1000,
  staleAfterS: DEFAULT_HEARTBEAT_TIMEOUT_S,
  hysteresis: 0.05,
  thresholds: {
    leads_partitions: { warning: 12_000, critical: 14_000 },
    email_events_rows: { warning: 800_000_000, critical: 950_000_000 },
    db_connections: { warning: 80, critical: 95 },
    heartbeat_backlog: { warning: 1_000 },
    temporal_task_queue_backlog: { warning: 1_000 },
    temporal_failed_ratio: { warning: 0.01 },
    fleet_stale_fraction: { warning: 0.05 },
    redis_memory: { warning: 80, critical: 95 },
  },
};

export const SCALE_SCHEDULE_EVERY_MS = 15 * 60 * 1000;

/** `[schema.]name`, lower-case identifiers only: passed to to_regclass, never spliced into SQL. */
const TABLE_NAME = /^([a-z_][a-z0-9_$]*\.)?[a-z_][a-z0-9_$]*$/;

/** Defaults filled in and checked; throws a RangeError naming the bad field. */
export function resolveScaleInput(input: ScaleAlertInput = {}): ScaleAlertConfig {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const thresholds = { ...SCALE_DEFAULTS.thresholds };
  for (const [name, t] of Object.entries(input.thresholds ?? {}) as [ScaleProbeName, ScaleThreshold][]) {
    if (!SCALE_PROBES.includes(name)) throw new RangeError(`thresholds.${name}: unknown probe`);
    thresholds[name] = t;
  }
  const cfg: ScaleAlertConfig = { ...SCALE_DEFAULTS, ...defined, thresholds };
  for (const f of ['leadsTable', 'emailEventsTable'] as const) {
    if (!TABLE_NAME.test(cfg[f])) throw new RangeError(`${f} must be a lower-case [schema.]table name`);
  }
  for (const f of ['leadsMaxPartitions', 'failedWindowMs', 'staleAfterS'] as const) {
    if (!(Number.isFinite(cfg[f]) && cfg[f] > 0)) throw new RangeError(`${f} must be a positive number`);
  }
  if (!(cfg.hysteresis >= 0 && cfg.hysteresis < 1)) throw new RangeError('hysteresis must be in [0, 1)');
  for (const [name, t] of Object.entries(thresholds) as [ScaleProbeName, ScaleThreshold][]) {
    if (t.warning !== undefined && !Number.isFinite(t.warning))
      throw new RangeError(`thresholds.${name}.warning must be a number`);
    if (t.critical !== undefined && !Number.isFinite(t.critical))
      throw new RangeError(`thresholds.${name}.critical must be a number`);
    if (t.warning !== undefined && t.critical !== undefined && t.critical < t.warning)
      throw new RangeError(`thresholds.${name}: critical must not be below warning`);
  }
  return cfg;
}

export const scaleAlertKey = (probe: ScaleProbeName) => `scale:${probe}`;
export const SCALE_ALERT_KIND = 'scale';

export interface ProbeEvaluation {
  key: string;
  /** The severity held after this run; null when nothing is breached (or the probe cannot alert). */
  severity: 'warning' | 'critical' | null;
  opened: boolean;
  resolved: boolean;
  notified: boolean;
}

export interface ScaleAlertsSummary {
  probes: (ProbeResult & { severity: 'warning' | 'critical' | null })[];
  /** Probes whose activity failed after its retries (the run goes on without them). */
  errors: { name: ScaleProbeName; error: string }[];
  opened: number;
  resolved: number;
}
