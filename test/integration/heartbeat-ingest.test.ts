/**
 * The native ingest edge (POST /v1/heartbeats; the v1 handshake route is sidecar-handshake.test.ts): every malformed or unauthorised request gets its 4xx with a JSON reason, the
 * process keeps serving, and accepted heartbeats land in the Redis stream.
 */
import type { Server } from 'node:http';
import { createApp } from '../../src/api/app';
import { HealthChecker } from '../../src/api/health';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { heartbeatStreamNames, streamBacklog, type HeartbeatStreamNames } from '../../src/heartbeats/stream';
import { HeartbeatTokenVerifier, issueHeartbeatToken } from '../../src/heartbeats/tokens';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/redis';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { nativeHeartbeat, post } from '../helpers/heartbeats';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import { throwawayRedis } from '../helpers/throwaway';

const logger = createLogger({ level: 'silent' });

/** The API app with the ingest routes under test (health checks stubbed: not what is tested here). */
function ingestApp(redis: Redis, stream: HeartbeatStreamNames, pool: Pool) {
  const ok = async () => undefined;
  return createApp({
    logger,
    health: new HealthChecker(
      { temporal: ok, redis: ok, postgres: ok, worker: ok },
      { version: 't', timeoutMs: 500 },
    ),
    heartbeats: {
      redis,
      stream,
      verifier: new HeartbeatTokenVerifier(pool),
      maxPerRequest: 5,
      bodyLimitBytes: 4_096,
      logger,
    },
  });
}

