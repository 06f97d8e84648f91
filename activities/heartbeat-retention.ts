import { maintainHeartbeatHistory, type RetentionResult } from '../src/db/heartbeat-retention';
import type { ActivityDeps } from './deps';

export function createHeartbeatRetentionActivities(deps: ActivityDeps) {
  return {
    async maintainHeartbeatHistory(): Promise<RetentionResult> {
      const result = await maintainHeartbeatHistory(deps.pool, {
        retentionDays: deps.heartbeatRetentionDays,
      });
      if (result.created.length || result.dropped.length || result.deletedFromDefault) {
        deps.logger.info({ ...result }, 'heartbeat history partitions maintained');
      }
      return result;
    },
  };
}
