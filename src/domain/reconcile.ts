/**
 * Desired state per tenant and the drift between it and what the control plane recorded. Pure:
 * shared by the reconciler's workflows, its activities, the client, the CLI and the metrics.
 *
 * A tenant's desired state: the n8n image tag, its n8n workflows (each at a version, with the
 * artifact the change workflows take), and the credentials that must exist. What it runs is only
 * known from the control plane's own record (v1 agents report no version): tenant_versions for the
 * n8n tag and workflows, n8n_credentials for credentials, and for workflows what GET_WORKFLOW reads
 * back when the reconciler checks a sample or suspects drift.
 */
import { isDropletId, MAX_DROPLET_ID } from './droplet-id';
import { invalidN8nWorkflowJson } from './n8n-workflow';

/** One n8n workflow a tenant must run. */
export interface DesiredWorkflow {
  name: string;
  version: string;
  /** digest of the artifact (workflow JSON + credential map) in desired_artifacts */
  artifactDigest: string;
}

export interface DesiredCredential {
  type: string;
  name: string;
}

export interface DesiredState {
  workspaceId: string;
  /** null: the tag is not managed */
  n8nTag: string | null;
  workflows: DesiredWorkflow[];
  credentials: DesiredCredential[];
}

export interface RecordedWorkflow {
  name: string;
  version: string;
  /** the n8n workflow id tenant_versions holds (artifact.workflow_id), null when unknown */
  n8nWorkflowId: string | null;
}

export interface RecordedState {
  n8nTag: string | null;
  workflows: RecordedWorkflow[];
  /** credentials n8n_credentials holds for the workspace on this droplet */
  credentials: DesiredCredential[];
}

export type DriftItem =
  | { kind: 'n8n'; from: string | null; to: string }
  | {
      kind: 'workflow';
      name: string;
      from: string | null;
      to: string;
      /** missing: never deployed; version: another version recorded; modified: read back different */
      why: 'missing' | 'version' | 'modified';
    }
  | { kind: 'credential'; type: string; name: string };

export type DriftKind = DriftItem['kind'];
export const DRIFT_KINDS: readonly DriftKind[] = ['n8n', 'workflow', 'credential'];

const credentialKey = (c: DesiredCredential) => `${c.type}\u0000${c.name}`;

/**
 * What differs between desired and recorded, in the order the reconciler fixes it: credentials
 * first (a workflow may refer to them), then the n8n container, then workflows. `modified` names
 * workflows whose read-back (GET_WORKFLOW) differed from the desired artifact although the
 * recorded version is the desired one (edited by hand on the droplet).
 */
export function computeDrift(
  desired: DesiredState,
  recorded: RecordedState,
  modified: ReadonlySet<string> = new Set(),
): DriftItem[] {
  const drift: DriftItem[] = [];
  const have = new Set(recorded.credentials.map(credentialKey));
  for (const c of desired.credentials)
    if (!have.has(credentialKey(c))) drift.push({ kind: 'credential', type: c.type, name: c.name });
  if (desired.n8nTag !== null && desired.n8nTag !== recorded.n8nTag)
    drift.push({ kind: 'n8n', from: recorded.n8nTag, to: desired.n8nTag });
  const byName = new Map(recorded.workflows.map((w) => [w.name, w]));
  for (const w of desired.workflows) {
    const r = byName.get(w.name);
    if (!r) drift.push({ kind: 'workflow', name: w.name, from: null, to: w.version, why: 'missing' });
    else if (r.version !== w.version)
      drift.push({ kind: 'workflow', name: w.name, from: r.version, to: w.version, why: 'version' });
    else if (modified.has(w.name))
      drift.push({ kind: 'workflow', name: w.name, from: r.version, to: w.version, why: 'modified' });
  }
  return drift;
}

/** Desired workflows whose recorded version is the desired one: what a read-back can check. */
export function verifiableWorkflows(desired: DesiredState, recorded: RecordedState): RecordedWorkflow[] {
  const want = new Map(desired.workflows.map((w) => [w.name, w.version]));
  return recorded.workflows.filter((r) => r.n8nWorkflowId !== null && want.get(r.name) === r.version);
}

/** One line per drift item, for the CLI and logs (never a workflow JSON or a credential). */
export function describeDrift(d: DriftItem): string {
  if (d.kind === 'n8n') return `n8n ${d.from ?? '(none)'} -> ${d.to}`;
  if (d.kind === 'credential') return `credential ${d.type}/${d.name} missing`;
  return d.why === 'modified'
    ? `workflow ${d.name} ${d.to} edited on the droplet`
    : `workflow ${d.name} ${d.from ?? '(none)'} -> ${d.to}`;
}

