/**
 * The sidecar client against the simulated sidecar fleet, over real HTTP: the token rules (401/403
 * through the server), success:false mapping, timeouts, unreachable agents, power and faults,
 * PULL/SWAP changing the reported version, credential injection with real fleet-format blobs, and
 * heartbeats arriving at a local receiver in the native and legacy formats.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { handshakeSchema, nativeHeartbeatSchema } from '../../src/heartbeats/heartbeat';
import { SidecarClient, type SidecarTarget } from '../../src/sidecar/client';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import {
  SidecarCommandFailedError,
  SidecarError,
  SidecarForbiddenError,
  SidecarServerError,
  SidecarTimeoutError,
  SidecarUnreachableError,
} from '../../src/sidecar/errors';
import { signSidecarJwt } from '../../src/sidecar/jwt';
import { createSidecarFleet, type SidecarFleet } from '../../src/simulator/sidecars';

const logger = pino({ level: 'silent' });
const dashboard = generateKeyPairSync('rsa', { modulusLength: 2048 });
const intruder = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = dashboard.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = dashboard.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const MASTER_KEY = 'fleet-master-key-for-integration-tests';
const HANDSHAKE_SECRET = 'legacy-handshake-secret-0123456789';
const BOOT_MS = 150;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  at: number;
}

/** A dashboard stand-in: records every heartbeat; answers 202 (401 for the token 'revoked'). */
async function startReceiver(): Promise<{
  url: string;
  got: Received[];
  close(): Promise<void>;
  server: Server;
}> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      got.push({
        path: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(raw) as Record<string, unknown>,
        at: Date.now(),
      });
      const status = req.headers.authorization === 'Bearer revoked' ? 401 : 202;
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    got,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function waitFor<T>(fn: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function failure(p: Promise<unknown>): Promise<SidecarError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SidecarError) return err;
    throw err;
  }
  throw new Error('expected a SidecarError');
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('sidecar client against the simulated fleet (native heartbeats)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let fleet: SidecarFleet;
  const client = new SidecarClient({ privateKey: privatePem, logger, timeoutMs: 5_000 });
  let nextId = 100;
  /** a fresh agent per test, so tests do not share state */
  const agentFor = (
    over: { poweredOn?: boolean; heartbeatToken?: string; workspaceId?: string } = {},
  ): SidecarTarget => {
    const dropletId = ++nextId;
    const workspaceId = over.workspaceId ?? `ws_${dropletId}`;
    const sidecarUrl = fleet.addAgent({
      dropletId,
      workspaceId,
      heartbeatToken: over.heartbeatToken ?? `tok-${dropletId}`,
      sidecarVersion: '1.4.0',
      n8nVersion: '1.70.2',
      poweredOn: over.poweredOn ?? true,
    });
    return { sidecarUrl, workspaceId, dropletId };
  };
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/command`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });

  beforeAll(async () => {
    receiver = await startReceiver();
    fleet = await createSidecarFleet({
      publicKey: publicPem,
      masterKey: MASTER_KEY,
      dashboardUrl: receiver.url,
      heartbeatMode: 'native',
      heartbeatIntervalMs: 200,
      bootDelayMs: BOOT_MS,
      pullDelayMs: 100,
      logger,
    });
  });
  afterAll(async () => {
    await fleet?.close();
    await receiver?.close();
  });

  it('serves /health and HEALTH_CHECK with the agent identity and versions', async () => {
    const t = agentFor();
    await expect(client.health(t.sidecarUrl)).resolves.toMatchObject({
      status: 'ok',
      workspace_id: t.workspaceId,
      droplet_id: String(t.dropletId),
      version: '1.4.0',
    });
    const { result, executionTimeMs } = await client.healthCheck(t);
    expect(result).toMatchObject({
      n8n_status: 'healthy',
      n8n_version: '1.70.2',
      container_status: 'running',
      container_health: 'healthy',
      memory_limit_mb: expect.any(Number),
    });
    expect(result.cpu_percent).toBeGreaterThanOrEqual(0);
    expect(executionTimeMs).toEqual(expect.any(Number));
    expect(fleet.commandCount(Number(t.dropletId), 'HEALTH_CHECK')).toBe(1);
  });

  it('answers 401 without X-Genesis-JWT and runs nothing', async () => {
    const t = agentFor();
    const res = await post(t.sidecarUrl, JSON.stringify({ action: 'HEALTH_CHECK', payload: {} }));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ success: false });
    const empty = await post(t.sidecarUrl, JSON.stringify({ action: 'HEALTH_CHECK', payload: {} }), {
      'x-genesis-jwt': '',
    });
    expect(empty.status).toBe(401);
    expect(fleet.commandCount(Number(t.dropletId))).toBe(0);
  });

  it('answers 403 for every bad token, through the client and raw HTTP', async () => {
    const t = agentFor();
    const other = agentFor();
    const before = fleet.stats().commands.forbiddenByReason;
    const expectForbidden = async (p: Promise<unknown>) => {
      const err = await failure(p);
      expect(err).toBeInstanceOf(SidecarForbiddenError);
      expect(err.retryable).toBe(false);
      return err;
    };

    // wrong key
    const rogue = new SidecarClient({ privateKey: intruder.privateKey, logger });
    await expectForbidden(rogue.healthCheck(t));
    // wrong workspace (sub) and wrong droplet
    await expectForbidden(client.healthCheck({ ...t, workspaceId: other.workspaceId }));
    await expectForbidden(client.healthCheck({ ...t, dropletId: other.dropletId }));
    // expired: signed two minutes ago with a 60 s lifetime
    const stale = new SidecarClient({ privateKey: privatePem, logger, now: () => Date.now() - 120_000 });
    await expectForbidden(stale.healthCheck(t));

    const tok = (action: string) =>
      signSidecarJwt(privatePem, { workspaceId: t.workspaceId, dropletId: t.dropletId, action });
    // action claim != body action
    let res = await post(t.sidecarUrl, JSON.stringify({ action: 'RESTART_N8N', payload: {} }), {
      'x-genesis-jwt': tok('HEALTH_CHECK'),
    });
    expect(res.status).toBe(403);
    // replay: the same token twice
    const once = tok('HEALTH_CHECK');
    const body = JSON.stringify({ action: 'HEALTH_CHECK', payload: {} });
    expect((await post(t.sidecarUrl, body, { 'x-genesis-jwt': once })).status).toBe(200);
    res = await post(t.sidecarUrl, body, { 'x-genesis-jwt': once });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ success: false, error: expect.stringContaining('replayed') });
    // crafted: wrong audience, alg none, lifetime above 300 s
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'genesis-dashboard',
      sub: t.workspaceId,
      aud: 'sidecar',
      iat: now,
      exp: now + 60,
      jti: `crafted-${now}`,
      action: 'HEALTH_CHECK',
      droplet_id: String(t.dropletId),
    };
    const rs256 = (c: object) => {
      const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(c)}`;
      return `${input}.${sign('sha256', Buffer.from(input), dashboard.privateKey).toString('base64url')}`;
    };
    for (const bad of [
      rs256({ ...claims, aud: 'someone-else', jti: 'a1' }),
      rs256({ ...claims, iss: 'not-the-dashboard', jti: 'a2' }),
      rs256({ ...claims, exp: now + 400, jti: 'a3' }),
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, jti: 'a4' })}.`,
    ]) {
      expect((await post(t.sidecarUrl, body, { 'x-genesis-jwt': bad })).status).toBe(403);
    }

    const after = fleet.stats().commands.forbiddenByReason;
    const delta = (r: string) => (after[r] ?? 0) - (before[r] ?? 0);
    expect(delta('bad_signature')).toBe(1);
    expect(delta('workspace_mismatch')).toBe(1);
    expect(delta('droplet_mismatch')).toBe(1);
    expect(delta('expired')).toBe(1);
    expect(delta('action_mismatch')).toBe(1);
    expect(delta('replayed')).toBe(1);
    expect(delta('bad_audience')).toBe(1);
    expect(delta('bad_issuer')).toBe(1);
    expect(delta('lifetime_too_long')).toBe(1);
    expect(delta('unsupported_alg')).toBe(1);
    // only the one good HEALTH_CHECK ran
    expect(fleet.commandCount(Number(t.dropletId))).toBe(1);
  });

  it('maps 200 success:false to SidecarCommandFailedError with the sidecar error', async () => {
    const t = agentFor();
    const unknown = await failure(client.command(t, 'SELF_DESTRUCT', {}));
    expect(unknown).toBeInstanceOf(SidecarCommandFailedError);
    expect((unknown as SidecarCommandFailedError).sidecarError).toContain('unknown action');
    expect(unknown.status).toBe(200);

    const notPulled = await failure(client.swapContainer(t, { new_image_tag: '9.9.9' }));
    expect((notPulled as SidecarCommandFailedError).sidecarError).toContain('has not been pulled');
    const missing = await failure(client.getWorkflow(t, { workflow_id: 'nope' }));
    expect(missing).toBeInstanceOf(SidecarCommandFailedError);

    fleet.setFault(Number(t.dropletId), {
      kind: 'failAction',
      action: 'PULL_IMAGE',
      error: 'registry unavailable',
    });
    const pull = await failure(client.pullImage(t, { image_name: 'genesis/sidecar', tag: '1.5.0' }));
    expect((pull as SidecarCommandFailedError).sidecarError).toBe('registry unavailable');
  });

  it('answers 500 only for a broken request (or a serverError fault), mapped to a retryable error', async () => {
    const t = agentFor();
    const tok = signSidecarJwt(privatePem, {
      workspaceId: t.workspaceId,
      dropletId: t.dropletId,
      action: 'HEALTH_CHECK',
    });
    const res = await post(t.sidecarUrl, '{not json', { 'x-genesis-jwt': tok });
    expect(res.status).toBe(500);
    fleet.setFault(Number(t.dropletId), { kind: 'serverError' });
    const err = await failure(client.healthCheck(t));
    expect(err).toBeInstanceOf(SidecarServerError);
    expect(err.retryable).toBe(true);
    fleet.clearFault(Number(t.dropletId), 'serverError');
    await expect(client.healthCheck(t)).resolves.toBeDefined();
  });

  it('times out on a hung agent (which also stops heartbeating)', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    await waitFor(() => fleet.agent(id)!.heartbeatsSent > 0, 'a first heartbeat');
    fleet.setFault(id, { kind: 'hang' });
    const started = Date.now();
    const err = await failure(client.healthCheck(t, { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(SidecarTimeoutError);
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3_000);
    const sent = fleet.agent(id)!.heartbeatsSent;
    await new Promise((r) => setTimeout(r, 600));
    expect(fleet.agent(id)!.heartbeatsSent).toBe(sent);
    fleet.clearFault(id, 'hang');
    await expect(client.healthCheck(t)).resolves.toBeDefined();
  });

  it('is unreachable while crashed or powered off, and reboots with a fresh uptime', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    fleet.setFault(id, { kind: 'crash' });
    const crashed = await failure(client.healthCheck(t));
    expect(crashed).toBeInstanceOf(SidecarUnreachableError);
    expect(crashed.retryable).toBe(true);
    await expect(failure(client.health(t.sidecarUrl))).resolves.toBeInstanceOf(SidecarUnreachableError);
    // power_on on a running (crashed) machine changes nothing
    fleet.setPower(id, true);
    await new Promise((r) => setTimeout(r, BOOT_MS + 50));
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);

    // off -> on is a fresh boot: crash gone, uptime restarts
    fleet.setPower(id, false);
    expect(fleet.agent(id)).toMatchObject({ power: 'off', condition: 'off' });
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);
    const heardBefore = receiver.got.filter((g) => g.body.droplet_id === id).length;
    await new Promise((r) => setTimeout(r, 450));
    expect(receiver.got.filter((g) => g.body.droplet_id === id).length).toBe(heardBefore);
    fleet.setPower(id, true);
    expect(fleet.agent(id)!.condition).toBe('booting');
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);
    await waitFor(() => fleet.agent(id)!.condition === 'running', 'boot');
    await expect(client.health(t.sidecarUrl)).resolves.toMatchObject({ uptime: 0 });
    const hb = await waitFor(
      () => receiver.got.filter((g) => g.body.droplet_id === id).slice(heardBefore)[0],
      'a heartbeat after boot',
    );
    expect(hb.body.uptime_seconds).toBe(0);
  });

  it('recoverOnlyAfterPowerCycle survives off/on and yields to powerCycle; bootFailure never comes back', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    fleet.setFault(id, { kind: 'recoverOnlyAfterPowerCycle' });
    fleet.setPower(id, false);
    fleet.setPower(id, true);
    await waitFor(() => fleet.agent(id)!.power === 'on', 'boot');
    expect(fleet.agent(id)!.condition).toBe('crashed');
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);
    fleet.powerCycle(id);
    await waitFor(() => fleet.agent(id)!.condition === 'running', 'power cycle');
    await expect(client.healthCheck(t)).resolves.toBeDefined();

    const u = agentFor();
    const uid = Number(u.dropletId);
    fleet.setFault(uid, { kind: 'bootFailure' });
    fleet.powerCycle(uid);
    await waitFor(() => fleet.agent(uid)!.power === 'on', 'boot attempt');
    expect(fleet.agent(uid)!.condition).toBe('boot_failed');
    expect(await failure(client.healthCheck(u))).toBeInstanceOf(SidecarUnreachableError);
  });

  it('PULL_IMAGE then SWAP_CONTAINER changes the version reported by /health and heartbeats', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    const started = Date.now();
    const pulled = await client.pullImage(t, { image_name: 'genesis/sidecar', tag: '1.5.0' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(95); // the configured pull delay
    expect(pulled.result).toMatchObject({ image_name: 'genesis/sidecar', tag: '1.5.0' });
    expect(fleet.agent(id)!.pulledTags).toContain('1.5.0');

    const swapped = await client.swapContainer(t, { new_image_tag: '1.5.0' });
    expect(swapped.result).toMatchObject({
      previous_image_tag: '1.4.0',
      new_image_tag: '1.5.0',
      changed: true,
    });
    await expect(client.health(t.sidecarUrl)).resolves.toMatchObject({ version: '1.5.0' });
    const since = Date.now();
    const hb = await waitFor(
      () => receiver.got.find((g) => g.body.droplet_id === id && g.at > since),
      'a heartbeat after the swap',
    );
    expect(hb.body.sidecar_version).toBe('1.5.0');

    // swapping to the running tag is a successful no-op
    const again = await client.swapContainer(t, { new_image_tag: '1.5.0' });
    expect(again.result).toMatchObject({ changed: false });
    expect(fleet.commandCount(id, 'SWAP_CONTAINER')).toBe(2);
    expect(fleet.commandCount(id, 'PULL_IMAGE')).toBe(1);
  });

  it('a broken version takes n8n down until swapped back; degraded shows in health and heartbeats', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    fleet.setFault(id, { kind: 'brokenVersion', tag: '1.6.0-bad' });
    await client.pullImage(t, { image_name: 'genesis/sidecar', tag: '1.6.0-bad' });
    await client.swapContainer(t, { new_image_tag: '1.6.0-bad' });
    const { result } = await client.healthCheck(t);
    expect(result).toMatchObject({ n8n_status: 'down', container_health: 'unhealthy' });
    await expect(client.health(t.sidecarUrl)).resolves.toMatchObject({
      status: 'degraded',
      n8n_status: 'down',
    });
    let since = Date.now();
    let hb = await waitFor(
      () => receiver.got.find((g) => g.body.droplet_id === id && g.at > since),
      'heartbeat',
    );
    expect(hb.body.n8n_status).toBe('down');
    expect(
      await failure(client.deployWorkflow(t, { workflow_json: { name: 'x', nodes: [] } })),
    ).toBeInstanceOf(SidecarCommandFailedError);

    await client.swapContainer(t, { new_image_tag: '1.4.0' });
    expect((await client.healthCheck(t)).result.n8n_status).toBe('healthy');

    fleet.setFault(id, { kind: 'degraded', clearsOnRestart: true });
    expect((await client.healthCheck(t)).result.n8n_status).toBe('degraded');
    since = Date.now();
    hb = await waitFor(() => receiver.got.find((g) => g.body.droplet_id === id && g.at > since), 'heartbeat');
    expect(hb.body.n8n_status).toBe('degraded');
    await expect(client.restartN8n(t)).resolves.toMatchObject({ result: { n8n_status: 'healthy' } });
    expect(fleet.agent(id)!.n8nRestarts).toBe(1);
  });

  it('injects and rotates credentials from real fleet-format blobs', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    const secret = { apiKey: 'sk-live-abc', org: 'acme' };
    const { result } = await client.injectCredential(t, {
      credential_type: 'openAiApi',
      credential_name: 'OpenAI',
      encrypted_data: encryptCredential(MASTER_KEY, t.workspaceId, secret),
    });
    expect(result.credential_id).toEqual(expect.any(String));
    expect(fleet.agent(id)!.credentials).toEqual([
      expect.objectContaining({ id: result.credential_id, type: 'openAiApi', name: 'OpenAI', data: secret }),
    ]);

    // a blob for another workspace, or under another master key, does not open here
    for (const blob of [
      encryptCredential(MASTER_KEY, 'ws_someone_else', secret),
      encryptCredential('another-master-key', t.workspaceId, secret),
    ]) {
      const err = await failure(
        client.injectCredential(t, { credential_type: 'x', credential_name: 'y', encrypted_data: blob }),
      );
      expect((err as SidecarCommandFailedError).sidecarError).toContain('auth_failed');
    }

    await client.rotateCredential(t, {
      credential_id: result.credential_id,
      encrypted_data: encryptCredential(MASTER_KEY, t.workspaceId, { apiKey: 'sk-live-new' }),
    });
    expect(fleet.agent(id)!.credentials[0]).toMatchObject({ data: { apiKey: 'sk-live-new' }, rotations: 1 });
    const unknown = await failure(
      client.rotateCredential(t, {
        credential_id: 'cred_missing',
        encrypted_data: encryptCredential(MASTER_KEY, t.workspaceId, {}),
      }),
    );
    expect((unknown as SidecarCommandFailedError).sidecarError).toContain('not found');
  });

  it('keeps n8n workflows per agent: deploy, get, update, activate, deactivate, delete', async () => {
    const t = agentFor();
    const { result: dep } = await client.deployWorkflow(t, {
      workflow_json: { name: 'Lead router', nodes: [] },
    });
    const wf = { workflow_id: dep.workflow_id };
    await expect(client.getWorkflow(t, wf)).resolves.toMatchObject({
      result: {
        workflow_id: dep.workflow_id,
        name: 'Lead router',
        active: false,
        workflow_json: { nodes: [] },
      },
    });
    await client.updateWorkflow(t, {
      ...wf,
      workflow_json: { name: 'Lead router v2', nodes: [{ id: 'n1' }] },
    });
    await client.activateWorkflow(t, wf);
    expect((await client.getWorkflow(t, wf)).result).toMatchObject({ name: 'Lead router v2', active: true });
    await client.deactivateWorkflow(t, wf);
    expect((await client.getWorkflow(t, wf)).result.active).toBe(false);
    await client.deleteWorkflow(t, wf);
    expect(await failure(client.getWorkflow(t, wf))).toBeInstanceOf(SidecarCommandFailedError);
    const logs = await client.getLogs(t, { lines: 10 });
    expect(logs.result.lines?.some((l) => l.includes(`workflow ${dep.workflow_id} deleted`))).toBe(true);
    const metrics = await client.collectMetrics(t);
    expect(metrics.result).toMatchObject({
      cpu_percent: expect.any(Number),
      uptime_seconds: expect.any(Number),
    });
  });

  it('sends native heartbeats with the droplet token and the exact native body', async () => {
    const t = agentFor();
    const id = Number(t.dropletId);
    const first = await waitFor(
      () => receiver.got.find((g) => g.body.droplet_id === id),
      'a native heartbeat',
    );
    expect(first.path).toBe('/v1/heartbeats');
    expect(first.headers.authorization).toBe(`Bearer tok-${id}`);
    expect(first.headers['content-type']).toBe('application/json');
    expect(Object.keys(first.body).sort()).toEqual(
      [
        'workspace_id',
        'droplet_id',
        'timestamp',
        'cpu_percent',
        'memory_percent',
        'disk_percent',
        'n8n_status',
        'sidecar_version',
        'n8n_version',
        'uptime_seconds',
      ].sort(),
    );
    const parsed = nativeHeartbeatSchema.parse(first.body); // the ingest route's own (strict) schema
    expect(parsed).toMatchObject({
      workspace_id: t.workspaceId,
      droplet_id: id,
      sidecar_version: '1.4.0',
      n8n_status: 'healthy',
    });
    expect(typeof first.body.droplet_id).toBe('number');

    // about one per 200 ms interval
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 1_000));
    const n = receiver.got.filter((g) => g.body.droplet_id === id && g.at >= from).length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(7);
  });

  it('counts a refused heartbeat instead of throwing', async () => {
    const t = agentFor({ heartbeatToken: 'revoked' });
    const id = Number(t.dropletId);
    await waitFor(() => fleet.agent(id)!.heartbeatsFailed >= 2, 'refused heartbeats');
    expect(fleet.agent(id)!.heartbeatsSent).toBe(0);
    expect(fleet.stats().heartbeats.failures['401']).toBeGreaterThanOrEqual(2);
  });

  it('a powered-off agent sends nothing until it boots', async () => {
    const t = agentFor({ poweredOn: false });
    const id = Number(t.dropletId);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.got.some((g) => g.body.droplet_id === id)).toBe(false);
    expect(await failure(client.healthCheck(t))).toBeInstanceOf(SidecarUnreachableError);
    fleet.setPower(id, true);
    await waitFor(() => receiver.got.some((g) => g.body.droplet_id === id), 'heartbeat after power on');
    expect(fleet.agent(id)!.boots).toBe(1);
  });

  it('signs a fresh token for every call, so repeated calls are never refused as replays', async () => {
    const t = agentFor();
    for (let i = 0; i < 5; i++) await client.healthCheck(t);
    expect(fleet.commandCount(Number(t.dropletId), 'HEALTH_CHECK')).toBe(5);
  });
});

describe('legacy handshake heartbeats', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let fleet: SidecarFleet;

  beforeAll(async () => {
    receiver = await startReceiver();
    fleet = await createSidecarFleet({
      publicKey: publicPem,
      masterKey: MASTER_KEY,
      dashboardUrl: `${receiver.url}/`,
      heartbeatMode: 'legacy',
      handshakeSecret: HANDSHAKE_SECRET,
      heartbeatIntervalMs: 150,
      bootDelayMs: 50,
      logger,
    });
  });
  afterAll(async () => {
    await fleet?.close();
    await receiver?.close();
  });

  it('POSTs {workspace_id, sidecar_url, version, capabilities} with the handshake secret', async () => {
    const url = fleet.addAgent({
      dropletId: 7,
      workspaceId: 'ws_legacy',
      sidecarVersion: '1.2.0',
      n8nVersion: '1.60.0',
      poweredOn: true,
    });
    const hb = await waitFor(() => receiver.got[0], 'a handshake');
    expect(hb.path).toBe('/api/sidecar/handshake');
    expect(hb.headers.authorization).toBe(`Bearer ${HANDSHAKE_SECRET}`);
    expect(hb.body).toEqual({
      workspace_id: 'ws_legacy',
      sidecar_url: url,
      version: '1.2.0',
      capabilities: expect.arrayContaining(['HEALTH_CHECK', 'SWAP_CONTAINER']),
    });
    expect(handshakeSchema.safeParse(hb.body).success).toBe(true);
    // the receiver records a request before it answers; the sender counts it once answered
    await waitFor(() => fleet.stats().heartbeats.sent >= 1, 'the handshake counted as sent');

    fleet.setFault(7, { kind: 'crash' });
    await new Promise((r) => setTimeout(r, 100)); // let an in-flight send land
    const n = receiver.got.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(receiver.got.length).toBe(n);
  });

  it('counts heartbeats to a dashboard that refuses connections as failed, without throwing', async () => {
    const closed = await startReceiver();
    const deadUrl = closed.url;
    await closed.close();
    const f = await createSidecarFleet({
      publicKey: publicPem,
      masterKey: 'm',
      dashboardUrl: deadUrl,
      heartbeatMode: 'legacy',
      handshakeSecret: HANDSHAKE_SECRET,
      heartbeatIntervalMs: 50,
      bootDelayMs: 0,
    });
    try {
      f.addAgent({ dropletId: 9, workspaceId: 'w9', sidecarVersion: '1', n8nVersion: '1', poweredOn: true });
      await waitFor(() => f.stats().heartbeats.failed >= 3, 'failed heartbeats');
      expect(f.stats().heartbeats).toMatchObject({ sent: 0, failures: { error: expect.any(Number) } });
      expect(f.agent(9)!.heartbeatsFailed).toBeGreaterThanOrEqual(3);
    } finally {
      await f.close();
    }
  });

  it('cannot be created without the secret, and close() leaves nothing behind', async () => {
    await expect(
      createSidecarFleet({
        publicKey: publicPem,
        masterKey: 'm',
        dashboardUrl: receiver.url,
        heartbeatMode: 'legacy',
        heartbeatIntervalMs: 100,
        bootDelayMs: 0,
      }),
    ).rejects.toThrow(/handshakeSecret/);
    const f = await createSidecarFleet({
      publicKey: publicPem,
      masterKey: 'm',
      dashboardUrl: receiver.url,
      heartbeatMode: 'legacy',
      handshakeSecret: HANDSHAKE_SECRET,
      heartbeatIntervalMs: 50,
      bootDelayMs: 0,
    });
    for (let i = 1; i <= 200; i++)
      f.addAgent({
        dropletId: 1000 + i,
        workspaceId: `w${i}`,
        sidecarVersion: '1',
        n8nVersion: '1',
        poweredOn: true,
      });
    await waitFor(() => f.stats().heartbeats.sent >= 200, 'heartbeats from 200 agents');
    await f.close();
    const after = f.stats().heartbeats.sent;
    await new Promise((r) => setTimeout(r, 150));
    expect(f.stats().heartbeats.sent).toBe(after);
    expect(f.stats().scheduler.pending).toBe(0);
  });
});
