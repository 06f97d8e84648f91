/**
 * Ordered SQL migrations from migrations/NNN_name.sql, recorded in schema_migrations, all inside
 * the control plane's schema (DATABASE_SCHEMA, created if missing; the SQL files are unqualified).
 * Each file runs in its own transaction; a transaction-scoped advisory lock, taken first in every
 * one of them, keeps two processes from migrating at once and can never outlive its transaction
 * (a session lock taken through a transaction-mode pooler would). A re-run applies nothing. A file
 * that was changed after it was applied is refused (checksum).
 *
 * Installs from before the schema had their tables in `public`: the first run moves them (tables
 * with their rows, indexes and sequences, heartbeat_history's partitions, types) into the schema in
 * one transaction. Every run revokes what `PUBLIC` and Supabase's `anon`/`authenticated` roles
 * could hold on the schema.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { schemaIdent } from './schema';
import { inTransaction } from './transaction';

const MIGRATION_LOCK = 727_001; // advisory lock key, arbitrary but fixed

/** Supabase's API roles; revoked from when they exist (plain Postgres has neither). */
const API_ROLES = ['anon', 'authenticated'];

export function migrationsDir(): string {
  // src/db -> ../../migrations; dist/src/db -> ../../../migrations
  for (const candidate of [
    resolve(__dirname, '../../migrations'),
    resolve(__dirname, '../../../migrations'),
  ]) {
    try {
      readdirSync(candidate);
      return candidate;
    } catch {
      /* try the next */
    }
  }
  throw new Error('migrations folder not found next to the code');
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
  /** objects moved from `public` into the schema (an install from before the schema), or [] */
  movedFromPublic: string[];
}

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

function readMigrations(dir: string): MigrationFile[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export async function migrate(pool: Pool, schema: string, dir = migrationsDir()): Promise<MigrationResult> {
  const ident = schemaIdent(schema);
  const files = readMigrations(dir);
  const result: MigrationResult = { applied: [], alreadyApplied: [], movedFromPublic: [] };
  const client = await pool.connect();
  try {
    await locked(client, schema, async () => {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
      result.movedFromPublic = await moveFromPublic(client, schema, files);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = await appliedMigrations(client);
      for (const file of files) {
        const previous = done.get(file.name);
        if (previous !== undefined && previous !== file.checksum)
          throw new Error(`migration ${file.name} was changed after it was applied`);
      }
      await revokeApiAccess(client, ident);
    });
    for (const file of files) {
      try {
        await locked(client, schema, async () => {
          // Read again under the lock: another migrator may have applied it meanwhile.
          const previous = (await appliedMigrations(client)).get(file.name);
          if (previous !== undefined) {
            if (previous !== file.checksum)
              throw new Error(`migration ${file.name} was changed after it was applied`);
            result.alreadyApplied.push(file.name);
            return;
          }
          await client.query(file.sql);
          await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [
            file.name,
            file.checksum,
          ]);
          await revokeApiAccess(client, ident);
          result.applied.push(file.name);
        });
      } catch (err) {
        const message = (err as Error).message;
        throw new Error(message.includes(file.name) ? message : `migration ${file.name} failed: ${message}`);
      }
    }
    return result;
  } finally {
    client.release();
  }
}

/** One transaction, inside the schema, holding the migration lock until it commits or rolls back. */
async function locked(client: PoolClient, schema: string, fn: () => Promise<void>): Promise<void> {
  await inTransaction(client, async () => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`SELECT set_config('search_path', $1, true)`, [schemaIdent(schema)]);
    await fn();
  });
}

async function appliedMigrations(client: PoolClient): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; checksum: string }>(
    'SELECT name, checksum FROM schema_migrations',
  );
  return new Map(rows.map((r) => [r.name, r.checksum]));
}

/**
 * An install from before the schema: `public.schema_migrations` lists the files applied there.
 * What those files create (tables, types, sequences; indexes, constraints and serial sequences
 * move with their table) plus every partition of a moved table (heartbeat_history's days) moves
 * to the schema, rows and all: ALTER ... SET SCHEMA rewrites nothing. The caller's transaction
 * makes it all or nothing.
 */
