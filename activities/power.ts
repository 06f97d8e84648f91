/**
 * Side effects of the power workflows: the droplet's record and state, DigitalOcean power actions
 * (through the fleet-wide budget inside the client), sidecar health checks, heartbeat freshness,
 * and whether another operation is running on the droplet.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { TransitionRequest } from '../src/db/droplets';
import { goalHolds, type PowerActionType } from '../src/digitalocean/client';
import { IllegalTransitionError, type DropletState } from '../src/domain/droplet-state';
import { PowerFailure } from '../src/domain/power';
import { remediationOutcome, SHARED } from '../src/observability/shared-metrics';
import { bindLogContext } from '../src/observability/log-context';
import { isHealthy } from '../src/sidecar/protocol';
import { sidecarTargetOf } from '../src/sidecar/target';
import { runningChangesOn } from '../src/temporal/running-on-droplet';
import { portsOf, type ActivityDeps } from './deps';
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
}

export function createPowerActivities(deps: ActivityDeps) {
  const digitalocean = () => required(deps.digitalocean, 'the DigitalOcean client');
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
    };
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
        const d = await digitalocean().getDroplet(dropletId, {
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
     * Starts a power action at most once per `key` (workflow run + attempt). The key is recorded
     * before DigitalOcean is called; a retry that finds it without an action id (the worker died
     * mid-call) looks for the action the first try started before starting another.
     * Answers null when the action's goal already holds (DigitalOcean: 422 "Droplet is already
     * powered off/on"): the action is done without running, there is nothing to wait for.
     */
    async powerAction(input: {
      key: string;
      dropletId: number;
      type: PowerActionType;
    }): Promise<number | null> {
      const { key, dropletId, type } = input;
      const signal = Context.current().cancellationSignal;
      const claim = await powerActions.claim({ key, dropletId, type });
      if (claim.actionId) return claim.actionId;
      try {
        const client = digitalocean();
        let actionId: number | undefined;
        if (!claim.fresh) {
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
        if (!actionId) {
          try {
            actionId = (await client.dropletAction(dropletId, type, { signal })).id;
          } catch (err) {
            if (!goalHolds(type, err)) throw err;
            deps.logger.info(
              { dropletId, type, key, answer: (err as Error).message },
              'power action not needed: its goal already holds',
            );
            return null;
          }
        }
        if (!actionId)
          throw ApplicationFailure.nonRetryable(
            'DigitalOcean returned an action without id',
            PowerFailure.provider,
          );
        await powerActions.recordActionId(key, actionId);
        deps.logger.info(
          { dropletId, actionId, type, workflowId: Context.current().info.workflowExecution?.workflowId },
          'power action started',
        );
        return actionId;
      } catch (err) {
        throw asActivityFailure(err, PowerFailure.provider);
      }
    },

    /**
     * Waits for an action. A pure wait: when this worker begins shutting down it stops at once
     * and fails retryably, so another worker carries on instead of this one using up its grace.
     */
    async waitForAction(input: { actionId: number; timeoutMs: number; pollMs: number }): Promise<string> {
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 3_000);
      const signal = deps.shutdown
        ? AbortSignal.any([ctx.cancellationSignal, deps.shutdown])
        : ctx.cancellationSignal;
      try {
        const action = await digitalocean().waitForAction(input.actionId, {
          timeoutMs: input.timeoutMs,
          pollIntervalMs: input.pollMs,
          maxPollIntervalMs: Math.max(input.pollMs, 5_000),
          signal,
        });
        return action.status ?? 'completed';
      } catch (err) {
        if (deps.shutdown?.aborted && !ctx.cancellationSignal.aborted)
          throw ApplicationFailure.retryable(
            `the worker is shutting down: the wait for action ${input.actionId} continues on another worker`,
            'WorkerShuttingDown',
          );
        throw asActivityFailure(err);
      } finally {
        clearInterval(beat);
      }
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
