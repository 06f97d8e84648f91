/**
 * The reconciler, run by a Temporal Schedule (reconciler/<task queue>, overlap SKIP):
 *   1. plan: every tenant with a desired state, its drift from the control plane's record (the
 *      drift gauges of /metrics), the drifted tenants it may act on now (awake, no rollout on
 *      them, not marked), least recently attempted first, at most maxStartsPerTick; then a sample
 *      of in-sync awake tenants whose workflows are read back (oldest check first);
 *   2. start (or join) reconcileTenant for each, while fewer than maxInFlight run fleet-wide.
 * The change workflows those run take the fleet-wide semaphore, so the fleet limits hold; the
 * rate is maxStartsPerTick per period. Hibernated tenants wait for their wake, which reconciles
 * them as soon as it verifies (./after-wake.ts).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  invalidReconcileOptions,
  RECONCILER_DEFAULTS,
  type ReconcilerInput,
  type ReconcilerSummary,
} from '../../src/domain/reconcile';
import { requireValidInput } from '../input';
import { remediationPolicy } from '../policies';

const { planReconcile, startReconciles } =
  proxyActivities<Pick<Activities, 'planReconcile' | 'startReconciles'>>(remediationPolicy);

export async function reconciler(input: ReconcilerInput = {}): Promise<ReconcilerSummary> {
  requireValidInput(input, invalidReconcileOptions);
  const cfg = {
    ...RECONCILER_DEFAULTS,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
  } as Required<Omit<ReconcilerInput, 'n8n'>> & Pick<ReconcilerInput, 'n8n'>;
  const plan = await planReconcile({ maxStarts: cfg.maxStartsPerTick, verifySample: cfg.verifySample });
  const starts =
    plan.candidates.length > 0
      ? await startReconciles({
          tenants: plan.candidates,
          reason: 'schedule',
          maxInFlight: cfg.maxInFlight,
          options: { maxFailures: cfg.maxFailures, ...(cfg.n8n ? { n8n: cfg.n8n } : {}) },
        })
      : { started: 0, joined: 0 };
  return {
    tenants: plan.tenants,
    drifted: plan.drifted,
    byKind: plan.byKind,
    marked: plan.marked,
    eligible: plan.eligible,
    started: starts.started,
    joined: starts.joined,
    verifying: plan.candidates.filter((c) => c.verify).length,
  };
}
