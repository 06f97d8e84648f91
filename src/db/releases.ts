/** worker_releases: every change of a worker deployment's current build, by whom. */
import type { Queryable } from './queryable';

export async function recordRelease(
  db: Queryable,
  r: { deploymentName: string; buildId: string; previous: string | null; action: string; by: string },
): Promise<void> {
  await db.query(
    `INSERT INTO worker_releases (deployment_name, build_id, previous_build_id, action, set_by)
     VALUES ($1, $2, $3, $4, $5)`,
    [r.deploymentName, r.buildId, r.previous, r.action, r.by],
  );
}

/** The newest recorded release of the deployment. */
export async function lastRelease(
  db: Queryable,
  deploymentName: string,
): Promise<{ buildId: string; previousBuildId: string | null } | undefined> {
  const { rows } = await db.query<{ build_id: string; previous_build_id: string | null }>(
    `SELECT build_id, previous_build_id FROM worker_releases WHERE deployment_name = $1 ORDER BY id DESC LIMIT 1`,
    [deploymentName],
  );
  const row = rows[0];
  return row ? { buildId: row.build_id, previousBuildId: row.previous_build_id } : undefined;
}
