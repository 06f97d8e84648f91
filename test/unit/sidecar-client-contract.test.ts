/**
 * Contract test of the sidecar client against the deployed agent's recorded exchanges
 * (specs/sidecar-v1/recorded-exchanges.json, the same way the DigitalOcean client is checked against
 * the official OpenAPI): for every recorded command the client sends the recorded request (body and
 * JWT claims), parses the recorded answer, and maps it to the outcome the recording implies; the
 * recorded error answers map to their typed errors; a result whose shape changed is a protocol
 * error naming the field, never a silent success.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { SidecarClient, type SidecarTarget } from '../../src/sidecar/client';
import {
  SidecarActionFailedError,
  SidecarCommandFailedError,
  SidecarError,
  SidecarForbiddenError,
  SidecarProtocolError,
  SidecarUnauthorizedError,
  SidecarUnknownActionError,
} from '../../src/sidecar/errors';
import {
  CONTAINER_ACTIONS,
  isHealthy,
  SIDECAR_ACTIONS,
  type SidecarAction,
} from '../../src/sidecar/protocol';
import { rsaTestKeys } from '../helpers/keys';

interface Exchange {
  status: number;
  jwtClaims: Record<string, unknown>;
  requestBody: { action: string; payload: Record<string, unknown> };
  responseBody: Record<string, unknown>;
}
interface Recording {
  commands: Record<'n8n_up' | 'n8n_down', { name: string; exchanges: Exchange[] }[]>;
  errors: Record<string, unknown>;
  get_health: Record<string, unknown>;
}

const recording = JSON.parse(
  readFileSync(join(__dirname, '../../specs/sidecar-v1/recorded-exchanges.json'), 'utf8'),
) as Recording;

const keys = rsaTestKeys();
const privatePem = keys.privatePem;
const target: SidecarTarget = {
  sidecarUrl: 'http://203.0.113.7:3100',
  workspaceId: 'ws-interop-1',
  agentDropletId: '424242',
};

interface Sent {
  body: unknown;
  claims: Record<string, unknown>;
}

/** A client whose every request is answered with `status`/`body` and recorded. */
function answering(status: number, body: unknown) {
  const sent: Sent[] = [];
  const fetchImpl = (async (_url: string | URL | Request, init?: RequestInit) => {
    const token = (init!.headers as Record<string, string> | undefined)?.['x-genesis-jwt'];
    if (token)
      sent.push({
        body: JSON.parse(String(init!.body)),
        claims: JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
          string,
          unknown
        >,
      });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const client = new SidecarClient({
    privateKey: privatePem,
    logger: pino({ level: 'silent' }),
    fetch: fetchImpl,
  });
  return { client, sent };
}

/** Calls the typed helper of `action` with the recorded payload. */
function callTyped(client: SidecarClient, action: SidecarAction, payload: Record<string, unknown>) {
  const p = payload as never;
  switch (action) {
    case 'HEALTH_CHECK':
      return client.healthCheck(target);
    case 'DEPLOY_WORKFLOW':
      return client.deployWorkflow(target, p);
    case 'GET_WORKFLOW':
      return client.getWorkflow(target, p);
    case 'UPDATE_WORKFLOW':
      return client.updateWorkflow(target, p);
    case 'ACTIVATE_WORKFLOW':
      return client.activateWorkflow(target, p);
    case 'DEACTIVATE_WORKFLOW':
      return client.deactivateWorkflow(target, p);
    case 'DELETE_WORKFLOW':
      return client.deleteWorkflow(target, p);
    case 'INJECT_CREDENTIAL':
      return client.injectCredential(target, p);
    case 'ROTATE_CREDENTIAL':
      return client.rotateCredential(target, p);
    case 'RESTART_N8N':
      return client.restartN8n(target);
    case 'PULL_IMAGE':
      return client.pullImage(target, p);
    case 'SWAP_CONTAINER':
      return client.swapContainer(target, p);
    case 'GET_LOGS':
      return client.getLogs(target, p);
    case 'COLLECT_METRICS':
      return client.collectMetrics(target, p);
  }
}

async function outcome(
  p: Promise<unknown>,
): Promise<{ ok: true; value: unknown } | { ok: false; err: SidecarError }> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    if (err instanceof SidecarError) return { ok: false, err };
    throw err;
  }
}

