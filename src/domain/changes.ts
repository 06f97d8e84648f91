/**
 * Changes pushed to one tenant (sidecar update, credential injection, n8n workflow update): inputs,
 * defaults, status and failure types. Pure; shared by workflows, activities and start helpers.
 * Every duration is an input with a production default.
 */
import { isDropletId, MAX_DROPLET_ID } from './droplet-id';

export interface SidecarUpdateInput {
  workspaceId: string;
  dropletId: number;
  fromVersion: string;
  toVersion: string;
  /** image name without tag, e.g. ghcr.io/genesis/sidecar */
  image: string;
  /** false: after the health gate, wait for the `promote` update (or `abort`). */
  autoPromote: boolean;
  /** HEALTH_CHECK healthy and a heartbeat with the new version must arrive within this. Default 5 min. */
  verifyWindowMs?: number;
  /** Probe interval inside the verify window. Default 10 s. */
  verifyPollMs?: number;
  /** Manual gate: without `promote` by then, the update rolls back. Default 24 h. */
  promotionDeadlineMs?: number;
  rolloutId?: string;
  wave?: number;
}

export const DEFAULT_UPDATE_VERIFY_WINDOW_MS = 5 * 60_000;
export const DEFAULT_UPDATE_VERIFY_POLL_MS = 10_000;
export const DEFAULT_PROMOTION_DEADLINE_MS = 24 * 60 * 60_000;

export type SidecarUpdatePhase =
  | 'starting'
  | 'pulling'
  | 'swapping'
  | 'verifying'
  | 'awaiting_promotion'
  | 'recording'
  | 'rolling_back'
  | 'done'
  | 'rolled_back'
  | 'failed';

export interface SidecarUpdateStatus {
  phase: SidecarUpdatePhase;
  fromVersion: string;
  toVersion: string;
  lastError?: string;
}

export interface SidecarUpdateResult {
  dropletId: number;
  version: string;
  previousVersion: string;
  promotedBy: 'auto' | 'manual';
}

export interface CredentialSpec {
  type: string;
  name: string;
  /** the fleet's credential blob (DESIGN.md section 3); opaque to the control plane */
  encryptedData: string;
  /** the n8n credential to rotate; absent = inject a new one */
  credentialId?: string;
}

export interface CredentialInjectionInput {
  workspaceId: string;
  dropletId: number;
  credentials: CredentialSpec[];
}

export interface CredentialOutcome {
  type: string;
  name: string;
  action: 'inject' | 'rotate';
  credentialId?: string;
  /** true when an earlier run of this workflow id already succeeded for it */
  skipped?: boolean;
  error?: string;
}

export interface CredentialInjectionResult {
  succeeded: CredentialOutcome[];
}

/** Details of a PartialCredentialFailure: exactly which succeeded and which failed. */
export interface CredentialFailureDetails {
  succeeded: CredentialOutcome[];
  failed: CredentialOutcome[];
}

export interface WorkflowUpdateInput {
  workspaceId: string;
  dropletId: number;
  workflowName: string;
  workflowJson: Record<string, unknown>;
  version: string;
  /** n8n credential placeholders -> n8n credential ids */
  credentialMap?: Record<string, string>;
}

export interface WorkflowUpdateResult {
  dropletId: number;
  workflowName: string;
  n8nWorkflowId: string;
  version: string;
  previousVersion: string | null;
  action: 'deploy' | 'update';
}

export interface ChangeStatus {
  phase: string;
  lastError?: string;
  [k: string]: unknown;
}

export const ChangeFailure = {
  invalidInput: 'InvalidInput',
  rolledBack: 'UpdateRolledBack',
  rollbackFailed: 'RollbackFailed',
  updateFailed: 'UpdateFailed',
  partialCredentials: 'PartialCredentialFailure',
  verificationFailed: 'VerificationFailed',
} as const;

/** The meta key a workflow's JSON carries its version in (read back to verify a deploy). */
export const WORKFLOW_VERSION_META_KEY = 'genesisVersion';

const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
const positiveMs = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v > 0);

function target(input: { workspaceId?: unknown; dropletId?: unknown }): string | undefined {
  if (!nonEmpty(input.workspaceId)) return 'workspaceId must be a non-empty string';
  if (!isDropletId(input.dropletId)) return `dropletId must be a positive integer up to ${MAX_DROPLET_ID}`;
  return undefined;
}

export function invalidSidecarUpdate(input: Partial<SidecarUpdateInput>): string | undefined {
  const t = target(input);
  if (t) return t;
  if (!nonEmpty(input.fromVersion)) return 'fromVersion must be a non-empty string';
  if (!nonEmpty(input.toVersion)) return 'toVersion must be a non-empty string';
  if (input.fromVersion === input.toVersion) return 'toVersion must differ from fromVersion';
  if (!nonEmpty(input.image)) return 'image must be a non-empty string';
  if (typeof input.autoPromote !== 'boolean') return 'autoPromote must be a boolean';
  for (const f of ['verifyWindowMs', 'verifyPollMs', 'promotionDeadlineMs'] as const)
    if (!positiveMs(input[f])) return `${f} must be a positive number of milliseconds`;
  if (input.rolloutId !== undefined && !nonEmpty(input.rolloutId))
    return 'rolloutId must be a non-empty string';
  if (input.wave !== undefined && (!Number.isInteger(input.wave) || input.wave < 0))
    return 'wave must be a non-negative integer';
  return undefined;
}

export function invalidCredentialInjection(input: Partial<CredentialInjectionInput>): string | undefined {
  const t = target(input);
  if (t) return t;
  if (!Array.isArray(input.credentials) || input.credentials.length === 0)
    return 'credentials must be a non-empty array';
  const seen = new Set<string>();
  for (const [i, c] of input.credentials.entries()) {
    if (typeof c !== 'object' || c === null) return `credentials[${i}] must be an object`;
    if (!nonEmpty(c.type)) return `credentials[${i}].type must be a non-empty string`;
    if (!nonEmpty(c.name)) return `credentials[${i}].name must be a non-empty string`;
    if (!nonEmpty(c.encryptedData)) return `credentials[${i}].encryptedData must be a non-empty string`;
    if (c.credentialId !== undefined && !nonEmpty(c.credentialId))
      return `credentials[${i}].credentialId must be a non-empty string`;
    const key = `${c.type}\u0000${c.name}`;
    if (seen.has(key)) return `credentials[${i}] repeats type and name of an earlier entry`;
    seen.add(key);
  }
  return undefined;
}

export function invalidWorkflowUpdate(input: Partial<WorkflowUpdateInput>): string | undefined {
  const t = target(input);
  if (t) return t;
  if (!nonEmpty(input.workflowName)) return 'workflowName must be a non-empty string';
  if (
    typeof input.workflowJson !== 'object' ||
    input.workflowJson === null ||
    Array.isArray(input.workflowJson)
  )
    return 'workflowJson must be an object';
  if (!nonEmpty(input.version)) return 'version must be a non-empty string';
  if (input.credentialMap !== undefined) {
    if (typeof input.credentialMap !== 'object' || input.credentialMap === null)
      return 'credentialMap must be an object of strings';
    for (const [k, v] of Object.entries(input.credentialMap))
      if (!nonEmpty(v)) return `credentialMap.${k} must be a non-empty string`;
  }
  return undefined;
}
