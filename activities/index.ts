/** Every activity the worker registers, built from injected dependencies. */
import type { ActivityDeps } from './deps';
import { createChangeActivities } from './changes';
import { createHeartbeatDrainActivities } from './heartbeat-drain';
import { createHeartbeatRetentionActivities } from './heartbeat-retention';
import { createPowerActivities } from './power';
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
    ...createScaleAlertActivities(deps),
    ...createChangeActivities(deps),
    ...createRolloutActivities(deps),
    ...createReconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps, RemediationNotifier } from './deps';
