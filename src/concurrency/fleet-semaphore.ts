/**
 * A fleet-wide counting semaphore in Redis: at most `limit` holders of a kind (sidecar update,
 * workflow update, credential) across every worker process, whatever each worker's own
 * concurrency. A slot is a member of a sorted set scored by its lease expiry (Redis server time):
 * a holder renews its lease while it works and removes it when done; a holder that dies loses its
 * slot when the lease runs out, so a SIGKILLed worker never leaks capacity for longer than one lease.
 *
 * The other side of that rule: a holder whose lease is lost must stop, or the limit is a wish.
 * The lease is lost when a renewal finds the slot gone or expired (someone may already hold it),
 * or when no renewal has reached Redis for longer than the lease (Redis stalled or unreachable:
 * the slot may have expired there). Then the signal `withSlot` hands to the work is aborted and
 * `withSlot` rejects at once with a retryable FleetLeaseLostError, whatever the work does.
 */
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { ClientError } from '../errors/client-error';
import { LUA_REDIS_NOW_MS, redisCommand, withCommands } from '../redis-commands';

/** KEYS: slots. ARGV: leaseMs, limit, token. Drops expired leases, then takes a slot if one is free. */
const ACQUIRE = redisCommand(
  'fleetSemaphoreAcquire',
  `
${LUA_REDIS_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0`,
  1,
);

/** KEYS: slots. ARGV: leaseMs, token. Extends a lease still held; 0 when it was lost (expired and reclaimed). */
const RENEW = redisCommand(
  'fleetSemaphoreRenew',
  `
${LUA_REDIS_NOW_MS}
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if held and tonumber(held) > now then
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0`,
  1,
);

export type ConcurrencyKind = 'n8n_update' | 'workflow_update' | 'credential';

export interface FleetSemaphoreOptions {
  redis: Redis;
  keyPrefix: string;
  limits: Record<ConcurrencyKind, number>;
  /** a slot's lease; renewed every third of it while held, lost when unrenewed for longer. Default 30 s */
  leaseMs?: number;
  /** give up waiting for a slot after this (the caller's retry policy decides what next). Default 60 s */
  maxWaitMs?: number;
  /** first wait between attempts, growing to 1 s. Default 50 ms */
  pollMs?: number;
}

export class FleetConcurrencyBusyError extends ClientError {
  readonly code = 'concurrency_busy';
  /** the activity's retry policy tries again later */
  readonly retryable = true;
  constructor(
    readonly kind: ConcurrencyKind,
    readonly limit: number,
    waitedMs: number,
  ) {
    super(`no ${kind} slot free within ${waitedMs} ms (fleet-wide limit ${limit})`);
  }
}

/** The holder's lease ran out while it worked; retryable: the next attempt takes a new slot. */
export class FleetLeaseLostError extends ClientError {
  readonly code = 'lease_lost';
  readonly retryable = true;
  constructor(
    readonly kind: ConcurrencyKind,
    readonly reason: 'reclaimed' | 'unrenewable',
    detail: string,
  ) {
    super(`lost the fleet-wide ${kind} slot: ${detail}`);
  }
}

export class FleetSemaphore {
  private readonly leaseMs: number;
  private readonly maxWaitMs: number;
  private readonly pollMs: number;
  private readonly redis: ReturnType<typeof withCommands<'fleetSemaphoreAcquire' | 'fleetSemaphoreRenew'>>;

  constructor(private readonly opts: FleetSemaphoreOptions) {
    this.redis = withCommands(opts.redis, [ACQUIRE, RENEW]);
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.maxWaitMs = opts.maxWaitMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 50;
  }

  key(kind: ConcurrencyKind): string {
    return `${this.opts.keyPrefix}concurrency:${kind}`;
  }

  limit(kind: ConcurrencyKind): number {
    return this.opts.limits[kind];
  }

  /** Slots of a kind held right now (expired leases not counted). */
  async inUse(kind: ConcurrencyKind): Promise<number> {
    const now = await this.serverTimeMs();
    return this.opts.redis.zcount(this.key(kind), `(${now}`, '+inf');
  }

  /**
   * Runs fn while holding a slot of `kind`; waits for one (bounded by maxWaitMs and signal). `fn`
   * gets a signal that aborts when the caller's does or when the lease is lost; pass it on to the
   * I/O fn does (the sidecar client's `signal`). A lost lease rejects with FleetLeaseLostError.
   */
  async withSlot<T>(
    kind: ConcurrencyKind,
    fn: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const token = randomUUID();
    const key = this.key(kind);
    const started = Date.now();
    let wait = this.pollMs;
    let sentAt: number;
    for (;;) {
      signal?.throwIfAborted();
      sentAt = performance.now();
      const got = await this.redis.fleetSemaphoreAcquire(key, this.leaseMs, this.limit(kind), token);
      if (got === 1) break;
      const waited = Date.now() - started;
      if (waited >= this.maxWaitMs) throw new FleetConcurrencyBusyError(kind, this.limit(kind), waited);
      await sleep(Math.min(wait * (0.5 + Math.random()), this.maxWaitMs - waited), signal);
      wait = Math.min(wait * 2, 1_000);
    }

    const lease = new AbortController();
    // The lease runs at least from when the last successful ACQUIRE/RENEW was sent.
    let heldSince = sentAt;
    let lastSent = sentAt;
    let renewing = false;
    const lose = (reason: FleetLeaseLostError['reason'], detail: string) => {
      if (!lease.signal.aborted) lease.abort(new FleetLeaseLostError(kind, reason, detail));
    };
    // Checked every sixth of the lease (a lost lease is noticed within that), renewed every third.
    const renew = setInterval(
      () => {
        const now = performance.now();
        const unrenewedMs = now - heldSince;
        if (unrenewedMs > this.leaseMs)
          return lose(
            'unrenewable',
            `no renewal reached Redis for ${Math.round(unrenewedMs)} ms (lease ${this.leaseMs} ms)`,
          );
        // still waiting for the last renewal (Redis slow or stalled), or not due yet
        if (renewing || now - lastSent < this.leaseMs / 3) return;
        renewing = true;
        lastSent = now;
        this.redis
          .fleetSemaphoreRenew(key, this.leaseMs, token)
          .then((held) => {
            if (held === 1) heldSince = Math.max(heldSince, now);
            else lose('reclaimed', 'the lease expired and the slot was reclaimed');
          })
          .catch(() => undefined) // unreachable: the next ticks measure for how long
          .finally(() => (renewing = false));
      },
      Math.max(5, Math.floor(this.leaseMs / 6)),
    );
    renew.unref();
    const work = signal ? AbortSignal.any([signal, lease.signal]) : lease.signal;
    try {
      return await Promise.race([fn(work), rejectOnAbort<T>(lease.signal)]);
    } catch (err) {
      // whatever the aborted work threw, the reason is the lost lease
      throw lease.signal.aborted ? (lease.signal.reason as Error) : err;
    } finally {
      clearInterval(renew);
      const release = this.opts.redis.zrem(key, token).catch(() => undefined);
      // A lost lease may mean Redis is stalled: do not wait for the release then.
      if (!lease.signal.aborted) await release;
    }
  }

  private async serverTimeMs(): Promise<number> {
    const [s, us] = await this.opts.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }
}

/** Rejects with the signal's reason when it aborts; never settles otherwise. */
function rejectOnAbort<T>(signal: AbortSignal): Promise<T> {
  return new Promise<T>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
