/**
 * The worker: polls the task queue, runs every workflow and activity. Built from a connection and
 * injected activity dependencies; in production the prebuilt workflow bundle is loaded, in
 * development and tests the workflows are bundled from source.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { temporalConnectionSettings } from '../temporal/connection-options';
import { dataConverterFor } from '../temporal/payload-codec';
import { logContextActivityInterceptor } from './log-interceptor';

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

export function workflowSource(
  config: Config,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors'> {
  const activity = [logContextActivityInterceptor];
  const bundle = config.temporal.workflowBundlePath;
  if (bundle) {
    if (!existsSync(bundle)) throw new Error(`TEMPORAL_WORKFLOW_BUNDLE ${bundle} does not exist`);
    // The prebuilt bundle already contains the workflow interceptors (`genesis-cp bundle`).
    return { workflowBundle: { codePath: bundle }, interceptors: { activity } };
  }
  return {
    workflowsPath: workflowsSourcePath(),
    interceptors: { activity, workflowModules: workflowInterceptorModules() },
  };
}

export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionSettings(config.temporal));
}

export interface CreateWorkerOptions {
  config: Config;
  logger: Logger;
  connection: NativeConnection;
  deps: ActivityDeps;
  taskQueue?: string;
  identitySuffix?: string;
}

export async function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  const { config } = opts;
  return Worker.create({
    connection: opts.connection,
    namespace: config.temporal.namespace,
    taskQueue: opts.taskQueue ?? config.temporal.taskQueue,
    identity: `${config.worker.group}/${config.worker.buildId}/${process.pid}${opts.identitySuffix ?? ''}`,
    activities: createActivities(opts.deps),
    ...workflowSource(config),
    dataConverter: dataConverterFor(config.codec.keys),
    shutdownGraceTime: config.worker.shutdownGraceMs,
    // Activities that ignore their cancellation after the grace do not hold the process: the
    // worker gives up on them a little later (they are retried elsewhere after their timeouts).
    shutdownForceTime: config.worker.shutdownGraceMs + SHUTDOWN_FORCE_AFTER_GRACE_MS,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    // A fixed bound: the SDK's default is sized from the heap limit (about 2,300 workflows on a
    // 24 GiB machine), memory a small control plane does not have; a workflow evicted from the
    // cache is replayed from its history on its next task, so the bound costs CPU, never results.
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    ...(config.worker.versioning
      ? {
          // Worker Versioning: new workflows go to the deployment's current version; a workflow
          // stays on the version it started on (PINNED) unless its definition says AUTO_UPGRADE.
          workerDeploymentOptions: {
            version: { deploymentName: config.worker.deploymentName, buildId: config.worker.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: 'PINNED' as const,
          },
        }
      : {}),
  });
}
