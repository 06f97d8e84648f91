/**
 * The handshake route as a drop-in for the dashboard's (specs/sidecar-v1/PROTOCOL.md): the answers
 * the deployed agent requires (a first boot needs JSON `success: true` or the agent exits 1), the
 * dashboard's refusals, what the drain makes of a v1 handshake (no version stored, the n8n status,
 * the agent's droplet_id claim, its capabilities), cloud-init-complete, and the asynchronous relay
 * to the dashboard, which never delays or fails the agent's answer.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type Redis from 'ioredis';
import { Pool } from 'pg';
import { DashboardRelay } from '../../src/api/dashboard-relay';
import { createApp } from '../../src/api/app';
import type { HealthReport } from '../../src/api/health';
import { dashboardRelayCheck } from '../../src/api/health-checks';
import { applyHeartbeats } from '../../src/db/heartbeats';
import { parseStreamPayload } from '../../src/heartbeats/heartbeat';
import { heartbeatStreamNames, streamBacklog, type HeartbeatStreamNames } from '../../src/heartbeats/stream';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/redis';
import { createSidecarFleet } from '../../src/simulator/sidecars';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { post } from '../helpers/heartbeats';
import { ingestApp } from '../helpers/ingest-app';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import { throwawayRedis } from '../helpers/throwaway';
import { eventually } from '../helpers/temporal';
import { rsaTestKeys } from '../helpers/keys';

jest.setTimeout(60_000);

const logger = createLogger({ level: 'silent' });
const SECRET = 'handshake-secret-for-tests-0123456789';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A stand-in dashboard: records what it receives, answers `status()`. */
async function dashboard(status: () => number = () => 200) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(status(), { 'content-type': 'application/json' }).end('{"success":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { received, url, close: () => new Promise((r) => server.close(r)) };
}

const app = (redis: Redis, stream: HeartbeatStreamNames, pool: Pool, relay?: DashboardRelay) =>
  ingestApp({
    redis,
    stream,
    pool,
    logger,
    handshakeSecret: SECRET,
    relay,
    maxPerRequest: 5,
    bodyLimitBytes: 8_192,
    health: relay ? { dashboard_relay: dashboardRelayCheck(() => relay.status(), 1) } : {},
  });

