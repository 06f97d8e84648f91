/**
 * The alert lifecycle in Postgres: open on the first breach, update while it lasts, notify on
 * opening, on a severity change and (critical only) again every `renotifyAfterMs`, resolve once.
 *
 * At most one open alert per key: `raiseAlert` is one INSERT ... ON CONFLICT on the partial unique
 * index alerts_one_open_per_key, so concurrent raisers of one key all land on the same row.
 * The same statement decides whether a notification is due and, if so, takes a short claim on
 * it (notify_claim): of several concurrent raisers exactly one gets `notify: true`. The caller
 * sends, then calls `markNotified` (or `releaseNotification` when the send failed, so the next
 * raise tries again at once); a claim whose holder died lapses after `claimTtlMs`. A caller that
 * retries (a Temporal activity attempt) can pass a stable `claimToken` to take its own claim back.
 * A severity change that arrives while another raiser holds the claim is notified by the next
 * raise after that claim is marked or released.
 *
 * `resolveAlert` is one UPDATE ... WHERE status = 'open': only the call that actually resolved the
 * alert gets the row back, so the resolution is notified once.
 */
import { randomUUID } from 'node:crypto';
import type { Alert, AlertSeverity, AlertStatus } from '../alerts/alert';

import type { Queryable } from './queryable';

export type { Queryable };

export const DEFAULT_RENOTIFY_AFTER_MS = 4 * 60 * 60 * 1000;
export const DEFAULT_NOTIFY_CLAIM_TTL_MS = 5 * 60 * 1000;

export interface AlertRow {
  id: number;
  key: string;
  kind: string;
  severity: AlertSeverity;
  status: 'open' | 'resolved';
  title: string | null;
  reason: string | null;
  workspaceId: string | null;
  dropletId: number | null;
  workflowId: string | null;
  message: string;
  value: number | null;
  threshold: number | null;
  notifiedSeverity: AlertSeverity | null;
  lastNotifiedAt: Date | null;
  openedAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
}

export interface RaiseAlertInput {
  key: string;
  kind: string;
  severity: AlertSeverity;
  message: string;
  title?: string;
  reason?: string;
  workspaceId?: string;
  dropletId?: number;
  workflowId?: string;
  value?: number;
  threshold?: number;
}

export interface RaiseAlertOptions {
  /** A still-critical alert is notified again after this long. Default 4 h. */
  renotifyAfterMs?: number;
  /** How long a notification claim holds when nobody marks or releases it. Default 5 min. */
  claimTtlMs?: number;
  /** Identifies the raiser; the same token takes its own unexpired claim back. Default random. */
  claimToken?: string;
}

export interface RaiseAlertResult {
  alert: AlertRow;
  /** True for exactly one raiser when a notification is due (see the module comment). */
  notify: boolean;
  /** True when this call opened the alert. */
  opened: boolean;
}

interface DbRow {
  id: string;
  key: string;
  kind: string;
  severity: AlertSeverity;
  status: 'open' | 'resolved';
  title: string | null;
  reason: string | null;
  workspace_id: string | null;
  droplet_id: string | null;
  workflow_id: string | null;
  message: string;
  value: number | null;
  threshold: number | null;
  notified_severity: AlertSeverity | null;
  last_notified_at: Date | null;
  opened_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  notify_claim: string | null;
}

const COLUMNS = `id, key, kind, severity, status, title, reason, workspace_id, droplet_id, workflow_id, message,
  value, threshold, notified_severity, last_notified_at, opened_at, updated_at, resolved_at, notify_claim`;

/** A notification is due and nobody else holds the claim on it. `a` is the open row, EXCLUDED the raise. */
const CLAIMABLE = `(
    a.notified_severity IS DISTINCT FROM EXCLUDED.severity
    OR (EXCLUDED.severity = 'critical'
        AND a.last_notified_at <= EXCLUDED.updated_at - $15::double precision * interval '1 millisecond')
  ) AND (
    a.notify_claim IS NULL
    OR a.notify_claim = EXCLUDED.notify_claim
    OR a.notify_claim_expires_at <= EXCLUDED.updated_at
  )`;

const RAISE_SQL = `
  INSERT INTO alerts AS a (key, kind, severity, status, message, title, reason, workspace_id, droplet_id,
                           workflow_id, value, threshold, opened_at, updated_at, notify_claim,
                           notify_claim_expires_at)
  VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $8, $9, $10, $11, $12::timestamptz, $12::timestamptz, $13,
          $12::timestamptz + $14::double precision * interval '1 millisecond')
  ON CONFLICT (key) WHERE status = 'open' DO UPDATE SET
    kind = EXCLUDED.kind,
    severity = EXCLUDED.severity,
    message = EXCLUDED.message,
    title = COALESCE(EXCLUDED.title, a.title),
    reason = COALESCE(EXCLUDED.reason, a.reason),
    workspace_id = COALESCE(EXCLUDED.workspace_id, a.workspace_id),
    droplet_id = COALESCE(EXCLUDED.droplet_id, a.droplet_id),
    workflow_id = COALESCE(EXCLUDED.workflow_id, a.workflow_id),
    value = EXCLUDED.value,
    threshold = EXCLUDED.threshold,
    updated_at = GREATEST(a.updated_at, EXCLUDED.updated_at),
    notify_claim = CASE WHEN ${CLAIMABLE} THEN EXCLUDED.notify_claim ELSE a.notify_claim END,
    notify_claim_expires_at = CASE WHEN ${CLAIMABLE}
      THEN EXCLUDED.notify_claim_expires_at ELSE a.notify_claim_expires_at END
  RETURNING ${COLUMNS}, (xmax = 0) AS opened`;

