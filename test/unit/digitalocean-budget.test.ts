/**
 * The budget's process-side logic: header maths, key names, and the acquire loop (sleeping what the
 * script says, the max wait, abort), with a scripted stand-in for Redis and a fake sleep. The Lua
 * sliding-window maths run against real Redis in test/integration/digitalocean-budget.test.ts.
 */
import {
  blockFromRateLimitHeaders,
  budgetKeyBase,
  DigitalOceanBudget,
  laneLimit,
  parseRetryAfterMs,
  type BudgetAcquireEvent,
  type BudgetRedis,
} from '../../src/digitalocean/budget';
import { DigitalOceanBudgetExhaustedError } from '../../src/digitalocean/errors';

const NOW = 1_700_000_000_000;

function scriptedRedis(replies: (number[] | Error)[]) {
  const evalshaCalls: (string | number)[][] = [];
  const evalCalls: (string | number)[][] = [];
  const redis = {
    evalsha: (...args: (string | number)[]) => {
      evalshaCalls.push(args);
      const r = replies.shift();
      if (r === undefined) return Promise.reject(new Error('no scripted reply'));
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
    eval: (...args: (string | number)[]) => {
      evalCalls.push(args);
      return Promise.resolve([1, 0, NOW, 0]);
    },
  } as unknown as BudgetRedis;
  return { redis, evalshaCalls, evalCalls };
}

function budgetWith(
  replies: (number[] | Error)[],
  extra: Partial<ConstructorParameters<typeof DigitalOceanBudget>[0]> = {},
) {
  const r = scriptedRedis(replies);
  const sleeps: number[] = [];
  const budget = new DigitalOceanBudget({
    redis: r.redis,
    keyPrefix: 'gcp:',
    token: 'dop_v1_secret',
    clock: () => NOW,
    random: () => 0,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...extra,
  });
  return { ...r, budget, sleeps };
}

describe('rate-limit header maths', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfterMs('3', NOW)).toBe(3_000);
    expect(parseRetryAfterMs(' 1.5 ', NOW)).toBe(1_500);
    expect(parseRetryAfterMs(new Date(NOW + 42_000).toUTCString(), NOW)).toBe(42_000);
    expect(parseRetryAfterMs(new Date(NOW - 5_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfterMs('soon', NOW)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, NOW)).toBeUndefined();
  });

  it('blocks until ratelimit-reset only when ratelimit-remaining is 0', () => {
    const reset = String(NOW / 1000 + 90);
    expect(
      blockFromRateLimitHeaders(new Headers({ 'ratelimit-remaining': '0', 'ratelimit-reset': reset })),
    ).toEqual({
      untilEpochMs: NOW + 90_000,
    });
    expect(blockFromRateLimitHeaders({ 'ratelimit-remaining': '0', 'ratelimit-reset': reset })).toEqual({
      untilEpochMs: NOW + 90_000,
    });
    expect(
      blockFromRateLimitHeaders({ 'ratelimit-remaining': '12', 'ratelimit-reset': reset }),
    ).toBeUndefined();
    expect(blockFromRateLimitHeaders({ 'ratelimit-remaining': '0' })).toBeUndefined();
    expect(blockFromRateLimitHeaders({})).toBeUndefined();
  });

  it('derives key names from a hash of the token, never the token', () => {
    const a = budgetKeyBase('gcp:', 'dop_v1_secret');
    expect(a).toMatch(/^gcp:do:budget:\{[0-9a-f]{16}\}$/);
    expect(a).not.toContain('dop_v1_secret');
    expect(budgetKeyBase('gcp:', 'dop_v1_secret')).toBe(a);
    expect(budgetKeyBase('gcp:', 'dop_v1_other')).not.toBe(a);
    const { budget } = budgetWith([]);
    for (const key of budget.keys()) expect(key.startsWith(a)).toBe(true);
  });
});

