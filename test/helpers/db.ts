/** A fresh, migrated Postgres database per test file, dropped afterwards. */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, type PoolConfig } from 'pg';
import { migrate, migrationsDir } from '../../src/db/migrate';
import { searchPathOptions } from '../../src/db/pool';
import { DEFAULT_DATABASE_SCHEMA } from '../../src/db/schema';

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The schema the tests migrate into: the default, as the CLI child processes they start use it. */
export const TEST_SCHEMA = DEFAULT_DATABASE_SCHEMA;

/** A pool whose connections see the control plane's schema, as src/db/pool.ts's do. */
export function schemaPool(config: PoolConfig, schema = TEST_SCHEMA): Pool {
  return new Pool({ ...config, ...searchPathOptions(schema) });
}

export interface TestDatabase {
  name: string;
  url: string;
  /** connections with search_path set to TEST_SCHEMA */
  pool: Pool;
  drop(): Promise<void>;
}

export function databaseUrl(name: string, base = ADMIN_URL): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Creates database `name` (dropping one of that name first when `replace`), migrated unless told
 * not to; `drop()` ends the pool and drops it. Tests and the benchmarks (bench/common.ts) both
 * build their databases here.
 */
export async function createDatabase(
  name: string,
  options: { adminUrl?: string; migrate?: boolean; poolMax?: number; replace?: boolean } = {},
): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? ADMIN_URL;
  const admin = new Pool({ connectionString: adminUrl, max: 1 });
  if (options.replace) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = databaseUrl(name, adminUrl);
  const pool = schemaPool({ connectionString: url, max: options.poolMax ?? 5 });
  pool.on('error', () => undefined);
  if (options.migrate !== false) await migrate(pool, TEST_SCHEMA);
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      const a = new Pool({ connectionString: adminUrl, max: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** A database of its own for one test file. */
export async function createTestDatabase(
  options: { migrate?: boolean; poolMax?: number } = {},
): Promise<TestDatabase> {
  return createDatabase(`gcp_test_${process.pid}_${randomBytes(4).toString('hex')}`, options);
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
    /** droplets.account (default `default`) */
    account?: string;
  },
): Promise<number> {
  const ws = opts.workspaceId ?? `ws-${opts.id}`;
  await pool.query('INSERT INTO workspaces (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [ws]);
  await pool.query(
    `INSERT INTO droplets (id, workspace_id, region, sidecar_url, state, last_heartbeat_at, account)
     VALUES ($1, $2, 'nyc3', $3, $4, $5, $6)`,
    [
      opts.id,
      ws,
      opts.sidecarUrl ?? null,
      opts.state ?? 'ACTIVE_HEALTHY',
      opts.lastHeartbeatAt ?? null,
      opts.account ?? 'default',
    ],
  );
  return opts.id;
}

/**
 * The migrate of releases before the control plane's schema, kept to build a pre-change database:
 * every file applied with search_path=public, recorded in public.schema_migrations with the same
 * checksums. Returns a pool whose connections use public, as that release's did.
 */
export async function migrateIntoPublicAsBefore(url: string, dir = migrationsDir()): Promise<Pool> {
  const pool = new Pool({ connectionString: url, max: 2, options: '-c search_path=public' });
  pool.on('error', () => undefined);
  await pool.query(`CREATE TABLE schema_migrations (
    name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (const file of readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()) {
    const sql = readFileSync(join(dir, file), 'utf8');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [
        file,
        createHash('sha256').update(sql).digest('hex'),
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }
  return pool;
}

/** Supabase's API roles, created once per cluster if missing (roles are cluster-wide; never dropped). */
export async function ensureSupabaseApiRoles(): Promise<void> {
  const admin = new Pool({ connectionString: ADMIN_URL, max: 1 });
  try {
    for (const role of ['anon', 'authenticated']) {
      // A concurrent creator can win between the check and the CREATE: both errors mean "exists".
      await admin.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} NOLOGIN; END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    }
  } finally {
    await admin.end();
  }
}
