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
 * Lanes (src/domain/budget-lanes.ts): every request names the lane of its work and the budget serves them in order,
 * interactive (a user waits), remediation (the fleet heals), bulk (storms, schedules). Two rules,
 * both inside the same script: (1) each lane fills a window only up to its own limit, the window's
 * max less the reserves above it (`laneLimit`: interactive may use the whole window, remediation
 * leaves the interactive reserve free, bulk also the remediation reserve), so a user's first
 * request is granted at once even when bulk work filled everything it may, and bulk never takes
 * remediation's share; (2) a refused interactive or remediation request registers as waiting (a
 * sorted set per lane, the score the time it will ask again, counted only until that time plus a
 * short slack, so a crashed waiter stops counting within seconds), and while a higher lane has a
 * waiter no lower lane is granted, so when a window slot opens or a block ends the higher lane gets
 * it. Bulk never registers: nothing waits for it.
 *
 * The server's word wins over our own counting: `observe(headers)` blocks every process until
 * `ratelimit-reset` when `ratelimit-remaining` reaches 0 (someone else may share the token), and
 * `penalize(ms)` after a 429 blocks every process until then, in every lane. Both write one shared
 * "blocked until" key; it is only ever pushed later, never earlier.
 *
 * Time: by default the script reads Redis's own clock (`TIME`), so workers on different hosts
 * agree on one clock; tests inject `clock` (and `sleep`) to drive it.
 *
 * Keys: `<prefix>do:budget:{<sha256(token)[0..16]>}:<name>` (minute, hour, seq, blocked,
 * wait:interactive, wait:remediation); the braces keep them in one Redis Cluster slot. One budget
 * per token, so each DigitalOcean account (accounts.ts) has its own windows and its own 429 block.
 * The token itself is never written anywhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseRetryAfterMs } from '../errors/retry-after';
import type { Logger } from '../logger';
import { LUA_NOW_MS_OR_ARGV1, redisCommand, runCommand, type ScriptRunner } from '../redis-commands';
import { DigitalOceanBudgetExhaustedError } from './errors';
import { BUDGET_LANES, DEFAULT_BUDGET_LANE, isBudgetLane, type BudgetLane } from '../domain/budget-lanes';

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
  /**
   * Shares of each window kept free for the lanes above: DEFAULT_BUDGET_RESERVES, 10 % only for
   * interactive work and a further 20 % only for interactive and remediation work, so bulk work
   * (storms, schedules) uses at most 70 %. Sizing, at the production 250/min: 25 requests a minute
   * are always there for the users waiting on a wake (a wake costs 1-4 calls; 20 logins in the
   * middle of a storm fit), and 50 more for the watchdog's recoveries (20 starts per tick), which
   * a storm of bulk work cannot take. Unused reserve is not lost for long: a waiting higher lane is
   * always served first anyway, the reserve only makes its first request instant.
   */
  reserves?: Partial<BudgetReserves>;
  /**
   * A waiting interactive/remediation request sleeps at most this long before asking again, and
   * is registered as waiting until then + `waiterSlackMs`: a waiter that crashed stops holding the
   * lower lanes back within napCap + slack. Default 2,000 and 1,000 ms.
   */
  waiterNapCapMs?: number;
  waiterSlackMs?: number;
  /** How long a lower lane steps aside after a higher lane's waiter is due. Default 25 ms. */
  laneYieldMs?: number;
  /** Called once per acquire with its outcome (metrics); must not throw. */
  onAcquire?: (event: BudgetAcquireEvent) => void;
}

/** One acquire's outcome, for metrics (src/worker/deps.ts counts them per account and lane). */
export interface BudgetAcquireEvent {
  lane: BudgetLane;
  outcome: 'granted' | 'exhausted';
  /** time this acquire spent sleeping for the budget before it was granted or gave up */
  waitedMs: number;
  /** why it waited last: its window, a 429/ratelimit block, or a higher lane waiting first */
  reason?: 'window' | 'blocked' | 'lane';
}

export interface BudgetWindowUsage {
  name: string;
  /** grants in the window (every lane) */
  used: number;
  limit: number;
  windowMs: number;
  /** grants in the window by lane */
  byLane: Record<BudgetLane, number>;
  /** each lane's own limit in the window: the window's limit less the reserves above the lane */
  laneLimits: Record<BudgetLane, number>;
}

export interface BudgetUsage {
  windows: BudgetWindowUsage[];
  blockedForMs: number;
  /** requests registered as waiting, by lane (bulk never registers: nothing waits for it) */
  waiting: { interactive: number; remediation: number };
}

/** Default reserves (fractions of each window): see `DigitalOceanBudgetOptions.reserves`. */
export const DEFAULT_BUDGET_RESERVES: Readonly<BudgetReserves> = { interactive: 0.1, remediation: 0.2 };

