import type { RetentionResult } from '../src/db/heartbeat-retention';
import { portsOf, type ActivityDeps } from './deps';

export function createHeartbeatRetentionActivities(deps: ActivityDeps) {
  const { heartbeatHistory } = portsOf(deps);
  return {
    async maintainHeartbeatHistory(): Promise<RetentionResult> {
      const result = await heartbeatHistory.maintain({
        retentionDays: deps.heartbeatRetentionDays,
      });
      if (result.created.length || result.dropped.length || result.deletedFromDefault) {
        deps.logger.info({ ...result }, 'heartbeat history partitions maintained');
      }
      return result;
    },
  };
}
