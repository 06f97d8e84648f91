/**
 * Relays the agents' calls, as received, to the dashboard they were provisioned to call.
 *
 * Why: the dashboard's handshake route registers a sidecar in its own `sidecar_registry` and
 * advances onboarding; `cloud-init-complete` advances it too. A fleet whose DASHBOARD_URL points at
 * the control plane must not lose those effects, so every handshake and cloud-init-complete the
 * control plane answers is also POSTed to `<DASHBOARD_RELAY_URL><same path>` with the same body,
 * Content-Type, Authorization and User-Agent.
 *
 * Never in the agent's way: `enqueue` returns at once; deliveries run in the background, at most
 * `concurrency` at a time, from a queue bounded at `maxQueue` (past it the OLDEST waiting call is
 * dropped and counted: a keep-alive an hour old is worth less than the one just received). A
 * network error, a timeout, 408, 429 or 5xx is retried with exponential backoff up to
 * `maxAttempts`; any other 4xx is the dashboard's verdict and is not retried. Outcomes are counted
 * (metrics) and the latest failure is kept for /health's detail; the bearer secret is never logged.
 */
import type { Logger } from '../logger';

export const RELAYED_ROUTES = ['/api/sidecar/handshake', '/api/sidecar/cloud-init-complete'] as const;
export type RelayedRoute = (typeof RELAYED_ROUTES)[number];
export type RelayOutcome = 'delivered' | 'rejected' | 'failed' | 'dropped';

export interface DashboardRelayOptions {
  /** base URL of the dashboard, e.g. https://app.example.com */
  url: string;
  logger: Logger;
  /** per delivery attempt; default 5,000 ms */
  timeoutMs?: number;
  /** default 5 */
  maxAttempts?: number;
  /** first retry delay, doubled per attempt; default 500 ms */
  backoffMs?: number;
  /** default 10,000 calls waiting */
  maxQueue?: number;
  /** deliveries at once; default 16 */
  concurrency?: number;
  onOutcome?: (route: RelayedRoute, outcome: RelayOutcome) => void;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface RelayedCall {
  route: RelayedRoute;
  body: Buffer;
  headers: { authorization?: string; contentType?: string; userAgent?: string };
}

export interface DashboardRelayStatus {
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  dropped: number;
  /** consecutive calls that failed for good; 0 after any delivery */
  consecutiveFailures: number;
  lastDeliveredAt?: string;
  lastFailureAt?: string;
  lastError?: string;
}

interface Pending extends RelayedCall {
  attempt: number;
}

const RETRYABLE_STATUS = (s: number) => s === 408 || s === 429 || s >= 500;

export class DashboardRelay {
  private readonly base: string;
  private readonly queue: Pending[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private inFlight = 0;
  private delivered = 0;
  private failed = 0;
  private dropped = 0;
  private consecutiveFailures = 0;
  private lastDeliveredAt?: number;
  private lastFailureAt?: number;
  private lastError?: string;
  private closed = false;
  private idle: (() => void)[] = [];
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: DashboardRelayOptions) {
    if (!URL.canParse(opts.url)) throw new TypeError('dashboard relay url is not a URL');
    this.base = opts.url.replace(/\/+$/, '');
    this.fetchImpl = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  /** Queues one call for delivery; never throws, never waits. */
  enqueue(call: RelayedCall): void {
    if (this.closed) return;
    if (this.queue.length >= (this.opts.maxQueue ?? 10_000)) {
      const oldest = this.queue.shift()!;
      this.count(oldest.route, 'dropped');
    }
    this.queue.push({ ...call, attempt: 0 });
    this.pump();
  }

  status(): DashboardRelayStatus {
    return {
      queued: this.queue.length,
      inFlight: this.inFlight,
      delivered: this.delivered,
      failed: this.failed,
      dropped: this.dropped,
      consecutiveFailures: this.consecutiveFailures,
      ...(this.lastDeliveredAt ? { lastDeliveredAt: new Date(this.lastDeliveredAt).toISOString() } : {}),
      ...(this.lastFailureAt ? { lastFailureAt: new Date(this.lastFailureAt).toISOString() } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Resolves when nothing is queued, waiting for a retry or in flight (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops accepting calls; waits up to `graceMs` for deliveries in flight, then abandons the rest. */
  async close(graceMs = 2_000): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of this.queue.splice(0)) this.count(p.route, 'dropped');
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.whenIdle(),
        new Promise<void>((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const c of this.controllers) c.abort();
    this.settleIdle();
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0 && this.timers.size === 0;
  }

  private settleIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 16;
    while (!this.closed && this.inFlight < limit && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.inFlight++;
      void this.deliver(next).finally(() => {
        this.inFlight--;
        this.pump();
        this.settleIdle();
      });
    }
  }

  private async deliver(call: Pending): Promise<void> {
    call.attempt++;
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.opts.timeoutMs ?? 5_000);
    let retry: boolean;
    let error: string;
    try {
      const headers: Record<string, string> = {
        'content-type': call.headers.contentType ?? 'application/json',
        'x-forwarded-by': 'genesis-control-plane',
      };
      if (call.headers.authorization) headers.authorization = call.headers.authorization;
      if (call.headers.userAgent) headers['user-agent'] = call.headers.userAgent;
      const res = await this.fetchImpl(`${this.base}${call.route}`, {
        method: 'POST',
        headers,
        body: new Uint8Array(call.body),
        signal: controller.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.delivered++;
        this.consecutiveFailures = 0;
        this.lastDeliveredAt = this.now();
        this.opts.onOutcome?.(call.route, 'delivered');
        return;
      }
      retry = RETRYABLE_STATUS(res.status);
      error = `dashboard answered ${res.status}`;
      if (!retry) return this.giveUp(call, 'rejected', error);
    } catch (err) {
      retry = true;
      error = controller.signal.aborted
        ? `no answer within ${this.opts.timeoutMs ?? 5_000} ms`
        : `dashboard unreachable: ${(err as Error).message}`;
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
    if (retry && call.attempt < (this.opts.maxAttempts ?? 5) && !this.closed) {
      const delay = (this.opts.backoffMs ?? 500) * 2 ** (call.attempt - 1);
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.closed) return;
        this.queue.unshift(call);
        this.pump();
      }, delay);
      this.timers.add(t);
      return;
    }
    this.giveUp(call, 'failed', error);
  }

  private giveUp(call: Pending, outcome: 'rejected' | 'failed', error: string): void {
    this.failed++;
    this.consecutiveFailures++;
    this.lastFailureAt = this.now();
    this.lastError = `${call.route}: ${error}`;
    this.opts.onOutcome?.(call.route, outcome);
    this.opts.logger.warn(
      { route: call.route, attempts: call.attempt, outcome, err: error },
      'dashboard relay gave up on a call',
    );
  }

  private count(route: RelayedRoute, outcome: 'dropped'): void {
    this.dropped++;
    this.opts.onOutcome?.(route, outcome);
  }
}
