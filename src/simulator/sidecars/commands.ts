/**
 * What the deployed v1 agent does for each action (specs/sidecar-v1/PROTOCOL.md, the table, and
 * recorded-exchanges.json), quirks included. A handler returns the `result` (outer success:true) or
 * throws a CommandError whose message becomes 200 `{success:false, error}`.
 *
 * Recorded (must not change): result shapes; n8n unreachable -> "Failed to <verb>: connect
 * ECONNREFUSED <host:port>"; "Unknown command: X"; container actions catch their own docker
 * failure and answer `{success:false}` inside an outer success:true, without text; DEPLOY_WORKFLOW
 * forwards only name/nodes/connections/settings (+ active:false), with credential_map ids replaced
 * in the JSON; UPDATE_WORKFLOW forwards workflow_json as given (meta included, no credential_map);
 * COLLECT_METRICS `since: "all-time"` when not asked for.
 * Not recorded (chosen as the agent's axios calls would fail): n8n answering an error status ->
 * "Failed to <verb>: Request failed with status code <n>" (404 for an unknown id, 400 for a
 * workflow without name/nodes/connections/settings, 503 from an unhealthy n8n); a credential blob
 * that does not open -> "Failed to create/update credential: <node:crypto message>".
 */
import { CredentialBlobError, decryptCredential } from '../../sidecar/credential-blob';
import type { SimAgent, SimWorkflow } from './agent';

export interface CommandEnv {
  masterKey: string;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** docker pull duration (an image not yet on the droplet) */
  pullDelayMs: number;
  /** time for a new n8n container to pass its docker health check */
  swapDelayMs: number;
  /** the agent's docker health wait for a new container (v1: 60 s) */
  swapHealthWaitMs: number;
  /** docker restart n8n duration (n8n down meanwhile) */
  restartDelayMs: number;
}

/** The text of a handler failure (200 success:false). */
export class CommandError extends Error {}

export const V1_ACTIONS = [
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
export type V1Action = (typeof V1_ACTIONS)[number];

export type CommandOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

type Payload = Record<string, unknown>;
type Handler = (agent: SimAgent, p: Payload, env: CommandEnv) => Promise<Record<string, unknown>>;

/** An allowed image for PULL_IMAGE: n8n's, or the fleet's sidecar image from any registry owner. */
const ALLOWED_IMAGE = /^(?:n8nio\/n8n|(?:[a-z0-9.-]+\/)+genesis-sidecar)$/;
const N8N_IMAGE = 'n8nio/n8n';

/** The fleet's snake_case credential types the agent maps to n8n's (openai_api is recorded). */
const CREDENTIAL_TYPES: Record<string, string> = {
  openai_api: 'openAiApi',
  anthropic_api: 'anthropicApi',
  google_oauth2: 'googleOAuth2Api',
  gmail_oauth2: 'gmailOAuth2',
  smtp: 'smtp',
  http_header_auth: 'httpHeaderAuth',
  slack_api: 'slackApi',
};
const n8nCredentialType = (t: string) =>
  CREDENTIAL_TYPES[t] ?? (t.includes('_') ? t.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) : t);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** n8n's public API, as the agent's axios sees it: throws "Failed to <verb>: <reason>". */
function n8n(agent: SimAgent, verb: string): void {
  const down = agent.n8nApiError();
  if (down) throw new CommandError(`Failed to ${verb}: ${down}`);
}

function n8nStatusError(verb: string, status: number): CommandError {
  return new CommandError(`Failed to ${verb}: Request failed with status code ${status}`);
}

function workflowOf(agent: SimAgent, id: unknown, verb: string): SimWorkflow {
  const wf = typeof id === 'string' ? agent.workflows.get(id) : undefined;
  if (!wf) throw n8nStatusError(verb, 404);
  return wf;
}

