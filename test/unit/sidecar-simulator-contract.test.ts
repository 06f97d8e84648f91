/**
 * Contract test of the simulated sidecar agent against the deployed v1 agent's recorded exchanges
 * (specs/sidecar-v1/recorded-exchanges.json): configured like the recorded agent (WORKSPACE_ID
 * ws-interop-1, DROPLET_ID "424242", docker unavailable; one fleet with n8n up, one with n8n not
 * listening), it is sent every recorded request, with fresh tokens carrying the recorded claims,
 * and must answer with the recorded status, the recorded shape (field names and JSON types,
 * recursively) and the recorded error texts. The recorded token error cases, GET /health and the
 * handshakes it sends (captured by a local receiver) are checked the same way.
 *
 * Values that legitimately differ: ids, timestamps, execution_time_ms, the webhook host, the
 * sidecar_url (one simulator serves every agent under /agents/<id>). The n8n workflow object is
 * open-ended (PROTOCOL.md: "id, name, active, nodes, connections, settings, createdAt, updatedAt,
 * ..."): the simulator may add fields n8n has (updatedAt), never drop recorded ones.
 */
import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import { signSidecarJwt } from '../../src/sidecar/jwt';
import { createSidecarFleet, type SidecarFleet } from '../../src/simulator/sidecars';
import { shapeDifferences } from '../helpers/json-shape';
import { waitFor } from '../helpers/wait';
import { rsaTestKeys } from '../helpers/keys';

interface Exchange {
  status: number;
  jwtClaims: { iss: string; sub: string; aud: string; action: string; droplet_id: string };
  requestBody: { action: string; payload: Record<string, unknown> };
  responseBody: { success: boolean; result?: Record<string, unknown>; error?: string };
}
interface Recorded {
  commands: Record<'n8n_up' | 'n8n_down', { name: string; exchanges: Exchange[] }[]>;
  errors: {
    missing_header: { status: number; body: Record<string, unknown> };
    replayed_token: { status: number; body: Record<string, unknown> };
    action_mismatch_then_same_token_with_right_action: { status: number; error: string }[];
    token_lifetime_3600s: { status: number };
    aud_as_array: { status: number; error: string };
    droplet_id_claim_as_json_number: { status: number; error: string };
    expired: { status: number; error: string };
    droplet_id_claim_not_equal_to_DROPLET_ID: { status: number; error: string };
  };
  get_health: Record<string, unknown>;
  handshake_requests: Record<
    'first_boot' | 'keep_alive_every_60s',
    { method: string; path: string; headers: Record<string, string>; body: Record<string, unknown> }
  >;
  handshake_answer_the_sidecar_requires: { dashboard_answers: Record<string, Record<string, unknown>> };
  agent_to_n8n: { requests: { method: string; url: string; body?: Record<string, unknown> }[] };
}

const recorded = JSON.parse(
  readFileSync(join(__dirname, '../../specs/sidecar-v1/recorded-exchanges.json'), 'utf8'),
) as Recorded;

const WORKSPACE = 'ws-interop-1';
const DROPLET_ID = '424242';
/** the fleet's routing key; equal to the recorded DROPLET_ID so that nothing else differs */
const ROUTE_ID = 424242;
const MASTER_KEY = 'contract-test-master-key';
const HANDSHAKE_SECRET = 'h'.repeat(48);
const OPEN = ['$.result.workflow'];

