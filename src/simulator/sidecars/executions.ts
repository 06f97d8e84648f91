/**
 * The executions n8n runs on one simulated droplet, for COLLECT_METRICS (n8n execution statistics
 * over the last 1,000 executions, as the v1 agent computes them from GET /api/v1/executions?limit=1000).
 *
 * Model: every active workflow runs at a steady rate while n8n is up. Time is cut into segments at
 * each change (a workflow activated or deactivated, n8n up or down, a failingExecutions share set
 * or cleared); within a segment executions arrive uniformly, `share` of them fail. Nothing runs per
 * tick: statistics are computed from the segments when asked, so 15,000 agents cost nothing while
 * idle. Segments wholly older than the last 1,000 executions are dropped.
 */
export interface ExecutionStats {
  executions_total: number;
  executions_success: number;
  executions_failed: number;
  avg_duration_ms: number;
  since: string;
}

interface Segment {
  start: number;
  /** executions per ms in this segment (0 while nothing runs) */
  rate: number;
  share: number;
}

const WINDOW = 1_000;

export class ExecutionLog {
  private readonly segments: Segment[] = [];

  /**
   * @param perMinute executions per minute per active workflow
   * @param durationMs the mean duration of one execution on this droplet
   */
  constructor(
    private readonly perMinute: number,
    readonly durationMs: number,
  ) {}

  /** The state from `now` on: how many workflows run, and the share that fails. */
  change(now: number, activeWorkflows: number, share: number): void {
    const rate = (activeWorkflows * this.perMinute) / 60_000;
    const last = this.segments[this.segments.length - 1];
    if (last && last.rate === rate && last.share === share) return;
    if (last && last.start === now) {
      last.rate = rate;
      last.share = share;
    } else {
      this.segments.push({ start: now, rate, share });
    }
    this.prune(now);
  }

  /** Statistics over the last 1,000 executions, optionally only those started at or after `since`. */
  stats(now: number, since?: number): ExecutionStats {
    let total = 0;
    let failed = 0;
    let end = now;
    for (let i = this.segments.length - 1; i >= 0 && total < WINDOW; i--) {
      const seg = this.segments[i]!;
      const from = since === undefined ? seg.start : Math.max(seg.start, since);
      if (from < end) {
        let n = (end - from) * seg.rate;
        if (total + n > WINDOW) n = WINDOW - total;
        total += n;
        failed += n * seg.share;
      }
      end = seg.start;
      if (since !== undefined && since >= seg.start) break;
    }
    const t = Math.floor(total);
    const f = Math.min(t, Math.round(failed));
    return {
      executions_total: t,
      executions_success: t - f,
      executions_failed: f,
      avg_duration_ms: t > 0 ? this.durationMs : 0,
      since: since === undefined ? 'all-time' : new Date(since).toISOString(),
    };
  }

  private prune(now: number): void {
    let total = 0;
    let end = now;
    for (let i = this.segments.length - 1; i > 0; i--) {
      const seg = this.segments[i]!;
      total += (end - seg.start) * seg.rate;
      end = seg.start;
      if (total >= WINDOW) {
        this.segments.splice(0, i);
        return;
      }
    }
  }
}
