/**
 * Side effects of the power workflows: the droplet's record and state, DigitalOcean power actions
 * (through the fleet-wide budget inside the client), sidecar health checks, heartbeat freshness,
 * and whether another operation is running on the droplet.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { TransitionRequest } from '../src/db/droplets';
import {
  goalHolds,
  type Action,
  type DigitalOceanClient,
  type PowerActionType,
} from '../src/digitalocean/client';
import { neverSent } from '../src/digitalocean/cohorts';
import {
  DEFAULT_BUDGET_LANE,
  laneOfHibernate,
  laneOfReboot,
  laneOfWake,
  type BudgetLane,
} from '../src/domain/budget-lanes';
import { IllegalTransitionError, type DropletState } from '../src/domain/droplet-state';
import { PowerFailure, type PowerPurpose } from '../src/domain/power';
import { remediationOutcome, SHARED } from '../src/observability/shared-metrics';
import { bindLogContext } from '../src/observability/log-context';
import { isHealthy } from '../src/sidecar/protocol';
import { sidecarTargetOf } from '../src/sidecar/target';
import { runningChangesOn } from '../src/temporal/running-on-droplet';
import { digitaloceanOf, portsOf, type ActivityDeps } from './deps';
import { asActivityFailure, required } from './errors';

export interface DropletRecord {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  sidecarUrl: string | null;
  /** the droplet_id claim its agent checks, when known */
  agentDropletId: string | null;
  lastHeartbeatAt: string | null;
  n8nStatus: string | null;
  /** the DigitalOcean account the droplet lives in (absent in runs recorded before accounts) */
  account?: string;
}

/** What startPowerAction answers: the action id (null: its goal already holds) and its cohort. */
export interface StartedPowerAction {
  actionId: number | null;
  /** the cohort tag when the action was started by a cohort's bulk action */
  cohort?: string;
}

/** How an action a workflow looked up stands: done, failed, still running, or unknown to DigitalOcean. */
export type ActionLook = 'completed' | 'errored' | 'in-progress' | 'missing';

/** The budget lane of a power action's purpose (the remediation lane for callers naming none). */
export function laneOf(purpose: PowerPurpose | undefined): BudgetLane {
  if (!purpose) return DEFAULT_BUDGET_LANE;
  switch (purpose.operation) {
    case 'wake':
      return laneOfWake(purpose.reason);
    case 'hibernate':
      return laneOfHibernate(purpose.reason);
    case 'hard_reboot':
      return laneOfReboot(purpose.reason);
  }
}

