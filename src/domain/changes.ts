/**
 * Changes pushed to one tenant (n8n container update, credential injection, n8n workflow update): inputs,
 * defaults, status and failure types. Pure; shared by workflows, activities and start helpers.
 * Every duration is an input with a production default.
 */
import { isDropletId, MAX_DROPLET_ID } from './droplet-id';
import { invalidN8nWorkflowJson } from './n8n-workflow';

/**
 * The n8n container update of one droplet, blue-green through the agent's SWAP_CONTAINER
 * (`n8nio/n8n:<toTag>`). The tag it replaces comes from the control plane's own record (the agent
 * reports no version); `fromTag`, when given, must match that record.
 */
export interface N8nUpdateInput {
  workspaceId: string;
  dropletId: number;
  toTag: string;
  /** the caller's expectation of the recorded tag; the update is refused if the record differs */
  fromTag?: string;
  /** false: after the health gate, wait for the `promote` update (or `abort`). */
  autoPromote: boolean;
  /** HEALTH_CHECK healthy and a keep-alive after the swap must arrive within this. Default 5 min. */
  verifyWindowMs?: number;
  /** Probe interval inside the verify window. Default 10 s. */
  verifyPollMs?: number;
  /** Manual gate: without `promote` by then, the update rolls back. Default 24 h. */
  promotionDeadlineMs?: number;
  rolloutId?: string;
  wave?: number;
}

/**
 * Sized for the deployed agent's 60 s keep-alive: after a swap the next keep-alive can be a whole
 * interval away, and the new container needs its own start-up first.
 */
export const DEFAULT_UPDATE_VERIFY_WINDOW_MS = 5 * 60_000;
export const DEFAULT_UPDATE_VERIFY_POLL_MS = 10_000;
export const DEFAULT_PROMOTION_DEADLINE_MS = 24 * 60 * 60_000;

export type N8nUpdatePhase =
  | 'starting'
  | 'swapping'
  | 'verifying'
  | 'awaiting_promotion'
  | 'recording'
  | 'rolling_back'
  | 'done'
  | 'rolled_back'
  | 'failed';

export interface N8nUpdateStatus {
  phase: N8nUpdatePhase;
  fromTag?: string;
  toTag: string;
  lastError?: string;
}

export interface N8nUpdateResult {
  dropletId: number;
  tag: string;
  previousTag: string;
  promotedBy: 'auto' | 'manual';
}

/**
 * Protocol v1 has no command that replaces the agent's own container (SWAP_CONTAINER swaps n8n),
 * so an agent update is refused unless the agent advertises this capability in its handshake.
 */
export function agentSelfUpdateRefusal(
  capabilities: readonly string[] | null | undefined,
): string | undefined {
  if (capabilities?.includes('self_update')) return undefined;
  return (
    `the agent cannot update itself: protocol v1 has no such command (SWAP_CONTAINER swaps the n8n ` +
    `container) and the agent advertises ${capabilities?.length ? `[${capabilities.join(', ')}]` : 'no capabilities'}, ` +
    `not 'self_update'; update the n8n container with update-n8n / rollout --kind n8n`
  );
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

const nonEmpty = (v: unknown) => typeof v === 'string' && v.length > 0;
const positiveMs = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v) && v > 0);

function target(input: { workspaceId?: unknown; dropletId?: unknown }): string | undefined {
  if (!nonEmpty(input.workspaceId)) return 'workspaceId must be a non-empty string';
  if (!isDropletId(input.dropletId)) return `dropletId must be a positive integer up to ${MAX_DROPLET_ID}`;
  return undefined;
}

/** Docker image tags: 1-128 of letters, digits, _ . - (not starting with . or -). */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function invalidN8nUpdate(input: Partial<N8nUpdateInput>): string | undefined {
  const t = target(input);
  if (t) return t;
  if (typeof input.toTag !== 'string' || !IMAGE_TAG.test(input.toTag))
    return 'toTag must be a docker image tag (letters, digits, _ . -)';
  if (input.fromTag !== undefined && (typeof input.fromTag !== 'string' || !IMAGE_TAG.test(input.fromTag)))
    return 'fromTag must be a docker image tag (letters, digits, _ . -)';
  if (input.fromTag !== undefined && input.fromTag === input.toTag) return 'toTag must differ from fromTag';
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
  const json = invalidN8nWorkflowJson(input.workflowJson);
  if (json) return json;
  if (!nonEmpty(input.version)) return 'version must be a non-empty string';
  if (input.credentialMap !== undefined) {
    if (typeof input.credentialMap !== 'object' || input.credentialMap === null)
      return 'credentialMap must be an object of strings';
    for (const [k, v] of Object.entries(input.credentialMap))
      if (!nonEmpty(v)) return `credentialMap.${k} must be a non-empty string`;
  }
  return undefined;
}

export interface SetAgentDropletIdInput {
  workspaceId: string;
  dropletId: number;
  /** exactly what provisioning wrote into the agent's DROPLET_ID (compared byte for byte) */
  agentDropletId: string;
}

export function invalidAgentDropletId(input: Partial<SetAgentDropletIdInput>): string | undefined {
  const t = target(input);
  if (t) return t;
  if (typeof input.agentDropletId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(input.agentDropletId))
    return 'agentDropletId must be 1-128 printable characters without spaces';
  return undefined;
}