/** Per-kind counts of drifted tenants (a tenant counts once per kind it drifts in). */
export function driftKindsOf(drift: readonly DriftItem[]): DriftKind[] {
  return DRIFT_KINDS.filter((k) => drift.some((d) => d.kind === k));
}

// ---- the reconciler's inputs ------------------------------------------------------------------

export type ReconcileReason = 'schedule' | 'after_wake' | 'operator';
export const RECONCILE_REASONS: readonly ReconcileReason[] = ['schedule', 'after_wake', 'operator'];

/** How one tenant's reconciliation runs its changes. */
export interface ReconcileOptions {
  /** consecutive failed reconciliations after which the tenant is marked and alerted; default 3 */
  maxFailures?: number;
  /** the n8n container update's health gate (defaults: the change's own) */
  n8n?: { verifyWindowMs?: number; verifyPollMs?: number };
}

export interface ReconcileTenantInput extends ReconcileOptions {
  workspaceId: string;
  dropletId: number;
  reason: ReconcileReason;
  /** read the tenant's workflows back with GET_WORKFLOW (a sample, or drift suspected) */
  verify: boolean;
}

export type ReconcileOutcome =
  | 'in_sync'
  | 'reconciled'
  | 'failed'
  /** failed and reached maxFailures: marked and alerted */
  | 'marked'
  /** not attempted: hibernated, busy, marked, no desired state (the reason says which) */
  | 'skipped';

export interface ReconcileTenantResult {
  workspaceId: string;
  dropletId: number;
  outcome: ReconcileOutcome;
  reason?: string;
  drift: DriftItem[];
  /** the change workflows run (their ids) */
  changes: string[];
  failures: number;
}

export interface ReconcilerInput extends ReconcileOptions {
  /** reconciliations started per run at most (the rate bound: this per period); default 20 */
  maxStartsPerTick?: number;
  /** reconciliations running at once at most, fleet-wide; default 50 */
  maxInFlight?: number;
  /** in-sync awake tenants whose workflows are read back per run (oldest check first); default 5 */
  verifySample?: number;
}

export const RECONCILER_DEFAULTS = {
  maxStartsPerTick: 20,
  maxInFlight: 50,
  verifySample: 5,
  maxFailures: 3,
} as const;

export interface ReconcilerSummary {
  tenants: number;
  drifted: number;
  byKind: Record<DriftKind, number>;
  marked: number;
  /** drifted tenants the reconciler may act on now (awake, not busy with a rollout, not marked) */
  eligible: number;
  started: number;
  joined: number;
  verifying: number;
}

/** The alert of a tenant the reconciler gave up on. */
export const reconcileAlertKey = (workspaceId: string) => `reconcile:${workspaceId}`;

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

export function invalidReconcileTenant(input: Partial<ReconcileTenantInput>): string | undefined {
  if (!nonEmpty(input.workspaceId)) return 'workspaceId must be a non-empty string';
  if (!isDropletId(input.dropletId)) return `dropletId must be a positive integer up to ${MAX_DROPLET_ID}`;
  if (!RECONCILE_REASONS.includes(input.reason as ReconcileReason))
    return `reason must be one of ${RECONCILE_REASONS.join(', ')}`;
  if (typeof input.verify !== 'boolean') return 'verify must be a boolean';
  return invalidReconcileOptions(input);
}

export function invalidReconcileOptions(o: ReconcileOptions & ReconcilerInput): string | undefined {
  for (const f of ['maxFailures', 'maxStartsPerTick', 'maxInFlight'] as const) {
    const v = o[f];
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) return `${f} must be a positive integer`;
  }
  if (o.verifySample !== undefined && !(Number.isSafeInteger(o.verifySample) && o.verifySample >= 0))
    return 'verifySample must be a non-negative integer';
  return undefined;
}

// ---- setting desired state --------------------------------------------------------------------

/**
 * A change of one tenant's desired state. Fields left out are left as they are; `n8nTag: null`
 * stops managing the tag; `workflows`/`credentials` entries add or replace by name, and
 * `removeWorkflows`/`removeCredentials` stop managing those.
 */
export interface SetDesiredStateInput {
  workspaceId: string;
  n8nTag?: string | null;
  workflows?: {
    name: string;
    version: string;
    workflowJson: Record<string, unknown>;
    credentialMap?: Record<string, string>;
  }[];
  removeWorkflows?: string[];
  /** credentials that must exist, with the fleet's encrypted blob the injection sends */
  credentials?: { type: string; name: string; encryptedData: string }[];
  removeCredentials?: DesiredCredential[];
  /** who: 'client', 'cli', 'cli:<user>', 'rollout:<id>' */
  setBy?: string;
}