export function createPowerActivities(deps: ActivityDeps) {
  const sidecar = () => required(deps.sidecar, 'the sidecar client');
  const { droplets, powerActions } = portsOf(deps);

  async function record(dropletId: number): Promise<DropletRecord> {
    const row = await droplets.get(dropletId);
    if (!row)
      throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
    bindLogContext({ workspaceId: row.workspace_id, dropletId });
    return {
      dropletId,
      workspaceId: row.workspace_id,
      state: row.state,
      sidecarUrl: row.sidecar_url,
      agentDropletId: row.agent_droplet_id,
      lastHeartbeatAt: row.last_heartbeat_at?.toISOString() ?? null,
      n8nStatus: row.n8n_status,
      account: row.account,
    };
  }

  /** The client of the droplet's account (every DigitalOcean call about a droplet goes through it). */
  async function clientFor(dropletId: number): Promise<{ client: DigitalOceanClient; account: string }> {
    const row = await droplets.get(dropletId);
    if (!row)
      throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
    const account = row.account ?? 'default';
    try {
      return { client: required(digitaloceanOf(deps, account), 'the DigitalOcean client'), account };
    } catch (err) {
      throw asActivityFailure(err, PowerFailure.provider);
    }
  }

  /**
   * Starts a power action at most once per `key`. The key is recorded before DigitalOcean is
   * called; a retry that finds it without an action id (the worker died mid-call) looks for the
   * action the first try started before starting another. A claim whose attempt failed before any
   * request left (the budget refused it) is released, so its retry pays no lookup. With a cohort
   * batcher wired, remediation and bulk actions go through it (src/digitalocean/cohorts.ts);
   * interactive ones, retries and `single` never do. Answers null when the goal already holds
   * (DigitalOcean: 422 "Droplet is already powered off/on").
   */
  async function startAction(input: {
    key: string;
    dropletId: number;
    type: PowerActionType;
    purpose?: PowerPurpose;
    single?: boolean;
  }): Promise<StartedPowerAction> {
    const { key, dropletId, type } = input;
    const lane = laneOf(input.purpose);
    const ctx = Context.current();
    const signal = ctx.cancellationSignal;
    const { client, account } = await clientFor(dropletId);
    // a batched action waits for its cohort: the heartbeat tells a live worker from a dead one
    const beat = setInterval(() => ctx.heartbeat(), 2_000);
    try {
      return await startActionClaimed();
    } finally {
      clearInterval(beat);
    }

    async function startActionClaimed(): Promise<StartedPowerAction> {
      const claim = await powerActions.claim({ key, dropletId, type });
      if (claim.actionId) return { actionId: claim.actionId };
      let sending = false;
      try {
        let actionId: number | undefined;
        let cohort: string | undefined;
        if (!claim.fresh) {
          sending = true;
          const earlier = await client.findRecentAction(
            dropletId,
            type,
            claim.startedAt.getTime() - 5_000,
            signal,
          );
          actionId = earlier?.id;
          if (actionId)
            deps.logger.warn(
              { dropletId, actionId, type, key },
              'reusing power action started by an earlier attempt',
            );
        }
        const cohorts = deps.powerCohorts;
        if (!actionId && claim.fresh && !input.single && cohorts?.batchable(type, lane)) {
          sending = true;
          const answer = await cohorts.submit({ account, type, lane, dropletId, key });
          if (answer.kind === 'started') {
            deps.logger.info(
              { dropletId, actionId: answer.actionId, type, cohort: answer.cohortTag },
              'power action started by a cohort',
            );
            return { actionId: answer.actionId, cohort: answer.cohortTag };
          }
          cohort = answer.cohortTag;
          deps.logger.info(
            { dropletId, type, cohort, reason: answer.reason },
            'power action not started by a cohort: single action',
          );
        }
        if (!actionId) {
          sending = true;
          try {
            actionId = (await client.dropletAction(dropletId, type, { signal, lane })).id;
          } catch (err) {
            if (!goalHolds(type, err)) throw err;
            deps.logger.info(
              { dropletId, type, key, answer: (err as Error).message },
              'power action not needed: its goal already holds',
            );
            return { actionId: null, cohort };
          }
        }
        if (!actionId)
          throw ApplicationFailure.nonRetryable(
            'DigitalOcean returned an action without id',
            PowerFailure.provider,
          );
        await powerActions.recordActionId(key, actionId);
        deps.logger.info(
          { dropletId, actionId, type, workflowId: ctx.info.workflowExecution?.workflowId },
          'power action started',
        );
        return { actionId, cohort };
      } catch (err) {
        // nothing left for this key (or DigitalOcean refused it): the retry's claim is fresh again
        if (claim.fresh && (!sending || neverSent(err)))
          await powerActions.release(key).catch(() => undefined);
        throw asActivityFailure(err, PowerFailure.provider);
      }
    }
  }

  /**
   * A wait on a DigitalOcean action inside an activity: heartbeats every 3 s, and when this worker
   * begins shutting down it stops at once and fails retryably (`what` continues on another worker)
   * instead of using up the worker's grace.
   */
  async function waitingOnAction<T>(what: string, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), 3_000);
    const signal = deps.shutdown
      ? AbortSignal.any([ctx.cancellationSignal, deps.shutdown])
      : ctx.cancellationSignal;
    try {
      return await body(signal);
    } catch (err) {
      if (deps.shutdown?.aborted && !ctx.cancellationSignal.aborted)
        throw ApplicationFailure.retryable(
          `the worker is shutting down: ${what} continues on another worker`,
          'WorkerShuttingDown',
        );
      throw asActivityFailure(err);
    } finally {
      clearInterval(beat);
    }
  }

  return {
    getDropletRecord: record,

    /** Every state change of a power workflow goes through the transition function. */
    async transitionDroplet(req: TransitionRequest): Promise<{ from: DropletState; changed: boolean }> {
      try {
        const r = await droplets.transition(req);
        const ended = r.changed ? remediationOutcome(r.from, req.to) : undefined;
        if (ended) deps.sharedMetrics?.inc(SHARED.remediations, ended);
        return { from: r.from, changed: r.changed };
      } catch (err) {
        if (err instanceof IllegalTransitionError) {
          throw ApplicationFailure.nonRetryable(err.message, PowerFailure.illegalState);
        }
        throw err;
      }
    },

    async getProviderStatus(dropletId: number): Promise<string> {
      try {
        const { client } = await clientFor(dropletId);
        const d = await client.getDroplet(dropletId, {
          signal: Context.current().cancellationSignal,
        });
        return d.status;
      } catch (err) {
        throw asActivityFailure(err);
      }
    },

    /**
     * The failure path of a power or change workflow: a droplet this workflow left in a
     * transitional state goes to a resting one with the reason (see settleTransitional).
     */
    async settleDroplet(req: {
      dropletId: number;
      workflowId: string;
      to: DropletState;
      cause: string;
      detail?: Record<string, unknown>;
    }): Promise<{ from: DropletState; changed: boolean }> {
      const r = await droplets.settleTransitional(req);
      if (r.changed)
        deps.logger.warn(
          { dropletId: req.dropletId, from: r.from, to: req.to, cause: req.cause, ...req.detail },
          'droplet settled after a failed operation',
        );
      return { from: r.from, changed: r.changed };
    },

    /**
     * The power action of runs recorded before 'power-calls-floor' (and of their old branch):
     * startPowerAction's answer without the cohort. Never batched.
     */
    async powerAction(input: {
      key: string;
      dropletId: number;
      type: PowerActionType;
    }): Promise<number | null> {
      return (await startAction({ ...input, single: true })).actionId;
    },

    startPowerAction: startAction,

    /**
     * How the action stands, looked up at most until `timeoutMs`: once after `firstLookMs`, then at
     * growing intervals while it is in progress. Lookups of many droplets share one request when
     * the cohort batcher is wired. Answers 'in-progress' when the time ran out.
     */
    async lookUpAction(input: {
      dropletId: number;
      actionId: number;
      purpose?: PowerPurpose;
      firstLookMs?: number;
      timeoutMs: number;
      pollMs?: number;
    }): Promise<ActionLook> {
      const lane = laneOf(input.purpose);
      const { client, account } = await clientFor(input.dropletId);
      const deadline = Date.now() + input.timeoutMs;
      let wait = input.firstLookMs ?? 0;
      let interval = Math.max(input.pollMs ?? 2_000, 100);
      return waitingOnAction(`the look at action ${input.actionId}`, async (signal) => {
        for (;;) {
          if (wait > 0) await sleepOrAbort(Math.min(wait, Math.max(0, deadline - Date.now())), signal);
          const cohorts = deps.powerCohorts;
          let action: Action | undefined;
          try {
            action = cohorts
              ? await cohorts.lookup(account, input.actionId, lane)
              : await client.getAction(input.actionId, { signal, lane });
          } catch (err) {
            if ((err as { code?: string }).code === 'not_found') return 'missing';
            throw err;
          }
          if (!action) return 'missing';
          if (action.status === 'completed' || action.status === 'errored') return action.status;
          if (Date.now() >= deadline) return 'in-progress';
          wait = interval;
          interval = Math.min(Math.ceil(interval * 1.5), 15_000);
        }
      });
    },

    /**
     * Waits for an action. A pure wait: when this worker begins shutting down it stops at once
     * and fails retryably, so another worker carries on instead of this one using up its grace.
     */
    async waitForAction(input: {
      actionId: number;
      timeoutMs: number;
      pollMs: number;
      /** the droplet whose account's client waits (absent in runs recorded before accounts) */
      dropletId?: number;
    }): Promise<string> {
      return waitingOnAction(`the wait for action ${input.actionId}`, async (signal) => {
        const client = input.dropletId
          ? (await clientFor(input.dropletId)).client
          : required(digitaloceanOf(deps), 'the DigitalOcean client');
        const action = await client.waitForAction(input.actionId, {
          timeoutMs: input.timeoutMs,
          pollIntervalMs: input.pollMs,
          maxPollIntervalMs: Math.max(input.pollMs, 5_000),
          signal,
        });
        return action.status ?? 'completed';
      });
    },

    /**
     * One HEALTH_CHECK probe; the verify loop in the workflow decides what a failure means. Healthy
     * (`ok`) means n8n_status healthy and, where docker reports it, the container running; the
     * agent never reports a version, so none is asked for.
     */
    async sidecarHealthCheck(
      dropletId: number,
    ): Promise<{ ok: boolean; n8nStatus?: string; containerStatus?: string; error?: string }> {
      const row = await droplets.get(dropletId);
      if (!row)
        throw ApplicationFailure.nonRetryable(`droplet ${dropletId} is not known`, PowerFailure.notFound);
      bindLogContext({ workspaceId: row.workspace_id, dropletId });
      const target = sidecarTargetOf(row);
      if (!target) return { ok: false, error: 'droplet has no registered sidecar_url yet' };
      try {
        const { result } = await sidecar().healthCheck(target, {
          signal: Context.current().cancellationSignal,
        });
        const facts = { n8nStatus: result.n8n_status, containerStatus: result.container_status };
        return isHealthy(result)
          ? { ok: true, ...facts }
          : {
              ok: false,
              ...facts,
              error: `n8n ${result.n8n_status}, container ${result.container_status}`,
            };
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    },

    /** Polling fallback of verification: the droplet's newest heartbeat, if newer than `since`. */
    async heartbeatSince(input: { dropletId: number; sinceMs: number }): Promise<string | null> {
      const r = await record(input.dropletId);
      if (!r.lastHeartbeatAt) return null;
      return Date.parse(r.lastHeartbeatAt) > input.sinceMs ? r.lastHeartbeatAt : null;
    },

    /** Running operations on the droplet that must not be interrupted by a power change. */
    async runningChangesOn(dropletId: number): Promise<string[]> {
      return runningChangesOn(required(deps.temporal, 'the Temporal client').client, dropletId);
    },

    /** Opens (or keeps) an alert and notifies once per severity change; logs when no sink is wired. */
    async raiseAlert(
      alert: Parameters<NonNullable<ActivityDeps['alerts']>['raise']>[0],
    ): Promise<{ notified: boolean }> {
      if (!deps.alerts) {
        deps.logger.warn({ ...alert }, 'ALERT (no alert sink configured)');
        return { notified: false };
      }
      return deps.alerts.raise(alert);
    },

    async resolveAlert(key: string): Promise<{ resolved: boolean }> {
      if (!deps.alerts) return { resolved: false };
      return deps.alerts.resolve(key);
    },
  };
}

function sleepOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
