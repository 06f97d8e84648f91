/**
 * "Has this Schedule run lately?" for every scheduled workflow, in one pattern:
 *   genesis_schedule_period_seconds{schedule}            the schedule's interval (set where the
 *                                                        schedule is created, src/control-plane.ts)
 *   genesis_schedule_last_run_timestamp_seconds{schedule} set by the run's own bookkeeping activity
 * and one rule in deploy/prometheus/alerts.yml (GenesisScheduleNotRunning) fires when a schedule's
 * last run is older than 3 of its periods. A new scheduled workflow only calls `recordScheduleRun`
 * from the activity that records its run, and `recordSchedulePeriod` next to its ensureSchedule.
 */
import { SHARED, type SharedMetrics } from './shared-metrics';

/** Names used as the `schedule` label (one per Schedule kind, not per task queue). */
export type ScheduleName = 'watchdog' | 'fleet_probe' | (string & {});

export function recordSchedulePeriod(metrics: SharedMetrics, schedule: ScheduleName, periodS: number): void {
  metrics.set(SHARED.schedulePeriod, { schedule }, periodS);
}

/** A run of `schedule` finished now (and, when the run knows it, its period). */
export function recordScheduleRun(
  metrics: SharedMetrics | undefined,
  schedule: ScheduleName,
  periodS?: number,
  nowMs: number = Date.now(),
): void {
  if (!metrics) return;
  metrics.set(SHARED.scheduleLastRun, { schedule }, nowMs / 1000);
  if (periodS !== undefined) recordSchedulePeriod(metrics, schedule, periodS);
}