async function moveFromPublic(client: PoolClient, schema: string, files: MigrationFile[]): Promise<string[]> {
  const ident = schemaIdent(schema);
  const exists = async (qualified: string) =>
    (await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [qualified])).rows[0]?.t !=
    null;
  if (!(await exists('public.schema_migrations'))) return [];
  if (await exists(`${ident}.schema_migrations`))
    throw new Error(
      `the control plane's tables are in both public and ${schema} (public.schema_migrations and ` +
        `${schema}.schema_migrations): an older release ran after the move; merge them by hand`,
    );
  const applied = (
    await client.query<{ name: string }>('SELECT name FROM public.schema_migrations ORDER BY name')
  ).rows;
  const tables = new Set(['schema_migrations']);
  const types = new Set<string>();
  const sequences = new Set<string>();
  for (const { name } of applied) {
    const file = files.find((f) => f.name === name);
    if (!file)
      throw new Error(`public.schema_migrations lists ${name}, which is not in the migrations folder`);
    const created = createdObjects(file);
    created.tables.forEach((t) => tables.add(t));
    created.types.forEach((t) => types.add(t));
    created.sequences.forEach((t) => sequences.add(t));
  }
  // Partitions of the tables (any depth), created by the code rather than the migrations.
  const { rows: partitions } = await client.query<{ name: string }>(
    `WITH RECURSIVE tree AS (
       SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])
       UNION
       SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
     SELECT c.relname AS name FROM tree JOIN pg_class c ON c.oid = tree.oid
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1`,
    [[...tables]],
  );
  partitions.forEach((p) => tables.add(p.name));
  const moved: string[] = [];
  for (const t of [...types].sort()) {
    const found = await client.query(
      `SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typname = $1`,
      [t],
    );
    if (found.rowCount === 0) continue;
    await client.query(`ALTER TYPE public.${t} SET SCHEMA ${ident}`);
    moved.push(`type ${t}`);
  }
  for (const t of [...tables].sort()) {
    if (!(await exists(`public.${t}`))) continue;
    await client.query(`ALTER TABLE public.${t} SET SCHEMA ${ident}`);
    moved.push(`table ${t}`);
  }
  for (const s of [...sequences].sort()) {
    if (!(await exists(`public.${s}`))) continue; // an owned sequence already moved with its table
    await client.query(`ALTER SEQUENCE public.${s} SET SCHEMA ${ident}`);
    moved.push(`sequence ${s}`);
  }
  return moved;
}

const IDENT = '([a-z_][a-z0-9_]*)';

/**
 * Names a migration file creates, read from its SQL (comments stripped). Kinds that would need
 * more than ALTER ... SET SCHEMA to move (functions, views, renames) are refused, so a move never
 * silently leaves something behind in public.
 */
export function createdObjects(file: { name: string; sql: string }): {
  tables: string[];
  types: string[];
  sequences: string[];
} {
  const sql = file.sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const all = (re: RegExp) => [...sql.matchAll(re)].map((m) => m[1]!.toLowerCase());
  const unsupported =
    /\bCREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|AGGREGATE|VIEW|MATERIALIZED\s+VIEW|DOMAIN)\b|\bRENAME\s+TO\b|\bSET\s+SCHEMA\b/i.exec(
      sql,
    );
  if (unsupported)
    throw new Error(`${file.name}: "${unsupported[0]}" cannot be moved out of public automatically`);
  return {
    tables: all(
      new RegExp(`\\bCREATE\\s+(?:UNLOGGED\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}`, 'gi'),
    ),
    types: all(new RegExp(`\\bCREATE\\s+TYPE\\s+${IDENT}`, 'gi')),
    sequences: all(new RegExp(`\\bCREATE\\s+SEQUENCE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}`, 'gi')),
  };
}

/**
 * Nothing for PUBLIC or Supabase's API roles in the schema: no USAGE on it, no privilege on its
 * tables, sequences and functions, and no default privilege handing them future ones. Run after
 * every migration, so a table a migration adds is covered before its transaction commits.
 */
async function revokeApiAccess(client: PoolClient, ident: string): Promise<void> {
  const { rows } = await client.query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) ORDER BY rolname',
    [API_ROLES],
  );
  const roles = ['PUBLIC', ...rows.map((r) => `"${r.rolname}"`)].join(', ');
  await client.query(`REVOKE ALL ON SCHEMA ${ident} FROM ${roles}`);
  for (const kind of ['TABLES', 'SEQUENCES', 'FUNCTIONS']) {
    await client.query(`REVOKE ALL ON ALL ${kind} IN SCHEMA ${ident} FROM ${roles}`);
    await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${ident} REVOKE ALL ON ${kind} FROM ${roles}`);
  }
}
