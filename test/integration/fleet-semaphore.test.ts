/**
 * The fleet-wide semaphore on the real Redis: two connections (two worker processes) never hold
 * more than the limit together; a holder whose connection dies loses its slot when its lease runs
 * out; a waiter gives up after maxWaitMs with a retryable error; a holder whose lease is lost
 * (reclaimed, or Redis stalled longer than the lease) stops: its work is aborted and the change
 * activity fails retryably.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { MockActivityEnvironment } from '@temporalio/testing';
import Redis from 'ioredis';
import pino from 'pino';
import { createChangeActivities } from '../../activities/changes';
import type { ActivityDeps } from '../../activities';
import {
  FleetConcurrencyBusyError,
  FleetLeaseLostError,
  FleetSemaphore,
} from '../../src/concurrency/fleet-semaphore';
import { SidecarClient } from '../../src/sidecar/client';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import { eventually } from '../helpers/temporal';
import { throwawayRedis, type Throwaway } from '../helpers/throwaway';
import { rsaTestKeys } from '../helpers/keys';

const limits = { n8n_update: 5, workflow_update: 100, credential: 1 };

describe('fleet semaphore', () => {
  let r: TestRedis;
  const extra: Redis[] = [];
  beforeAll(async () => {
    r = await createTestRedis();
  });
  afterAll(async () => {
    extra.forEach((c) => c.disconnect());
    await r.cleanup();
  });
  const connection = () => {
    const c = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    extra.push(c);
    return c;
  };

  it('holds two processes together to the limit, and every job runs once', async () => {
    const semaphores = [connection(), connection()].map(
      (redis) => new FleetSemaphore({ redis, keyPrefix: r.prefix, limits, pollMs: 5 }),
    );
    let now = 0;
    let max = 0;
    const ran: number[] = [];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        semaphores[i % 2]!.withSlot('n8n_update', async () => {
          now++;
          max = Math.max(max, now);
          await new Promise((res) => setTimeout(res, 10 + (i % 7) * 5));
          ran.push(i);
          now--;
        }),
      ),
    );
    expect(max).toBe(5);
    expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await semaphores[0]!.inUse('n8n_update')).toBe(0);
  });

  it('gives a dead holder slot back after its lease', async () => {
    const dying = connection();
    const a = new FleetSemaphore({ redis: dying, keyPrefix: r.prefix, limits, leaseMs: 600 });
    const b = new FleetSemaphore({
      redis: connection(),
      keyPrefix: r.prefix,
      limits,
      leaseMs: 600,
      pollMs: 20,
    });
    const held = a
      .withSlot(
        'credential',
        (signal) =>
          new Promise<void>((_res, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error)),
          ),
      )
      .catch((e: unknown) => e);
    await eventually(
      () => b.inUse('credential'),
      (n) => n === 1,
      { what: 'the slot held' },
    );
    dying.disconnect(); // the process is gone: no renewals, no release
    const t0 = Date.now();
    await b.withSlot('credential', async () => undefined);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(3_000);
    // and the holder itself (had its process survived) stopped: it could not renew
    expect(await held).toBeInstanceOf(FleetLeaseLostError);
  });

  it('renews the lease of a long holder, and a waiter gives up with a retryable error', async () => {
    // The waiter waits three leases: the holder keeps its slot only by renewing. The lease is long
    // enough that a loaded machine's event-loop stall (seen: ~0.4 s on a busy CI) does not lose it.
    const s = new FleetSemaphore({
      redis: connection(),
      keyPrefix: r.prefix,
      limits,
      leaseMs: 1_500,
      pollMs: 20,
    });
    const w = new FleetSemaphore({
      redis: connection(),
      keyPrefix: r.prefix,
      limits,
      leaseMs: 1_500,
      pollMs: 20,
      maxWaitMs: 4_500,
    });
    let release!: () => void;
    const held = s.withSlot('credential', () => new Promise<void>((res) => (release = res)));
    const err = await w.withSlot('credential', async () => 'never').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetConcurrencyBusyError);
    expect((err as FleetConcurrencyBusyError).retryable).toBe(true);
    expect(String(err)).toMatch(/fleet-wide limit 1/);
    release();
    await held;
    await expect(w.withSlot('credential', async () => 'ran')).resolves.toBe('ran');
  });
});

describe('fleet semaphore: a lost lease stops the holder', () => {
  let stallable: Throwaway;
  let r: TestRedis;
  const conns: Redis[] = [];
  const connect = (url: string) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    conns.push(c);
    return c;
  };
  beforeAll(async () => {
    stallable = await throwawayRedis();
    r = await createTestRedis();
  });
  afterAll(async () => {
    conns.forEach((c) => c.disconnect());
    await r.cleanup();
    await stallable.destroy();
  });
  /** Stalls the throwaway Redis: every client's commands wait (the server stays up) for `ms`. */
  const stall = (ms: number) => connect(stallable.url).call('CLIENT', 'PAUSE', String(ms), 'ALL');

  it('Redis stalled longer than the lease: the work is aborted and withSlot rejects retryably, at once', async () => {
    const leaseMs = 600;
    const s = new FleetSemaphore({ redis: connect(stallable.url), keyPrefix: 'stall:', limits, leaseMs });
    let aborted: number | undefined;
    let entered!: () => void;
    const inside = new Promise<void>((res) => (entered = res));
    const held = s.withSlot('credential', (signal) => {
      entered();
      return new Promise<never>((_res, reject) =>
        signal.addEventListener('abort', () => {
          aborted = Date.now();
          reject(new Error('the command saw the abort'));
        }),
      );
    });
    await inside;
    const stalledAt = Date.now();
    await stall(4_000);
    const err = await held.catch((e: unknown) => e);
    const stoppedAfter = Date.now() - stalledAt;
    expect(err).toBeInstanceOf(FleetLeaseLostError);
    expect(err).toMatchObject({ retryable: true, reason: 'unrenewable', kind: 'credential' });
    expect(aborted).toBeDefined();
    // stopped once the lease was over, without waiting for the stalled Redis to answer
    expect(stoppedAfter).toBeGreaterThanOrEqual(leaseMs / 3);
    expect(stoppedAfter).toBeLessThan(4_000);
  });

  it('a renewal that finds the slot reclaimed stops the holder', async () => {
    const redis = connect(TEST_REDIS_URL);
    const s = new FleetSemaphore({ redis, keyPrefix: r.prefix, limits, leaseMs: 300 });
    let entered!: () => void;
    const inside = new Promise<void>((res) => (entered = res));
    let signalAborted = false;
    const held = s.withSlot('n8n_update', async (signal) => {
      entered();
      await new Promise<void>((res) => signal.addEventListener('abort', () => res()));
      signalAborted = true;
    });
    await inside;
    await redis.del(s.key('n8n_update')); // another process reclaimed the expired slot
    const err = await held.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetLeaseLostError);
    expect(err).toMatchObject({ retryable: true, reason: 'reclaimed' });
    expect(signalAborted).toBe(true);
  });

  it('a change activity holding a lost lease aborts its sidecar command and fails retryably', async () => {
    let db: TestDatabase | undefined;
    let sidecar: Server | undefined;
    try {
      db = await createTestDatabase();
      // a sidecar that never answers: the command is in flight when the lease is lost
      const requests: IncomingMessage[] = [];
      let closed = 0;
      sidecar = createServer((req) => {
        requests.push(req);
        req.socket.once('close', () => closed++);
      });
      await new Promise<void>((res) => sidecar!.listen(0, '127.0.0.1', () => res()));
      const port = (sidecar.address() as { port: number }).port;
      await seedDroplet(db.pool, { id: 8801, sidecarUrl: `http://127.0.0.1:${port}` });
      const logger = pino({ level: 'silent' });
      const key = rsaTestKeys().privatePem;
      const deps = {
        pool: db.pool,
        logger,
        sidecar: new SidecarClient({ privateKey: key, logger, timeoutMs: 60_000 }),
        concurrency: new FleetSemaphore({
          redis: connect(stallable.url),
          keyPrefix: 'activity:',
          limits,
          leaseMs: 600,
        }),
      } as unknown as ActivityDeps;
      const activities = createChangeActivities(deps);
      const env = new MockActivityEnvironment();
      const running = env
        .run(activities.sidecarSwapN8nContainer, { dropletId: 8801, tag: '1.2.0' })
        .catch((e: unknown) => e);
      const until = Date.now() + 30_000;
      while (requests.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
      expect(requests).toHaveLength(1);
      await stall(4_000);
      const err = await running;
      // retryable as it is (not a non-retryable ApplicationFailure): the activity's retry policy applies
      expect(err).toBeInstanceOf(FleetLeaseLostError);
      expect(err).toMatchObject({ retryable: true });
      // the command's HTTP request was aborted, not left running
      const closedBy = Date.now() + 5_000;
      while (closed === 0 && Date.now() < closedBy) await new Promise((res) => setTimeout(res, 20));
      expect(closed).toBe(1);
    } finally {
      sidecar?.closeAllConnections();
      await new Promise((res) => (sidecar ? sidecar.close(() => res(undefined)) : res(undefined)));
      await db?.drop();
    }
  });
});
