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
export function stubWorkerPerFile(name: string, stubs: ActivityStubs): StubTier {
  const tier = new StubTier(uniqueTaskQueue(name));
  beforeAll(async () => {
    tier.t = await connectTestTemporal();
    tier.w = await startStubWorker(tier.t, { taskQueue: tier.taskQueue, stubs });
  });
  afterAll(async () => {
    await tier.w?.stop();
    await tier.t?.close();
  });
  return tier;
}

export class StubTier {
  t!: TestTemporal;
  w!: StubWorker;
  constructor(readonly taskQueue: string) {}

  /** Starts workflow `type` on the file's task queue (it fails after 60 s at the latest). */
  start(type: string, workflowId: string, args: unknown[]) {
    return this.t.client.workflow.start(type, {
      taskQueue: this.taskQueue,
      workflowId,
      args,
      workflowExecutionTimeout: '60s',
    });
  }

  /** Activity calls about one droplet (its id, or an object naming it), by name, in order. */
  calls(dropletId: number, name?: string): { name: string; arg: unknown }[] {
    const about = (arg: unknown) =>
      arg === dropletId ||
      (typeof arg === 'object' && arg !== null && (arg as { dropletId?: number }).dropletId === dropletId);
    return this.w.calls.filter((c) => (name === undefined || c.name === name) && about(c.arg));
  }

  /** The states a droplet was moved to, in order. */
  transitions(dropletId: number): string[] {
    return this.calls(dropletId, 'transitionDroplet').map((c) => (c.arg as { to: string }).to);
  }
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

export const nowIso = () => new Date().toISOString();