/** Replaces every template credential id by the tenant's, anywhere in the JSON (as the agent does). */
function applyCredentialMap(json: unknown, map: unknown): unknown {
  if (!isRecord(map)) return json;
  let text = JSON.stringify(json);
  for (const [from, to] of Object.entries(map)) {
    if (typeof to !== 'string' || from === '') continue;
    text = text.split(JSON.stringify(from).slice(1, -1)).join(JSON.stringify(to).slice(1, -1));
  }
  return JSON.parse(text) as unknown;
}

function webhookUrl(agent: SimAgent, nodes: unknown[]): string | undefined {
  for (const node of nodes) {
    if (!isRecord(node) || node.type !== 'n8n-nodes-base.webhook') continue;
    const path =
      typeof node.webhookId === 'string'
        ? node.webhookId
        : isRecord(node.parameters) && typeof node.parameters.path === 'string'
          ? node.parameters.path
          : undefined;
    if (path) return `${agent.n8nUrl.replace(/\/+$/, '')}/webhook/${path}`;
  }
  return undefined;
}

function openBlob(
  agent: SimAgent,
  env: CommandEnv,
  encrypted: unknown,
  verb: string,
): Record<string, unknown> {
  try {
    return decryptCredential(env.masterKey, agent.workspaceId, String(encrypted ?? ''));
  } catch (err) {
    if (err instanceof CredentialBlobError) {
      const why: Record<typeof err.reason, string> = {
        malformed: 'Invalid initialization vector',
        auth_failed: 'Unsupported state or unable to authenticate data',
        bad_plaintext: 'Unexpected token in JSON',
      };
      throw new CommandError(`Failed to ${verb}: ${why[err.reason]}`);
    }
    throw err;
  }
}

/** Waits `ms`; false when the agent's processes died meanwhile (its work is then lost). */
async function survive(agent: SimAgent, env: CommandEnv, ms: number): Promise<boolean> {
  const epoch = agent.epoch;
  if (ms > 0) await env.sleep(ms);
  return agent.epoch === epoch;
}

/** Thrown when the agent died mid-command: the server drops the connection instead of answering. */
export class AgentGone extends Error {}

