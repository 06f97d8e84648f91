/**
 * Side effects of desired state and the reconciler: desired state in Postgres, the fleet's drift
 * (and its gauges on /metrics), GET_WORKFLOW read-backs of a tenant's workflows against their
 * desired artifacts (holding a fleet-wide workflow_update slot, like the change workflows), the
 * reconciler's per-tenant record with its alert, and starts of reconcileTenant under its
 * single-flight id. Workflow JSON stays out of these activities' results except where a change
 * workflow needs it (desiredArtifact); credential blobs only for the injection (desiredCredentials).
 */
import { Context } from '@temporalio/activity';
import { reconcileTenantContract } from '../contracts/reconcile';
import type { TenantReconcileRow } from '../src/db/desired-state';
import { forwardedWorkflow, substituteCredentials, workflowDifferences } from '../src/domain/n8n-workflow';
import {
  computeDrift,
  driftKindsOf,
  DRIFT_KINDS,
  RECONCILER_DEFAULTS,
  reconcileAlertKey,
  verifiableWorkflows,
  type DesiredCredential,
  type DesiredStateView,
  type DriftKind,
  type FleetDrift,
  type ReconcileOptions,
  type ReconcileReason,
  type SetDesiredStateInput,
  type TenantDrift,
} from '../src/domain/reconcile';
import { SidecarCommandFailedError } from '../src/sidecar/errors';
import { sidecarTargetOf } from '../src/sidecar/target';
import { recordScheduleRun } from '../src/observability/schedule-runs';
import { SHARED } from '../src/observability/shared-metrics';
import { powerOperationRunning, runningChangesOn } from '../src/temporal/running-on-droplet';
import { credentialRequestKey } from '../src/temporal/change-starts';
import { startWorkflow } from '../src/temporal/start';
import type { CredentialSpec } from '../src/domain/changes';
import { portsOf, type ActivityDeps } from './deps';
import { asActivityFailure, required } from './errors';
import { tenantDriftOf } from '../src/db/desired-state';

/** What a reconciler run chose. */
export interface ReconcilePlan {
  tenants: number;
  drifted: number;
  byKind: Record<DriftKind, number>;
  marked: number;
  eligible: number;
  /** drifted tenants to reconcile now, then the read-back sample */
  candidates: { workspaceId: string; dropletId: number; verify: boolean }[];
}

/** Awake and free of a rollout: the reconciler may change it now. */
const actionable = (row: TenantReconcileRow) =>
  row.droplet?.state === 'ACTIVE_HEALTHY' && !row.inRollout && !row.status.marked;

