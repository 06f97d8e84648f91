/** Every activity the worker registers, built from injected dependencies. */
import type { ActivityDeps } from './deps';
import { createChangeActivities } from './changes';
import { createFleetProbeActivities } from './fleet-probe';
import { createHeartbeatDrainActivities } from './heartbeat-drain';
import { createHeartbeatRetentionActivities } from './heartbeat-retention';
import { createPowerActivities } from './power';
import { createPowerScheduleActivities } from './power-schedule';
import { createWatchdogActivities } from './watchdog';
import { createRolloutActivities } from './rollouts';
import { createScaleAlertActivities } from './scale-alerts';
import { createReconcileActivities } from './reconcile';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHeartbeatDrainActivities(deps),
    ...createHeartbeatRetentionActivities(deps),
    ...createPowerActivities(deps),
    ...createWatchdogActivities(deps),
    ...createPowerScheduleActivities(deps),
    ...createScaleAlertActivities(deps),
    ...createChangeActivities(deps),
    ...createRolloutActivities(deps),
    ...createFleetProbeActivities(deps),
    ...createReconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps, RemediationNotifier } from './deps';
