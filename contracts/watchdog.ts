/**
 * The watchdog, run by a Temporal Schedule (watchdog/<task queue>, overlap SKIP) that a worker
 * creates or updates when it starts; each run is watchdog-run/<task queue>.
 */
import type { WatchdogInput, WatchdogSummary } from '../src/domain/watchdog';
import { scheduledRunContract } from './scheduled';

export type { WatchdogInput, WatchdogSummary };

export type WatchdogWorkflow = (input?: WatchdogInput) => Promise<WatchdogSummary>;

export const watchdogIds = {
  schedule: (taskQueue: string) => `watchdog/${taskQueue}`,
  run: (taskQueue: string) => `watchdog-run/${taskQueue}`,
};

export const watchdogContract = scheduledRunContract<WatchdogWorkflow>(
  'watchdog',
  'watchdog',
  watchdogIds.run,
);
