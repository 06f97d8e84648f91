/**
 * Fast workflow-rule tests: the real workflow code on the dev server, with a small activities
 * object instead of Postgres, DigitalOcean and sidecars. Every activity of the worker is present;
 * those the test does not stub record their call and fail non-retryably (an unexpected side effect
 * is visible in `calls` and ends the workflow instead of hanging it). Stubs are looked up at each
 * call, so a test may change `stubs` between workflows. Under the workflow tier's global setup the
 * workflows come from the one bundle it built (seconds saved per worker); otherwise from source.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { createActivities, type Activities, type ActivityDeps } from '../../activities';
import { controlPlaneTaskQueues } from '../../contracts/task-queues';
import { WorkerSet } from '../../src/worker/worker-set';
import { workflowInterceptorModules, workflowsSourcePath } from '../../src/worker/worker';
import type { TestTemporal } from './temporal';

/** Where test/workflow/global-setup.ts leaves the run's workflow bundle. */
export const WORKFLOW_BUNDLE_ENV = 'GENESIS_TEST_WORKFLOW_BUNDLE';

export type ActivityStubs = { [K in keyof Activities]?: (...args: Parameters<Activities[K]>) => unknown };

export interface StubWorker {
  /** one worker per control-plane task queue of the test's queue */
  worker: WorkerSet;
  /** Activity names in call order, with their first argument. */
  calls: { name: string; arg: unknown }[];
  names(): string[];
  stop(): Promise<void>;
}

export async function startStubWorker(
  t: TestTemporal,
  opts: { taskQueue: string; stubs: ActivityStubs },
): Promise<StubWorker> {
  const calls: StubWorker['calls'] = [];
  // The real activity names, from the factory (nothing is called on the empty deps).
  const names = Object.keys(createActivities({} as ActivityDeps)) as (keyof Activities)[];
  const activities = Object.fromEntries(
    names.map((name) => [
      name,
      async (...args: unknown[]) => {
        calls.push({ name, arg: args[0] });
        const stub = opts.stubs[name] as ((...a: unknown[]) => unknown) | undefined;
        if (!stub) throw ApplicationFailure.nonRetryable(`unexpected activity ${name}`, 'UnexpectedActivity');
        return stub(...args);
      },
    ]),
  );
  // Every queue of the control plane (contracts/task-queues.ts): an interactive wake started
  // through its contract runs on `<taskQueue>-interactive`.
  const workers = new Map<string, Worker>();
  for (const { queue } of controlPlaneTaskQueues(opts.taskQueue))
    workers.set(
      queue,
      await Worker.create({
        connection: t.nativeConnection,
        taskQueue: queue,
        ...workflowCode(),
        activities,
      }),
    );
  const worker = new WorkerSet(workers);
  const running = worker.run();
  return {
    worker,
    calls,
    names: () => calls.map((c) => c.name),
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

/** The run's prebuilt bundle (it holds the workflow interceptors too), or the workflows' source. */
function workflowCode() {
  const bundle = process.env[WORKFLOW_BUNDLE_ENV];
  if (bundle) return { workflowBundle: { codePath: bundle } };
  return {
    workflowsPath: workflowsSourcePath(),
    interceptors: { workflowModules: workflowInterceptorModules() },
  };
}