/** Opens the alert of `input.key` or updates the open one; says whether to notify (and claims it). */
export async function raiseAlert(
  pool: Queryable,
  input: RaiseAlertInput,
  now: Date = new Date(),
  options: RaiseAlertOptions = {},
): Promise<RaiseAlertResult> {
  const token = options.claimToken ?? randomUUID();
  const { rows } = await pool.query<DbRow & { opened: boolean }>(RAISE_SQL, [
    input.key,
    input.kind,
    input.severity,
    input.message,
    input.title ?? null,
    input.reason ?? null,
    input.workspaceId ?? null,
    input.dropletId ?? null,
    input.workflowId ?? null,
    input.value ?? null,
    input.threshold ?? null,
    now,
    token,
    options.claimTtlMs ?? DEFAULT_NOTIFY_CLAIM_TTL_MS,
    options.renotifyAfterMs ?? DEFAULT_RENOTIFY_AFTER_MS,
  ]);
  const row = rows[0];
  return { alert: toAlertRow(row), notify: row.notify_claim === token, opened: row.opened };
}

/** Records a successful notification at `severity` and drops the claim. */
export async function markNotified(
  pool: Queryable,
  id: number,
  severity: AlertSeverity,
  now: Date = new Date(),
): Promise<void> {
  await pool.query(
    `UPDATE alerts SET notified_severity = $2, last_notified_at = $3,
       notify_claim = NULL, notify_claim_expires_at = NULL
     WHERE id = $1`,
    [id, severity, now],
  );
}

/** Drops the claim without recording a notification (the send failed): the next raise notifies. */
export async function releaseNotification(pool: Queryable, id: number): Promise<void> {
  await pool.query('UPDATE alerts SET notify_claim = NULL, notify_claim_expires_at = NULL WHERE id = $1', [
    id,
  ]);
}

/**
 * Resolves the open alert of `key`; returns it only to the call that resolved it. Notify the
 * resolution (`alertFromRow(row)`) when `row.notifiedSeverity` is set: an alert nobody was told
 * about needs no all-clear.
 */
export async function resolveAlert(
  pool: Queryable,
  key: string,
  now: Date = new Date(),
): Promise<AlertRow | undefined> {
  const { rows } = await pool.query<DbRow>(
    `UPDATE alerts SET status = 'resolved', resolved_at = $2, updated_at = GREATEST(updated_at, $2),
       notify_claim = NULL, notify_claim_expires_at = NULL
     WHERE key = $1 AND status = 'open'
     RETURNING ${COLUMNS}`,
    [key, now],
  );
  return rows[0] ? toAlertRow(rows[0]) : undefined;
}

/** The severity of the open alert of `key`, or null when none is open. */
export async function openAlertSeverity(pool: Queryable, key: string): Promise<AlertSeverity | null> {
  const { rows } = await pool.query<{ severity: AlertSeverity }>(
    `SELECT severity FROM alerts WHERE key = $1 AND status = 'open'`,
    [key],
  );
  return rows[0]?.severity ?? null;
}

/** Every open alert, most severe first, oldest first within a severity. */
export async function listOpenAlerts(pool: Queryable): Promise<AlertRow[]> {
  const { rows } = await pool.query<DbRow>(
    `SELECT ${COLUMNS} FROM alerts WHERE status = 'open'
     ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, opened_at, id`,
  );
  return rows.map(toAlertRow);
}

/** The channel message for a stored alert: firing while open, resolved once resolved. */
export function alertFromRow(
  row: AlertRow,
  status: AlertStatus = row.status === 'open' ? 'firing' : 'resolved',
): Alert {
  const alert: Alert = {
    key: row.key,
    kind: row.kind,
    severity: row.severity,
    title: row.title ?? row.message,
    message: row.message,
    status,
  };
  if (row.workspaceId !== null) alert.workspaceId = row.workspaceId;
  if (row.dropletId !== null) alert.dropletId = row.dropletId;
  if (row.workflowId !== null) alert.workflowId = row.workflowId;
  if (row.reason !== null) alert.reason = row.reason;
  if (row.value !== null) alert.value = row.value;
  if (row.threshold !== null) alert.threshold = row.threshold;
  return alert;
}

function toAlertRow(r: DbRow): AlertRow {
  return {
    id: Number(r.id),
    key: r.key,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    title: r.title,
    reason: r.reason,
    workspaceId: r.workspace_id,
    dropletId: r.droplet_id === null ? null : Number(r.droplet_id),
    workflowId: r.workflow_id,
    message: r.message,
    value: r.value,
    threshold: r.threshold,
    notifiedSeverity: r.notified_severity,
    lastNotifiedAt: r.last_notified_at,
    openedAt: r.opened_at,
    updatedAt: r.updated_at,
    resolvedAt: r.resolved_at,
  };
}
