/**
 * Fleet-wide DigitalOcean request budget, shared by every worker process through Redis.
 *
 * Algorithm: a sliding-window log per limit, kept in Redis sorted sets and updated by one Lua
 * script, so "count, decide, record" is atomic across processes. DigitalOcean limits a token to
 * 250 requests in any minute and 5,000 in any hour and its `ratelimit-reset` is "when the oldest
 * request expires", i.e. a sliding window. A token bucket (or fixed windows) could let through up
 * to twice the limit inside one sliding minute (full bucket + refill, or the two sides of a window
 * edge); a log of grant times cannot: a request is granted only if fewer than `max` grants lie in
 * the last `windowMs + safetyMarginMs`, and otherwise the script answers how long until the
 * oldest grant that matters leaves the window. The margin covers the time between the grant and
 * the request's arrival at DigitalOcean. Memory is one sorted-set entry per granted request
 * (≤ 5,000 for the hour), which is small.
 *
 * The server's word wins over our own counting: `observe(headers)` blocks every process until
 * `ratelimit-reset` when `ratelimit-remaining` reaches 0 (someone else may share the token), and
 * `penalize(ms)` after a 429 blocks every process until then. Both write one shared "blocked
 * until" key; it is only ever pushed later, never earlier.
 *
 * Time: by default the script reads Redis's own clock (`TIME`), so workers on different hosts
 * agree on one clock; tests inject `clock` (and `sleep`) to drive it.
 *
 * Keys: `<prefix>do:budget:{<sha256(token)[0..16]>}:<name>`; the braces keep them in one Redis
 * Cluster slot. The token itself is never written anywhere.
 */
import { createHash } from 'node:crypto';
import { parseRetryAfterMs } from '../errors/retry-after';
import type { Logger } from '../logger';
import { LUA_NOW_MS_OR_ARGV1, redisCommand, runCommand, type ScriptRunner } from '../redis-commands';
import { DigitalOceanBudgetExhaustedError } from './errors';
import { DEFAULT_BUDGET_LANE, type BudgetLane } from './lanes';