describe('DigitalOceanBudget.acquire', () => {
  it('returns at once when the script grants, passing the injected clock and the limits', async () => {
    const t = budgetWith([[1, 0, NOW, 0]], { perMinute: 250, perHour: 5000, safetyMarginMs: 1_000 });
    await t.budget.acquire();
    expect(t.sleeps).toEqual([]);
    const args = t.evalshaCalls[0];
    expect(args[1]).toBe(6); // blocked, seq, interactive and remediation waiters, minute log, hour log
    const keys = args.slice(2, 8).map(String);
    expect(keys.map((k) => k.slice(k.lastIndexOf('}') + 2))).toEqual([
      'blocked',
      'seq',
      'wait:interactive',
      'wait:remediation',
      'minute',
      'hour',
    ]);
    // now, margin, ttl slack, lane 2 (remediation, the default), waiter id, allowance (maxWait),
    // nap cap, waiter slack, yield; then remediation's limits: the window less the 10 % interactive reserve
    expect(args.slice(8, 12)).toEqual([String(NOW), '1000', '60000', '2']);
    expect(args[12]).toMatch(/^[0-9a-f]{16}$/);
    expect(args.slice(13)).toEqual(['90000', '2000', '1000', '25', '225', '60000', '4500', '3600000']);
  });

  it('sleeps what the script says, then tries again', async () => {
    const t = budgetWith([
      [0, 1_200, NOW, 0],
      [0, 30, NOW, 0],
      [1, 0, NOW, 0],
    ]);
    await t.budget.acquire();
    expect(t.sleeps).toEqual([1_201, 31]);
  });

  it('throws a typed, retryable error at once when the wait would pass maxWaitMs', async () => {
    const t = budgetWith([[0, 5_000, NOW, 0]], { maxWaitMs: 4_000 });
    const err = await t.budget.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanBudgetExhaustedError);
    expect(err).toMatchObject({ waitMs: 5_000, maxWaitMs: 4_000, reason: 'window', retryable: true });
    expect(t.sleeps).toEqual([]);

    const blocked = budgetWith([
      [0, 3_000, NOW, 1],
      [0, 3_000, NOW, 1],
    ]);
    await expect(blocked.budget.acquire(undefined, 'bulk', 5_000)).rejects.toThrow(
      'all workers are blocked for 3000 ms',
    );
    expect(blocked.sleeps).toEqual([3_001]);
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    const t = budgetWith([[1, 0, NOW, 0]]);
    await expect(t.budget.acquire(controller.signal)).rejects.toThrow('cancelled');
    expect(t.evalshaCalls).toHaveLength(0);
  });

  it('loads the script with EVAL when Redis does not know it (NOSCRIPT)', async () => {
    const t = budgetWith([new Error('NOSCRIPT No matching script. Please use EVAL.')]);
    await t.budget.acquire();
    expect(t.evalCalls).toHaveLength(1);
    expect(String(t.evalCalls[0][0])).toContain('ZREMRANGEBYSCORE');
  });

  it('passes other Redis errors through (no budget, no request)', async () => {
    const t = budgetWith([new Error('connection closed')]);
    await expect(t.budget.acquire()).rejects.toThrow('connection closed');
  });
});

describe('DigitalOceanBudget observe/penalize', () => {
  it('observe writes an absolute block only when remaining is 0, capped at maxBlockMs', async () => {
    const t = budgetWith([[NOW + 90_000], [NOW + 10_000]], { maxBlockMs: 10_000 });
    await t.budget.observe({ 'ratelimit-remaining': '3', 'ratelimit-reset': String(NOW / 1000 + 90) });
    expect(t.evalshaCalls).toHaveLength(0);
    await t.budget.observe({ 'ratelimit-remaining': '0', 'ratelimit-reset': String(NOW / 1000 + 5) });
    expect(t.evalshaCalls[0].slice(3)).toEqual([String(NOW), String(NOW + 5_000), '']);
    await t.budget.observe({ 'ratelimit-remaining': '0', 'ratelimit-reset': String(NOW / 1000 + 3_600) });
    expect(t.evalshaCalls[1].slice(3)).toEqual([String(NOW), String(NOW + 10_000), '']);
  });

  it('penalize writes a relative block; nothing for zero', async () => {
    const t = budgetWith([[NOW + 2_500]]);
    await t.budget.penalize(0);
    await t.budget.penalize(2_499.2);
    expect(t.evalshaCalls).toHaveLength(1);
    expect(t.evalshaCalls[0].slice(3)).toEqual([String(NOW), '', '2500']);
  });
});

