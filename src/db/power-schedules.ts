/**
 * Workspaces' power schedules (migration 009) and what the reconciler reads each tick: every
 * scheduled workspace's droplets with their state and when it last changed.
 */
import type { Pool } from 'pg';
import type { DropletState } from '../domain/droplet-state';
import type { PowerSchedule, PowerWindow, StoredPowerSchedule } from '../domain/power-schedule';

export type { StoredPowerSchedule };

interface ScheduleRow {
  workspace_id: string;
  time_zone: string;
  windows: PowerWindow[];
  wake_lead_minutes: number;
  idle_minutes: number | null;
  updated_by: string | null;
  updated_at: Date;
}

const COLUMNS = 'workspace_id, time_zone, windows, wake_lead_minutes, idle_minutes, updated_by, updated_at';

const fromRow = (r: ScheduleRow): StoredPowerSchedule => ({
  workspaceId: r.workspace_id,
  timeZone: r.time_zone,
  windows: r.windows,
  wakeLeadMinutes: r.wake_lead_minutes,
  idleMinutes: r.idle_minutes,
  updatedBy: r.updated_by,
  updatedAt: r.updated_at.toISOString(),
});

export class UnknownWorkspaceError extends Error {
  constructor(readonly workspaceId: string) {
    super(`workspace ${workspaceId} is not known to the control plane`);
    this.name = 'UnknownWorkspaceError';
  }
}

/** Stores (or replaces) the workspace's schedule; refuses a workspace the control plane does not know. */
export async function upsertPowerSchedule(
  db: Pool,
  s: PowerSchedule,
  updatedBy?: string,
): Promise<StoredPowerSchedule> {
  const { rows } = await db.query<ScheduleRow>(
    `INSERT INTO power_schedules (workspace_id, time_zone, windows, wake_lead_minutes, idle_minutes, updated_by)
     SELECT $1, $2, $3::jsonb, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = $1)
     ON CONFLICT (workspace_id) DO UPDATE SET
       time_zone = excluded.time_zone, windows = excluded.windows,
       wake_lead_minutes = excluded.wake_lead_minutes, idle_minutes = excluded.idle_minutes,
       updated_by = excluded.updated_by, updated_at = now()
     RETURNING ${COLUMNS}`,
    [
      s.workspaceId,
      s.timeZone,
      JSON.stringify(s.windows),
      s.wakeLeadMinutes,
      s.idleMinutes,
      updatedBy ?? null,
    ],
  );
  if (!rows[0]) throw new UnknownWorkspaceError(s.workspaceId);
  return fromRow(rows[0]);
}

export async function getPowerSchedule(
  db: Pool,
  workspaceId: string,
): Promise<StoredPowerSchedule | undefined> {
  const { rows } = await db.query<ScheduleRow>(
    `SELECT ${COLUMNS} FROM power_schedules WHERE workspace_id = $1`,
    [workspaceId],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Removes the schedule; true when there was one. */
export async function deletePowerSchedule(db: Pool, workspaceId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM power_schedules WHERE workspace_id = $1', [workspaceId]);
  return (rowCount ?? 0) > 0;
}

/** Schedules in workspace order, a page at a time (after: the last workspace id of the previous page). */
export async function listPowerSchedules(
  db: Pool,
  opts: { limit: number; after?: string },
): Promise<StoredPowerSchedule[]> {
  const { rows } = await db.query<ScheduleRow>(
    `SELECT ${COLUMNS} FROM power_schedules WHERE ($1::text IS NULL OR workspace_id > $1)
     ORDER BY workspace_id LIMIT $2`,
    [opts.after ?? null, opts.limit],
  );
  return rows.map(fromRow);
}

export interface ScheduledDropletRow {
  dropletId: number;
  workspaceId: string;
  state: DropletState;
  /** epoch ms */
  stateChangedAt: number;
}

/**
 * Every scheduled workspace with its droplets (not terminated) in one statement: what a tick of
 * the reconciler plans from. 15,000 droplets are a few MB, read once a minute.
 */
export async function scheduledFleet(
  db: Pool,
): Promise<{ schedules: PowerSchedule[]; droplets: ScheduledDropletRow[] }> {
  const [schedules, droplets] = await Promise.all([
    db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM power_schedules`),
    db.query<{ id: string; workspace_id: string; state: DropletState; state_changed_at: Date }>(
      `SELECT d.id, d.workspace_id, d.state, d.state_changed_at FROM droplets d
        JOIN power_schedules s ON s.workspace_id = d.workspace_id
       WHERE d.state <> 'TERMINATED'
       ORDER BY d.id`,
    ),
  ]);
  return {
    schedules: schedules.rows.map(fromRow),
    droplets: droplets.rows.map((r) => ({
      dropletId: Number(r.id),
      workspaceId: r.workspace_id,
      state: r.state,
      stateChangedAt: r.state_changed_at.getTime(),
    })),
  };
}
