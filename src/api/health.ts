/**
 * /health and /ready from real checks with short timeouts, run in parallel.
 *
 *   unhealthy (503): Redis or Temporal is unreachable -- heartbeats cannot be buffered or no
 *                    operation can start.
 *   degraded  (200): Postgres is unreachable (heartbeats still buffer in Redis and drain later)
 *                    or no worker is polling / this process's worker is paused or stopped.
 *   healthy   (200): everything answers.
 * Readiness additionally fails while this process's worker is paused, so a load balancer or
 * Kubernetes stops routing to it while liveness stays up. No configuration value is ever reported.
 * With DASHBOARD_RELAY_URL set, `dashboard_relay` reports the relay (degraded while it fails).
 */
export type CoreCheckName = 'temporal' | 'redis' | 'postgres' | 'worker';
export type CheckName = CoreCheckName | 'dashboard_relay';
export interface CheckResult {
  ok: boolean;
  latency_ms: number;
  error?: string;
  detail?: string;
}
export type Check = () => Promise<string | void>;

export interface HealthReport {
  status: 'healthy' | 'degraded' | 'unhealthy';
  checks: Record<CoreCheckName, CheckResult> & { dashboard_relay?: CheckResult };
  version: string;
  uptime_seconds: number;
  started_at: string;
  paused?: boolean;
}

const CRITICAL: CheckName[] = ['temporal', 'redis'];

export class HealthChecker {
  private readonly startedAt = new Date();

  constructor(
    private readonly checks: Record<CoreCheckName, Check> & { dashboard_relay?: Check },
    private readonly opts: { version: string; timeoutMs: number; isPaused?: () => boolean },
  ) {}

  async report(): Promise<HealthReport> {
    const names = (Object.keys(this.checks) as CheckName[]).filter((n) => this.checks[n]);
    const results = await Promise.all(names.map((n) => this.run(this.checks[n]!)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]])) as HealthReport['checks'];
    const failing = names.filter((n) => !checks[n]!.ok);
    const status = failing.some((n) => CRITICAL.includes(n))
      ? 'unhealthy'
      : failing.length
        ? 'degraded'
        : 'healthy';
    const paused = this.opts.isPaused?.() ?? false;
    return {
      status,
      checks,
      version: this.opts.version,
      uptime_seconds: Math.round(process.uptime()),
      started_at: this.startedAt.toISOString(),
      ...(paused ? { paused } : {}),
    };
  }

  private async run(check: Check): Promise<CheckResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const detail = await Promise.race([
        check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out after ${this.opts.timeoutMs} ms`)),
            this.opts.timeoutMs,
          );
        }),
      ]);
      return { ok: true, latency_ms: Math.round(performance.now() - started), ...(detail ? { detail } : {}) };
    } catch (err) {
      return { ok: false, latency_ms: Math.round(performance.now() - started), error: sanitize(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Error text without connection strings or credentials. */
function sanitize(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/[a-z]+:\/\/[^\s]+/gi, '<url>').slice(0, 200);
}
