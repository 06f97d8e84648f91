/** A fresh, migrated Postgres database per test file, dropped afterwards. */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { migrate } from '../../src/db/migrate';

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

export function databaseUrl(name: string, base = ADMIN_URL): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createTestDatabase(
  options: { migrate?: boolean; poolMax?: number } = {},
): Promise<TestDatabase> {
  const name = `gcp_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Pool({ connectionString: ADMIN_URL, max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(name);
  const pool = new Pool({ connectionString: url, max: options.poolMax ?? 5 });
  pool.on('error', () => undefined);
  if (options.migrate !== false) await migrate(pool);
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      const a = new Pool({ connectionString: ADMIN_URL, max: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Inserts a workspace and its droplet in a given state; returns the droplet id. */
export async function seedDroplet(
  pool: Pool,
  opts: {
    id: number;
    workspaceId?: string;
    state?: string;
    sidecarUrl?: string;
    lastHeartbeatAt?: Date | null;
  },
): Promise<number> {
  const ws = opts.workspaceId ?? `ws-${opts.id}`;
  await pool.query('INSERT INTO workspaces (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [ws]);
  await pool.query(
    `INSERT INTO droplets (id, workspace_id, region, sidecar_url, state, last_heartbeat_at)
     VALUES ($1, $2, 'nyc3', $3, $4, $5)`,
    [opts.id, ws, opts.sidecarUrl ?? null, opts.state ?? 'ACTIVE_HEALTHY', opts.lastHeartbeatAt ?? null],
  );
  return opts.id;
}