async function listen(a: ReturnType<typeof createApp>): Promise<{ server: Server; base: string }> {
  const server = a.listen(0);
  await new Promise((r) => server.once('listening', r));
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

const firstBoot = (over: Record<string, unknown> = {}) => ({
  workspace_id: 'ws-1',
  sidecar_url: 'http://203.0.113.7:3100',
  version: 'unknown',
  capabilities: ['deploy', 'gmail'],
  ...over,
});
const auth = { authorization: `Bearer ${SECRET}` };

describe('POST /api/sidecar/handshake, as the deployed agent needs it', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let redis: Redis;
  let base: string;
  let server: Server;
  let dash: Awaited<ReturnType<typeof dashboard>>;
  let relay: DashboardRelay;
  const stream = () => heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');

  /** What the drain would write: the buffered entries applied to Postgres. */
  async function drainAll() {
    const entries = await r.redis.xrange(stream().key, '-', '+');
    await r.redis.del(stream().key);
    const hbs = entries.flatMap(([, fields]) => parseStreamPayload(fields[fields.indexOf('hb') + 1]!) ?? []);
    return applyHeartbeats(db.pool, hbs);
  }
  const droplet = async () =>
    (
      await db.pool.query<{
        sidecar_url: string;
        sidecar_version: string | null;
        n8n_status: string | null;
        agent_droplet_id: string | null;
        agent_droplet_id_source: string | null;
        agent_capabilities: string[] | null;
        agent_registered_at: Date | null;
        last_heartbeat_at: Date | null;
      }>('SELECT * FROM droplets WHERE id = 1')
    ).rows[0]!;

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    await seedDroplet(db.pool, { id: 1, workspaceId: 'ws-1' });
    await db.pool.query(`UPDATE droplets SET sidecar_version = '1.0.0' WHERE id = 1`);
    redis = createRedis(TEST_REDIS_URL, logger);
    if (redis.status !== 'ready') await new Promise((res) => redis.once('ready', res));
    dash = await dashboard();
    relay = new DashboardRelay({ url: dash.url, logger, backoffMs: 20 });
    ({ server, base } = await listen(app(redis, stream(), db.pool, relay)));
  });

  afterAll(async () => {
    await relay.close();
    redis.disconnect();
    await new Promise((res) => server.close(res));
    await dash.close();
    await r.cleanup();
    await db.drop();
  });

  it('answers a first boot 200 {success: true, registered_at, workspace_id, message} and buffers it', async () => {
    const res = await post(`${base}/api/sidecar/handshake`, firstBoot(), auth);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      success: true,
      registered_at: expect.stringMatching(ISO),
      workspace_id: 'ws-1',
      message: 'Sidecar registered for workspace ws-1',
    });
    expect((await streamBacklog(r.redis, stream())).length).toBe(1);
    const applied = await drainAll();
    expect(applied).toMatchObject({ received: 1, applied: 1, unknown: 0 });
    const d = await droplet();
    // learned: the claim (the sidecar_url's host), capabilities, the registration; no version
    expect(d).toMatchObject({
      sidecar_url: 'http://203.0.113.7:3100',
      sidecar_version: '1.0.0',
      agent_droplet_id: '203.0.113.7',
      agent_droplet_id_source: 'handshake',
      agent_capabilities: ['deploy', 'gmail'],
    });
    expect(d.agent_registered_at).toBeInstanceOf(Date);
    expect(d.n8n_status).toBeNull(); // "unknown" is not an n8n status
  });

  it('stores a keep-alive\'s "version" as the n8n status it is, never as a version', async () => {
    const res = await post(`${base}/api/sidecar/handshake`, firstBoot({ version: 'degraded' }), auth);
    expect(res.status).toBe(200);
    await drainAll();
    expect(await droplet()).toMatchObject({ n8n_status: 'degraded', sidecar_version: '1.0.0' });
  });

  it('never lets a handshake override a claim an operator set', async () => {
    await db.pool.query(
      `UPDATE droplets SET agent_droplet_id = '1', agent_droplet_id_source = 'operator' WHERE id = 1`,
    );
    await post(`${base}/api/sidecar/handshake`, firstBoot({ version: 'healthy' }), auth);
    await drainAll();
    expect(await droplet()).toMatchObject({ agent_droplet_id: '1', agent_droplet_id_source: 'operator' });
  });

  it.each([
    ['no bearer', {}, firstBoot(), 401, { workspace_id: '', error: 'Unauthorized' }],
    [
      'a wrong secret',
      { authorization: 'Bearer wrong-secret-wrong-secret' },
      firstBoot(),
      401,
      { error: 'Unauthorized' },
    ],
    [
      'no sidecar_url',
      auth,
      { workspace_id: 'ws-1', version: 'unknown' },
      400,
      {
        workspace_id: 'ws-1',
        error: 'workspace_id and sidecar_url are required',
      },
    ],
    [
      'no workspace_id',
      auth,
      { sidecar_url: 'http://1.2.3.4:3100' },
      400,
      {
        error: 'workspace_id and sidecar_url are required',
      },
    ],
    [
      'a sidecar_url that is not a URL',
      auth,
      firstBoot({ sidecar_url: 'not a url' }),
      400,
      {
        error: expect.stringMatching(/sidecar_url/),
      },
    ],
    ['malformed JSON', auth, '{"workspace_id": ', 400, { error: 'request body must be a JSON object' }],
    [
      'a body over the limit',
      auth,
      firstBoot({ pad: 'x'.repeat(9_000) }),
      400,
      { workspace_id: '', error: 'request body must be a JSON object' },
    ],
    [
      'an unknown workspace',
      auth,
      firstBoot({ workspace_id: 'ws-nobody' }),
      404,
      {
        workspace_id: 'ws-nobody',
        error: 'workspace_id not found',
      },
    ],
  ] as const)(
    'refuses %s like the dashboard (same status, {success:false, ...})',
    async (_n, headers, body, status, extra) => {
      const before = (await streamBacklog(r.redis, stream())).length;
      const res = await post(`${base}/api/sidecar/handshake`, body, headers as Record<string, string>);
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ success: false, registered_at: expect.stringMatching(ISO), ...extra });
      expect((await streamBacklog(r.redis, stream())).length).toBe(before);
    },
  );

  it('answers the path as express matched it (any case, a trailing slash), with a JSON content type', async () => {
    for (const path of ['/api/sidecar/handshake/', '/API/Sidecar/Handshake', '/api/sidecar/handshake?x=1']) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(firstBoot()),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toMatchObject({ success: true, workspace_id: 'ws-1' });
    }
    const other = await fetch(`${base}/api/sidecar/handshakes`, {
      method: 'POST',
      headers: auth,
      body: '{}',
    });
    expect(other.status).toBe(404);
  });

  it('serves cloud-init-complete and relays both routes to the dashboard as received', async () => {
    dash.received.length = 0;
    const raw = JSON.stringify(firstBoot({ version: 'healthy' }));
    await fetch(`${base}/api/sidecar/handshake`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'axios/1.13.6', ...auth },
      body: raw,
    });
    const ci = await post(
      `${base}/api/sidecar/cloud-init-complete`,
      { workspace_id: 'ws-1', status: 'done' },
      auth,
    );
    expect(ci).toMatchObject({
      status: 200,
      body: { success: true, received_at: expect.stringMatching(ISO) },
    });
    await relay.whenIdle();
    expect(dash.received.map((c) => c.path)).toEqual([
      '/api/sidecar/handshake',
      '/api/sidecar/cloud-init-complete',
    ]);
    const hs = dash.received[0]!;
    expect(hs.body).toBe(raw); // byte for byte
    expect(hs.headers.authorization).toBe(auth.authorization);
    expect(hs.headers['user-agent']).toBe('axios/1.13.6');
    expect(JSON.parse(dash.received[1]!.body)).toEqual({ workspace_id: 'ws-1', status: 'done' });
    // unauthenticated handshakes are not relayed
    await post(`${base}/api/sidecar/handshake`, firstBoot(), { authorization: 'Bearer nope-nope-nope-nope' });
    await relay.whenIdle();
    expect(dash.received).toHaveLength(2);
  });

  it('answers the agent at once while the dashboard is down; the outage shows in /health and the relay counts', async () => {
    let answer = 503;
    const slow = await dashboard(() => answer);
    const outcomes: string[] = [];
    const failing = new DashboardRelay({
      url: slow.url,
      logger,
      backoffMs: 10,
      maxAttempts: 3,
      onOutcome: (_r, o) => outcomes.push(o),
    });
    const { server: s2, base: b2 } = await listen(app(redis, stream(), db.pool, failing));
    try {
      const t0 = performance.now();
      const res = await post(`${b2}/api/sidecar/handshake`, firstBoot({ version: 'healthy' }), auth);
      expect(res.status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(1_000); // never waits for the relay
      await failing.whenIdle();
      expect(slow.received).toHaveLength(3); // retried, then given up
      expect(outcomes).toEqual(['failed']);
      const health = (await (await fetch(`${b2}/health`)).json()) as HealthReport;
      expect(health.status).toBe('degraded');
      expect(health.checks.dashboard_relay).toMatchObject({ ok: false, error: expect.stringMatching(/503/) });
      answer = 200;
      await post(`${b2}/api/sidecar/handshake`, firstBoot({ version: 'healthy' }), auth);
      await failing.whenIdle();
      expect(outcomes).toEqual(['failed', 'delivered']);
      const again = (await (await fetch(`${b2}/health`)).json()) as HealthReport;
      expect(again.checks.dashboard_relay?.ok).toBe(true);
    } finally {
      await failing.close();
      await new Promise((res) => s2.close(res));
      await slow.close();
    }
  });

  it('keeps buffering keep-alives while Postgres cannot be asked, but tells a first boot to retry', async () => {
    const broken = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', max: 1 });
    broken.on('error', () => undefined);
    const { server: s3, base: b3 } = await listen(app(redis, stream(), broken));
    try {
      const before = (await streamBacklog(r.redis, stream())).length;
      const res = await post(`${b3}/api/sidecar/handshake`, firstBoot({ version: 'healthy' }), auth);
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ success: false, error: expect.stringMatching(/unavailable/) });
      expect((await streamBacklog(r.redis, stream())).length).toBe(before + 1); // liveness kept
    } finally {
      await new Promise((res) => s3.close(res));
      await broken.end();
    }
  });

  it('registers a first-booting v1 agent: it gets success:true and does not crash-loop', async () => {
    const keys = rsaTestKeys();
    const fleet = await createSidecarFleet({
      publicKey: keys.publicKey,
      masterKey: 'k',
      dashboardUrl: base,
      handshakeSecret: SECRET,
      heartbeatIntervalMs: 60_000,
      bootDelayMs: 50,
    });
    try {
      fleet.addAgent({ dropletId: 1, workspaceId: 'ws-1', poweredOn: true, registered: false });
      await eventually(
        () => Promise.resolve(fleet.agent(1)!),
        (a) => a.registered,
        { timeoutMs: 20_000 },
      );
      expect(fleet.agent(1)).toMatchObject({ registered: true, handshakeRejected: 0, handshakesAccepted: 1 });
    } finally {
      await fleet.close();
    }
  });
});

