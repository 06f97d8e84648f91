/**
 * The fleet-wide semaphore on the real Redis: two connections (two worker processes) never hold
 * more than the limit together; a holder whose connection dies loses its slot when its lease runs
 * out; a waiter gives up after maxWaitMs with a retryable error.
 */
import Redis from 'ioredis';
import { FleetConcurrencyBusyError, FleetSemaphore } from '../../src/concurrency/fleet-semaphore';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';

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
    let release!: () => void;
    const held = a.withSlot('credential', () => new Promise<void>((res) => (release = res)));
    await new Promise((res) => setTimeout(res, 100));
    expect(await b.inUse('credential')).toBe(1);
    dying.disconnect(); // the process is gone: no renewals, no release
    const t0 = Date.now();
    await b.withSlot('credential', async () => undefined);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(3_000);
    release();
    await held.catch(() => undefined);
  });

  it('renews the lease of a long holder, and a waiter gives up with a retryable error', async () => {
    const s = new FleetSemaphore({
      redis: connection(),
      keyPrefix: r.prefix,
      limits,
      leaseMs: 300,
      pollMs: 20,
    });
    const w = new FleetSemaphore({
      redis: connection(),
      keyPrefix: r.prefix,
      limits,
      leaseMs: 300,
      pollMs: 20,
      maxWaitMs: 1_000,
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
