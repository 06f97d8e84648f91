/**
 * The sidecar command protocol (DESIGN.md section 3): actions, their payloads and their results.
 *
 * Specified by DESIGN.md: the envelope `{action, payload}` -> `{success, result?, error?,
 * execution_time_ms}`, HEALTH_CHECK's result, DEPLOY_WORKFLOW `{workflow_json, credential_map?}`,
 * INJECT_CREDENTIAL `{credential_type, credential_name, encrypted_data}` -> `{credential_id}`,
 * ROTATE_CREDENTIAL `{credential_id, encrypted_data}`, PULL_IMAGE `{image_name, tag}`,
 * SWAP_CONTAINER `{new_image_tag}`, GET_LOGS `{lines?, since?}`, COLLECT_METRICS `{since?}`.
 *
 * Our choices where DESIGN.md is silent (the simulated fleet implements exactly these):
 *   - GET/ACTIVATE/DEACTIVATE/DELETE_WORKFLOW take `{workflow_id}`; UPDATE_WORKFLOW takes
 *     `{workflow_id, workflow_json}`.
 *   - DEPLOY_WORKFLOW returns `{workflow_id}`; GET_WORKFLOW returns `{workflow_id, name, active,
 *     workflow_json}`.
 *   - Results of the remaining actions are only loosely typed (every field optional) because a
 *     deployed sidecar's exact shape is not specified; the client never depends on them.
 * Results are validated leniently: required fields must be present and typed, extra fields pass.
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

export type N8nStatus = 'healthy' | 'degraded' | 'down';
export type WorkflowJson = Record<string, unknown>;

export interface SidecarPayloads {
  HEALTH_CHECK: Record<string, never>;
  DEPLOY_WORKFLOW: { workflow_json: WorkflowJson; credential_map?: Record<string, string> };
  GET_WORKFLOW: { workflow_id: string };
  UPDATE_WORKFLOW: { workflow_id: string; workflow_json: WorkflowJson };
  ACTIVATE_WORKFLOW: { workflow_id: string };
  DEACTIVATE_WORKFLOW: { workflow_id: string };
  DELETE_WORKFLOW: { workflow_id: string };
  INJECT_CREDENTIAL: { credential_type: string; credential_name: string; encrypted_data: string };
  ROTATE_CREDENTIAL: { credential_id: string; encrypted_data: string };
  RESTART_N8N: Record<string, never>;
  PULL_IMAGE: { image_name: string; tag: string };
  SWAP_CONTAINER: { new_image_tag: string };
  GET_LOGS: { lines?: number; since?: string };
  COLLECT_METRICS: { since?: string };
}

const n8nStatus = z.enum(['healthy', 'degraded', 'down']);

export const sidecarResultSchemas = {
  HEALTH_CHECK: z.looseObject({
    n8n_status: n8nStatus,
    n8n_version: z.string(),
    container_status: z.string(),
    container_health: z.string(),
    cpu_percent: z.number(),
    memory_usage_mb: z.number(),
    memory_limit_mb: z.number(),
  }),
  DEPLOY_WORKFLOW: z.looseObject({ workflow_id: z.string().min(1) }),
  GET_WORKFLOW: z.looseObject({
    workflow_id: z.string(),
    name: z.string(),
    active: z.boolean(),
    workflow_json: z.record(z.string(), z.unknown()),
  }),
  UPDATE_WORKFLOW: z.looseObject({ workflow_id: z.string().optional() }),
  ACTIVATE_WORKFLOW: z.looseObject({ workflow_id: z.string().optional(), active: z.boolean().optional() }),
  DEACTIVATE_WORKFLOW: z.looseObject({ workflow_id: z.string().optional(), active: z.boolean().optional() }),
  DELETE_WORKFLOW: z.looseObject({ workflow_id: z.string().optional(), deleted: z.boolean().optional() }),
  INJECT_CREDENTIAL: z.looseObject({ credential_id: z.string().min(1) }),
  ROTATE_CREDENTIAL: z.looseObject({ credential_id: z.string().optional() }),
  RESTART_N8N: z.looseObject({ n8n_status: n8nStatus.optional() }),
  PULL_IMAGE: z.looseObject({ image_name: z.string().optional(), tag: z.string().optional() }),
  SWAP_CONTAINER: z.looseObject({
    previous_image_tag: z.string().optional(),
    new_image_tag: z.string().optional(),
  }),
  GET_LOGS: z.looseObject({ lines: z.array(z.string()).optional() }),
  COLLECT_METRICS: z.looseObject({
    cpu_percent: z.number().optional(),
    memory_percent: z.number().optional(),
    disk_percent: z.number().optional(),
    memory_usage_mb: z.number().optional(),
    memory_limit_mb: z.number().optional(),
    uptime_seconds: z.number().optional(),
  }),
} satisfies Record<SidecarAction, z.ZodType>;

export type SidecarResults = { [A in SidecarAction]: z.output<(typeof sidecarResultSchemas)[A]> };
export type HealthCheckResult = SidecarResults['HEALTH_CHECK'];

/** `{action, payload}` -> this. */
export const commandResponseSchema = z.looseObject({
  success: z.boolean(),
  result: z.unknown().optional(),
  error: z.string().optional(),
  execution_time_ms: z.number().optional(),
});
export type CommandResponse = z.output<typeof commandResponseSchema>;

/** GET <sidecar_url>/health */
export const sidecarHealthSchema = z.looseObject({
  status: z.string(),
  uptime: z.number(),
  workspace_id: z.string(),
  droplet_id: z.union([z.string(), z.number()]),
  version: z.string().optional(),
});
export type SidecarHealth = z.output<typeof sidecarHealthSchema>;
