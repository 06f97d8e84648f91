/** power_actions: each DigitalOcean power action keyed by (workflow run + attempt), started at most once. */
import type { Queryable } from './queryable';

export interface PowerActionClaim {
  /** the DigitalOcean action id an earlier attempt recorded, if any */
  actionId: number | null;
  startedAt: Date;
  /** false when an earlier attempt inserted the key (it may have reached DigitalOcean) */
  fresh: boolean;
}

/** Records the key before DigitalOcean is called; a repeat returns the row the first call wrote. */
export async function claimPowerAction(
  db: Queryable,
  input: { key: string; dropletId: number; type: string },
): Promise<PowerActionClaim> {
  const { rows } = await db.query<{ action_id: string | null; started_at: Date; fresh?: boolean }>(
    `INSERT INTO power_actions (key, droplet_id, type) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
     RETURNING action_id, started_at, (xmax = 0) AS fresh`,
    [input.key, input.dropletId, input.type],
  );
  const row = rows[0]!;
  return {
    actionId: row.action_id ? Number(row.action_id) : null,
    startedAt: row.started_at,
    fresh: row.fresh !== false,
  };
}

export async function recordPowerActionId(db: Queryable, key: string, actionId: number): Promise<void> {
  await db.query(`UPDATE power_actions SET action_id = $2, recorded_at = now() WHERE key = $1`, [
    key,
    actionId,
  ]);
}

/**
 * Forgets a claim whose attempt failed before any request left (the budget refused it, or it was
 * cancelled waiting): the retry's claim is fresh again and pays no lookup for an action that was
 * never sent. Only a claim without an action id is forgotten.
 */
export async function releasePowerAction(db: Queryable, key: string): Promise<void> {
  await db.query(`DELETE FROM power_actions WHERE key = $1 AND action_id IS NULL`, [key]);
}

/** The cohort the claimed action is being started in, before its bulk action is sent. */
export async function recordPowerActionCohort(
  db: Queryable,
  keys: string[],
  cohortId: number,
): Promise<void> {
  await db.query(`UPDATE power_actions SET cohort_id = $2 WHERE key = ANY($1::text[])`, [keys, cohortId]);
}

/** Records each member's action id of a cohort's bulk action at once. */
export async function recordPowerActionIds(
  db: Queryable,
  answers: { key: string; actionId: number }[],
): Promise<void> {
  if (answers.length === 0) return;
  await db.query(
    `UPDATE power_actions p SET action_id = a.action_id, recorded_at = now()
       FROM unnest($1::text[], $2::bigint[]) AS a(key, action_id)
      WHERE p.key = a.key`,
    [answers.map((a) => a.key), answers.map((a) => a.actionId)],
  );
}
