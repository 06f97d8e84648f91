/**
 * The sidecar command protocol v1, as the agent deployed on every droplet speaks it
 * (specs/sidecar-v1/PROTOCOL.md and the exchanges recorded from the real agent beside it).
 *
 * Envelope: `{action, payload}` -> `{success, result?, error?, execution_time_ms}`. Results are
 * validated leniently (extra fields pass) but every field the agent ALWAYS sends is required, and
 * nothing the agent leaves out is: the docker fields of HEALTH_CHECK are absent whenever docker
 * fails, HEALTH_CHECK never carries a version, DEPLOY_WORKFLOW answers `{id, webhookUrl?}`.
 *
 * Two-level success: RESTART_N8N, PULL_IMAGE and SWAP_CONTAINER (and the `{success}` answers of
 * the workflow/credential actions) report their own failure as `result.success: false` inside an
 * outer `success: true`, with no error text. `resultSucceeded` says which results carry that flag;
 * the client turns `false` into a SidecarActionFailedError naming the action.
 */
import { z } from 'zod';

export const SIDECAR_ACTIONS = [
  'HEALTH_CHECK',
  'DEPLOY_WORKFLOW',
  'GET_WORKFLOW',
  'UPDATE_WORKFLOW',
  'ACTIVATE_WORKFLOW',
  'DEACTIVATE_WORKFLOW',
  'DELETE_WORKFLOW',
  'INJECT_CREDENTIAL',
  'ROTATE_CREDENTIAL',
  'RESTART_N8N',
  'PULL_IMAGE',
  'SWAP_CONTAINER',
  'GET_LOGS',
  'COLLECT_METRICS',
] as const;
export type SidecarAction = (typeof SIDECAR_ACTIONS)[number];

/** The image SWAP_CONTAINER runs: the agent swaps the n8n container to `n8nio/n8n:<tag>`. */
export const N8N_IMAGE = 'n8nio/n8n';

/** What a v1 agent advertises in its handshake; none of them lets the agent update itself. */
export const V1_CAPABILITIES = ['deploy', 'gmail', 'smtp'] as const;
/**
 * The capability an agent would have to advertise before the control plane asks it to replace its
 * own container. No deployed agent advertises it (protocol v1 has no such command).
 */
export const SELF_UPDATE_CAPABILITY = 'self_update';

export type N8nStatus = 'healthy' | 'degraded' | 'down';
export type WorkflowJson = Record<string, unknown>;

export interface SidecarPayloads {
  HEALTH_CHECK: Record<string, never>;
  DEPLOY_WORKFLOW: { workflow_json: WorkflowJson; credential_map?: Record<string, string> };
  GET_WORKFLOW: { workflow_id: string };
  /** no credential_map is applied by the agent: substitute credential ids before sending */
  UPDATE_WORKFLOW: { workflow_id: string; workflow_json: WorkflowJson };
  ACTIVATE_WORKFLOW: { workflow_id: string };
  DEACTIVATE_WORKFLOW: { workflow_id: string };
  DELETE_WORKFLOW: { workflow_id: string };
  /** credential_type is the fleet's snake_case name (`openai_api`); the agent maps it to n8n's */
  INJECT_CREDENTIAL: { credential_type: string; credential_name: string; encrypted_data: string };
  ROTATE_CREDENTIAL: { credential_id: string; encrypted_data: string };
  RESTART_N8N: Record<string, never>;
  PULL_IMAGE: { image_name: string; tag: string };
  /** the n8n container's new tag (`n8nio/n8n:<new_image_tag>`) */
  SWAP_CONTAINER: { new_image_tag: string };
  GET_LOGS: { lines?: number; since?: string };
  COLLECT_METRICS: { since?: string };
}

const n8nStatus = z.enum(['healthy', 'degraded', 'down']);
/** `{success: boolean}`: the agent's inner verdict on the action */
const innerSuccess = { success: z.boolean() };

/** The n8n workflow object GET_WORKFLOW returns (n8n's public API shape; extra fields pass). */
export const n8nWorkflowSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  active: z.boolean(),
  nodes: z.array(z.record(z.string(), z.unknown())),
  connections: z.record(z.string(), z.unknown()),
  settings: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
});
export type N8nWorkflow = z.output<typeof n8nWorkflowSchema>;