export function createReconcileActivities(deps: ActivityDeps) {
  const { desiredState, reconcileStatus } = portsOf(deps);
  const metrics = deps.sharedMetrics;

  async function recordAttempt(input: {
    workspaceId: string;
    dropletId: number;
    outcome: 'in_sync' | 'reconciled' | 'failed';
    error?: string;
    workflowId: string;
    maxFailures: number;
  }): Promise<{ failures: number; markedNow: boolean }> {
    const r = await reconcileStatus.recordAttempt(input);
    metrics?.inc(SHARED.reconcileOutcomes, { outcome: r.markedNow ? 'marked' : input.outcome });
    if (r.markedNow) {
      const alert = {
        key: reconcileAlertKey(input.workspaceId),
        kind: 'reconcile_failed',
        severity: 'warning' as const,
        title: `Tenant ${input.workspaceId}: reconciliation failed ${r.failures} times`,
        message:
          `The reconciler could not bring workspace ${input.workspaceId} (droplet ${input.dropletId}) to its ` +
          `desired state ${r.failures} times in a row and stops retrying it until an operator clears it ` +
          `(genesis-cp desired clear ${input.workspaceId}) or its desired state changes. Last error: ${input.error ?? '-'}`,
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        workflowId: input.workflowId,
        reason: 'reconcile_failed',
        value: r.failures,
        threshold: input.maxFailures,
      };
      if (deps.alerts) await deps.alerts.raise(alert);
      else deps.logger.warn(alert, 'ALERT (no alert sink configured)');
    } else if (input.outcome !== 'failed' && deps.alerts) {
      await deps.alerts.resolve(reconcileAlertKey(input.workspaceId));
    }
    return r;
  }

  return {
    /** Applies one change of a tenant's desired state and answers the new state (no JSON, no blob). */
    async writeDesiredState(input: SetDesiredStateInput): Promise<DesiredStateView | null> {
      if (!(await desiredState.set(input))) return null;
      deps.logger.info(
        { workspaceId: input.workspaceId, setBy: input.setBy ?? 'client' },
        'desired state set',
      );
      return desiredState.view(input.workspaceId);
    },

    async readDesiredState(
      workspaceId: string,
    ): Promise<{ desired: DesiredStateView; drift: TenantDrift | null }> {
      const [desired, rows] = await Promise.all([
        desiredState.view(workspaceId),
        desiredState.tenants({ workspaceIds: [workspaceId] }),
      ]);
      return { desired, drift: rows[0] ? tenantDriftOf(rows[0]) : null };
    },

    async readFleetDrift(limit: number): Promise<FleetDrift> {
      return desiredState.fleetDrift({ limit });
    },

    /** A rollout's passed wave (or, at its completion, its skipped tenants) moves their desired state. */
    async moveRolloutDesired(req: Parameters<typeof desiredState.moveForRollout>[0]): Promise<number> {
      const moved = await desiredState.moveForRollout(req);
      deps.logger.info({ rolloutId: req.rolloutId, wave: req.wave, moved }, 'rollout moved desired state');
      return moved;
    },

    /** A halted or aborted rollout leaves desired state as it was before it. */
    async revertRolloutDesired(rolloutId: string): Promise<number> {
      const reverted = await desiredState.revertForRollout(rolloutId);
      deps.logger.info({ rolloutId, reverted }, 'rollout put desired state back');
      return reverted;
    },

    /** One tenant's desired and recorded state, droplet and reconciler record; null without desired state. */
    async loadTenantReconcile(workspaceId: string): Promise<TenantReconcileRow | null> {
      return (await desiredState.tenants({ workspaceIds: [workspaceId] }))[0] ?? null;
    },

    /** What keeps the reconciler off the droplet now: a power operation or a change running on it. */
    async reconcileBusy(input: { dropletId: number; ignorePower: boolean }): Promise<string | null> {
      const { client } = required(deps.temporal, 'the Temporal client');
      if (!input.ignorePower && (await powerOperationRunning(client, input.dropletId)))
        return 'a power operation is running';
      const changes = await runningChangesOn(client, input.dropletId);
      return changes.length ? `changes running: ${changes.join(', ')}` : null;
    },

    /**
     * GET_WORKFLOW of every desired workflow recorded at its desired version, compared with the
     * desired artifact as n8n must hold it (credential ids substituted; name, nodes, connections,
     * settings) and active: the names that differ (edited or deactivated by hand, or gone).
     */
    async readBackDesiredWorkflows(input: {
      workspaceId: string;
      dropletId: number;
    }): Promise<{ checked: number; modified: string[]; differences: Record<string, string[]> }> {
      const row = (await desiredState.tenants({ workspaceIds: [input.workspaceId] }))[0];
      if (!row) return { checked: 0, modified: [], differences: {} };
      const dropletRow = await portsOf(deps).droplets.get(input.dropletId);
      const target = dropletRow ? sidecarTargetOf(dropletRow) : undefined;
      if (!target) return { checked: 0, modified: [], differences: {} };
      const sidecar = required(deps.sidecar, 'the sidecar client');
      const ctx = Context.current();
      const want = new Map(row.desired.workflows.map((w) => [w.name, w]));
      const modified: string[] = [];
      const differences: Record<string, string[]> = {};
      const checkable = verifiableWorkflows(row.desired, row.recorded);
      for (const r of checkable) {
        ctx.heartbeat(r.name);
        const artifact = await desiredState.artifact(want.get(r.name)!.artifactDigest);
        if (!artifact) continue;
        const expected = forwardedWorkflow(
          substituteCredentials(artifact.workflowJson, artifact.credentialMap),
        );
        const read = async (signal: AbortSignal) =>
          sidecar.getWorkflow(target, { workflow_id: r.n8nWorkflowId! }, { signal });
        let diff: string[];
        try {
          const { result } = deps.concurrency
            ? await deps.concurrency.withSlot('workflow_update', read, ctx.cancellationSignal)
            : await read(ctx.cancellationSignal);
          diff = workflowDifferences(expected, result.workflow);
          if (!result.workflow.active) diff.push('active');
        } catch (err) {
          // the agent answered that n8n has no such workflow (deleted by hand): drifted too
          if (err instanceof SidecarCommandFailedError)
            diff = [`not readable: ${err.sidecarError.slice(0, 200)}`];
          else throw asActivityFailure(err);
        }
        if (diff.length) {
          modified.push(r.name);
          differences[r.name] = diff;
        }
      }
      await reconcileStatus.recordVerified(input.workspaceId);
      if (modified.length)
        deps.logger.warn({ ...input, differences }, 'workflows read back differ from desired state');
      return { checked: checkable.length, modified, differences };
    },

    /** The workflow JSON and credential map of a desired workflow (what workflowUpdate takes). */
    async desiredArtifact(digest: string): Promise<{
      workflowJson: Record<string, unknown>;
      credentialMap?: Record<string, string>;
    }> {
      const a = await desiredState.artifact(digest);
      if (!a) throw new Error(`desired artifact ${digest} is not stored`);
      return a;
    },

    /**
     * The desired credentials among `wanted`, with the blobs the injection sends, and the digest
     * of that injection's request (its usual workflow id).
     */
    async desiredCredentials(input: {
      workspaceId: string;
      dropletId: number;
      wanted: DesiredCredential[];
    }): Promise<{ credentials: CredentialSpec[]; requestKey: string }> {
      const keys = new Set(input.wanted.map((c) => `${c.type}\u0000${c.name}`));
      const credentials = (await desiredState.credentialBlobs(input.workspaceId)).filter((c) =>
        keys.has(`${c.type}\u0000${c.name}`),
      );
      const requestKey = credentialRequestKey({
        workspaceId: input.workspaceId,
        dropletId: input.dropletId,
        credentials,
      });
      return { credentials, requestKey };
    },

    /**
     * Records one reconciliation. A success resolves the tenant's alert; the failure that reaches
     * maxFailures marks the tenant (not retried until cleared or desired state changes) and alerts.
     */
    recordReconcileAttempt: recordAttempt,

    /**
     * One reconciler run's view of the fleet: every tenant with a desired state, page by page, its
     * drift from the record; the drifted tenants the reconciler may act on now (awake, no rollout
     * on them, not marked; least recently attempted first) up to `maxStarts`, then the read-back
     * sample. Writes the drift gauges /metrics serves.
     */
    async planReconcile(input: { maxStarts: number; verifySample: number }): Promise<ReconcilePlan> {
      const ctx = Context.current();
      const plan: ReconcilePlan = {
        tenants: 0,
        drifted: 0,
        byKind: { n8n: 0, workflow: 0, credential: 0 },
        marked: 0,
        eligible: 0,
        candidates: [],
      };
      const eligible: { workspaceId: string; dropletId: number; lastAttemptAt: string | null }[] = [];
      const settled: TenantReconcileRow[] = [];
      let after = '';
      for (;;) {
        const page = await desiredState.tenants({ afterWorkspaceId: after, limit: 500 });
        if (page.length === 0) break;
        ctx.heartbeat(plan.tenants);
        for (const row of page) {
          plan.tenants++;
          if (row.status.marked) plan.marked++;
          const drift = computeDrift(row.desired, row.recorded);
          if (drift.length === 0) {
            // failed before, in sync now (its desired state changed, or it was fixed by hand)
            if (row.status.lastOutcome === 'failed' && row.droplet) settled.push(row);
            continue;
          }
          plan.drifted++;
          for (const k of driftKindsOf(drift)) plan.byKind[k]++;
          if (actionable(row))
            eligible.push({
              workspaceId: row.desired.workspaceId,
              dropletId: row.droplet!.id,
              lastAttemptAt: row.status.lastAttemptAt,
            });
        }
        after = page[page.length - 1]!.desired.workspaceId;
        if (page.length < 500) break;
      }
      for (const row of settled)
        await recordAttempt({
          workspaceId: row.desired.workspaceId,
          dropletId: row.droplet!.id,
          outcome: 'in_sync',
          workflowId: ctx.info.workflowExecution?.workflowId ?? 'reconciler',
          maxFailures: RECONCILER_DEFAULTS.maxFailures,
        });
      plan.eligible = eligible.length;
      eligible.sort((a, b) => (a.lastAttemptAt ?? '').localeCompare(b.lastAttemptAt ?? ''));
      plan.candidates = eligible
        .slice(0, input.maxStarts)
        .map((e) => ({ workspaceId: e.workspaceId, dropletId: e.dropletId, verify: false }));
      const sample = await desiredState.verifySample({
        limit: input.verifySample,
        exclude: eligible.map((e) => e.workspaceId),
      });
      plan.candidates.push(...sample.map((s) => ({ ...s, verify: true })));

      if (metrics) {
        for (const k of DRIFT_KINDS) metrics.set(SHARED.desiredDriftTenants, { kind: k }, plan.byKind[k]);
        metrics.set(SHARED.desiredDriftTenants, { kind: 'any' }, plan.drifted);
        metrics.set(SHARED.desiredTenants, {}, plan.tenants);
        metrics.set(SHARED.reconcileMarkedTenants, {}, plan.marked);
        recordScheduleRun(metrics, 'reconciler');
      }
      return plan;
    },

    /**
     * Starts (or joins) reconcileTenant for each tenant under its single-flight id, while fewer
     * than `maxInFlight` run fleet-wide (the rest wait for the next run).
     */
    async startReconciles(input: {
      tenants: { workspaceId: string; dropletId: number; verify: boolean }[];
      reason: ReconcileReason;
      maxInFlight: number;
      options: ReconcileOptions;
    }): Promise<{ started: number; joined: number; deferred: number; workflowIds: string[] }> {
      const { client, taskQueue } = required(deps.temporal, 'the Temporal client');
      const running = await client.workflow.count(
        `WorkflowType = '${reconcileTenantContract.workflowType}' AND ExecutionStatus = 'Running'`,
      );
      let room = Math.max(0, input.maxInFlight - running.count);
      let started = 0;
      let joined = 0;
      const ids: string[] = [];
      for (const t of input.tenants) {
        if (room <= 0) break;
        Context.current().heartbeat(ids.length);
        const r = await startWorkflow(
          client,
          reconcileTenantContract,
          { ...t, reason: input.reason, ...input.options },
          { taskQueue },
        );
        ids.push(r.workflowId);
        if (r.joined) joined++;
        else {
          started++;
          room--;
          metrics?.inc(SHARED.reconcileStarts, { reason: input.reason });
        }
      }
      return { started, joined, deferred: input.tenants.length - ids.length, workflowIds: ids };
    },

    /**
     * A wake verified: reconcile the tenant now if it has a desired state (its workflows read back,
     * since it was away). The worker's reconciler options apply.
     */
    async requestReconcileAfterWake(input: {
      workspaceId: string;
      dropletId: number;
    }): Promise<{ workflowId: string | null }> {
      const row = (await desiredState.tenants({ workspaceIds: [input.workspaceId] }))[0];
      if (!row || row.status.marked) return { workflowId: null };
      const { client, taskQueue } = required(deps.temporal, 'the Temporal client');
      const r = await startWorkflow(
        client,
        reconcileTenantContract,
        {
          ...input,
          reason: 'after_wake',
          verify: row.desired.workflows.length > 0,
          maxFailures: deps.reconcile?.maxFailures ?? RECONCILER_DEFAULTS.maxFailures,
          ...(deps.reconcile?.n8n ? { n8n: deps.reconcile.n8n } : {}),
        },
        { taskQueue },
      );
      if (!r.joined) metrics?.inc(SHARED.reconcileStarts, { reason: 'after_wake' });
      deps.logger.info({ ...input, workflowId: r.workflowId, joined: r.joined }, 'reconcile after wake');
      return { workflowId: r.workflowId };
    },
  };
}
