/**
 * Fleet rollouts: an n8n image tag (the agent's SWAP_CONTAINER) or an n8n workflow version pushed
 * to many tenants, a canary
 * wave first, then waves, each wave judged against its failure budget. Pure: inputs, defaults,
 * validation, the wave plan and the budget rule, shared by the workflow, activities, client and CLI.
 */
import { agentSelfUpdateRefusal } from './changes';
import { invalidN8nWorkflowJson } from './n8n-workflow';

/**
 * 'n8n': the n8n container's image tag; 'workflow': an n8n workflow. There is no 'sidecar' kind:
 * protocol v1 agents cannot update themselves (see agentSelfUpdateRefusal in changes.ts).
 */
export type RolloutKind = 'n8n' | 'workflow';

/** Which tenants (workspaces with a droplet) the rollout reaches. */
export type RolloutSelector =
  | { all: true }
  | { workspaceIds: string[] }
  | { plan: string }
  /** a stable subset: a workspace is in when a hash of its id falls under the percentage, so
   * widening 10 -> 50 keeps the first 10 % in */
  | { percentage: number };

export interface FleetRolloutInput {
  /** chosen by the caller; the workflow id is rollout-<rolloutId> (a retried start joins it) */
  rolloutId: string;
  kind: RolloutKind;
  targetVersion: string;
  /** kind 'n8n': the per-tenant gate timings (targetVersion is the n8nio/n8n tag) */
  n8n?: { verifyWindowMs?: number; verifyPollMs?: number };
  /** kind 'workflow': the n8n workflow pushed to every tenant */
  workflow?: {
    workflowName: string;
    workflowJson: Record<string, unknown>;
    credentialMap?: Record<string, string>;
  };
  selector: RolloutSelector;
  /** tenants in wave 0; default 10 */
  canarySize?: number;
  /** tenants per later wave; default 100, at most MAX_WAVE_SIZE (bounds one run's history) */
  waveSize?: number;
  /** tenants updated at once within the rollout; default the kind's fleet-wide limit */
  maxConcurrency?: number;
  /** a wave halts when its failures exceed floor(size x ratio); default 0.05 */
  failureBudgetRatio?: number;
  /** wait between waves; default 0 */
  pauseBetweenWavesMs?: number;
  /** false: after the canary the rollout pauses until `resume` (the promotion); default true */
  autoPromote?: boolean;
  /**
   * What a halt or an abort rolls back: 'rollout' (default), every tenant this rollout updated, so
   * a version judged bad is left nowhere (Argo's abort); 'wave', only the stopped wave's tenants
   * (earlier waves passed their budget and keep the version).
   */
  rollbackScope?: 'wave' | 'rollout';
  startedBy?: string;
}

export const DEFAULT_CANARY_SIZE = 10;
export const DEFAULT_WAVE_SIZE = 100;
export const MAX_WAVE_SIZE = 1_000;
export const DEFAULT_FAILURE_BUDGET_RATIO = 0.05;
/** DESIGN.md section 2: concurrency defaults from the fleet in production. */
export const DEFAULT_ROLLOUT_CONCURRENCY: Record<RolloutKind, number> = { n8n: 50, workflow: 100 };

export type RolloutStatusName = 'running' | 'paused' | 'halted' | 'aborted' | 'completed';
export type TargetOutcome = 'succeeded' | 'failed' | 'rolled_back' | 'skipped';

/** One tenant of a wave, as planned. */
export interface RolloutTarget {
  workspaceId: string;
  dropletId: number;
  /** what the tenant ran when planned; a rollback returns it there */
  fromVersion: string | null;
}

export interface TargetResult {
  workspaceId: string;
  dropletId: number;
  status: TargetOutcome;
  reason?: string;
  workflowId?: string;
}

export interface WaveProgress {
  wave: number;
  canary: boolean;
  size: number;
  running: number;
  succeeded: number;
  failed: number;
  rolledBack: number;
  skipped: number;
  status: 'running' | 'succeeded' | 'halted' | 'aborted';
}