export const sidecarResultSchemas = {
  HEALTH_CHECK: z.looseObject({
    n8n_status: n8nStatus,
    /** docker's state of the n8n container, or "unknown" when docker inspect failed */
    container_status: z.string(),
    container_health: z.string().optional(),
    cpu_percent: z.number().optional(),
    memory_usage_mb: z.number().optional(),
    memory_limit_mb: z.number().optional(),
  }),
  DEPLOY_WORKFLOW: z.looseObject({ id: z.string().min(1), webhookUrl: z.string().optional() }),
  GET_WORKFLOW: z.looseObject({ ...innerSuccess, workflow: n8nWorkflowSchema }),
  UPDATE_WORKFLOW: z.looseObject(innerSuccess),
  ACTIVATE_WORKFLOW: z.looseObject(innerSuccess),
  DEACTIVATE_WORKFLOW: z.looseObject(innerSuccess),
  DELETE_WORKFLOW: z.looseObject(innerSuccess),
  INJECT_CREDENTIAL: z.looseObject({ credential_id: z.string().min(1) }),
  ROTATE_CREDENTIAL: z.looseObject(innerSuccess),
  RESTART_N8N: z.looseObject({ ...innerSuccess, newPid: z.union([z.number(), z.string()]).optional() }),
  PULL_IMAGE: z.looseObject(innerSuccess),
  SWAP_CONTAINER: z.looseObject({ ...innerSuccess, oldContainerId: z.string().optional() }),
  /** docker logs of n8n; empty when docker fails */
  GET_LOGS: z.looseObject({ logs: z.array(z.string()) }),
  /** n8n execution statistics over the last 1,000 executions (not host metrics) */
  COLLECT_METRICS: z.looseObject({
    executions_total: z.number().int().min(0),
    executions_success: z.number().int().min(0),
    executions_failed: z.number().int().min(0),
    avg_duration_ms: z.number().min(0),
    since: z.string(),
  }),
} satisfies Record<SidecarAction, z.ZodType>;

export type SidecarResults = { [A in SidecarAction]: z.output<(typeof sidecarResultSchemas)[A]> };
export type HealthCheckResult = SidecarResults['HEALTH_CHECK'];
export type ExecutionStats = SidecarResults['COLLECT_METRICS'];

/** Actions whose result carries the agent's own `success` flag (two-level success). */
export const INNER_SUCCESS_ACTIONS: ReadonlySet<SidecarAction> = new Set(
  (Object.keys(sidecarResultSchemas) as SidecarAction[]).filter(
    (a) => 'success' in sidecarResultSchemas[a].shape,
  ),
);

/** Container actions: docker steps whose failure the agent reports only as `result.success:false`. */
export const CONTAINER_ACTIONS: ReadonlySet<SidecarAction> = new Set([
  'RESTART_N8N',
  'PULL_IMAGE',
  'SWAP_CONTAINER',
]);

/** `{action, payload}` -> this. */
export const commandResponseSchema = z.looseObject({
  success: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  execution_time_ms: z.number().optional(),
});
export type CommandResponse = z.output<typeof commandResponseSchema>;

/** GET <sidecar_url>/health (no auth): no version anywhere. */
export const sidecarHealthSchema = z.looseObject({
  status: z.string(),
  uptime: z.number(),
  workspace_id: z.string(),
  droplet_id: z.string(),
  smtp_enabled: z.boolean().optional(),
  n8n_bootstrapped: z.boolean().optional(),
});
export type SidecarHealth = z.output<typeof sidecarHealthSchema>;

/** HEALTH_CHECK as verification reads it: n8n healthy, and the container running where reported. */
export function isHealthy(h: HealthCheckResult): boolean {
  if (h.n8n_status !== 'healthy') return false;
  return h.container_status === 'unknown' || h.container_status === 'running';
}

/** The agent's 403 "Droplet mismatch (expected X, got Y)": the claim value it expects. */
export function expectedDropletIdOf(error: string): string | undefined {
  const m = /^Droplet mismatch \(expected (.*), got (.*)\)$/.exec(error);
  return m ? m[1] : undefined;
}
