/** Shared by the benchmarks: machine facts, percentiles, a fresh database seeded with droplets. */
import { cpus, totalmem } from 'node:os';
import { Pool } from 'pg';
import { migrate } from '../src/db/migrate';
import { searchPathOptions } from '../src/db/pool';
import { DEFAULT_DATABASE_SCHEMA } from '../src/db/schema';
import { issueHeartbeatToken } from '../src/heartbeats/tokens';

export const ADMIN_URL =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'cpu'} x${c.length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${process.platform}`;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function freshDatabase(
  name: string,
): Promise<{ url: string; pool: Pool; drop(): Promise<void> }> {
  const admin = new Pool({ connectionString: ADMIN_URL, max: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  // The default schema, as the CLI processes some benchmarks start use it.
  const pool = new Pool({ connectionString: url, max: 10, ...searchPathOptions(DEFAULT_DATABASE_SCHEMA) });
  await migrate(pool, DEFAULT_DATABASE_SCHEMA);
  return {
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

/** n workspaces with one ACTIVE_HEALTHY droplet each, ids from 1; returns tokens when asked. */
export async function seedDroplets(pool: Pool, n: number, withTokens = false): Promise<Map<number, string>> {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  await pool.query(`INSERT INTO workspaces (id) SELECT 'ws-' || x FROM unnest($1::bigint[]) x`, [ids]);
  await pool.query(
    `INSERT INTO droplets (id, workspace_id, state, last_heartbeat_at)
     SELECT x, 'ws-' || x, 'ACTIVE_HEALTHY', now() - interval '1 hour' FROM unnest($1::bigint[]) x`,
    [ids],
  );
  const tokens = new Map<number, string>();
  if (withTokens) for (const id of ids) tokens.set(id, await issueHeartbeatToken(pool, id));
  return tokens;
}

export function heartbeatBody(id: number, ts: number) {
  return {
    workspace_id: `ws-${id}`,
    droplet_id: id,
    timestamp: new Date(ts).toISOString(),
    cpu_percent: 12.5,
    memory_percent: 40,
    disk_percent: 30,
    n8n_status: 'healthy',
    sidecar_version: '1.4.0',
    n8n_version: '1.70.2',
    uptime_seconds: 3600,
  };
}