export interface RolloutFailure {
  wave: number;
  workspaceId: string;
  dropletId: number;
  reason: string;
}

export interface RolloutProgress {
  rolloutId: string;
  kind: RolloutKind;
  targetVersion: string;
  status: RolloutStatusName;
  /** why it is paused, halted or aborted */
  reason?: string;
  totalTenants: number;
  totalWaves: number;
  currentWave: number | null;
  totals: { succeeded: number; failed: number; rolledBack: number; skipped: number };
  /** the latest waves (older ones are in Postgres: rollout_waves) */
  waves: WaveProgress[];
  /** the latest failures with reasons (all are in Postgres: rollout_targets) */
  failures: RolloutFailure[];
}

export interface FleetRolloutResult {
  rolloutId: string;
  status: Exclude<RolloutStatusName, 'running' | 'paused'>;
  reason?: string;
  totals: RolloutProgress['totals'];
  wavesRun: number;
}

export const ROLLOUT_KEEP_WAVES = 20;
export const ROLLOUT_KEEP_FAILURES = 50;

export function rolloutDefaults(input: FleetRolloutInput) {
  return {
    canarySize: input.canarySize ?? DEFAULT_CANARY_SIZE,
    waveSize: input.waveSize ?? DEFAULT_WAVE_SIZE,
    maxConcurrency: input.maxConcurrency ?? DEFAULT_ROLLOUT_CONCURRENCY[input.kind],
    failureBudgetRatio: input.failureBudgetRatio ?? DEFAULT_FAILURE_BUDGET_RATIO,
    pauseBetweenWavesMs: input.pauseBetweenWavesMs ?? 0,
    autoPromote: input.autoPromote ?? true,
    rollbackScope: input.rollbackScope ?? 'rollout',
  };
}

/** Wave sizes for `total` tenants: the canary (wave 0), then waves of `waveSize`. */
export function planWaves(total: number, canarySize: number, waveSize: number): number[] {
  if (total <= 0) return [];
  const sizes = [Math.min(canarySize, total)];
  for (let left = total - sizes[0]!; left > 0; left -= waveSize) sizes.push(Math.min(waveSize, left));
  return sizes;
}

/** Planned size of wave `wave` (0 = the canary) of a plan of `total` tenants. */
export function waveSizeOf(wave: number, total: number, canarySize: number, waveSize: number): number {
  const canary = Math.min(canarySize, total);
  if (wave === 0) return canary;
  return Math.max(0, Math.min(waveSize, total - canary - (wave - 1) * waveSize));
}

/** The wave of the i-th tenant (0-based, in plan order). */
export function waveOf(index: number, canarySize: number, waveSize: number): number {
  return index < canarySize ? 0 : 1 + Math.floor((index - canarySize) / waveSize);
}

/** Failures a wave of `size` tolerates; one more halts the rollout. */
export function allowedFailures(size: number, ratio: number): number {
  return Math.floor(size * ratio + 1e-9);
}