export interface BudgetReserves {
  /** share of each window that only interactive requests may use */
  interactive: number;
  /** share of each window that only interactive and remediation requests may use */
  remediation: number;
}

/**
 * A lane's limit in a window of `max` requests: interactive may use all of it; remediation stops
 * short of the interactive reserve; bulk also short of the remediation reserve. Reserves round
 * down and every lane keeps at least one request, so a tiny window (perMinute 1..4) has no reserve
 * rather than a lane that can never go.
 */
export function laneLimit(max: number, lane: BudgetLane, reserves: BudgetReserves): number {
  const ri = Math.floor(max * reserves.interactive);
  const rr = Math.floor(max * reserves.remediation);
  if (lane === 'interactive') return max;
  if (lane === 'remediation') return Math.max(1, max - ri);
  return Math.max(1, max - ri - rr);
}

/**
 * KEYS: blocked, seq, wait_interactive, wait_remediation, log_1..log_n.
 * ARGV: now|'', margin, ttlSlack, lane (1 interactive, 2 remediation, 3 bulk), waiterId,
 *       allowanceMs, napCapMs, waiterSlackMs, yieldMs, max_1, window_1, ..., max_n, window_n
 *       (max_i: this lane's limit in window i, the window's max less the reserves above the lane).
 * Returns {granted 0|1, waitMs, now, reason 0=window|1=blocked|2=a higher lane is waiting}.
 * A refused interactive or remediation request that will wait (waitMs <= allowanceMs) registers in
 * its lane's waiter set with the time it will try again; the entry lives `waiterSlackMs` past that,
 * so a waiter that crashed stops counting within seconds. A grant removes it.
 */
const ACQUIRE = redisCommand(
  'doBudgetAcquire',
  `
${LUA_NOW_MS_OR_ARGV1}
local margin = tonumber(ARGV[2])
local lane = tonumber(ARGV[4])
local waiter = ARGV[5]
local allowance = tonumber(ARGV[6])
local napCap = tonumber(ARGV[7])
local slack = tonumber(ARGV[8])
local yieldMs = tonumber(ARGV[9])
local n = #KEYS - 4
local function refuse(wait, reason)
  if lane <= 2 and wait <= allowance then
    local key = KEYS[2 + lane]
    local nap = wait
    if nap > napCap then nap = napCap end
    redis.call('ZADD', key, now + nap, waiter)
    redis.call('PEXPIRE', key, napCap + slack * 2)
  end
  return {0, wait, now, reason}
end
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
if blocked > now then
  return refuse(blocked - now, 1)
end
local wait = 0
local reason = 0
for i = 1, n do
  local key = KEYS[i + 4]
  local max = tonumber(ARGV[8 + i * 2])
  local window = tonumber(ARGV[9 + i * 2]) + margin
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count >= max then
    local entry = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
    local w = tonumber(entry[2]) + window - now
    if w > wait then wait = w end
  end
end
for j = 1, lane - 1 do
  local key = KEYS[2 + j]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - slack)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[1] then
    local w = tonumber(first[2]) - now
    if w < 0 then w = 0 end
    w = w + yieldMs
    if w > wait then
      wait = w
      reason = 2
    end
  end
end
if wait > 0 then
  return refuse(wait, reason)
end
if lane <= 2 then redis.call('ZREM', KEYS[2 + lane], waiter) end
local seq = redis.call('INCR', KEYS[2])
local member = seq .. ':' .. lane
local longest = 0
for i = 1, n do
  local key = KEYS[i + 4]
  local window = tonumber(ARGV[9 + i * 2]) + margin
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window + tonumber(ARGV[3]))
  if window > longest then longest = window end
end
redis.call('PEXPIRE', KEYS[2], longest + tonumber(ARGV[3]))
return {1, 0, now, 0}
`,
);

/** KEYS: wait_<lane>.  ARGV: waiterId. A waiter that gives up (aborted) leaves its lane's set. */
const LEAVE = redisCommand('doBudgetLeave', `return redis.call('ZREM', KEYS[1], ARGV[1])`, 1);

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

/**
 * KEYS: blocked, wait_interactive, wait_remediation, log_1..log_n.  ARGV: now|'', margin, waiterSlackMs,
 * window_1..window_n. Returns {blockedForMs, waiting_interactive, waiting_remediation, then per
 * window: used, used_interactive, used_remediation, used_bulk}. Log entries are "<seq>:<lane>".
 */
