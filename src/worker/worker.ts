/**
 * The worker: polls each of the control plane's task queues (contracts/task-queues.ts) with a
 * Temporal Worker of its own, so interactive power operations have slots, a sticky cache and a
 * workflow thread no storm on the base queue fills; every queue runs every workflow and activity.
 * Built from a connection and injected activity dependencies; in production the prebuilt workflow
 * bundle is loaded, in development and tests the workflows are bundled from source (once, for
 * all the queues).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  bundleWorkflowCode,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { controlPlaneTaskQueues, type TaskQueueClass } from '../../contracts/task-queues';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { temporalConnectionSettings } from '../temporal/connection-options';
import { dataConverterFor } from '../temporal/payload-codec';
import { logContextActivityInterceptor } from './log-interceptor';
import { WorkerSet } from './worker-set';

/** After the grace time, how long the worker waits for cancelled activities before it stops anyway. */
export const SHUTDOWN_FORCE_AFTER_GRACE_MS = 3_000;

export function workflowsSourcePath(): string {
  // src/worker -> ../../workflows (ts in dev/tests); dist/src/worker -> ../../workflows (compiled js)
  return require.resolve(resolve(__dirname, '../../workflows'));
}

/** Workflow interceptors (log attributes and the activities' log header); bundled with the workflows. */
export function workflowInterceptorModules(): string[] {
  return [require.resolve(resolve(__dirname, '../../workflows/log-interceptors'))];
}

/**
 * The workflow code every queue's worker loads, with the interceptors: the prebuilt bundle
 * (TEMPORAL_WORKFLOW_BUNDLE, which already contains the workflow interceptors: `genesis-cp bundle`),
 * or the workflows' source bundled once for all the queues.
 */
async function workflowCode(config: Config): Promise<Pick<WorkerOptions, 'workflowBundle' | 'interceptors'>> {
  const interceptors = { activity: [logContextActivityInterceptor] };
  const bundle = config.temporal.workflowBundlePath;
  if (bundle) {
    if (!existsSync(bundle)) throw new Error(`TEMPORAL_WORKFLOW_BUNDLE ${bundle} does not exist`);
    return { workflowBundle: { codePath: bundle }, interceptors };
  }
  const code = await bundleWorkflowCode({
    workflowsPath: workflowsSourcePath(),
    workflowInterceptorModules: workflowInterceptorModules(),
    // the SDK's logger, as Worker.create bundling from source uses (installRuntime routes it)
    logger: Runtime.instance().logger,
  });
  return { workflowBundle: code, interceptors };
}

export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionSettings(config.temporal));
}

export interface CreateWorkerOptions {
  config: Config;
  logger: Logger;
  connection: NativeConnection;
  deps: ActivityDeps;
  /** the base task queue (TEMPORAL_TASK_QUEUE by default); its siblings follow from it */
  taskQueue?: string;
  identitySuffix?: string;
}

/** One Worker per control-plane task queue this process polls (WORKER_TASK_QUEUES), run and stopped together. */
export async function createWorker(opts: CreateWorkerOptions): Promise<WorkerSet> {
  const { config } = opts;
  const activities = createActivities(opts.deps);
  const code = await workflowCode(config);
  // WORKER_TASK_QUEUES: both queues, or one (a pool of replicas for the interactive queue alone)
  const queues = controlPlaneTaskQueues(opts.taskQueue ?? config.temporal.taskQueue).filter((q) =>
    config.worker.taskQueues.includes(q.class),
  );
  const workers = new Map<string, Worker>();
  for (const { queue, class: kind } of queues)
    workers.set(queue, await createQueueWorker(opts, { queue, kind, activities, code }));
  return new WorkerSet(workers);
}

async function createQueueWorker(
  opts: CreateWorkerOptions,
  q: {
    queue: string;
    kind: TaskQueueClass;
    activities: ReturnType<typeof createActivities>;
    code: Pick<WorkerOptions, 'workflowBundle' | 'interceptors'>;
  },
): Promise<Worker> {
  const { config } = opts;
  const slots =
    q.kind === 'interactive'
      ? config.worker.interactive
      : {
          maxConcurrentActivities: config.worker.maxConcurrentActivities,
          maxCachedWorkflows: config.worker.maxCachedWorkflows,
        };
  return Worker.create({
    connection: opts.connection,
    namespace: config.temporal.namespace,
    taskQueue: q.queue,
    identity: `${config.worker.group}/${config.worker.buildId}/${process.pid}${opts.identitySuffix ?? ''}`,
    activities: q.activities,
    ...q.code,
    dataConverter: dataConverterFor(config.codec.keys),
    shutdownGraceTime: config.worker.shutdownGraceMs,
    // Activities that ignore their cancellation after the grace do not hold the process: the
    // worker gives up on them a little later (they are retried elsewhere after their timeouts).
    shutdownForceTime: config.worker.shutdownGraceMs + SHUTDOWN_FORCE_AFTER_GRACE_MS,
    maxConcurrentActivityTaskExecutions: slots.maxConcurrentActivities,
    // A fixed bound: the SDK's default is sized from the heap limit (about 2,300 workflows on a
    // 24 GiB machine), memory a small control plane does not have; a workflow evicted from the
    // cache is replayed from its history on its next task, so the bound costs CPU, never results.
    maxCachedWorkflows: slots.maxCachedWorkflows,
    ...(config.worker.versioning
      ? {
          // Worker Versioning: new workflows go to the deployment's current version; a workflow
          // stays on the version it started on (PINNED) unless its definition says AUTO_UPGRADE.
          // Every queue's worker is the same version, so a version covers all the queues.
          workerDeploymentOptions: {
            version: { deploymentName: config.worker.deploymentName, buildId: config.worker.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: 'PINNED' as const,
          },
        }
      : {}),
  });
}
