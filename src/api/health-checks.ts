/** The real checks behind /health: each throws (or times out) when its dependency is not usable. */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { pingDatabase } from '../db/pool';
import type { DashboardRelayStatus } from './dashboard-relay';
import type { Check } from './health';
import { controlPlaneTaskQueues } from '../../contracts/task-queues';

export const postgresCheck =
  (pool: Pool): Check =>
  async () => {
    await pingDatabase(pool);
  };

export const redisCheck =
  (redis: Redis): Check =>
  async () => {
    if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
    await redis.ping();
  };

export const temporalCheck =
  (client: Client): Check =>
  async () => {
    await client.workflowService.getSystemInfo({});
  };

/**
 * For a process without a worker of its own: is any worker polling each of the control plane's
 * task queues (the base one and its siblings, contracts/task-queues.ts)?
 */
export const taskQueuePollersCheck =
  (client: Client, namespace: string, taskQueue: string, maxIdleMs = 120_000): Check =>
  async () => {
    const now = Date.now();
    const counts: string[] = [];
    for (const { queue } of controlPlaneTaskQueues(taskQueue)) {
      const res = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      const live = (res.pollers ?? []).filter((p) => {
        const t = p.lastAccessTime;
        return t?.seconds != null && now - Number(t.seconds) * 1000 < maxIdleMs;
      });
      if (live.length === 0) throw new Error(`no worker is polling task queue ${queue}`);
      counts.push(`${queue}: ${live.length}`);
    }
    return `poller(s) ${counts.join(', ')}`;
  };

/** For a process with its own worker: is it running (and not paused)? */
export const localWorkerCheck =
  (state: () => string, paused: () => boolean): Check =>
  async () => {
    if (paused()) throw new Error('worker is paused');
    const s = state();
    if (s !== 'RUNNING') throw new Error(`worker is ${s}`);
    return s;
  };

/** The dashboard relay: fails while calls keep failing for good (reported, never blocking the agents). */
export const dashboardRelayCheck =
  (status: () => DashboardRelayStatus, failAfter = 3): Check =>
  () => {
    const s = status();
    const detail = `queued ${s.queued}, delivered ${s.delivered}, failed ${s.failed}, dropped ${s.dropped}`;
    if (s.consecutiveFailures >= failAfter)
      return Promise.reject(new Error(`dashboard relay failing: ${s.lastError ?? 'unknown'} (${detail})`));
    return Promise.resolve(detail);
  };
