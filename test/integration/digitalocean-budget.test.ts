/**
 * The fleet-wide DigitalOcean budget against real Redis:
 *  1. its sliding-window maths with a fake clock (the Lua script, driven by injected time);
 *  2. two worker PROCESSES hammering one simulator through one shared budget never make it answer
 *     429, and never put more requests into any window than the limit (at DigitalOcean's real
 *     60 s window with 60/min, and with windows scaled down so both limits bind within seconds);
 *  3. a 429 with Retry-After answered to one process stops both for that long.
 */
import { DigitalOceanBudget } from '../../src/digitalocean/budget';
import { DigitalOceanBudgetExhaustedError } from '../../src/digitalocean/errors';
import { createDigitalOceanSimulator, type DigitalOceanSimulator } from '../../src/simulator/digitalocean';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import { waitFor } from '../helpers/wait';
import {
  killBudgetWorkers,
  startBudgetWorker as startWorker,
  startBudgetWorkers as startWorkers,
  type BudgetWorkerConfig,
} from '../helpers/budget-worker';

const TOKEN = 'dop_v1_budget_test_token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tr: TestRedis;

beforeAll(async () => {
  tr = await createTestRedis();
});
afterAll(async () => {
  killBudgetWorkers();
  await tr.cleanup();
});

describe('budget maths (real Redis, fake clock)', () => {
  function fakeTime(start: number) {
    const t = { now: start, slept: [] as number[] };
    return {
      t,
      clock: () => t.now,
      sleep: (ms: number) => {
        t.slept.push(ms);
        t.now += ms;
        return Promise.resolve();
      },
    };
  }

  it('grants perMinute in any sliding minute (+margin), then waits exactly until the oldest leaves', async () => {
    const f = fakeTime(1_700_000_000_000);
    const prefix = `${tr.prefix}m1:`;
    const b = new DigitalOceanBudget({
      redis: tr.redis,
      keyPrefix: prefix,
      token: TOKEN,
      perMinute: 5,
      perHour: 100,
      safetyMarginMs: 500,
      clock: f.clock,
      sleep: f.sleep,
      random: () => 0,
      waiterNapCapMs: 3_600_000, // sleep each wait in one go (the default lane re-asks every 2 s)
    });
    for (let i = 0; i < 5; i++) {
      await b.acquire();
      f.t.now += 1_000; // grants at +0s .. +4s
    }
    expect(f.t.slept).toEqual([]);
    expect((await b.usage()).windows.map((w) => [w.name, w.used, w.limit])).toEqual([
      ['minute', 5, 5],
      ['hour', 5, 100],
    ]);
    // now = +5s; the grant at +0s leaves the (60 s + 0.5 s) window at +60.5s.
    await b.acquire();
    expect(f.t.slept).toEqual([55_501]);
    // The next slot opens when the +1s grant leaves: +61.5s; we are at +60.501s.
    await b.acquire();
    expect(f.t.slept[1]).toBe(1_000);
    const keys = await tr.redis.keys(`${prefix}*`);
    expect(keys.sort()).toEqual([b.keys()[2], b.keys()[3], b.keys()[1]].sort()); // no "blocked" key: never blocked
    for (const key of keys) {
      expect(key).not.toContain(TOKEN);
      expect(await tr.redis.pttl(key)).toBeGreaterThan(0);
    }
  });

  it('the hourly limit binds on its own window, and a long wait fails fast with a typed error', async () => {
    const f = fakeTime(1_700_000_000_000);
    const b = new DigitalOceanBudget({
      redis: tr.redis,
      keyPrefix: `${tr.prefix}h1:`,
      token: TOKEN,
      perMinute: 100,
      perHour: 3,
      safetyMarginMs: 0,
      maxWaitMs: 60_000,
      clock: f.clock,
      sleep: f.sleep,
      random: () => 0,
      waiterNapCapMs: 3_600_000, // sleep each wait in one go (the default lane re-asks every 2 s)
    });
    for (let i = 0; i < 3; i++) await b.acquire();
    const err = await b.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanBudgetExhaustedError);
    expect(err).toMatchObject({ waitMs: 3_600_000, reason: 'window' });
    f.t.now += 3_600_000;
    await b.acquire();
    expect(f.t.slept).toEqual([]);
  });

  it('penalize and observe block every budget instance of the token, and a block is never shortened', async () => {
    const f = fakeTime(1_700_000_000_000);
    const make = (token: string) =>
      new DigitalOceanBudget({
        redis: tr.redis,
        keyPrefix: `${tr.prefix}p1:`,
        token,
        clock: f.clock,
        sleep: f.sleep,
        random: () => 0,
        waiterNapCapMs: 3_600_000,
      });
    const workerA = make(TOKEN);
    const workerB = make(TOKEN);
    const otherToken = make('dop_v1_another_team');
    await workerA.penalize(2_000);
    await workerA.penalize(500); // must not shorten the block
    expect((await workerB.usage()).blockedForMs).toBe(2_000);
    await workerB.acquire();
    expect(f.t.slept).toEqual([2_001]);
    await otherToken.acquire();
    expect(f.t.slept).toHaveLength(1);

    await workerB.observe({
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Math.ceil(f.t.now / 1000) + 30),
    });
    const blocked = (await workerA.usage()).blockedForMs;
    expect(blocked).toBeGreaterThan(29_000);
    expect(blocked).toBeLessThanOrEqual(31_000);
    await workerA.acquire();
    expect(f.t.slept[1]).toBe(blocked + 1);
  });

  describe('lanes', () => {
    const T0 = 1_700_000_000_000;
    /** perMinute 20: interactive 20, remediation 18 (2 kept for interactive), bulk 14 (4 more for remediation) */
    const laneBudget = (prefix: string, clock: { now: number }, sleep: (ms: number) => Promise<void>) =>
      new DigitalOceanBudget({
        redis: tr.redis,
        keyPrefix: `${tr.prefix}${prefix}:`,
        token: TOKEN,
        perMinute: 20,
        perHour: 1_000,
        minuteWindowMs: 1_000,
        safetyMarginMs: 0,
        clock: () => clock.now,
        sleep,
        random: () => 0,
      });
    const noSleep = () => Promise.reject(new Error('must not wait'));
    const refusedAtOnce = (b: DigitalOceanBudget, lane: 'interactive' | 'remediation' | 'bulk') =>
      b.acquire(undefined, lane, 0).then(
        () => false,
        (e: unknown) => e instanceof DigitalOceanBudgetExhaustedError,
      );

    it('with the window full of bulk grants, interactive is granted at once and remediation gets its reserve', async () => {
      const clock = { now: T0 };
      const b = laneBudget('l1', clock, noSleep);
      for (let i = 0; i < 14; i++) await b.acquire(undefined, 'bulk', 0);
      expect(await refusedAtOnce(b, 'bulk')).toBe(true); // bulk is at its 70 %
      // remediation's reserve: 4 more at once while bulk saturates, then it stops short of interactive's
      for (let i = 0; i < 4; i++) await b.acquire(undefined, 'remediation', 0);
      expect(await refusedAtOnce(b, 'remediation')).toBe(true);
      expect(await refusedAtOnce(b, 'bulk')).toBe(true);
      // interactive may use the whole window: granted at once, twice
      await b.acquire(undefined, 'interactive', 0);
      await b.acquire(undefined, 'interactive', 0);
      expect(await refusedAtOnce(b, 'interactive')).toBe(true);
      const minute = (await b.usage()).windows[0];
      expect(minute).toMatchObject({
        used: 20,
        limit: 20,
        byLane: { interactive: 2, remediation: 4, bulk: 14 },
        laneLimits: { interactive: 20, remediation: 18, bulk: 14 },
      });
      // a refused request that gives up at once is not left registered as waiting
      expect((await b.usage()).waiting).toEqual({ interactive: 0, remediation: 0 });
    });

    it('while a higher lane waits no lower lane is granted; a crashed waiter stops counting after its slack', async () => {
      const clock = { now: T0 };
      const b = laneBudget('l2', clock, noSleep);
      for (let i = 0; i < 20; i++) await b.acquire(undefined, 'interactive', 0); // the window is full
      let release!: () => void;
      const slept: number[] = [];
      const waiter = laneBudget('l2', clock, (ms) => {
        slept.push(ms);
        return new Promise<void>((r) => (release = r));
      });
      const granted = waiter.acquire(undefined, 'interactive');
      await waitFor(() => slept.length === 1, 'the interactive request to wait');
      expect(slept).toEqual([1_001]); // until the window's first grant leaves
      expect((await b.usage()).waiting).toEqual({ interactive: 1, remediation: 0 });
      clock.now = T0 + 1_000; // every grant left the window: all lanes have room
      expect(await refusedAtOnce(b, 'bulk')).toBe(true); // ... but an interactive request is due first
      expect(await refusedAtOnce(b, 'remediation')).toBe(true);
      release();
      await granted;
      expect((await b.usage()).waiting.interactive).toBe(0);
      await b.acquire(undefined, 'bulk', 0); // now bulk goes

      // a remediation waiter that crashed (never asks again) holds bulk back only until its entry's slack ends
      // the interactive and the bulk grant at T0+1000 and 16 remediation ones: 18, remediation's limit
      for (let i = 0; i < 16; i++) await b.acquire(undefined, 'remediation', 0);
      expect(await refusedAtOnce(b, 'remediation')).toBe(true);
      let asleep = false;
      const crashed = laneBudget('l2', clock, () => {
        asleep = true;
        return new Promise<void>(() => undefined);
      });
      void crashed.acquire(undefined, 'remediation');
      await waitFor(() => asleep, 'the remediation request to wait');
      expect((await b.usage()).waiting.remediation).toBe(1);
      clock.now = T0 + 2_000 + 500; // its slot opened at T0+2000 but it never came back
      expect(await refusedAtOnce(b, 'bulk')).toBe(true);
      clock.now = T0 + 2_000 + 1_001; // past its slack (1 s)
      await b.acquire(undefined, 'bulk', 0);
    });

    it('after a 429 block every lane waits, and the interactive waiter goes first when it ends', async () => {
      const clock = { now: T0 };
      const b = laneBudget('l3', clock, noSleep);
      await b.penalize(800);
      expect(await refusedAtOnce(b, 'interactive')).toBe(true); // the server's word binds every lane
      let release!: () => void;
      const slept: number[] = [];
      const waiter = laneBudget('l3', clock, (ms) => {
        slept.push(ms);
        return new Promise<void>((r) => (release = r));
      });
      const granted = waiter.acquire(undefined, 'interactive');
      await waitFor(() => slept.length === 1, 'the interactive request to wait for the block');
      clock.now = T0 + 800;
      expect(await refusedAtOnce(b, 'bulk')).toBe(true);
      release();
      await granted;
      await b.acquire(undefined, 'bulk', 0);
    });
  });

  it('uses the Redis server clock when no clock is injected', async () => {
    const b = new DigitalOceanBudget({
      redis: tr.redis,
      keyPrefix: `${tr.prefix}t1:`,
      token: TOKEN,
      perMinute: 2,
    });
    await b.acquire();
    await b.acquire();
    await expect(b.acquire(undefined, undefined, 1_000)).rejects.toMatchObject({ reason: 'window' });
    const [seconds] = await tr.redis.time();
    const scores = await tr.redis.zrange(`${b.keys()[2]}`, 0, -1, 'WITHSCORES');
    expect(Math.abs(Number(scores[1]) / 1000 - Number(seconds))).toBeLessThan(5);
  });
});

