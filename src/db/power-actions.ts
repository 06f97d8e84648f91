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