describe('DigitalOceanBudget lanes (process side; the Lua runs against Redis in the integration test)', () => {
  const limitsOf = (args: (string | number)[]) => args.slice(17).filter((_, i) => i % 2 === 0);

  it('laneLimit: interactive the whole window, remediation short of its reserve, bulk short of both', () => {
    const r = { interactive: 0.1, remediation: 0.2 };
    expect([
      laneLimit(250, 'interactive', r),
      laneLimit(250, 'remediation', r),
      laneLimit(250, 'bulk', r),
    ]).toEqual([250, 225, 175]);
    expect([
      laneLimit(5000, 'interactive', r),
      laneLimit(5000, 'remediation', r),
      laneLimit(5000, 'bulk', r),
    ]).toEqual([5000, 4500, 3500]);
    // tiny windows: reserves round down, and every lane keeps one request
    expect([laneLimit(1, 'interactive', r), laneLimit(1, 'remediation', r), laneLimit(1, 'bulk', r)]).toEqual(
      [1, 1, 1],
    );
    expect([
      laneLimit(10, 'interactive', r),
      laneLimit(10, 'remediation', r),
      laneLimit(10, 'bulk', r),
    ]).toEqual([10, 9, 7]);
    expect(laneLimit(250, 'bulk', { interactive: 0, remediation: 0 })).toBe(250);
  });

  it('sends each lane its index and its own limits; reserves are configurable and validated', async () => {
    const t = budgetWith(
      [
        [1, 0, NOW, 0],
        [1, 0, NOW, 0],
        [1, 0, NOW, 0],
      ],
      { reserves: { interactive: 0.2, remediation: 0.1 } },
    );
    await t.budget.acquire(undefined, 'interactive');
    await t.budget.acquire(undefined, 'remediation');
    await t.budget.acquire(undefined, 'bulk');
    expect(t.evalshaCalls.map((a) => a[11])).toEqual(['1', '2', '3']);
    expect(t.evalshaCalls.map(limitsOf)).toEqual([
      ['250', '5000'],
      ['200', '4000'],
      ['175', '3500'],
    ]);
    // a fresh waiter id per acquire
    expect(new Set(t.evalshaCalls.map((a) => a[12])).size).toBe(3);
    expect(() => budgetWith([], { reserves: { interactive: 0.5, remediation: 0.5 } })).toThrow('sum < 1');
    expect(() => budgetWith([], { reserves: { interactive: -0.1 } })).toThrow('reserves');
    await expect(t.budget.acquire(undefined, 'urgent' as never)).rejects.toThrow(
      'unknown DigitalOcean budget lane',
    );
  });

  it('a waiting interactive/remediation request asks again at least every napCap; bulk sleeps the whole wait', async () => {
    const waiting = budgetWith(
      [
        [0, 50_000, NOW, 0],
        [0, 48_000, NOW, 2],
        [1, 0, NOW, 0],
      ],
      { waiterNapCapMs: 2_000 },
    );
    await waiting.budget.acquire(undefined, 'interactive');
    expect(waiting.sleeps).toEqual([2_001, 2_001]);
    // the allowance left shrinks by what it slept: the script registers only a waiter that will wait
    expect(waiting.evalshaCalls.map((a) => a[13])).toEqual(['90000', '87999', '85998']);

    const bulk = budgetWith([
      [0, 50_000, NOW, 0],
      [1, 0, NOW, 0],
    ]);
    await bulk.budget.acquire(undefined, 'bulk');
    expect(bulk.sleeps).toEqual([50_001]);
  });

  it('a registered waiter that gives up leaves its lane at once; one that never waited does not call', async () => {
    const controller = new AbortController();
    const t = budgetWith([[0, 1_000, NOW, 0]], {
      sleep: () => {
        controller.abort(new Error('cancelled'));
        return Promise.reject(new Error('cancelled'));
      },
    });
    await expect(t.budget.acquire(controller.signal, 'interactive')).rejects.toThrow('cancelled');
    expect(t.evalshaCalls).toHaveLength(2);
    const leave = t.evalshaCalls[1];
    expect(leave[1]).toBe(1);
    expect(String(leave[2])).toMatch(/:wait:interactive$/);
    expect(leave[3]).toBe(t.evalshaCalls[0][12]); // the same waiter id

    const exhausted = budgetWith([[0, 5_000, NOW, 0], [0]], { maxWaitMs: 1_000 });
    await expect(exhausted.budget.acquire(undefined, 'remediation')).rejects.toBeInstanceOf(
      DigitalOceanBudgetExhaustedError,
    );
    expect(String(exhausted.evalshaCalls[1][2])).toMatch(/:wait:remediation$/);

    const bulk = budgetWith([[0, 5_000, NOW, 0]], { maxWaitMs: 1_000 });
    await expect(bulk.budget.acquire(undefined, 'bulk')).rejects.toBeInstanceOf(
      DigitalOceanBudgetExhaustedError,
    );
    expect(bulk.evalshaCalls).toHaveLength(1); // bulk never registers, nothing to leave
  });

  it('reports every acquire once: lane, outcome, time slept and why', async () => {
    const events: BudgetAcquireEvent[] = [];
    const t = budgetWith(
      [
        [1, 0, NOW, 0],
        [0, 300, NOW, 2],
        [0, 200, NOW, 1],
        [1, 0, NOW, 0],
        [0, 9_000, NOW, 0],
      ],
      {
        maxWaitMs: 5_000,
        onAcquire: (e) => {
          events.push(e);
          throw new Error('a metrics bug must not fail the request');
        },
      },
    );
    await t.budget.acquire(undefined, 'interactive');
    await t.budget.acquire(undefined, 'bulk');
    await expect(t.budget.acquire(undefined, 'remediation')).rejects.toBeInstanceOf(
      DigitalOceanBudgetExhaustedError,
    );
    expect(events).toEqual([
      { lane: 'interactive', outcome: 'granted', waitedMs: 0 },
      { lane: 'bulk', outcome: 'granted', waitedMs: 301 + 201, reason: 'blocked' },
      { lane: 'remediation', outcome: 'exhausted', waitedMs: 0, reason: 'window' },
    ]);
  });
});
