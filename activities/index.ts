/** Every activity the worker registers, built from injected dependencies. */
import type { ActivityDeps } from './deps';
import { createHeartbeatDrainActivities } from './heartbeat-drain';
import { createHeartbeatRetentionActivities } from './heartbeat-retention';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createHeartbeatDrainActivities(deps),
    ...createHeartbeatRetentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps, RemediationNotifier } from './deps';