describe('two worker processes sharing one budget', () => {
  let sim: DigitalOceanSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  const workerConfig = (
    name: string,
    prefix: string,
    extra: Partial<BudgetWorkerConfig>,
  ): BudgetWorkerConfig => ({
    name,
    redisUrl: TEST_REDIS_URL,
    keyPrefix: prefix,
    baseUrl: (sim as DigitalOceanSimulator).url,
    token: TOKEN,
    dropletId: 1,
    concurrency: 3,
    pauseMs: 0,
    perMinute: 60,
    perHour: 5000,
    lane: 'interactive', // the whole window (the lanes' reserves are tested above)
    ...extra,
  });

  const perWorker = (s: DigitalOceanSimulator, name: string) =>
    s.requestLog().filter((e) => e.userAgent.includes(`(${name})`));

  it('60/min over DigitalOcean’s real 60 s window: exactly the allowance goes out, no 429', async () => {
    sim = await createDigitalOceanSimulator({ tokens: [TOKEN], perMinute: 60, perHour: 5000 });
    sim.addDroplet({ id: 1 });
    const prefix = `${tr.prefix}w1:`;
    const workers = await startWorkers(['a', 'b'].map((n) => workerConfig(n, prefix, {})));
    await sleep(4_000);
    const reports = await Promise.all(workers.map((w) => w.stop()));
    const stats = sim.stats();
    console.log('[do-budget 60/min, 4 s]', JSON.stringify({ stats, reports }));
    expect(stats.rateLimitedResponses).toBe(0);
    expect(stats.maxRequestsInMinuteWindow).toBe(60);
    expect(stats.totalRequests).toBe(60);
    expect(reports.reduce((n, r) => n + r.ok, 0)).toBe(60);
    for (const r of reports) {
      expect(r.ok).toBeGreaterThan(0);
      expect(r.errors).toEqual({});
    }
  }, 30_000);

  it('scaled windows (10 per 2 s, 30 per 10 s): both limits hold in every window, no 429', async () => {
    const scaled = { perMinute: 10, perHour: 30, minuteWindowMs: 2_000, hourWindowMs: 10_000 };
    sim = await createDigitalOceanSimulator({ tokens: [TOKEN], ...scaled });
    sim.addDroplet({ id: 1 });
    const prefix = `${tr.prefix}w2:`;
    const workers = await startWorkers(
      ['a', 'b'].map((n) => workerConfig(n, prefix, { ...scaled, safetyMarginMs: 150 })),
    );
    const t0 = Date.now();
    await sleep(13_000);
    const reports = await Promise.all(workers.map((w) => w.stop()));
    const elapsed = Date.now() - t0;
    const stats = sim.stats();
    console.log('[do-budget scaled, 13 s]', JSON.stringify({ elapsed, stats, reports }));
    expect(stats.rateLimitedResponses).toBe(0);
    expect(sim.maxRequestsInWindow(2_000)).toBeLessThanOrEqual(10);
    expect(sim.maxRequestsInWindow(10_000)).toBeLessThanOrEqual(30);
    // The hour-like window binds: 30 in the first ~4.3 s, then nothing until the first 10 expire at ~10.2 s.
    // Without it ~60 would go out in 13 s; without the budget hundreds would, mostly refused.
    expect(stats.totalRequests).toBeGreaterThanOrEqual(40);
    expect(stats.totalRequests).toBeLessThanOrEqual(30 * Math.ceil(elapsed / 10_000));
    for (const name of ['a', 'b']) expect(perWorker(sim, name).length).toBeGreaterThan(0);
    for (const r of reports) expect(r.errors).toEqual({});
  }, 40_000);

  it('a 429 with Retry-After answered to one process makes both wait that long', async () => {
    sim = await createDigitalOceanSimulator({ tokens: [TOKEN], perMinute: 1_000_000, perHour: 10_000_000 });
    sim.addDroplet({ id: 1 });
    const prefix = `${tr.prefix}w3:`;
    const workers = await Promise.all(
      ['a', 'b'].map((n) =>
        startWorker(
          workerConfig(n, prefix, { perMinute: 1_000_000, perHour: 10_000_000, concurrency: 2, pauseMs: 5 }),
        ),
      ),
    );
    await sleep(500);
    sim.setFault({ kind: 'rateLimited', times: 1, retryAfterSec: 2 });
    const deadline = Date.now() + 3_000;
    while (!sim.requestLog().some((e) => e.status === 429) && Date.now() < deadline) await sleep(20);
    await sleep(2_600);
    const reports = await Promise.all(workers.map((w) => w.stop()));
    const log = sim.requestLog();
    const limited = log.filter((e) => e.status === 429);
    expect(limited).toHaveLength(1);
    const t429 = limited[0].at;
    const during = log.filter((e) => e.at > t429 + 150 && e.at < t429 + 2_000);
    const summary = {
      requests: log.length,
      before: ['a', 'b'].map(
        (n) => perWorker(sim as DigitalOceanSimulator, n).filter((e) => e.at < t429).length,
      ),
      inFirst150ms: log.filter((e) => e.at > t429 && e.at <= t429 + 150).length,
      during: during.length,
      after: ['a', 'b'].map(
        (n) => perWorker(sim as DigitalOceanSimulator, n).filter((e) => e.at >= t429 + 2_000).length,
      ),
      reports,
    };
    console.log('[do-budget retry-after 2 s]', JSON.stringify(summary));
    expect(summary.before.every((n) => n > 0)).toBe(true); // both were sending
    expect(summary.during).toBe(0); // neither sent while the Retry-After ran
    expect(summary.inFirst150ms).toBeLessThanOrEqual(4); // at most the requests already in flight
    expect(summary.after.every((n) => n > 0)).toBe(true); // both resumed
    expect(reports.reduce((n, r) => n + r.saw429, 0)).toBe(1);
  }, 30_000);
});
