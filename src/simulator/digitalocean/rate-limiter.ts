/**
 * The simulator's per-token rate limiter, modelled on DigitalOcean's: a sliding window per limit
 * (250 in any minute, 5,000 in any hour by default). `ratelimit-limit` and `ratelimit-remaining`
 * describe the hourly quota and `ratelimit-reset` is when the oldest request of the hour expires
 * (epoch seconds), as DigitalOcean documents them. A request refused with 429 is not counted
 * (otherwise a client that keeps asking could never get back in).
 */

/** Timestamps in arrival order; drops from the front as they leave the window. */
class TimestampQueue {
  private items: number[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  oldest(): number | undefined {
    return this.size > 0 ? this.items[this.head] : undefined;
  }

  /** The i-th oldest (0-based). */
  at(i: number): number {
    return this.items[this.head + i];
  }

  push(t: number): void {
    this.items.push(t);
  }

  /** Drops everything at or before `cutoff`. */
  prune(cutoff: number): void {
    while (this.head < this.items.length && this.items[this.head] <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export interface RateLimits {
  perMinute: number;
  perHour: number;
  minuteWindowMs: number;
  hourWindowMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** When refused: ms until a slot frees. */
  retryAfterMs: number;
}

export interface RateHeaders {
  'ratelimit-limit': string;
  'ratelimit-remaining': string;
  'ratelimit-reset': string;
}

class TokenWindows {
  readonly minute = new TimestampQueue();
  readonly hour = new TimestampQueue();
}

export class SimulatorRateLimiter {
  private readonly tokens = new Map<string, TokenWindows>();

  constructor(private readonly limits: RateLimits) {}

  private windows(token: string): TokenWindows {
    let w = this.tokens.get(token);
    if (!w) {
      w = new TokenWindows();
      this.tokens.set(token, w);
    }
    return w;
  }

  private prune(w: TokenWindows, now: number): void {
    w.minute.prune(now - this.limits.minuteWindowMs);
    w.hour.prune(now - this.limits.hourWindowMs);
  }

  /** Would a request now be allowed? Does not record it. */
  check(token: string, now: number): RateDecision {
    const w = this.windows(token);
    this.prune(w, now);
    let wait = 0;
    const { perMinute, perHour, minuteWindowMs, hourWindowMs } = this.limits;
    if (w.minute.size >= perMinute)
      wait = Math.max(wait, w.minute.at(w.minute.size - perMinute) + minuteWindowMs - now);
    if (w.hour.size >= perHour) wait = Math.max(wait, w.hour.at(w.hour.size - perHour) + hourWindowMs - now);
    return { allowed: wait <= 0, retryAfterMs: Math.max(0, wait) };
  }

  record(token: string, now: number): void {
    const w = this.windows(token);
    w.minute.push(now);
    w.hour.push(now);
  }

  headers(token: string, now: number): RateHeaders {
    const w = this.windows(token);
    this.prune(w, now);
    const oldest = w.hour.oldest() ?? now;
    return {
      'ratelimit-limit': String(this.limits.perHour),
      'ratelimit-remaining': String(Math.max(0, this.limits.perHour - w.hour.size)),
      'ratelimit-reset': String(Math.ceil((oldest + this.limits.hourWindowMs) / 1000)),
    };
  }
}

/** Largest number of timestamps (sorted ascending) inside any half-open window of `windowMs`. */
export function maxInAnyWindow(sortedTimes: readonly number[], windowMs: number): number {
  let best = 0;
  let i = 0;
  for (let j = 0; j < sortedTimes.length; j++) {
    while (sortedTimes[j] - sortedTimes[i] >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}