const cases = (['n8n_up', 'n8n_down'] as const).flatMap((condition) =>
  recording.commands[condition].flatMap((c) => c.exchanges.map((e) => ({ condition, name: c.name, e }))),
);

describe('sidecar client against the recorded v1 agent', () => {
  it('has recordings of every action under both conditions', () => {
    for (const condition of ['n8n_up', 'n8n_down'] as const) {
      const actions = new Set(recording.commands[condition].map((c) => c.exchanges[0]!.requestBody.action));
      for (const a of SIDECAR_ACTIONS) expect(actions).toContain(a);
    }
  });

  it.each(cases.map((c) => [`${c.condition} ${c.name}`, c] as const))(
    '%s: same request, and the recorded answer maps to its outcome',
    async (_label, { e }) => {
      const action = e.requestBody.action;
      const { client, sent } = answering(e.status, e.responseBody);
      const known = (SIDECAR_ACTIONS as readonly string[]).includes(action);
      const result = await outcome(
        known
          ? callTyped(client, action as SidecarAction, e.requestBody.payload)
          : client.command(target, action, e.requestBody.payload),
      );

      // what the client sent is what the recorded client sent
      expect(sent).toHaveLength(1);
      expect(sent[0]!.body).toEqual(e.requestBody);
      for (const claim of ['iss', 'sub', 'aud', 'action', 'droplet_id'])
        expect(sent[0]!.claims[claim]).toEqual(e.jwtClaims[claim]);
      expect(typeof sent[0]!.claims.droplet_id).toBe('string');

      const body = e.responseBody as { success: boolean; error?: string; result?: { success?: boolean } };
      if (!body.success) {
        // outer failure: the agent's own error text, typed
        expect(result.ok).toBe(false);
        if (result.ok) return;
        if (body.error!.startsWith('Unknown command:'))
          expect(result.err).toBeInstanceOf(SidecarUnknownActionError);
        else expect(result.err).toBeInstanceOf(SidecarCommandFailedError);
        expect(result.err.message).toContain(body.error!);
        expect(result.err.action).toBe(action);
      } else if (body.result?.success === false) {
        // two-level success: a failure inside an outer success, named by action
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.err).toBeInstanceOf(SidecarActionFailedError);
        expect(result.err.action).toBe(action);
        expect(result.err.message).toContain(action);
        expect(CONTAINER_ACTIONS.has(action as SidecarAction)).toBe(true);
      } else {
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect((result.value as { result: unknown }).result).toEqual(body.result);
      }
    },
  );

  it('reads the recorded HEALTH_CHECK answers as the verdicts they are (no version in them)', async () => {
    const up = recording.commands.n8n_up.find((c) => c.name === 'HEALTH_CHECK')!.exchanges[0]!;
    const down = recording.commands.n8n_down.find((c) => c.name === 'HEALTH_CHECK')!.exchanges[0]!;
    const h1 = (await answering(200, up.responseBody).client.healthCheck(target)).result;
    const h2 = (await answering(200, down.responseBody).client.healthCheck(target)).result;
    expect(h1).not.toHaveProperty('n8n_version');
    expect(isHealthy(h1)).toBe(true); // container_status "unknown": docker could not be asked
    expect(isHealthy(h2)).toBe(false);
    expect(isHealthy({ ...h1, container_status: 'restarting' })).toBe(false);
  });

  it('gives DEPLOY_WORKFLOW its id, GET_WORKFLOW its workflow, GET_LOGS its logs, COLLECT_METRICS execution stats', async () => {
    const rec = (name: string) => recording.commands.n8n_up.find((c) => c.name === name)!.exchanges[0]!;
    const dep = (
      await answering(200, rec('DEPLOY_WORKFLOW').responseBody).client.deployWorkflow(target, {
        workflow_json: {},
      })
    ).result;
    expect(dep.id).toBe('n8nwf1');
    const get = (
      await answering(200, rec('GET_WORKFLOW').responseBody).client.getWorkflow(target, {
        workflow_id: 'n8nwf1',
      })
    ).result;
    expect(get.workflow).toMatchObject({ id: 'n8nwf1', name: 'interop workflow', active: false });
    expect(get.workflow).not.toHaveProperty('meta'); // the agent drops it
    const logs = (await answering(200, rec('GET_LOGS').responseBody).client.getLogs(target)).result;
    expect(logs.logs).toEqual([]);
    const stats = (await answering(200, rec('COLLECT_METRICS').responseBody).client.collectMetrics(target))
      .result;
    expect(stats).toEqual({
      executions_total: 0,
      executions_success: 0,
      executions_failed: 0,
      avg_duration_ms: 0,
      since: 'all-time',
    });
  });

  it('maps the recorded error answers to typed errors', async () => {
    const errors = recording.errors as Record<
      string,
      { status: number; body?: { error: string }; error?: string }
    >;
    const missing = errors.missing_header!;
    const r1 = await outcome(answering(missing.status, missing.body).client.healthCheck(target));
    expect(!r1.ok && r1.err).toBeInstanceOf(SidecarUnauthorizedError);

    for (const key of ['replayed_token', 'aud_as_array', 'expired', 'droplet_id_claim_as_json_number']) {
      const rec = errors[key]!;
      const body = rec.body ?? { success: false, error: rec.error };
      const r = await outcome(answering(rec.status, body).client.healthCheck(target));
      expect(!r.ok && r.err).toBeInstanceOf(SidecarForbiddenError);
      expect(!r.ok && r.err.message).toContain(body.error);
      expect(!r.ok && r.err.retryable).toBe(false);
    }
    const mismatch = errors.droplet_id_claim_not_equal_to_DROPLET_ID!;
    const r = await outcome(
      answering(mismatch.status, { success: false, error: mismatch.error }).client.healthCheck(target),
    );
    expect(!r.ok && r.err).toBeInstanceOf(SidecarForbiddenError);
    // the agent says what it expects: the operator can set it (genesis-cp agent-id)
    expect(!r.ok && (r.err as SidecarForbiddenError).expectedDropletId).toBe('127.0.0.1');
  });

  it('parses the recorded GET /health answer', async () => {
    const health = await answering(200, recording.get_health).client.health(target.sidecarUrl);
    expect(health).toEqual(recording.get_health);
  });

  it('refuses a changed result shape as a protocol error naming the field', async () => {
    const shapes: [SidecarAction, Record<string, unknown>, string][] = [
      ['DEPLOY_WORKFLOW', { workflow_id: 'n8nwf1' }, 'id'],
      ['HEALTH_CHECK', { status: 'healthy', container_status: 'running' }, 'n8n_status'],
      [
        'HEALTH_CHECK',
        { n8n_status: 'healthy', container_status: 'running', cpu_percent: '12%' },
        'cpu_percent',
      ],
      ['GET_WORKFLOW', { workflow_id: 'x', name: 'n', active: true, workflow_json: {} }, 'success'],
      ['SWAP_CONTAINER', { previous_image_tag: '1', changed: true }, 'success'],
      ['GET_LOGS', { lines: ['a'] }, 'logs'],
      ['COLLECT_METRICS', { cpu_percent: 1 }, 'executions_total'],
    ];
    for (const [action, result, field] of shapes) {
      const payload =
        action === 'GET_WORKFLOW'
          ? { workflow_id: 'x' }
          : action === 'SWAP_CONTAINER'
            ? { new_image_tag: '1' }
            : {};
      const r = await outcome(
        callTyped(answering(200, { success: true, result, execution_time_ms: 1 }).client, action, payload),
      );
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.err).toBeInstanceOf(SidecarProtocolError);
      expect(r.err.message).toContain(`field ${field}`);
      expect(r.err.message).toContain(action);
    }
    // no result at all where one is required
    const r = await outcome(
      answering(200, { success: true }).client.deployWorkflow(target, { workflow_json: {} }),
    );
    expect(!r.ok && r.err).toBeInstanceOf(SidecarProtocolError);
  });
});
