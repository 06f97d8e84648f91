/**
 * The budget's process-side logic: header maths, key names, and the acquire loop (sleeping what the
 * script says, the max wait, abort), with a scripted stand-in for Redis and a fake sleep. The Lua
 * sliding-window maths run against real Redis in test/integration/digitalocean-budget.test.ts.
 */
import {
  blockFromRateLimitHeaders,
  budgetKeyBase,
  DigitalOceanBudget,
  parseRetryAfterMs,
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
    expect(args[1]).toBe(4); // blocked, seq, minute log, hour log
    expect(args.slice(6)).toEqual([String(NOW), '1000', '60000', '250', '60000', '5000', '3600000']);
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
    await expect(blocked.budget.acquire(undefined, undefined, 5_000)).rejects.toThrow(
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
