/**
 * power_cohorts: droplets given the same power action at once through a tag unique to the cohort
 * and one bulk action by that tag (src/digitalocean/cohorts.ts). The rows let a sweep delete the
 * tags a crashed worker left behind, and let operators see what was batched.
 */
import type { Queryable } from './queryable';

export interface PowerCohortRow {
  id: number;
  tag: string;
  account: string;
  type: string;
  lane: string;
  members: number[];
  started: number[] | null;
  error: string | null;
  created_at: Date;
  acted_at: Date | null;
  deleted_at: Date | null;
}

type Raw = Omit<PowerCohortRow, 'id' | 'members' | 'started'> & {
  id: string;
  members: string[];
  started: string[] | null;
};

const row = (r: Raw): PowerCohortRow => ({
  ...r,
  id: Number(r.id),
  members: r.members.map(Number),
  started: r.started?.map(Number) ?? null,
});

/** A new cohort; its tag is `${tagPrefix}-<id>`, unique because the id is. */
export async function createPowerCohort(
  db: Queryable,
  input: { tagPrefix: string; account: string; type: string; lane: string; members: number[] },
): Promise<PowerCohortRow> {
  const { rows } = await db.query<Raw>(
    `INSERT INTO power_cohorts (id, tag, account, type, lane, members)
     SELECT n, $1 || '-' || n, $2, $3, $4, $5::bigint[] FROM (SELECT nextval('power_cohorts_id_seq') AS n) s
     RETURNING *`,
    [input.tagPrefix, input.account, input.type, input.lane, input.members],
  );
  return row(rows[0]!);
}

/** The bulk action answered (started: the members it started an action for) or failed. */
export async function recordPowerCohortActed(
  db: Queryable,
  id: number,
  outcome: { started: number[] } | { error: string },
): Promise<void> {
  await db.query(
    `UPDATE power_cohorts SET acted_at = now(), started = $2::bigint[], error = $3 WHERE id = $1`,
    [id, 'started' in outcome ? outcome.started : null, 'error' in outcome ? outcome.error : null],
  );
}

export async function recordPowerCohortDeleted(db: Queryable, id: number): Promise<void> {
  await db.query(`UPDATE power_cohorts SET deleted_at = now() WHERE id = $1`, [id]);
}

/** Cohorts whose tag was never deleted and that are older than `olderThanMs` (a crashed worker's). */
export async function undeletedPowerCohorts(
  db: Queryable,
  olderThanMs: number,
  limit = 100,
): Promise<PowerCohortRow[]> {
  const { rows } = await db.query<Raw>(
    `SELECT * FROM power_cohorts
      WHERE deleted_at IS NULL AND created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY created_at LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows.map(row);
}

/** The newest cohorts, for operators. */
export async function recentPowerCohorts(db: Queryable, limit = 50): Promise<PowerCohortRow[]> {
  const { rows } = await db.query<Raw>(`SELECT * FROM power_cohorts ORDER BY id DESC LIMIT $1`, [limit]);
  return rows.map(row);
}