/** A desired state as the client and the CLI read it: no workflow JSON, no credential blob. */
export interface DesiredStateView {
  workspaceId: string;
  n8nTag: string | null;
  workflows: (DesiredWorkflow & { setBy: string; rolloutId: string | null; updatedAt: string })[];
  credentials: (DesiredCredential & { setBy: string; updatedAt: string })[];
}

/** How a tenant's reconciliation has gone (its failures in a row, the mark, the last attempt). */
export interface ReconcileStatus {
  failures: number;
  marked: boolean;
  lastOutcome: string | null;
  lastError: string | null;
  lastAttemptAt: string | null;
  lastVerifiedAt: string | null;
}

export interface TenantDrift extends ReconcileStatus {
  workspaceId: string;
  dropletId: number | null;
  dropletState: string | null;
  drift: DriftItem[];
}

export interface FleetDrift {
  tenants: number;
  drifted: number;
  byKind: Record<DriftKind, number>;
  marked: number;
  /** the first drifted tenants (by workspace id), at most the limit asked for */
  driftedTenants: TenantDrift[];
}

/** Docker image tags: 1-128 of letters, digits, _ . - (not starting with . or -). */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Workflow names end up in workflow ids and component names: plain. */
const WORKFLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function invalidSetDesiredState(input: Partial<SetDesiredStateInput>): string | undefined {
  if (!nonEmpty(input.workspaceId)) return 'workspaceId must be a non-empty string';
  if (
    input.n8nTag !== undefined &&
    input.n8nTag !== null &&
    !(nonEmpty(input.n8nTag) && IMAGE_TAG.test(input.n8nTag))
  )
    return 'n8nTag must be a docker image tag (letters, digits, _ . -) or null';
  const names = new Set<string>();
  for (const [i, w] of (input.workflows ?? []).entries()) {
    if (typeof w !== 'object' || w === null) return `workflows[${i}] must be an object`;
    if (!nonEmpty(w.name) || !WORKFLOW_NAME.test(w.name))
      return `workflows[${i}].name must be 1-100 letters, digits, dots, dashes or underscores`;
    if (names.has(w.name)) return `workflows[${i}] repeats the name ${w.name}`;
    names.add(w.name);
    if (!nonEmpty(w.version)) return `workflows[${i}].version must be a non-empty string`;
    const json = invalidN8nWorkflowJson(w.workflowJson, `workflows[${i}].workflowJson`);
    if (json) return json;
    if (w.credentialMap !== undefined) {
      if (typeof w.credentialMap !== 'object' || w.credentialMap === null)
        return `workflows[${i}].credentialMap must be an object of strings`;
      for (const [k, v] of Object.entries(w.credentialMap))
        if (!nonEmpty(v)) return `workflows[${i}].credentialMap.${k} must be a non-empty string`;
    }
  }
  if (
    input.removeWorkflows !== undefined &&
    !(Array.isArray(input.removeWorkflows) && input.removeWorkflows.every(nonEmpty))
  )
    return 'removeWorkflows must be an array of workflow names';
  const creds = new Set<string>();
  for (const [i, c] of (input.credentials ?? []).entries()) {
    if (typeof c !== 'object' || c === null) return `credentials[${i}] must be an object`;
    if (!nonEmpty(c.type)) return `credentials[${i}].type must be a non-empty string`;
    if (!nonEmpty(c.name)) return `credentials[${i}].name must be a non-empty string`;
    if (!nonEmpty(c.encryptedData)) return `credentials[${i}].encryptedData must be a non-empty string`;
    const key = credentialKey(c);
    if (creds.has(key)) return `credentials[${i}] repeats type and name of an earlier entry`;
    creds.add(key);
  }
  for (const [i, c] of (input.removeCredentials ?? []).entries())
    if (typeof c !== 'object' || c === null || !nonEmpty(c.type) || !nonEmpty(c.name))
      return `removeCredentials[${i}] must be {type, name}`;
  if (input.setBy !== undefined && !nonEmpty(input.setBy)) return 'setBy must be a non-empty string';
  return undefined;
}

/** JSON with object keys sorted: the same artifact always has the same digest. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The text an artifact's digest is taken of. */
export function artifactText(workflowJson: Record<string, unknown>, credentialMap?: Record<string, string>) {
  return canonicalJson({ workflow_json: workflowJson, credential_map: credentialMap ?? null });
}
