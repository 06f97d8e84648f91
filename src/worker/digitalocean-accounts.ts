/**
 * The worker's DigitalOcean accounts: one fleet-wide budget (its own Redis keys, its own 429 block)
 * and one client per configured account, and the metrics each writes to the shared counters the
 * API serves on /metrics, labelled by account and lane (never the token).
 */
import type Redis from 'ioredis';
import type { Config, DigitalOceanAccountConfig } from '../config';
import { digitalOceanAccounts, type DigitalOceanAccounts } from '../digitalocean/accounts';
import { DigitalOceanBudget, type BudgetAcquireEvent } from '../digitalocean/budget';
import { DigitalOceanClient, type ResponseInfo } from '../digitalocean/client';
import type { Logger } from '../logger';
import { SHARED, type SharedMetrics } from '../observability/shared-metrics';

export interface WorkerDigitalOcean {
  accounts: DigitalOceanAccounts;
  /** the default account's client, when DIGITALOCEAN_API_TOKEN is set */
  default?: DigitalOceanClient;
  budgets: ReadonlyMap<string, DigitalOceanBudget>;
}

/** Counters of one acquire (BudgetAcquireEvent) for `account`. */
export function recordBudgetAcquire(metrics: SharedMetrics, account: string, e: BudgetAcquireEvent): void {
  const labels = { account, lane: e.lane };
  if (e.outcome === 'granted') {
    metrics.inc(SHARED.digitaloceanBudgetGrants, labels);
    if (e.waitedMs > 0) metrics.inc(SHARED.digitaloceanBudgetWaits, labels);
  } else {
    metrics.inc(SHARED.digitaloceanBudgetExhausted, { ...labels, reason: e.reason ?? 'window' });
  }
  if (e.waitedMs > 0) metrics.inc(SHARED.digitaloceanBudgetWaitSeconds, labels, e.waitedMs / 1000);
}

/** The gauges of one budget's usage (used per lane and window, remaining, waiting) for `account`. */
export async function recordBudgetUsage(
  metrics: SharedMetrics,
  account: string,
  budget: DigitalOceanBudget,
): Promise<void> {
  const u = await budget.usage();
  for (const w of u.windows) {
    metrics.set(SHARED.digitaloceanBudgetRemaining, { account, window: w.name }, w.limit - w.used);
    for (const [lane, used] of Object.entries(w.byLane))
      metrics.set(SHARED.digitaloceanBudgetUsed, { account, lane, window: w.name }, used);
  }
  for (const [lane, n] of Object.entries(u.waiting))
    metrics.set(SHARED.digitaloceanBudgetWaiting, { account, lane }, n);
}

export function buildDigitalOceanAccounts(opts: {
  config: Config;
  redis: Redis;
  logger: Logger;
  sharedMetrics: SharedMetrics;
  /** how often each process reads a budget's usage for the gauges (on a response). Default 5 s. */
  usageEveryMs?: number;
}): WorkerDigitalOcean | undefined {
  const { config, redis, logger, sharedMetrics } = opts;
  const everyMs = opts.usageEveryMs ?? 5_000;
  const accounts: readonly DigitalOceanAccountConfig[] = config.digitalocean.accounts;
  if (accounts.length === 0) return undefined;
  const clients = new Map<string, DigitalOceanClient>();
  const budgets = new Map<string, DigitalOceanBudget>();
  for (const a of accounts) {
    const log = logger.child({ doAccount: a.name });
    const budget = new DigitalOceanBudget({
      redis,
      keyPrefix: config.redis.keyPrefix,
      token: a.token,
      perMinute: a.ratePerMinute,
      perHour: a.ratePerHour,
      reserves: {
        interactive: config.digitalocean.reserveInteractive,
        remediation: config.digitalocean.reserveRemediation,
      },
      logger: log,
      onAcquire: (e) => recordBudgetAcquire(sharedMetrics, a.name, e),
    });
    let usageReadAt = 0;
    const onResponse = (r: ResponseInfo) => {
      sharedMetrics.inc(SHARED.digitaloceanRequests, { account: a.name, status: String(r.status) });
      if (r.remaining !== undefined && Number.isFinite(r.remaining))
        sharedMetrics.set(SHARED.digitaloceanRateLimitRemaining, { account: a.name }, r.remaining);
      // our own fleet-wide budget, read at most every `everyMs` per process and account
      if (Date.now() - usageReadAt < everyMs) return;
      usageReadAt = Date.now();
      recordBudgetUsage(sharedMetrics, a.name, budget).catch(() => undefined);
    };
    budgets.set(a.name, budget);
    clients.set(
      a.name,
      new DigitalOceanClient({
        baseUrl: config.digitalocean.apiUrl,
        token: a.token,
        budget,
        logger: log,
        userAgent: `genesis-control-plane/${config.version}`,
        onResponse,
      }),
    );
  }
  return { accounts: digitalOceanAccounts(clients), default: clients.get('default'), budgets };
}
