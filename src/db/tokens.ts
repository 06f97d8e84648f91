/** heartbeat_tokens (only each token's SHA-256 is stored) and the workspaces ingest checks. */
import type { Queryable } from './queryable';

export async function storeHeartbeatTokenHash(db: Queryable, dropletId: number, hash: Buffer): Promise<void> {
  await db.query(
    `INSERT INTO heartbeat_tokens (droplet_id, token_hash) VALUES ($1, $2)
     ON CONFLICT (droplet_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = now()`,
    [dropletId, hash],
  );
}

/** The droplet's token hash and its workspace; undefined when the droplet has no token. */
export async function heartbeatTokenOf(
  db: Queryable,
  dropletId: number,
): Promise<{ tokenHash: Buffer; workspaceId: string } | undefined> {
  const { rows } = await db.query<{ token_hash: Buffer; workspace_id: string }>(
    `SELECT t.token_hash, d.workspace_id FROM heartbeat_tokens t JOIN droplets d ON d.id = t.droplet_id
     WHERE t.droplet_id = $1`,
    [dropletId],
  );
  const row = rows[0];
  return row ? { tokenHash: row.token_hash, workspaceId: row.workspace_id } : undefined;
}

export async function workspaceExists(db: Queryable, workspaceId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM workspaces WHERE id = $1', [workspaceId]);
  return (rowCount ?? 0) > 0;
}
