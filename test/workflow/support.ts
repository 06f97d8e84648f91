/** What the workflow-tier tests share: one stub worker per file, droplet records, failure types. */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, ChildWorkflowFailure, ActivityFailure } from '@temporalio/common';
import type { DropletRecord } from '../../activities/power';
import type { DropletState } from '../../src/domain/droplet-state';
import { startStubWorker, type ActivityStubs, type StubWorker } from '../helpers/stub-activities';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';

export const WORKSPACE = 'ws-rules';

export function dropletRecord(dropletId: number, state: DropletState, lastHeartbeatAt: string | null = null) {
  const r: DropletRecord = {
    dropletId,
    workspaceId: WORKSPACE,
    state,
    sidecarUrl: `http://203.0.113.${dropletId % 250}:3100`,
    agentDropletId: null,
    lastHeartbeatAt,
    n8nStatus: 'healthy',
  };
  return r;
}

/**
 * One stub worker for a test file (beforeAll/afterAll), on its own task queue. `stubs` is the
 * object the worker reads at every call: tests replace entries to change what activities answer.
 */
export function stubWorkerPerFile(name: string, stubs: ActivityStubs) {
  const ctx = {} as { t: TestTemporal; w: StubWorker; taskQueue: string };
  ctx.taskQueue = uniqueTaskQueue(name);
  beforeAll(async () => {
    ctx.t = await connectTestTemporal();
    ctx.w = await startStubWorker(ctx.t, { taskQueue: ctx.taskQueue, stubs });
  });
  afterAll(async () => {
    await ctx.w?.stop();
    await ctx.t?.close();
  });
  return ctx;
}

/** The innermost ApplicationFailure of a failed workflow (through child and activity failures). */
export async function failureOf(result: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await result.then(
    () => {
      throw new Error('the workflow completed; a failure was expected');
    },
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowFailedError)) throw err;
  let e: unknown = err.cause;
  while ((e instanceof ChildWorkflowFailure || e instanceof ActivityFailure) && e.cause) e = e.cause;
  if (!(e instanceof ApplicationFailure)) throw new Error(`not an application failure: ${String(e)}`);
  return e;
}

/** Activity calls of one droplet, by name, in order (the worker's log is shared by the file). */
export function callsFor(w: StubWorker, dropletId: number, name?: string): { name: string; arg: unknown }[] {
  return w.calls.filter(
    (c) =>
      (name === undefined || c.name === name) &&
      (c.arg === dropletId ||
        (typeof c.arg === 'object' &&
          c.arg !== null &&
          (c.arg as { dropletId?: number }).dropletId === dropletId)),
  );
}

/** The states a droplet was moved to, in order. */
export function transitionsOf(w: StubWorker, dropletId: number): string[] {
  return callsFor(w, dropletId, 'transitionDroplet').map((c) => (c.arg as { to: string }).to);
}

export const nowIso = () => new Date().toISOString();
