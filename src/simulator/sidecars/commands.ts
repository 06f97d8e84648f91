/**
 * What a simulated sidecar does for each action of DESIGN.md section 3 (payload/result choices as
 * in src/sidecar/protocol.ts). Every handler answers `{ok: true, result}` or `{ok: false, error}`;
 * the server turns that into 200 `{success, result?, error?, execution_time_ms}`.
 */
import { z } from 'zod';
import { CredentialBlobError, decryptCredential } from '../../sidecar/credential-blob';
import { SIDECAR_ACTIONS, type SidecarAction } from '../../sidecar/protocol';
import type { SimAgent } from './agent';

export interface CommandEnv {
  masterKey: string;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  pullDelayMs: number;
  swapDelayMs: number;
  restartDelayMs: number;
}

export type CommandOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

const ok = (result: Record<string, unknown>): CommandOutcome => ({ ok: true, result });
const fail = (error: string): CommandOutcome => ({ ok: false, error });

const workflowJson = z.record(z.string(), z.unknown());
const workflowId = z.object({ workflow_id: z.string().min(1) });
const blob = z.string().min(1);

const payloads = {
  HEALTH_CHECK: z.object({}),
  DEPLOY_WORKFLOW: z.object({
    workflow_json: workflowJson,
    credential_map: z.record(z.string(), z.string()).optional(),
  }),
  GET_WORKFLOW: workflowId,
  UPDATE_WORKFLOW: z.object({ workflow_id: z.string().min(1), workflow_json: workflowJson }),
  ACTIVATE_WORKFLOW: workflowId,
  DEACTIVATE_WORKFLOW: workflowId,
  DELETE_WORKFLOW: workflowId,
  INJECT_CREDENTIAL: z.object({
    credential_type: z.string().min(1),
    credential_name: z.string().min(1),
    encrypted_data: blob,
  }),
  ROTATE_CREDENTIAL: z.object({ credential_id: z.string().min(1), encrypted_data: blob }),
  RESTART_N8N: z.object({}),
  PULL_IMAGE: z.object({ image_name: z.string().min(1), tag: z.string().min(1) }),
  SWAP_CONTAINER: z.object({ new_image_tag: z.string().min(1) }),
  GET_LOGS: z.object({
    lines: z.number().int().min(1).max(10_000).optional(),
    since: z.iso.datetime().optional(),
  }),
  COLLECT_METRICS: z.object({ since: z.iso.datetime().optional() }),
} satisfies Record<SidecarAction, z.ZodType>;

type Payload<A extends SidecarAction> = z.output<(typeof payloads)[A]>;
type Handler<A extends SidecarAction> = (
  agent: SimAgent,
  p: Payload<A>,
  env: CommandEnv,
) => Promise<CommandOutcome>;

function n8nGuard(agent: SimAgent): CommandOutcome | undefined {
  return agent.n8nStatus === 'down' ? fail('n8n is not running') : undefined;
}

function openBlob(agent: SimAgent, env: CommandEnv, encrypted: string): Record<string, unknown> | string {
  try {
    return decryptCredential(env.masterKey, agent.workspaceId, encrypted);
  } catch (err) {
    if (err instanceof CredentialBlobError) return `credential blob rejected: ${err.reason}`;
    throw err;
  }
}

function workflowName(json: Record<string, unknown>, fallback: string): string {
  return typeof json.name === 'string' && json.name ? json.name : fallback;
}

const INTERRUPTED = fail('interrupted: the agent went down while the command ran');

/** Waits `ms`; false when the agent's processes died meanwhile (its work is then lost). */
async function survive(agent: SimAgent, env: CommandEnv, ms: number): Promise<boolean> {
  const epoch = agent.epoch;
  if (ms > 0) await env.sleep(ms);
  return agent.epoch === epoch;
}

