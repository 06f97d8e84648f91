/** How a power workflow ends a verified attempt or a provider refusal: one place for both. */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { PowerFailure, type PowerResult, type PowerStatus } from '../../src/domain/power';
import { failureMessage, rootApplicationFailure } from '../failures';
import { dbPolicy } from '../policies';
import type { Verification } from './verify';

const { transitionDroplet } = proxyActivities<Pick<Activities, 'transitionDroplet'>>(dbPolicy);

/** ACTIVE_HEALTHY, or ACTIVE_DEGRADED when n8n reported degraded; records the outcome. */
export async function markVerified(
  verified: Extract<Verification, { ok: true }>,
  ctx: {
    dropletId: number;
    cause: string;
    workflowId: string;
    status: PowerStatus;
    attempts: number;
    /** lifecycle detail (e.g. the cohort that powered the droplet); none when empty */
    detail?: Record<string, unknown>;
  },
): Promise<PowerResult> {
  const to = verified.n8nStatus === 'degraded' ? 'ACTIVE_DEGRADED' : 'ACTIVE_HEALTHY';
  const detail = ctx.detail && Object.keys(ctx.detail).length > 0 ? ctx.detail : undefined;
  await transitionDroplet({
    dropletId: ctx.dropletId,
    to,
    cause: ctx.cause,
    workflowId: ctx.workflowId,
    ...(detail ? { detail } : {}),
  });
  ctx.status.phase = 'done';
  ctx.status.outcome = to;
  return {
    dropletId: ctx.dropletId,
    outcome: to === 'ACTIVE_DEGRADED' ? 'degraded' : 'healthy',
    attempts: ctx.attempts,
  };
}

/**
 * If the provider refused for good (droplet gone, token revoked; not an errored action, which a
 * retry may fix), marks the droplet FAILED and throws the refusal. Otherwise returns the message.
 */
export async function failOnRefusal(
  err: unknown,
  ctx: { dropletId: number; cause: string; workflowId: string; status: PowerStatus },
): Promise<string> {
  const cause = rootApplicationFailure(err);
  if (cause && cause.nonRetryable && cause.type !== 'DigitalOceanActionFailedError') {
    ctx.status.phase = 'failed';
    ctx.status.lastError = cause.message;
    await transitionDroplet({
      dropletId: ctx.dropletId,
      to: 'FAILED',
      cause: ctx.cause,
      workflowId: ctx.workflowId,
    });
    throw ApplicationFailure.nonRetryable(cause.message, cause.type ?? PowerFailure.provider);
  }
  return failureMessage(err);
}