const dashboard = rsaTestKeys();
const privatePem = dashboard.privatePem;
const publicPem = dashboard.publicPem;

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A token with exactly these claims (for the cases signSidecarJwt rightly refuses to produce). */
function craft(claims: Record<string, unknown>): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), dashboard.privateKey).toString('base64url')}`;
}
/** A fresh token with the recorded claims. */
const tokenFor = (c: Exchange['jwtClaims'], now?: number) =>
  signSidecarJwt(privatePem, { workspaceId: c.sub, dropletId: c.droplet_id, action: c.action, now });

const nowS = () => Math.floor(Date.now() / 1000);
const goodClaims = (over: Record<string, unknown> = {}) => ({
  iss: 'genesis-dashboard',
  sub: WORKSPACE,
  aud: 'sidecar',
  action: 'HEALTH_CHECK',
  droplet_id: DROPLET_ID,
  jti: `jti-${Math.random()}`,
  iat: nowS(),
  exp: nowS() + 60,
  ...over,
});

async function post(
  url: string,
  body: unknown,
  signed?: string | Promise<string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = await signed;
  const res = await fetch(`${url}/command`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-genesis-jwt': token } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The plaintexts the agent handed n8n (agent_to_n8n), re-encrypted with this test's master key. */
const n8nBodies = recorded.agent_to_n8n.requests;
const injectedData = n8nBodies.find((r) => r.method === 'POST' && r.url === '/api/v1/credentials')!.body!
  .data as Record<string, unknown>;
const rotatedData = n8nBodies.find((r) => r.method === 'PATCH' && r.url.startsWith('/api/v1/credentials/'))!
  .body!.data as Record<string, unknown>;
const createdBody = n8nBodies.find((r) => r.method === 'POST' && r.url === '/api/v1/workflows')!.body!;
const patchedBody = n8nBodies.find(
  (r) => r.method === 'PATCH' && r.url === '/api/v1/workflows/n8nwf1' && r.body && 'nodes' in r.body,
)!.body!;

function expectLike(exchange: Exchange, got: { status: number; body: Record<string, unknown> }): void {
  const want = exchange.responseBody;
  expect({ status: got.status, shape: shapeDifferences(want, got.body, { open: OPEN }) }).toEqual({
    status: exchange.status,
    shape: [],
  });
  expect(got.body.success).toBe(want.success);
  expect(got.body.error).toBe(want.error);
  const r = got.body.result as Record<string, unknown> | undefined;
  if (want.result && 'success' in want.result) expect(r?.success).toBe(want.result.success);
  if (want.result && 'n8n_status' in want.result) expect(r?.n8n_status).toBe(want.result.n8n_status);
  if (want.result && 'container_status' in want.result) {
    expect(r?.container_status).toBe(want.result.container_status);
  }
}

describe.each([
  ['n8n_up', 'http://127.0.0.1:13678'],
  ['n8n_down', 'http://127.0.0.1:13679'],
] as const)('the simulated agent answers every recorded command (%s)', (condition, n8nUrl) => {
  let fleet: SidecarFleet;
  let url: string;
  /** recorded id -> the simulator's id for the same object */
  const ids = new Map<string, string>();
  const rewrite = (v: unknown): unknown =>
    JSON.parse(
      JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && ids.has(x) ? ids.get(x) : x)),
    ) as unknown;

  beforeAll(async () => {
    fleet = await createSidecarFleet({ publicKey: publicPem, masterKey: MASTER_KEY, n8nUrl });
    url = fleet.addAgent({
      dropletId: ROUTE_ID,
      workspaceId: WORKSPACE,
      agentDropletId: DROPLET_ID,
      poweredOn: true,
    });
    fleet.setFault(ROUTE_ID, { kind: 'dockerUnavailable' });
    if (condition === 'n8n_down') fleet.setFault(ROUTE_ID, { kind: 'n8nStopped' });
  });
  afterAll(() => fleet?.close());

  const cases = recorded.commands[condition].map((c) => ({ name: c.name, exchange: c.exchanges[0]! }));
  it.each(cases)('$name', async ({ name, exchange }) => {
    const request = rewrite(exchange.requestBody) as Exchange['requestBody'];
    if (name === 'INJECT_CREDENTIAL') {
      request.payload.encrypted_data = encryptCredential(MASTER_KEY, WORKSPACE, injectedData);
    }
    if (name === 'ROTATE_CREDENTIAL') {
      request.payload.encrypted_data = encryptCredential(MASTER_KEY, WORKSPACE, rotatedData);
    }
    const got = await post(url, request, tokenFor(exchange.jwtClaims));
    expectLike(exchange, got);
    const result = got.body.result as Record<string, unknown> | undefined;
    if (condition !== 'n8n_up') return;

    // what the agent handed n8n (agent_to_n8n) is what the simulated n8n holds
    const view = fleet.agent(ROUTE_ID)!;
    if (name === 'DEPLOY_WORKFLOW') {
      ids.set(exchange.responseBody.result!.id as string, result!.id as string);
      const wf = view.workflows.find((w) => w.id === result!.id)!;
      const { active, ...fields } = createdBody;
      expect(wf).toMatchObject({ ...fields, active });
      expect(wf).not.toHaveProperty('meta');
      expect(result!.webhookUrl).toBe(`${n8nUrl}/webhook/hook-abc`);
    }
    if (name === 'UPDATE_WORKFLOW') {
      expect(view.workflows[0]).toMatchObject(patchedBody);
    }
    if (name.startsWith('GET_WORKFLOW')) {
      const {
        id: _a,
        createdAt: _b,
        ...want
      } = exchange.responseBody.result!.workflow as Record<string, unknown>;
      expect((result!.workflow as Record<string, unknown>).id).toBe(ids.get('n8nwf1'));
      expect(result!.workflow).toMatchObject(want);
    }
    if (name === 'INJECT_CREDENTIAL') {
      ids.set(exchange.responseBody.result!.credential_id as string, result!.credential_id as string);
      expect(view.credentials).toEqual([
        expect.objectContaining({ name: 'OpenAI (interop)', type: 'openAiApi', data: injectedData }),
      ]);
    }
    if (name === 'ROTATE_CREDENTIAL') {
      expect(view.credentials[0]).toMatchObject({ data: rotatedData, rotations: 1 });
    }
    if (name === 'DELETE_WORKFLOW') expect(view.workflows).toEqual([]);
  });

  it('GET /health answers the recorded shape, with DROPLET_ID and no version', async () => {
    const res = await fetch(`${url}/health`);
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(shapeDifferences(recorded.get_health, body)).toEqual([]);
    const { uptime: _u, ...values } = recorded.get_health;
    expect(body).toMatchObject(values);
  });
});

describe('the simulated agent refuses tokens as recorded', () => {
  let fleet: SidecarFleet;
  let url: string;
  let ipUrl: string;
  const errors = recorded.errors;
  const health = { action: 'HEALTH_CHECK', payload: {} };

  beforeAll(async () => {
    fleet = await createSidecarFleet({ publicKey: publicPem, masterKey: MASTER_KEY });
    url = fleet.addAgent({
      dropletId: ROUTE_ID,
      workspaceId: WORKSPACE,
      agentDropletId: DROPLET_ID,
      poweredOn: true,
    });
    // provisioned like the fleet: DROPLET_ID is the droplet's IP, the host of its sidecar_url
    ipUrl = fleet.addAgent({ dropletId: 7, workspaceId: WORKSPACE, poweredOn: true });
  });
  afterAll(() => fleet?.close());

  it('401 without X-Genesis-JWT, byte for byte', async () => {
    const got = await post(url, health);
    expect(got).toEqual({ status: errors.missing_header.status, body: errors.missing_header.body });
  });

  it('403 for a replayed token', async () => {
    const token = craft(goodClaims());
    expect((await post(url, health, token)).status).toBe(200);
    const again = await post(url, health, token);
    expect(again.status).toBe(errors.replayed_token.status);
    expect(shapeDifferences(errors.replayed_token.body, again.body)).toEqual([]);
    expect(again.body.error).toBe(errors.replayed_token.body.error);
  });

  it('an action mismatch consumes the jti: the same token with the right action is a replay', async () => {
    const token = craft(goodClaims({ action: 'HEALTH_CHECK' }));
    const [first, second] = errors.action_mismatch_then_same_token_with_right_action;
    const a = await post(url, { action: 'GET_LOGS', payload: {} }, token);
    expect({ status: a.status, error: a.body.error }).toEqual(first);
    const b = await post(url, health, token);
    expect({ status: b.status, error: b.body.error }).toEqual(second);
  });

  it('accepts a token living 3600 s (no lifetime limit)', async () => {
    const got = await post(url, health, craft(goodClaims({ exp: nowS() + 3600 })));
    expect(got.status).toBe(errors.token_lifetime_3600s.status);
    expect(got.body.success).toBe(true);
  });

  it.each([
    ['aud as an array', () => craft(goodClaims({ aud: ['sidecar'] })), errors.aud_as_array],
    [
      'droplet_id as a JSON number',
      () => craft(goodClaims({ droplet_id: Number(DROPLET_ID) })),
      errors.droplet_id_claim_as_json_number,
    ],
    [
      'an expired token',
      () =>
        signSidecarJwt(privatePem, {
          workspaceId: WORKSPACE,
          dropletId: DROPLET_ID,
          action: 'HEALTH_CHECK',
          ttlSeconds: 60,
          now: Date.now() - 120_000,
        }),
      errors.expired,
    ],
  ])('refuses %s', async (_name, make, want) => {
    const got = await post(url, health, make());
    expect({ status: got.status, error: got.body.error }).toEqual(want);
    expect(shapeDifferences(errors.replayed_token.body, got.body)).toEqual([]);
  });

  it('refuses a droplet_id claim that is not its DROPLET_ID, and accepts its own IP', async () => {
    const wrong = await signSidecarJwt(privatePem, {
      workspaceId: WORKSPACE,
      dropletId: DROPLET_ID,
      action: 'HEALTH_CHECK',
    });
    const got = await post(ipUrl, health, wrong);
    expect({ status: got.status, error: got.body.error }).toEqual(
      errors.droplet_id_claim_not_equal_to_DROPLET_ID,
    );
    const own = await signSidecarJwt(privatePem, {
      workspaceId: WORKSPACE,
      dropletId: '127.0.0.1',
      action: 'HEALTH_CHECK',
    });
    expect((await post(ipUrl, health, own)).body.success).toBe(true);
  });
});

interface Captured {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

describe('the handshakes the simulated agent sends', () => {
  const got: Captured[] = [];
  let answer: { status: number; body: unknown } = { status: 202, body: { accepted: 1 } };
  let server: Server;
  let fleet: SidecarFleet;
  const from = (ws: string) => got.filter((g) => g.body.workspace_id === ws);

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        got.push({
          method: req.method!,
          path: req.url!,
          headers: req.headers,
          body: JSON.parse(raw) as Record<string, unknown>,
        });
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fleet = await createSidecarFleet({
      publicKey: publicPem,
      masterKey: MASTER_KEY,
      dashboardUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      handshakeSecret: HANDSHAKE_SECRET,
      heartbeatIntervalMs: 150,
      bootDelayMs: 20,
      restartBackoffBaseMs: 30,
      restartBackoffMaxMs: 60,
    });
  });
  afterAll(async () => {
    await fleet?.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function expectRecorded(c: Captured, kind: 'first_boot' | 'keep_alive_every_60s'): void {
    const want = recorded.handshake_requests[kind];
    expect({ method: c.method, path: c.path }).toEqual({ method: want.method, path: want.path });
    expect(c.headers['content-type']).toBe(want.headers['content-type']);
    expect(c.headers.authorization).toBe(`Bearer ${HANDSHAKE_SECRET}`);
    expect(shapeDifferences(want.body, c.body)).toEqual([]);
    expect(c.body.capabilities).toEqual(want.body.capabilities);
  }

  it('first boot: one handshake with version "unknown"; a 202 {"accepted":1} answer crash-loops the agent', async () => {
    answer = { status: 202, body: { accepted: 1 } };
    const url = fleet.addAgent({ dropletId: 1, workspaceId: 'ws-new', registered: false, poweredOn: true });
    await waitFor(() => from('ws-new').length >= 3, 'three first-boot attempts');
    for (const c of from('ws-new')) {
      expectRecorded(c, 'first_boot');
      expect(c.body).toMatchObject({ workspace_id: 'ws-new', sidecar_url: url, version: 'unknown' });
    }
    const view = fleet.agent(1)!;
    expect(view.registered).toBe(false);
    expect(view.handshakeRejected).toBeGreaterThanOrEqual(2);
    expect(view.lastHandshakeError).toBe('unknown');
    await waitFor(() => fleet.agent(1)!.condition === 'crash_loop', 'the crash loop');
  });

  it('an answer {success: true, ...} registers it; keep-alives follow with version = the n8n status', async () => {
    answer = { status: 200, body: recorded.handshake_answer_the_sidecar_requires.dashboard_answers['200'] };
    await waitFor(() => fleet.agent(1)!.registered, 'registration');
    expect(fleet.agent(1)).toMatchObject({ condition: 'running', handshakesAccepted: 1 });
    const n = from('ws-new').length;
    await waitFor(() => from('ws-new').length >= n + 2, 'keep-alives');
    const keepAlives = from('ws-new').slice(n);
    for (const c of keepAlives) {
      expectRecorded(c, 'keep_alive_every_60s');
      expect(c.body.version).toBe('healthy');
    }
    fleet.setFault(1, { kind: 'degraded' });
    await waitFor(() => from('ws-new').some((c) => c.body.version === 'degraded'), 'a degraded keep-alive');
    fleet.setFault(1, { kind: 'n8nStopped' });
    await waitFor(() => from('ws-new').some((c) => c.body.version === 'down'), 'a down keep-alive');
  });

  it('a registered agent (an existing fleet) sends keep-alives only, never "unknown"', async () => {
    answer = { status: 202, body: { accepted: 1 } }; // keep-alive answers are not read
    fleet.addAgent({ dropletId: 2, workspaceId: 'ws-old', poweredOn: true });
    await waitFor(() => from('ws-old').length >= 3, 'keep-alives');
    for (const c of from('ws-old')) {
      expectRecorded(c, 'keep_alive_every_60s');
      expect(c.body.version).toBe('healthy');
    }
    expect(fleet.agent(2)).toMatchObject({ registered: true, condition: 'running', handshakeRejected: 0 });
  });
});