describe('the handshake route while Redis is down', () => {
  it('answers 500 {success:false} with Retry-After, then 200 once Redis is back', async () => {
    const db = await createTestDatabase();
    const redisServer = await throwawayRedis();
    const redis = createRedis(redisServer.url, logger);
    try {
      await seedDroplet(db.pool, { id: 5, workspaceId: 'ws-5' });
      if (redis.status !== 'ready') await new Promise((res) => redis.once('ready', res));
      const { server, base } = await listen(
        app(redis, heartbeatStreamNames('gcp-hs-down:', 'hb', 'g'), db.pool),
      );
      const url = `${base}/api/sidecar/handshake`;
      const body = firstBoot({ workspace_id: 'ws-5' });
      try {
        await redisServer.stop();
        const down = await post(url, body, auth);
        expect(down.status).toBe(500);
        expect(down.headers.get('retry-after')).toBe('5');
        expect(down.body).toMatchObject({
          success: false,
          error: expect.stringMatching(/buffer is unavailable/),
        });
        await redisServer.start();
        let up = await post(url, body, auth);
        for (let i = 0; i < 50 && up.status !== 200; i++) {
          await new Promise((res) => setTimeout(res, 200));
          up = await post(url, body, auth);
        }
        expect(up).toMatchObject({ status: 200, body: { success: true } });
      } finally {
        await new Promise((res) => server.close(res));
      }
    } finally {
      redis.disconnect();
      await redisServer.destroy();
      await db.drop();
    }
  });
});
