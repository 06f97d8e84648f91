/**
 * Releases with Worker Versioning: which build of a worker deployment takes new workflows.
 *   status       the deployment's current (and ramping) version and every version the server knows
 *   set-current  make a build current (new workflows go to it; PINNED runs finish where they began)
 *   rollback     make the build that was current before the present one current again
 * Every change the control plane makes is recorded in Postgres (worker_releases), which is how
 * `rollback` knows the previous build; the server's own deactivation times are the fallback.
 */
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { lastRelease, recordRelease } from '../db/releases';

export interface ReleaseVersion {
  buildId: string;
  status: string;
  drainage: string | null;
  createdAt: string | null;
  currentSince: string | null;
  lastDeactivated: string | null;
}

export interface ReleaseStatus {
  deploymentName: string;
  current: string | null;
  ramping: string | null;
  rampingPercentage: number | null;
  versions: ReleaseVersion[];
}

export class ReleaseError extends Error {
  constructor(
    message: string,
    readonly notFound = false,
  ) {
    super(message);
    this.name = 'ReleaseError';
  }
}

const iso = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): string | null => {
  if (!t || t.seconds === undefined || t.seconds === null) return null;
  const ms = Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return ms > 0 ? new Date(ms).toISOString() : null;
};
const enumName = (v: unknown, prefix: string): string =>
  String(v ?? 'UNSPECIFIED')
    .replace(prefix, '')
    .toLowerCase();

function isNotFound(err: unknown): boolean {
  const e = err as { code?: number; message?: string };
  return e?.code === 5 || /not found/i.test(e?.message ?? '');
}

export async function describeRelease(
  client: Client,
  namespace: string,
  deploymentName: string,
): Promise<ReleaseStatus> {
  let res;
  try {
    res = await client.workflowService.describeWorkerDeployment({ namespace, deploymentName });
  } catch (err) {
    if (isNotFound(err))
      throw new ReleaseError(
        `worker deployment ${deploymentName} is not known to the server (no versioned worker has polled yet)`,
        true,
      );
    throw err;
  }
  const info = res.workerDeploymentInfo;
  const routing = info?.routingConfig;
  return {
    deploymentName,
    current: routing?.currentDeploymentVersion?.buildId || null,
    ramping: routing?.rampingDeploymentVersion?.buildId || null,
    rampingPercentage: routing?.rampingDeploymentVersion?.buildId
      ? (routing.rampingVersionPercentage ?? 0)
      : null,
    versions: (info?.versionSummaries ?? []).map((v) => ({
      buildId: v.deploymentVersion?.buildId ?? '',
      status: enumName(v.status, 'WORKER_DEPLOYMENT_VERSION_STATUS_'),
      drainage: v.drainageInfo ? enumName(v.drainageInfo.status, 'VERSION_DRAINAGE_STATUS_') : null,
      createdAt: iso(v.createTime),
      currentSince: iso(v.currentSinceTime),
      lastDeactivated: iso(v.lastDeactivationTime),
    })),
  };
}

async function setCurrent(
  client: Client,
  namespace: string,
  deploymentName: string,
  buildId: string,
  identity: string,
): Promise<void> {
  try {
    await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace,
      deploymentName,
      buildId,
      identity,
    });
  } catch (err) {
    if (isNotFound(err) || /no pollers|not.*registered|does not exist/i.test((err as Error).message))
      throw new ReleaseError(
        `build ${buildId} of ${deploymentName} is not known to the server: start its workers first (${(err as Error).message})`,
        true,
      );
    throw err;
  }
}

export interface ReleaseTarget {
  client: Client;
  pool: Pool;
  namespace: string;
  deploymentName: string;
  identity: string;
}

/** Makes `buildId` current; answers the build that was current before (null: none). */
export async function setCurrentRelease(
  t: ReleaseTarget,
  buildId: string,
): Promise<{ previous: string | null; current: string }> {
  const before = await describeRelease(t.client, t.namespace, t.deploymentName).catch((err: unknown) => {
    if (err instanceof ReleaseError && err.notFound) return undefined;
    throw err;
  });
  const previous = before?.current ?? null;
  if (previous === buildId) return { previous, current: buildId };
  return switchTo(t, buildId, previous, 'set-current');
}

/** Sets the current version on the server, then records the change. */
async function switchTo(
  t: ReleaseTarget,
  buildId: string,
  previous: string | null,
  action: 'bootstrap' | 'set-current' | 'rollback',
): Promise<{ previous: string | null; current: string }> {
  await setCurrent(t.client, t.namespace, t.deploymentName, buildId, t.identity);
  await recordRelease(t.pool, {
    deploymentName: t.deploymentName,
    buildId,
    previous,
    action,
    by: t.identity,
  });
  return { previous, current: buildId };
}

/** The build current before the present one: our record first, the server's history second. */
export async function previousRelease(t: ReleaseTarget, status: ReleaseStatus): Promise<string | null> {
  const last = await lastRelease(t.pool, t.deploymentName);
  if (last && last.buildId === status.current && last.previousBuildId) return last.previousBuildId;
  const candidates = status.versions
    .filter((v) => v.buildId && v.buildId !== status.current && v.lastDeactivated)
    .sort((a, b) => (a.lastDeactivated! < b.lastDeactivated! ? 1 : -1));
  return candidates[0]?.buildId ?? null;
}

export async function rollbackRelease(
  t: ReleaseTarget,
): Promise<{ previous: string | null; current: string }> {
  const status = await describeRelease(t.client, t.namespace, t.deploymentName);
  const target = await previousRelease(t, status);
  if (!target)
    throw new ReleaseError(
      `no earlier version of ${t.deploymentName} to roll back to (current: ${status.current ?? 'none'})`,
    );
  return switchTo(t, target, status.current, 'rollback');
}

/**
 * A worker of a deployment that has no current version makes its own build current (the first
 * deploy, `make dev`, a new environment): otherwise the server would route new workflows to no
 * one. Once any version is current, workers never change it; releases are an operator's decision.
 * The version is known to the server only after the worker's first poll, hence the retries.
 */
export async function bootstrapCurrentRelease(
  t: ReleaseTarget,
  buildId: string,
  opts: { attempts?: number; delayMs?: number } = {},
): Promise<'already-current' | 'bootstrapped' | 'other-current'> {
  const attempts = opts.attempts ?? 30;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const status = await describeRelease(t.client, t.namespace, t.deploymentName);
      if (status.current === buildId) return 'already-current';
      if (status.current) return 'other-current';
      if (status.versions.some((v) => v.buildId === buildId)) {
        await switchTo(t, buildId, null, 'bootstrap');
        return 'bootstrapped';
      }
    } catch (err) {
      if (!(err instanceof ReleaseError && err.notFound)) last = err;
    }
    await new Promise((r) => setTimeout(r, opts.delayMs ?? 1_000));
  }
  throw new Error(
    `could not make ${t.deploymentName}/${buildId} current: ${last ? String(last) : 'the version never registered'}`,
  );
}
