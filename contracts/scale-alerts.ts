/**
 * Scale alerts, run by a Temporal Schedule (scale-alerts/<task queue>, every 15 min, overlap SKIP);
 * each run is scale-alerts-run/<task queue>. `genesis-cp scale run` starts one more, by hand.
 */
import type { ScaleAlertInput, ScaleAlertsSummary } from '../src/domain/scale';
import { scheduledRunContract } from './scheduled';

export type { ScaleAlertInput, ScaleAlertsSummary };

export type ScaleAlertsWorkflow = (input?: ScaleAlertInput) => Promise<ScaleAlertsSummary>;

export const scaleAlertIds = {
  schedule: (taskQueue: string) => `scale-alerts/${taskQueue}`,
  run: (taskQueue: string) => `scale-alerts-run/${taskQueue}`,
  /** a run started by hand (`genesis-cp scale run`) */
  manualRun: (taskQueue: string, at: number) => `scale-alerts-run/${taskQueue}-manual-${at}`,
};

export const scaleAlertsContract = scheduledRunContract<ScaleAlertsWorkflow>(
  'scaleAlerts',
  'scale_alerts',
  scaleAlertIds.run,
);
