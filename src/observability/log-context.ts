/**
 * Ids every log line of an activity carries. The worker's activity interceptor runs each activity
 * inside a context holding its workflow's ids (and the workspace and droplet the activity is about,
 * when its input names them); the logger's mixin (src/logger.ts) adds the context to every line
 * written meanwhile, by the activity or by a client it calls (DigitalOcean, sidecar, alerts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LogContext {
  workflowId?: string;
  runId?: string;
  workflowType?: string;
  activityType?: string;
  activityId?: string;
  attempt?: number;
  workspaceId?: string;
  dropletId?: number;
}

const storage = new AsyncLocalStorage<LogContext>();

export function withLogContext<T>(ctx: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...ctx }, fn);
}

/** Runs fn with `ctx` itself as the context: ids bound inside are visible to the caller's holder. */
export function runInLogContext<T>(ctx: LogContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** Adds ids learnt along the way (e.g. the workspace of a droplet read from the database). */
export function bindLogContext(ids: Pick<LogContext, 'workspaceId' | 'dropletId'>): void {
  const store = storage.getStore();
  if (!store) return;
  if (ids.workspaceId !== undefined) store.workspaceId = ids.workspaceId;
  if (ids.dropletId !== undefined) store.dropletId = ids.dropletId;
}

export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}

/**
 * The workspace and droplet an activity's arguments name: an object argument with `workspaceId`
 * and/or `dropletId`, or a request wrapping one (`{droplet: {...}}`) -- the shapes the activities use.
 */
export function idsFromArgs(args: readonly unknown[]): Pick<LogContext, 'workspaceId' | 'dropletId'> {
  for (const a of args) {
    if (!a || typeof a !== 'object') continue;
    const o = a as Record<string, unknown>;
    const workspaceId = typeof o.workspaceId === 'string' ? o.workspaceId : undefined;
    const dropletId = typeof o.dropletId === 'number' ? o.dropletId : undefined;
    if (workspaceId !== undefined || dropletId !== undefined)
      return {
        ...(workspaceId !== undefined ? { workspaceId } : {}),
        ...(dropletId !== undefined ? { dropletId } : {}),
      };
  }
  return {};
}
