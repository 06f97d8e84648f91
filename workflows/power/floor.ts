/**
 * Power at the floor of DigitalOcean calls ('power-calls-floor'): the power action is sent without
 * reading DigitalOcean's status first (the record says what the droplet is; a 422 "already powered
 * on/off" is success), the agent verifies (heartbeat + HEALTH_CHECK, verify.ts), and the action is
 * looked up only when the agent has not come back within the verify window:
 *   still in progress -> wait for it up to the action timeout, then verify again;
 *   errored, or done while the agent stays away -> one single-action retry under a new key, verify.
 * Remediation and bulk actions may be started by a cohort's bulk action (src/digitalocean/cohorts.ts);
 * the retry never is.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { PowerActionType } from '../../src/digitalocean/client';
import type { PowerPurpose, PowerStatus, PowerTimings } from '../../src/domain/power';
import { actionLookPolicy, powerActionPolicy } from '../policies';
import { verifyDroplet, type HeartbeatWatch, type Verification } from './verify';

/** patched() id of the new call pattern in wake, hibernate and hard reboot. */
export const PATCH_CALLS_FLOOR = 'power-calls-floor';

const { startPowerAction } = proxyActivities<Pick<Activities, 'startPowerAction'>>(powerActionPolicy);
export const actionLook = (timeoutMs: number) =>
  proxyActivities<Pick<Activities, 'lookUpAction'>>(actionLookPolicy(timeoutMs));

export interface FloorAction {
  /** power_actions key of the first action; the retry's is `${key}#2` */
  key: string;
  dropletId: number;
  type: PowerActionType;
  /** what the action is for: the activity serves it in that budget lane (src/domain/budget-lanes.ts) */
  purpose: PowerPurpose;
}

export interface FloorOutcome {
  verification: Verification;
  /** the cohort tag when a cohort's bulk action started the first action */
  cohort?: string;
  /** whether a single-action retry was sent */
  retried: boolean;
}

/** Starts the action (status.cohort names its cohort), counted in status. */
export async function startFloorAction(
  a: FloorAction,
  status: PowerStatus,
  single = false,
): Promise<{ actionId: number | null; cohort?: string }> {
  const started = await startPowerAction({ ...a, single });
  if (started.cohort) status.cohort = started.cohort;
  return started;
}

/**
 * The action, then verification by the agent; the action looked up only when the agent did not
 * come back; one single-action retry when it errored or ended without the agent.
 */
export async function actThenVerify(
  a: FloorAction,
  ctx: {
    timings: PowerTimings;
    watch: HeartbeatWatch;
    status: PowerStatus;
    /** verification wants a heartbeat newer than this (epoch ms) */
    sinceMs: number;
    /** when the operation began (epoch ms): the action timeout counts from here */
    now: () => number;
    /** called before the single-action retry, e.g. to log it */
    beforeRetry?: (why: string) => Promise<void>;
  },
): Promise<FloorOutcome> {
  const { timings, watch, status } = ctx;
  const begun = ctx.now();
  const first = await startFloorAction(a, status);
  const cohort = first.cohort;
  let verification = await verifyDroplet(a.dropletId, ctx.sinceMs, timings, watch, status);
  if (verification.ok || first.actionId === null) return { verification, cohort, retried: false };

  // The agent did not come back in time: how does the action stand?
  status.phase = 'looking_up_action';
  const look = actionLook(timings.actionTimeoutMs).lookUpAction;
  let stands = await look({
    dropletId: a.dropletId,
    actionId: first.actionId,
    purpose: a.purpose,
    timeoutMs: 0,
  });
  if (stands === 'in-progress') {
    const left = Math.max(0, timings.actionTimeoutMs - (ctx.now() - begun));
    stands = await look({
      dropletId: a.dropletId,
      actionId: first.actionId,
      purpose: a.purpose,
      firstLookMs: timings.actionPollMs,
      pollMs: timings.actionPollMs,
      timeoutMs: left,
    });
    if (stands === 'in-progress') {
      return {
        verification: {
          ok: false,
          reason: `${a.type} action ${first.actionId} still in progress after ${timings.actionTimeoutMs} ms`,
        },
        cohort,
        retried: false,
      };
    }
    if (stands === 'completed') {
      // it just finished: the agent gets its window now
      verification = await verifyDroplet(a.dropletId, ctx.sinceMs, timings, watch, status);
      if (verification.ok) return { verification, cohort, retried: false };
    }
  }

  // errored, missing, or completed while the agent stays away: one single action of its own
  const why = `${a.type} action ${first.actionId} ${stands}${verification.ok ? '' : `; ${verification.reason}`}`;
  status.lastError = why;
  await ctx.beforeRetry?.(why);
  status.phase = 'retrying';
  const retry = await startFloorAction({ ...a, key: `${a.key}#2` }, status, true);
  // null: DigitalOcean says its goal holds (e.g. already on): the action is not what is wrong
  if (retry.actionId === null) return { verification, cohort, retried: true };
  verification = await verifyDroplet(a.dropletId, ctx.sinceMs, timings, watch, status);
  return { verification, cohort, retried: true };
}