/** What the client needs from a budget; the Redis one below, or a fake in unit tests. */
export interface RequestBudget {
  /** Waits until a request of `lane` may go out (default: DEFAULT_BUDGET_LANE) and records it. */
  acquire(signal?: AbortSignal, lane?: BudgetLane): Promise<void>;
  observe(headers: HeaderSource): Promise<void>;
  penalize(retryAfterMs: number): Promise<void>;
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Only the two commands the budget uses, so unit tests can stand in for Redis. */
export type BudgetRedis = ScriptRunner;

export interface DigitalOceanBudgetOptions {
  redis: BudgetRedis;
  /** Environment prefix, e.g. "genesis:". */
  keyPrefix: string;
  /** The API token the budget is for; only its hash is used. */
  token: string;
  perMinute?: number;
  perHour?: number;
  /** Window lengths; only tests change them (to scale a minute down to seconds). */
  minuteWindowMs?: number;
  hourWindowMs?: number;
  /** Added to every window to cover grant-to-arrival delay and clock differences. Default 1,000 ms. */
  safetyMarginMs?: number;
  /** Longest `acquire` may wait before it throws DigitalOceanBudgetExhaustedError. Default 90 s. */
  maxWaitMs?: number;
  /** Ceiling on a block taken from DigitalOcean's headers (a bad clock must not stop us for days). */
  maxBlockMs?: number;
  /** Epoch ms. Default: Redis server time. */
  clock?: () => number;
  sleep?: Sleep;
  /** 0..1, for the small jitter that spreads waiters waking at the same instant. */
  random?: () => number;
  logger?: Logger;
}

export interface BudgetUsage {
  windows: { name: string; used: number; limit: number; windowMs: number }[];
  blockedForMs: number;
}

/**
 * KEYS: blocked, seq, log_1..log_n.  ARGV: now|'' , margin, ttlSlack, max_1, window_1, ..., max_n, window_n.
 * Returns {granted 0|1, waitMs, now, reason 0=window|1=blocked}.
 */
const ACQUIRE = redisCommand(
  'doBudgetAcquire',
  `
${LUA_NOW_MS_OR_ARGV1}
local margin = tonumber(ARGV[2])
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
if blocked > now then
  return {0, blocked - now, now, 1}
end
local wait = 0
local n = #KEYS - 2
for i = 1, n do
  local key = KEYS[i + 2]
  local max = tonumber(ARGV[2 + i * 2])
  local window = tonumber(ARGV[3 + i * 2]) + margin
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= max then
    local entry = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
    local w = tonumber(entry[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return {0, wait, now, 0}
end
local seq = redis.call('INCR', KEYS[2])
local longest = 0
for i = 1, n do
  local key = KEYS[i + 2]
  local window = tonumber(ARGV[3 + i * 2]) + margin
  redis.call('ZADD', key, now, seq)
  redis.call('PEXPIRE', key, window + tonumber(ARGV[3]))
  if window > longest then longest = window end
end
redis.call('PEXPIRE', KEYS[2], longest + tonumber(ARGV[3]))
return {1, 0, now, 0}
`,
);

/**
 * KEYS: blocked.  ARGV: now|'', untilEpochMs|'', relativeMs|''.
 * Pushes "blocked until" later (never earlier). Returns the resulting blocked-until epoch ms.
 */
const BLOCK = redisCommand(
  'doBudgetBlock',
  `
${LUA_NOW_MS_OR_ARGV1}
local untilMs = tonumber(ARGV[2])
if not untilMs then untilMs = now + tonumber(ARGV[3]) end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > current and untilMs > now then
  redis.call('SET', KEYS[1], untilMs, 'PX', untilMs - now + 1000)
  return untilMs
end
return current
`,
  1,
);

/** KEYS: blocked, log_1..log_n.  ARGV: now|'', margin, window_1..window_n. Returns {blockedForMs, used_1..used_n}. */
const USAGE = redisCommand(
  'doBudgetUsage',
  `
${LUA_NOW_MS_OR_ARGV1}
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') - now
if blocked < 0 then blocked = 0 end
local out = {blocked}
for i = 2, #KEYS do
  local window = tonumber(ARGV[1 + i]) + tonumber(ARGV[2])
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. (now - window), '+inf')
end
return out
`,
);

export const defaultSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  const v = rec[name] ?? rec[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export { parseRetryAfterMs };

/**
 * What DigitalOcean's rate-limit headers say about waiting: when `ratelimit-remaining` is 0, every
 * process must wait until `ratelimit-reset` (epoch seconds). Undefined when there is nothing to wait for.
 */
export function blockFromRateLimitHeaders(headers: HeaderSource): { untilEpochMs: number } | undefined {
  const remaining = headerValue(headers, 'ratelimit-remaining');
  const reset = headerValue(headers, 'ratelimit-reset');
  if (remaining === undefined || reset === undefined) return undefined;
  const rem = Number(remaining);
  const resetSec = Number(reset);
  if (!Number.isFinite(rem) || !Number.isFinite(resetSec) || rem > 0) return undefined;
  return { untilEpochMs: resetSec * 1000 };
}

export function budgetKeyBase(keyPrefix: string, token: string): string {
  const hash = createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);
  return `${keyPrefix}do:budget:{${hash}}`;
}

interface Window {
  name: string;
  max: number;
  windowMs: number;
  key: string;
}

export class DigitalOceanBudget implements RequestBudget {
  private readonly redis: BudgetRedis;
  private readonly windows: Window[];
  private readonly blockedKey: string;
  private readonly seqKey: string;
  private readonly margin: number;
  private readonly maxWaitMs: number;
  private readonly maxBlockMs: number;
  private readonly clock?: () => number;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly logger?: Logger;

  constructor(opts: DigitalOceanBudgetOptions) {
    const base = budgetKeyBase(opts.keyPrefix, opts.token);
    const perMinute = opts.perMinute ?? 250;
    const perHour = opts.perHour ?? 5000;
    if (!(perMinute >= 1 && perHour >= 1)) throw new Error('DigitalOcean budget limits must be at least 1');
    this.redis = opts.redis;
    this.windows = [
      { name: 'minute', max: perMinute, windowMs: opts.minuteWindowMs ?? 60_000, key: `${base}:minute` },
      { name: 'hour', max: perHour, windowMs: opts.hourWindowMs ?? 3_600_000, key: `${base}:hour` },
    ];
    this.blockedKey = `${base}:blocked`;
    this.seqKey = `${base}:seq`;
    this.margin = opts.safetyMarginMs ?? 1_000;
    this.maxWaitMs = opts.maxWaitMs ?? 90_000;
    this.maxBlockMs = opts.maxBlockMs ?? (opts.hourWindowMs ?? 3_600_000) + this.margin;
    this.clock = opts.clock;
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.logger = opts.logger;
  }