const handlers: Record<V1Action, Handler> = {
  async HEALTH_CHECK(agent) {
    const result: Record<string, unknown> = { n8n_status: agent.n8nStatus, container_status: 'unknown' };
    if (!agent.dockerUp) return result; // docker inspect/stats failed: the container fields are absent
    if (agent.hasFault('n8nStopped')) {
      result.container_status = 'exited';
      return result;
    }
    result.container_status = agent.n8nRunning ? 'running' : 'restarting';
    result.container_health = agent.n8nRunning ? 'healthy' : 'starting';
    if (agent.n8nRunning) {
      const s = agent.stats();
      result.cpu_percent = s.cpuPercent;
      result.memory_usage_mb = s.memMb;
      result.memory_limit_mb = agent.memoryLimitMb;
    }
    return result;
  },

  async DEPLOY_WORKFLOW(agent, p, env) {
    const verb = 'create workflow';
    n8n(agent, verb);
    const json = applyCredentialMap(p.workflow_json, p.credential_map);
    if (!isRecord(json)) throw n8nStatusError(verb, 400);
    const { name, nodes, connections, settings } = json;
    if (typeof name !== 'string' || !Array.isArray(nodes) || !isRecord(connections) || !isRecord(settings)) {
      throw n8nStatusError(verb, 400);
    }
    const at = new Date(env.now()).toISOString();
    const id = agent.newId('wf');
    agent.workflows.set(id, {
      id,
      name,
      active: false,
      nodes,
      connections,
      settings,
      createdAt: at,
      updatedAt: at,
    });
    agent.log(env.now(), `Workflow "${name}" (${id}) created`);
    const url = webhookUrl(agent, nodes);
    return url ? { id, webhookUrl: url } : { id };
  },

  async GET_WORKFLOW(agent, p) {
    const verb = 'get workflow';
    n8n(agent, verb);
    return { success: true, workflow: structuredClone(workflowOf(agent, p.workflow_id, verb)) };
  },

  async UPDATE_WORKFLOW(agent, p, env) {
    const verb = 'update workflow';
    n8n(agent, verb);
    const wf = workflowOf(agent, p.workflow_id, verb);
    if (!isRecord(p.workflow_json)) throw n8nStatusError(verb, 400);
    const fields = structuredClone(p.workflow_json);
    delete fields.id; // the URL names the workflow
    Object.assign(wf, fields, { updatedAt: new Date(env.now()).toISOString() });
    agent.executionsChanged(env.now());
    agent.log(env.now(), `Workflow ${wf.id} updated`);
    return { success: true };
  },

  async ACTIVATE_WORKFLOW(agent, p, env) {
    const verb = 'activate workflow';
    n8n(agent, verb);
    const wf = workflowOf(agent, p.workflow_id, verb);
    wf.active = true;
    wf.updatedAt = new Date(env.now()).toISOString();
    agent.executionsChanged(env.now());
    agent.log(env.now(), `Workflow ${wf.id} activated`);
    return { success: true };
  },

  async DEACTIVATE_WORKFLOW(agent, p, env) {
    const verb = 'deactivate workflow';
    n8n(agent, verb);
    const wf = workflowOf(agent, p.workflow_id, verb);
    wf.active = false;
    wf.updatedAt = new Date(env.now()).toISOString();
    agent.executionsChanged(env.now());
    return { success: true };
  },

  async DELETE_WORKFLOW(agent, p, env) {
    const verb = 'delete workflow';
    n8n(agent, verb);
    const wf = workflowOf(agent, p.workflow_id, verb);
    agent.workflows.delete(wf.id);
    agent.executionsChanged(env.now());
    agent.log(env.now(), `Workflow ${wf.id} deleted`);
    return { success: true };
  },

  async INJECT_CREDENTIAL(agent, p, env) {
    const verb = 'create credential';
    const data = openBlob(agent, env, p.encrypted_data, verb);
    n8n(agent, verb);
    const credentialType = String(p.credential_type ?? '');
    if (!credentialType || typeof p.credential_name !== 'string') throw n8nStatusError(verb, 400);
    const at = new Date(env.now()).toISOString();
    const id = agent.newId('cred');
    agent.credentials.set(id, {
      id,
      name: p.credential_name,
      type: n8nCredentialType(credentialType),
      credentialType,
      data,
      rotations: 0,
      createdAt: at,
      updatedAt: at,
    });
    return { credential_id: id };
  },

  async ROTATE_CREDENTIAL(agent, p, env) {
    const verb = 'update credential';
    const data = openBlob(agent, env, p.encrypted_data, verb);
    n8n(agent, verb);
    const cred = typeof p.credential_id === 'string' ? agent.credentials.get(p.credential_id) : undefined;
    if (!cred) throw n8nStatusError(verb, 404);
    cred.data = data;
    cred.rotations++;
    cred.updatedAt = new Date(env.now()).toISOString();
    return { success: true };
  },

  async RESTART_N8N(agent, _p, env) {
    if (!agent.dockerUp) return { success: false };
    const degraded = agent.faults.get('degraded');
    agent.n8nRunning = false;
    agent.executionsChanged(env.now());
    if (!(await survive(agent, env, env.restartDelayMs))) throw new AgentGone();
    agent.n8nRunning = true;
    agent.n8nRestarts++;
    agent.faults.delete('runningExecutions');
    agent.faults.delete('n8nStopped');
    if (degraded?.kind === 'degraded' && degraded.clearsOnRestart) agent.faults.delete('degraded');
    agent.executionsChanged(env.now());
    agent.log(env.now(), 'n8n ready on 0.0.0.0, port 5678 (restarted)');
    return { success: true, newPid: agent.newPid() };
  },

  async PULL_IMAGE(agent, p, env) {
    const image = typeof p.image_name === 'string' ? p.image_name : '';
    const tag = typeof p.tag === 'string' && p.tag ? p.tag : 'latest';
    if (!agent.dockerUp || !ALLOWED_IMAGE.test(image)) return { success: false };
    const ref = `${image}:${tag}`;
    if (!agent.pulledImages.has(ref)) {
      if (!(await survive(agent, env, env.pullDelayMs))) throw new AgentGone();
      agent.pulledImages.add(ref);
    }
    return { success: true };
  },

  async SWAP_CONTAINER(agent, p, env) {
    // docker inspect n8n --format {{.Id}}, then docker pull n8nio/n8n:<tag>, then create n8n-new
    // from the old container's config, start it, wait for docker health, retire the old one.
    const tag = typeof p.new_image_tag === 'string' ? p.new_image_tag : '';
    if (!agent.dockerUp || !tag) return { success: false };
    const oldContainerId = agent.containerId;
    const ref = `${N8N_IMAGE}:${tag}`;
    if (!agent.pulledImages.has(ref)) {
      if (!(await survive(agent, env, env.pullDelayMs))) throw new AgentGone();
      agent.pulledImages.add(ref);
    }
    if (agent.failsHealthWait(tag)) {
      // the new container never reports healthy: after the wait it is removed, the old one serves on
      if (!(await survive(agent, env, env.swapHealthWaitMs))) throw new AgentGone();
      agent.log(env.now(), `n8n-new (${ref}) did not become healthy; removed, ${agent.n8nImageTag} kept`);
      return { success: false };
    }
    if (!(await survive(agent, env, Math.min(env.swapDelayMs, env.swapHealthWaitMs)))) throw new AgentGone();
    agent.n8nImageTag = tag;
    agent.containerId = agent.newContainerId();
    agent.swaps++;
    agent.executionsChanged(env.now());
    agent.log(env.now(), `n8n container swapped to ${ref}`);
    return { success: true, oldContainerId };
  },

  async GET_LOGS(agent, p) {
    if (!agent.dockerUp) return { logs: [] };
    const lines = typeof p.lines === 'number' && p.lines > 0 ? Math.floor(p.lines) : 100;
    const since = typeof p.since === 'string' ? Date.parse(p.since) : NaN;
    let logs = [...agent.logLines()];
    if (!Number.isNaN(since)) logs = logs.filter((l) => Date.parse(l.slice(0, 24)) >= since);
    return { logs: logs.slice(-lines) };
  },

  async COLLECT_METRICS(agent, p, env) {
    n8n(agent, 'get metrics');
    const sinceMs = typeof p.since === 'string' ? Date.parse(p.since) : NaN;
    const stats = agent.executions.stats(env.now(), Number.isNaN(sinceMs) ? undefined : sinceMs);
    return { ...stats, since: typeof p.since === 'string' && !Number.isNaN(sinceMs) ? p.since : 'all-time' };
  },
};

export function isKnownAction(action: unknown): action is V1Action {
  return typeof action === 'string' && (V1_ACTIONS as readonly string[]).includes(action);
}

/**
 * Runs one authorised command on the agent, as its command router does: an unknown action is
 * "Unknown command: X"; a handler that throws answers success:false with the message.
 * Throws AgentGone when the agent died while the command ran (nobody answers).
 */
export async function executeCommand(
  agent: SimAgent,
  action: unknown,
  payload: unknown,
  env: CommandEnv,
): Promise<CommandOutcome> {
  if (!isKnownAction(action)) return { ok: false, error: `Unknown command: ${String(action)}` };
  const forced = agent.failingAction(action);
  if (forced) return { ok: false, error: forced };
  try {
    const result = await handlers[action](agent, isRecord(payload) ? payload : {}, env);
    return { ok: true, result };
  } catch (err) {
    if (err instanceof CommandError) return { ok: false, error: err.message };
    throw err;
  }
}
