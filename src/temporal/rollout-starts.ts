/**
 * Starting and steering fleet rollouts (contracts/rollout.ts). The workflow id is
 * rollout-<rolloutId>: a retried start joins the running rollout (USE_EXISTING), and a rollout id
 * is never reused once its rollout has ended (REJECT_DUPLICATE), so "start rollout X" cannot run X
 * twice.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import {
  abortRolloutUpdate,
  fleetRolloutContract,
  pauseRolloutUpdate,
  resumeRolloutUpdate,
  rolloutIds,
  rolloutProgressQuery,
  type FleetRolloutInput,
  type FleetRolloutWorkflow,
  type RolloutProgress,
} from '../../contracts/rollout';
import { startWorkflow, type StartedWorkflow } from './start';

export class RolloutIdUsedError extends Error {
  constructor(readonly rolloutId: string) {
    super(`rollout id ${rolloutId} was already used by a rollout that has ended; choose a new id`);
    this.name = 'RolloutIdUsedError';
  }
}

export async function startFleetRollout(
  client: Client,
  taskQueue: string,
  input: FleetRolloutInput,
): Promise<StartedWorkflow<FleetRolloutWorkflow>> {
  try {
    return await startWorkflow(client, fleetRolloutContract, input, { taskQueue });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new RolloutIdUsedError(input.rolloutId);
    throw err;
  }
}

/** The rollout refused a pause/resume/abort (e.g. resume of a rollout that is not paused). */
export class RolloutRequestRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutRequestRefusedError';
  }
}

/** Runs a pause/resume/abort; a refusal or a rollout that already ended is a RolloutRequestRefusedError. */
async function steer<T>(client: Client, rolloutId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError)
      throw new RolloutRequestRefusedError(err.cause?.message ?? err.message);
    if (err instanceof WorkflowNotFoundError) {
      // an update to a closed workflow reads as "not found": tell an ended rollout from an unknown one
      const d = await handle(client, rolloutId)
        .describe()
        .catch(() => undefined);
      if (d) throw new RolloutRequestRefusedError(`rollout ${rolloutId} has ended (${d.status.name})`);
    }
    throw err;
  }
}

const handle = (client: Client, rolloutId: string) =>
  client.workflow.getHandle<FleetRolloutWorkflow>(rolloutIds.rollout(rolloutId));

export function rolloutProgress(client: Client, rolloutId: string): Promise<RolloutProgress> {
  return handle(client, rolloutId).query(rolloutProgressQuery);
}

export function pauseRollout(
  client: Client,
  rolloutId: string,
  req: { reason?: string; by?: string } = {},
): Promise<RolloutProgress> {
  return steer(client, rolloutId, () =>
    handle(client, rolloutId).executeUpdate(pauseRolloutUpdate, { args: [req] }),
  );
}

export function resumeRollout(
  client: Client,
  rolloutId: string,
  req: { by?: string } = {},
): Promise<RolloutProgress> {
  return steer(client, rolloutId, () =>
    handle(client, rolloutId).executeUpdate(resumeRolloutUpdate, { args: [req] }),
  );
}

export function abortRollout(
  client: Client,
  rolloutId: string,
  req: { reason?: string; by?: string } = {},
): Promise<RolloutProgress> {
  return steer(client, rolloutId, () =>
    handle(client, rolloutId).executeUpdate(abortRolloutUpdate, { args: [req] }),
  );
}