  /** The Redis keys this budget uses (for tests and operators); none contains the token. */
  keys(): string[] {
    return [this.blockedKey, this.seqKey, ...this.windows.map((w) => w.key)];
  }

  /**
   * Waits until a request may go out and records it. Throws DigitalOceanBudgetExhaustedError at
   * once when the wait would pass `maxWaitMs` (so a Temporal activity fails fast and retries later
   * instead of sleeping through its timeout), and the signal's reason when it is aborted.
   */
  async acquire(
    signal?: AbortSignal,
    _lane: BudgetLane = DEFAULT_BUDGET_LANE,
    maxWaitMs = this.maxWaitMs,
  ): Promise<void> {
    let waited = 0;
    for (;;) {
      signal?.throwIfAborted();
      const [granted, waitMs, , reason] = await this.runAcquire();
      if (granted === 1) return;
      if (waited + waitMs > maxWaitMs) {
        throw new DigitalOceanBudgetExhaustedError(waitMs, maxWaitMs, reason === 1 ? 'blocked' : 'window');
      }
      // A little jitter so the waiters of every process do not all wake in the same millisecond.
      const nap = waitMs + 1 + Math.floor(this.random() * Math.min(50, 1 + waitMs / 10));
      this.logger?.debug(
        { waitMs: nap, reason: reason === 1 ? 'blocked' : 'window' },
        'digitalocean budget: waiting',
      );
      await this.sleep(nap, signal);
      waited += nap;
    }
  }

  /** Takes DigitalOcean's headers into account: remaining 0 blocks every process until the reset. */
  async observe(headers: HeaderSource): Promise<void> {
    const block = blockFromRateLimitHeaders(headers);
    if (!block) return;
    const now = this.clock?.() ?? Date.now();
    const until = Math.min(block.untilEpochMs, now + this.maxBlockMs);
    if (until <= now) return;
    this.logger?.warn(
      { blockedForMs: until - now },
      'digitalocean budget: ratelimit-remaining is 0, all workers wait for the reset',
    );
    await this.block(String(until), '');
  }

  /** After a 429: every process waits `retryAfterMs` from now. */
  async penalize(retryAfterMs: number): Promise<void> {
    const ms = Math.min(Math.max(0, Math.ceil(retryAfterMs)), this.maxBlockMs);
    if (ms <= 0) return;
    this.logger?.warn({ retryAfterMs: ms }, 'digitalocean budget: rate limited, all workers back off');
    await this.block('', String(ms));
  }

  async usage(): Promise<BudgetUsage> {
    const now = this.clock ? String(this.clock()) : '';
    const res = (await runCommand(
      this.redis,
      USAGE,
      [this.blockedKey, ...this.windows.map((w) => w.key)],
      [now, String(this.margin), ...this.windows.map((w) => String(w.windowMs))],
    )) as number[];
    return {
      blockedForMs: Number(res[0]),
      windows: this.windows.map((w, i) => ({
        name: w.name,
        used: Number(res[i + 1]),
        limit: w.max,
        windowMs: w.windowMs,
      })),
    };
  }

  private async runAcquire(): Promise<[number, number, number, number]> {
    const now = this.clock ? String(this.clock()) : '';
    const args = [now, String(this.margin), '60000'];
    for (const w of this.windows) args.push(String(w.max), String(w.windowMs));
    const res = (await runCommand(
      this.redis,
      ACQUIRE,
      [this.blockedKey, this.seqKey, ...this.windows.map((w) => w.key)],
      args,
    )) as number[];
    return [Number(res[0]), Number(res[1]), Number(res[2]), Number(res[3])];
  }

  private async block(untilEpochMs: string, relativeMs: string): Promise<void> {
    const now = this.clock ? String(this.clock()) : '';
    await runCommand(this.redis, BLOCK, [this.blockedKey], [now, untilEpochMs, relativeMs]);
  }
}