const handlers: { [A in SidecarAction]: Handler<A> } = {
  async HEALTH_CHECK(agent) {
    const s = agent.sample();
    const status = agent.n8nStatus;
    return ok({
      n8n_status: status,
      n8n_version: agent.n8nVersion,
      container_status: agent.n8nRunning ? 'running' : 'restarting',
      container_health: !agent.n8nRunning ? 'starting' : status === 'down' ? 'unhealthy' : 'healthy',
      cpu_percent: s.cpu,
      memory_usage_mb: s.memMb,
      memory_limit_mb: agent.memoryLimitMb,
    });
  },

  async DEPLOY_WORKFLOW(agent, p, env) {
    const down = n8nGuard(agent);
    if (down) return down;
    const missing = Object.values(p.credential_map ?? {}).filter((id) => !agent.credentials.has(id));
    if (missing.length > 0) return fail(`unknown credential id(s) in credential_map: ${missing.join(', ')}`);
    const id = agent.newId('wf');
    agent.workflows.set(id, {
      id,
      name: workflowName(p.workflow_json, id),
      active: false,
      json: structuredClone(p.workflow_json),
      credentialMap: p.credential_map,
    });
    agent.log(env.now(), `workflow ${id} deployed`);
    return ok({ workflow_id: id });
  },

  async GET_WORKFLOW(agent, p) {
    const down = n8nGuard(agent);
    if (down) return down;
    const wf = agent.workflows.get(p.workflow_id);
    if (!wf) return fail(`workflow ${p.workflow_id} not found`);
    return ok({
      workflow_id: wf.id,
      name: wf.name,
      active: wf.active,
      workflow_json: structuredClone(wf.json),
    });
  },

  async UPDATE_WORKFLOW(agent, p, env) {
    const down = n8nGuard(agent);
    if (down) return down;
    const wf = agent.workflows.get(p.workflow_id);
    if (!wf) return fail(`workflow ${p.workflow_id} not found`);
    wf.json = structuredClone(p.workflow_json);
    wf.name = workflowName(p.workflow_json, wf.name);
    agent.log(env.now(), `workflow ${wf.id} updated`);
    return ok({ workflow_id: wf.id });
  },

  async ACTIVATE_WORKFLOW(agent, p) {
    const down = n8nGuard(agent);
    if (down) return down;
    const wf = agent.workflows.get(p.workflow_id);
    if (!wf) return fail(`workflow ${p.workflow_id} not found`);
    wf.active = true;
    return ok({ workflow_id: wf.id, active: true });
  },

  async DEACTIVATE_WORKFLOW(agent, p) {
    const down = n8nGuard(agent);
    if (down) return down;
    const wf = agent.workflows.get(p.workflow_id);
    if (!wf) return fail(`workflow ${p.workflow_id} not found`);
    wf.active = false;
    return ok({ workflow_id: wf.id, active: false });
  },

  async DELETE_WORKFLOW(agent, p, env) {
    const down = n8nGuard(agent);
    if (down) return down;
    if (!agent.workflows.delete(p.workflow_id)) return fail(`workflow ${p.workflow_id} not found`);
    agent.log(env.now(), `workflow ${p.workflow_id} deleted`);
    return ok({ workflow_id: p.workflow_id, deleted: true });
  },

  async INJECT_CREDENTIAL(agent, p, env) {
    const down = n8nGuard(agent);
    if (down) return down;
    const data = openBlob(agent, env, p.encrypted_data);
    if (typeof data === 'string') return fail(data);
    const id = agent.newId('cred');
    agent.credentials.set(id, { id, type: p.credential_type, name: p.credential_name, data, rotations: 0 });
    agent.log(env.now(), `credential ${id} (${p.credential_type}) injected`);
    return ok({ credential_id: id });
  },

  async ROTATE_CREDENTIAL(agent, p, env) {
    const down = n8nGuard(agent);
    if (down) return down;
    const cred = agent.credentials.get(p.credential_id);
    if (!cred) return fail(`credential ${p.credential_id} not found`);
    const data = openBlob(agent, env, p.encrypted_data);
    if (typeof data === 'string') return fail(data);
    cred.data = data;
    cred.rotations++;
    agent.log(env.now(), `credential ${cred.id} rotated`);
    return ok({ credential_id: cred.id });
  },

  async RESTART_N8N(agent, _p, env) {
    const degraded = agent.faults.get('degraded');
    agent.n8nRunning = false;
    if (!(await survive(agent, env, env.restartDelayMs))) return INTERRUPTED;
    agent.n8nRunning = true;
    agent.n8nRestarts++;
    if (degraded?.kind === 'degraded' && degraded.clearsOnRestart) agent.faults.delete('degraded');
    agent.log(env.now(), 'n8n restarted');
    if (agent.n8nStatus === 'down') return fail('n8n did not become healthy after restart');
    return ok({ n8n_status: agent.n8nStatus });
  },

  async PULL_IMAGE(agent, p, env) {
    if (!(await survive(agent, env, env.pullDelayMs))) return INTERRUPTED;
    agent.pulledTags.add(p.tag);
    agent.log(env.now(), `pulled ${p.image_name}:${p.tag}`);
    return ok({ image_name: p.image_name, tag: p.tag });
  },

  async SWAP_CONTAINER(agent, p, env) {
    const previous = agent.sidecarVersion;
    if (p.new_image_tag === previous) {
      return ok({ previous_image_tag: previous, new_image_tag: previous, changed: false });
    }
    if (!agent.pulledTags.has(p.new_image_tag))
      return fail(`image tag ${p.new_image_tag} has not been pulled`);
    agent.n8nRunning = false;
    if (!(await survive(agent, env, env.swapDelayMs))) return INTERRUPTED;
    agent.sidecarVersion = p.new_image_tag;
    agent.n8nRunning = true;
    agent.log(env.now(), `container swapped ${previous} -> ${p.new_image_tag}`);
    return ok({ previous_image_tag: previous, new_image_tag: p.new_image_tag, changed: true });
  },

  async GET_LOGS(agent, p) {
    const since = p.since ? Date.parse(p.since) : undefined;
    let lines = [...agent.logLines()];
    if (since !== undefined) lines = lines.filter((l) => Date.parse(l.slice(0, 24)) >= since);
    return ok({ lines: lines.slice(-(p.lines ?? 100)) });
  },

  async COLLECT_METRICS(agent, _p, env) {
    const s = agent.sample();
    return ok({
      cpu_percent: s.cpu,
      memory_percent: s.mem,
      disk_percent: s.disk,
      memory_usage_mb: s.memMb,
      memory_limit_mb: agent.memoryLimitMb,
      uptime_seconds: agent.uptimeSeconds(env.now()),
      n8n_status: agent.n8nStatus,
      workflows_total: agent.workflows.size,
      workflows_active: [...agent.workflows.values()].filter((w) => w.active).length,
    });
  },
};

export function isKnownAction(action: string): action is SidecarAction {
  return (SIDECAR_ACTIONS as readonly string[]).includes(action);
}

/** Runs one authorised command on the agent. Unknown actions and bad payloads fail (200 success:false). */
export async function executeCommand(
  agent: SimAgent,
  action: string,
  payload: unknown,
  env: CommandEnv,
): Promise<CommandOutcome> {
  if (!isKnownAction(action)) return fail(`unknown action: ${action}`);
  const forced = agent.failingAction(action);
  if (forced) return fail(forced);
  const parsed = payloads[action].safeParse(payload ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(
      `invalid payload for ${action}: ${issue?.path.join('.') || '(payload)'} ${issue?.message ?? ''}`.trim(),
    );
  }
  const handler = handlers[action] as Handler<SidecarAction>;
  return handler(agent, parsed.data as Payload<SidecarAction>, env);
}