export const rolloutStatusIsFinal = (s: RolloutStatusName) =>
  s === 'halted' || s === 'aborted' || s === 'completed';

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const positiveInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
/** Workflow ids and search attribute values carry it: keep it short and plain. */
export const ROLLOUT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function invalidFleetRollout(input: Partial<FleetRolloutInput>): string | undefined {
  if (!nonEmpty(input.rolloutId) || !ROLLOUT_ID_PATTERN.test(input.rolloutId))
    return 'rolloutId must be 1-64 letters, digits, dots, dashes or underscores';
  if ((input.kind as string) === 'sidecar') return agentSelfUpdateRefusal([]);
  if (input.kind !== 'n8n' && input.kind !== 'workflow') return "kind must be 'n8n' or 'workflow'";
  if (!nonEmpty(input.targetVersion)) return 'targetVersion must be a non-empty string';
  if (input.kind === 'n8n') {
    if (input.n8n !== undefined && (typeof input.n8n !== 'object' || input.n8n === null))
      return 'n8n must be an object';
    for (const f of ['verifyWindowMs', 'verifyPollMs'] as const) {
      const v = input.n8n?.[f];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0))
        return `n8n.${f} must be a positive number of milliseconds`;
    }
  } else {
    const w = input.workflow;
    if (typeof w !== 'object' || w === null) return 'workflow must be an object';
    if (!nonEmpty(w.workflowName)) return 'workflow.workflowName must be a non-empty string';
    const json = invalidN8nWorkflowJson(w.workflowJson, 'workflow.workflowJson');
    if (json) return json;
    if (w.credentialMap !== undefined) {
      if (typeof w.credentialMap !== 'object' || w.credentialMap === null)
        return 'workflow.credentialMap must be an object of strings';
      for (const [k, v] of Object.entries(w.credentialMap))
        if (!nonEmpty(v)) return `workflow.credentialMap.${k} must be a non-empty string`;
    }
  }
  const problem = invalidSelector(input.selector);
  if (problem) return problem;
  if (input.canarySize !== undefined && !positiveInt(input.canarySize))
    return 'canarySize must be a positive integer';
  if (input.waveSize !== undefined && (!positiveInt(input.waveSize) || input.waveSize > MAX_WAVE_SIZE))
    return `waveSize must be an integer from 1 to ${MAX_WAVE_SIZE}`;
  if (input.canarySize !== undefined && input.canarySize > MAX_WAVE_SIZE)
    return `canarySize must be at most ${MAX_WAVE_SIZE}`;
  if (
    input.maxConcurrency !== undefined &&
    (!positiveInt(input.maxConcurrency) || input.maxConcurrency > 1_000)
  )
    return 'maxConcurrency must be an integer from 1 to 1000';
  const r = input.failureBudgetRatio;
  if (r !== undefined && !(typeof r === 'number' && r >= 0 && r < 1))
    return 'failureBudgetRatio must be a number from 0 (no failure tolerated) to below 1';
  const p = input.pauseBetweenWavesMs;
  if (p !== undefined && !(typeof p === 'number' && Number.isFinite(p) && p >= 0))
    return 'pauseBetweenWavesMs must be a non-negative number of milliseconds';
  if (input.autoPromote !== undefined && typeof input.autoPromote !== 'boolean')
    return 'autoPromote must be a boolean';
  if (
    input.rollbackScope !== undefined &&
    input.rollbackScope !== 'wave' &&
    input.rollbackScope !== 'rollout'
  )
    return "rollbackScope must be 'wave' or 'rollout'";
  if (input.startedBy !== undefined && !nonEmpty(input.startedBy))
    return 'startedBy must be a non-empty string';
  return undefined;
}

function invalidSelector(s: unknown): string | undefined {
  const shape = 'selector must be one of {all: true}, {workspaceIds: [...]}, {plan}, {percentage}';
  if (typeof s !== 'object' || s === null) return shape;
  const keys = Object.keys(s);
  if (keys.length !== 1) return shape;
  const sel = s as Record<string, unknown>;
  if ('all' in sel) return sel.all === true ? undefined : 'selector.all must be true';
  if ('workspaceIds' in sel) {
    const ids = sel.workspaceIds;
    if (!Array.isArray(ids) || ids.length === 0) return 'selector.workspaceIds must be a non-empty array';
    if (ids.length > 15_000) return 'selector.workspaceIds must hold at most 15000 ids';
    if (!ids.every(nonEmpty)) return 'selector.workspaceIds must hold non-empty strings';
    return undefined;
  }
  if ('plan' in sel) return nonEmpty(sel.plan) ? undefined : 'selector.plan must be a non-empty string';
  if ('percentage' in sel) {
    const p = sel.percentage;
    return typeof p === 'number' && p > 0 && p <= 100
      ? undefined
      : 'selector.percentage must be a number above 0 and at most 100';
  }
  return shape;
}

export function describeSelector(s: RolloutSelector): string {
  if ('all' in s) return 'all tenants';
  if ('workspaceIds' in s) return `${s.workspaceIds.length} listed workspaces`;
  if ('plan' in s) return `plan ${s.plan}`;
  return `${s.percentage} % of tenants`;
}
