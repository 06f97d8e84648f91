/** The Web UI codec server and /metrics on the API app, over real HTTP with real Redis. */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { defaultPayloadConverter } from '@temporalio/common';
import { createApp } from '../../src/api/app';
import { HealthChecker } from '../../src/api/health';
import { heartbeatStreamNames } from '../../src/heartbeats/stream';
import { HeartbeatTokenVerifier, issueHeartbeatToken } from '../../src/heartbeats/tokens';
import { createMetrics } from '../../src/metrics';
import { createRedis } from '../../src/redis';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { nativeHeartbeat, post } from '../helpers/heartbeats';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import { testLogger } from '../helpers/temporal';

describe('codec server and /metrics', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let server: Server;
  let base: string;
  let token: string;
  const redis = createRedis(TEST_REDIS_URL, testLogger);
  const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);
  const CODEC_TOKEN = 'codec-token-for-operators';

  beforeAll(async () => {
    if (redis.status !== 'ready') await new Promise((res) => redis.once('ready', res));
    db = await createTestDatabase();
    r = await createTestRedis();
    await seedDroplet(db.pool, { id: 7, workspaceId: 'ws-7' });
    token = await issueHeartbeatToken(db.pool, 7);
    const stream = heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');
    const metrics = createMetrics({ redis, stream, backlogAlert: 1000, defaultMetrics: false });
    const ok = async () => undefined;
    const app = createApp({
      logger: testLogger,
      health: new HealthChecker(
        { temporal: ok, redis: ok, postgres: ok, worker: ok },
        { version: 't', timeoutMs: 500 },
      ),
      metrics: metrics.registry,
      codec: { codec, token: CODEC_TOKEN, corsOrigins: ['http://localhost:8233'] },
      heartbeats: {
        redis,
        stream,
        verifier: new HeartbeatTokenVerifier(db.pool),
        maxPerRequest: 10,
        bodyLimitBytes: 10_000,
        logger: testLogger,
        metrics: metrics.ingest,
      },
    });
    server = app.listen(0);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await new Promise((res) => server.close(res));
    redis.disconnect();
    await r.cleanup();
    await db.drop();
  });

  const wire = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });

  it('decodes encrypted payloads for a caller with the token, and refuses one without', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ secret: 'blob-123' })]);
    const denied = await post(`${base}/codec/decode`, { payloads: [wire(enc!)] });
    expect(denied.status).toBe(401);
    const res = await post(
      `${base}/codec/decode`,
      { payloads: [wire(enc!)] },
      { authorization: `Bearer ${CODEC_TOKEN}`, origin: 'http://localhost:8233' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    const decoded = Buffer.from(res.body.payloads[0].data, 'base64').toString();
    expect(decoded).toContain('blob-123');
    const roundTrip = await post(
      `${base}/codec/encode`,
      { payloads: res.body.payloads },
      { authorization: `Bearer ${CODEC_TOKEN}` },
    );
    expect(Buffer.from(roundTrip.body.payloads[0].metadata.encoding, 'base64').toString()).toBe(
      'binary/encrypted',
    );
  });

  it('answers the browser preflight for the configured UI origin only', async () => {
    const res = await fetch(`${base}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:8233' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
  });

  it('exports heartbeat counters, latency and the stream backlog', async () => {
    expect(
      (await post(`${base}/v1/heartbeats`, nativeHeartbeat(7, 'ws-7'), { authorization: `Bearer ${token}` }))
        .status,
    ).toBe(202);
    expect((await post(`${base}/v1/heartbeats`, '{', { authorization: `Bearer ${token}` })).status).toBe(400);
    expect(
      (await post(`${base}/v1/heartbeats`, nativeHeartbeat(7, 'ws-7'), { authorization: 'Bearer x' })).status,
    ).toBe(401);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/genesis_heartbeats_accepted_total\{route="native"\} 1/);
    expect(text).toMatch(/genesis_heartbeats_rejected_total\{route="native",reason="malformed_token"\} 1/);
    expect(text).toMatch(/genesis_heartbeat_ingest_duration_seconds_count\{route="native"\} 1/);
    expect(text).toMatch(/genesis_heartbeat_stream_length 1/);
    expect(text).toMatch(/genesis_heartbeat_stream_scrape_ok 1/);
  });
});
