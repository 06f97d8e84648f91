/**
 * Side effects of fleet rollouts: the plan, each wave's tenants, outcomes and statuses, all in
 * Postgres (rollouts, rollout_waves, rollout_targets) so the dashboard reads what the workflow does.
 */
import type { PlanRolloutRequest, RolloutPlan } from '../src/db/rollouts';
import type { RolloutStatusName, RolloutTarget, TargetResult } from '../src/domain/rollout';
import { portsOf, type ActivityDeps } from './deps';

export function createRolloutActivities(deps: ActivityDeps) {
  const { rollouts } = portsOf(deps);
  return {
    async planRollout(req: PlanRolloutRequest): Promise<RolloutPlan> {
      const plan = await rollouts.plan(req);
      deps.logger.info(
        { rolloutId: req.rolloutId, workflowId: req.workflowId, ...plan },
        plan.created ? 'rollout planned' : 'rollout plan already stored',
      );
      return plan;
    },

    /** Marks the wave running and returns its tenants not yet done. */
    async startRolloutWave(req: { rolloutId: string; wave: number; size: number }): Promise<RolloutTarget[]> {
      await rollouts.startWave(req);
      return rollouts.waveTargets(req.rolloutId, req.wave);
    },

    async recordRolloutResults(req: { rolloutId: string; results: TargetResult[] }): Promise<void> {
      await rollouts.recordTargetResults(req.rolloutId, req.results);
    },

    async finishRolloutWave(req: {
      rolloutId: string;
      wave: number;
      status: 'succeeded' | 'halted' | 'aborted';
    }): Promise<void> {
      await rollouts.finishWave(req);
    },

    async setRolloutStatus(req: {
      rolloutId: string;
      status: RolloutStatusName;
      reason?: string | null;
    }): Promise<void> {
      await rollouts.setStatus(req);
      deps.logger.info(
        { rolloutId: req.rolloutId, status: req.status, reason: req.reason },
        'rollout status',
      );
    },

    /** A page of tenants this rollout left on the new version (to roll back), by droplet id. */
    async rolloutSucceededTargets(req: {
      rolloutId: string;
      wave?: number;
      afterDropletId: number;
      limit: number;
    }): Promise<RolloutTarget[]> {
      return rollouts.succeededTargets(req);
    },
  };
}