describe('heartbeat ingest routes', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let server: Server;
  let base: string;
  let token1: string;
  let token2: string;
  const stream = () => heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    await seedDroplet(db.pool, { id: 1, workspaceId: 'ws-1' });
    await seedDroplet(db.pool, { id: 2, workspaceId: 'ws-2' });
    token1 = await issueHeartbeatToken(db.pool, 1);
    token2 = await issueHeartbeatToken(db.pool, 2);
    const redis = createRedis(TEST_REDIS_URL, logger);
    // no offline queue: until connected the API answers 503 (tested elsewhere); start once ready
    if (redis.status !== 'ready') await new Promise((res) => redis.once('ready', res));
    const app = ingestApp(redis, stream(), db.pool);
    server = app.listen(0);
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    (server as any).redisForCleanup = redis;
  });

  afterAll(async () => {
    (server as any).redisForCleanup.disconnect();
    await new Promise((res) => server.close(res));
    await r.cleanup();
    await db.drop();
  });

  it('accepts one heartbeat and an array, 202, and buffers them in the stream', async () => {
    const auth = { authorization: `Bearer ${token1}` };
    const one = await post(`${base}/v1/heartbeats`, nativeHeartbeat(1, 'ws-1'), auth);
    expect(one).toMatchObject({ status: 202, body: { accepted: 1 } });
    const many = await post(
      `${base}/v1/heartbeats`,
      [nativeHeartbeat(1, 'ws-1'), nativeHeartbeat(1, 'ws-1', { droplet_id: '1' })],
      auth,
    );
    expect(many).toMatchObject({ status: 202, body: { accepted: 2 } });
    expect((await streamBacklog(r.redis, stream())).length).toBe(2); // one entry per request
  });

  const hb = nativeHeartbeat(1, 'ws-1');
  const cases: {
    name: string;
    path?: string;
    body: unknown;
    headers?: Record<string, string>;
    status: number;
    error: string;
  }[] = [
    { name: 'malformed JSON', body: '{"workspace_id": ', status: 400, error: 'malformed_json' },
    { name: 'a JSON string instead of an object', body: '"hello"', status: 400, error: 'bad_body' },
    {
      name: 'wrong content type',
      body: 'x',
      headers: { 'content-type': 'text/plain' },
      status: 415,
      error: 'unsupported_media_type',
    },
    { name: 'missing token', body: hb, headers: { authorization: '' }, status: 401, error: 'missing_token' },
    {
      name: 'garbage token',
      body: hb,
      headers: { authorization: 'Bearer nope' },
      status: 401,
      error: 'malformed_token',
    },
    {
      name: 'token of an unknown droplet',
      body: hb,
      headers: { authorization: `Bearer 77.${'a'.repeat(43)}` },
      status: 401,
      error: 'unknown_droplet',
    },
    {
      name: 'wrong secret for droplet 1',
      body: hb,
      headers: { authorization: `Bearer 1.${'b'.repeat(43)}` },
      status: 401,
      error: 'bad_token',
    },
    { name: "another droplet's token", body: hb, headers: { auth2: '1' }, status: 403, error: 'token_scope' },
    {
      name: 'wrong workspace for the droplet',
      body: { ...hb, workspace_id: 'ws-2' },
      status: 403,
      error: 'token_scope',
    },
    {
      name: 'missing fields',
      body: { workspace_id: 'ws-1', droplet_id: 1 },
      status: 422,
      error: 'invalid_heartbeat',
    },
    { name: 'wrong types', body: { ...hb, cpu_percent: 'high' }, status: 422, error: 'invalid_heartbeat' },
    {
      name: 'out-of-range percent',
      body: { ...hb, memory_percent: 140 },
      status: 422,
      error: 'invalid_heartbeat',
    },
    {
      name: 'bad timestamp',
      body: { ...hb, timestamp: 'yesterday' },
      status: 422,
      error: 'invalid_heartbeat',
    },
    {
      name: 'unknown n8n status',
      body: { ...hb, n8n_status: 'great' },
      status: 422,
      error: 'invalid_heartbeat',
    },
    { name: 'unexpected field', body: { ...hb, extra: 1 }, status: 422, error: 'invalid_heartbeat' },
    { name: 'empty array', body: [], status: 422, error: 'empty_batch' },
    {
      name: 'too many in one array',
      body: Array.from({ length: 6 }, () => hb),
      status: 413,
      error: 'too_many_heartbeats',
    },
    {
      name: 'oversize body',
      body: { ...hb, n8n_version: 'x'.repeat(5_000) },
      status: 413,
      error: 'body_too_large',
    },
  ];

  it.each(cases)('refuses $name with $status', async (c) => {
    const before = (await streamBacklog(r.redis, stream())).length;
    let headers: Record<string, string> = { authorization: `Bearer ${token1}`, ...(c.headers ?? {}) };
    if (headers.auth2) headers = { authorization: `Bearer ${token2}` };
    if (headers.authorization === '') delete headers.authorization;
    const res = await post(`${base}${c.path ?? '/v1/heartbeats'}`, c.body, headers);
    expect(res.status).toBe(c.status);
    expect(res.body).toMatchObject({ error: c.error });
    expect(typeof res.body.message).toBe('string');
    expect((await streamBacklog(r.redis, stream())).length).toBe(before); // nothing partial was buffered
  });

  it('names the failing fields of the failing array element', async () => {
    const res = await post(`${base}/v1/heartbeats`, [hb, { ...hb, disk_percent: -1 }], {
      authorization: `Bearer ${token1}`,
    });
    expect(res.status).toBe(422);
    expect(res.body.issues).toEqual([expect.objectContaining({ path: '1.disk_percent' })]);
  });

  it('keeps serving after all of that', async () => {
    const res = await post(`${base}/v1/heartbeats`, nativeHeartbeat(2, 'ws-2'), {
      authorization: `Bearer ${token2}`,
    });
    expect(res.status).toBe(202);
  });
});

describe('heartbeat ingest while Redis is down', () => {
  it('answers 503 with Retry-After, then accepts again once Redis is back', async () => {
    const db = await createTestDatabase();
    const redisServer = await throwawayRedis();
    const redis = createRedis(redisServer.url, logger);
    try {
      await seedDroplet(db.pool, { id: 5, workspaceId: 'ws-5' });
      const token = await issueHeartbeatToken(db.pool, 5);
      const app = ingestApp(redis, heartbeatStreamNames('gcp-down-test:', 'hb', 'g'), db.pool);
      const server = app.listen(0);
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/heartbeats`;
      const auth = { authorization: `Bearer ${token}` };
      try {
        await redisServer.stop();
        const down = await post(url, nativeHeartbeat(5, 'ws-5'), auth);
        expect(down.status).toBe(503);
        expect(down.headers.get('retry-after')).toBe('5');
        expect(down.body.error).toBe('buffer_unavailable');
        await redisServer.start();
        let up = await post(url, nativeHeartbeat(5, 'ws-5'), auth);
        for (let i = 0; i < 50 && up.status !== 202; i++) {
          await new Promise((res) => setTimeout(res, 200));
          up = await post(url, nativeHeartbeat(5, 'ws-5'), auth);
        }
        expect(up.status).toBe(202);
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