const USAGE = redisCommand(
  'doBudgetUsage',
  `
${LUA_NOW_MS_OR_ARGV1}
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0') - now
if blocked < 0 then blocked = 0 end
local slack = tonumber(ARGV[3])
local out = {blocked}
for j = 2, 3 do
  out[#out + 1] = redis.call('ZCOUNT', KEYS[j], '(' .. (now - slack), '+inf')
end
for i = 4, #KEYS do
  local window = tonumber(ARGV[i]) + tonumber(ARGV[2])
  local members = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. (now - window), '+inf')
  local lanes = {0, 0, 0}
  for _, m in ipairs(members) do
    local l = tonumber(string.match(m, ':(%d)$'))
    if l and lanes[l] then lanes[l] = lanes[l] + 1 end
  end
  out[#out + 1] = #members
  out[#out + 1] = lanes[1]
  out[#out + 1] = lanes[2]
  out[#out + 1] = lanes[3]
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
  laneLimits: Record<BudgetLane, number>;
}

const REASONS = ['window', 'blocked', 'lane'] as const;
const REGISTERED_LANES = ['interactive', 'remediation'] as const;
const isRegistered = (lane: BudgetLane): lane is (typeof REGISTERED_LANES)[number] =>
  (REGISTERED_LANES as readonly string[]).includes(lane);

export class DigitalOceanBudget implements RequestBudget {
  private readonly redis: BudgetRedis;
  private readonly windows: Window[];
  private readonly blockedKey: string;
  private readonly seqKey: string;
  private readonly waitKeys: Record<(typeof REGISTERED_LANES)[number], string>;
  private readonly margin: number;
  private readonly maxWaitMs: number;
  private readonly maxBlockMs: number;
  private readonly napCapMs: number;
  private readonly waiterSlackMs: number;
  private readonly yieldMs: number;
  readonly reserves: BudgetReserves;
  /** requests per minute and per hour (the windows' max, every lane together) */
  readonly limits: { perMinute: number; perHour: number };
  private readonly clock?: () => number;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly logger?: Logger;
  private readonly onAcquire?: (event: BudgetAcquireEvent) => void;

  constructor(opts: DigitalOceanBudgetOptions) {
    const base = budgetKeyBase(opts.keyPrefix, opts.token);
    const perMinute = opts.perMinute ?? 250;
    const perHour = opts.perHour ?? 5000;
    if (!(perMinute >= 1 && perHour >= 1)) throw new Error('DigitalOcean budget limits must be at least 1');
    const reserves = { ...DEFAULT_BUDGET_RESERVES, ...opts.reserves };
    if (!(
      reserves.interactive >= 0 &&
      reserves.remediation >= 0 &&
      reserves.interactive + reserves.remediation < 1
    ))
      throw new Error('DigitalOcean budget reserves must be >= 0 and leave bulk work a share (sum < 1)');
    this.reserves = reserves;
    this.limits = { perMinute, perHour };
    const window = (name: string, max: number, windowMs: number): Window => ({
      name,
      max,
      windowMs,
      key: `${base}:${name}`,
      laneLimits: Object.fromEntries(BUDGET_LANES.map((l) => [l, laneLimit(max, l, reserves)])) as Record<
        BudgetLane,
        number
      >,
    });
    this.redis = opts.redis;
    this.windows = [
      window('minute', perMinute, opts.minuteWindowMs ?? 60_000),
      window('hour', perHour, opts.hourWindowMs ?? 3_600_000),
    ];
    this.blockedKey = `${base}:blocked`;
    this.seqKey = `${base}:seq`;
    this.waitKeys = { interactive: `${base}:wait:interactive`, remediation: `${base}:wait:remediation` };
    this.margin = opts.safetyMarginMs ?? 1_000;
    this.maxWaitMs = opts.maxWaitMs ?? 90_000;
    this.maxBlockMs = opts.maxBlockMs ?? (opts.hourWindowMs ?? 3_600_000) + this.margin;
    this.napCapMs = opts.waiterNapCapMs ?? 2_000;
    this.waiterSlackMs = opts.waiterSlackMs ?? 1_000;
    this.yieldMs = opts.laneYieldMs ?? 25;
    this.clock = opts.clock;
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.logger = opts.logger;
    this.onAcquire = opts.onAcquire;
  }

  /** The Redis keys this budget uses (for tests and operators); none contains the token. */
  keys(): string[] {
    return [
      this.blockedKey,
      this.seqKey,
      ...this.windows.map((w) => w.key),
      this.waitKeys.interactive,
      this.waitKeys.remediation,
    ];
  }

  /**
   * Waits until a request of `lane` may go out and records it. Lanes are served in order
   * (interactive, remediation, bulk): each lane may fill a window only up to its own limit (the
   * reserves above it stay free), and while a higher lane's request is waiting no lower lane is
   * granted. A 429 or ratelimit-remaining 0 blocks every lane. Throws
   * DigitalOceanBudgetExhaustedError at once when the wait would pass `maxWaitMs` (so a Temporal
   * activity fails fast and retries later instead of sleeping through its timeout), and the
   * signal's reason when it is aborted.
   */
  async acquire(
    signal?: AbortSignal,
    lane: BudgetLane = DEFAULT_BUDGET_LANE,
    maxWaitMs = this.maxWaitMs,
  ): Promise<void> {
    if (!isBudgetLane(lane)) throw new TypeError(`unknown DigitalOcean budget lane: ${String(lane)}`);
    const waiter = randomBytes(8).toString('hex');
    const registers = isRegistered(lane);
    let waited = 0;
    let reason: (typeof REASONS)[number] | undefined;
    try {
      for (;;) {
        signal?.throwIfAborted();
        const [granted, waitMs, , code] = await this.runAcquire(lane, waiter, maxWaitMs - waited);
        if (granted === 1) {
          this.emit({ lane, outcome: 'granted', waitedMs: waited, ...(reason ? { reason } : {}) });
          return;
        }
        reason = REASONS[code] ?? 'window';
        if (waited + waitMs > maxWaitMs) {
          this.emit({ lane, outcome: 'exhausted', waitedMs: waited, reason });
          throw new DigitalOceanBudgetExhaustedError(
            waitMs,
            maxWaitMs,
            reason === 'blocked' ? 'blocked' : 'window',
          );
        }
        // A registered waiter asks again at least every napCap (its entry must not outlive it by
        // more than the slack). A little jitter so the waiters of every process do not all wake in
        // the same millisecond.
        const base = registers ? Math.min(waitMs, this.napCapMs) : waitMs;
        const nap = base + 1 + Math.floor(this.random() * Math.min(50, 1 + base / 10));
        this.logger?.debug({ waitMs: nap, lane, reason }, 'digitalocean budget: waiting');
        await this.sleep(nap, signal);
        waited += nap;
      }
    } catch (err) {
      // Gave up (aborted, exhausted, Redis failed) after registering: leave at once rather than
      // hold the lower lanes back until the entry's slack runs out.
      if (registers && reason !== undefined)
        await runCommand(this.redis, LEAVE, [this.waitKeys[lane]], [waiter]).catch(() => undefined);
      throw err;
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

  /** After a 429: every process waits `retryAfterMs` from now, in every lane. */
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
      [
        this.blockedKey,
        this.waitKeys.interactive,
        this.waitKeys.remediation,
        ...this.windows.map((w) => w.key),
      ],
      [now, String(this.margin), String(this.waiterSlackMs), ...this.windows.map((w) => String(w.windowMs))],
    )) as number[];
    return {
      blockedForMs: Number(res[0]),
      waiting: { interactive: Number(res[1]), remediation: Number(res[2]) },
      windows: this.windows.map((w, i) => {
        const at = 3 + i * 4;
        return {
          name: w.name,
          used: Number(res[at]),
          limit: w.max,
          windowMs: w.windowMs,
          byLane: {
            interactive: Number(res[at + 1]),
            remediation: Number(res[at + 2]),
            bulk: Number(res[at + 3]),
          },
          laneLimits: { ...w.laneLimits },
        };
      }),
    };
  }

  private emit(event: BudgetAcquireEvent): void {
    try {
      this.onAcquire?.(event);
    } catch (err) {
      this.logger?.warn({ err: (err as Error).message }, 'digitalocean budget: onAcquire callback threw');
    }
  }

  private async runAcquire(
    lane: BudgetLane,
    waiter: string,
    allowanceMs: number,
  ): Promise<[number, number, number, number]> {
    const now = this.clock ? String(this.clock()) : '';
    const args = [
      now,
      String(this.margin),
      '60000',
      String(BUDGET_LANES.indexOf(lane) + 1),
      waiter,
      String(Math.max(0, Math.floor(allowanceMs))),
      String(this.napCapMs),
      String(this.waiterSlackMs),
      String(this.yieldMs),
    ];
    for (const w of this.windows) args.push(String(w.laneLimits[lane]), String(w.windowMs));
    const res = (await runCommand(
      this.redis,
      ACQUIRE,
      [
        this.blockedKey,
        this.seqKey,
        this.waitKeys.interactive,
        this.waitKeys.remediation,
        ...this.windows.map((w) => w.key),
      ],
      args,
    )) as number[];
    return [Number(res[0]), Number(res[1]), Number(res[2]), Number(res[3])];
  }

  private async block(untilEpochMs: string, relativeMs: string): Promise<void> {
    const now = this.clock ? String(this.clock()) : '';
    await runCommand(this.redis, BLOCK, [this.blockedKey], [now, untilEpochMs, relativeMs]);
  }
}
