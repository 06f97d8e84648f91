/**
 * Shared by the benchmarks: machine facts, percentiles, a fresh database seeded with droplets. The
 * database, keys and fleet set-up are the tests' own helpers (test/helpers/: db.ts, keys.ts, heartbeats.ts), so a
 * benchmark runs what the tests check.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { issueHeartbeatToken } from '../src/heartbeats/tokens';
import { findTemporalCli, SEARCH_ATTRIBUTES, waitForTemporal } from '../src/temporal/cli-binary';
import { createDatabase } from '../test/helpers/db';
import { nativeHeartbeat } from '../test/helpers/heartbeats';
import { freePort } from '../test/helpers/throwaway';

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

/** A fresh, migrated database of that name (the default schema, as the CLI processes some benchmarks start use it). */
export async function freshDatabase(
  name: string,
): Promise<{ url: string; pool: Pool; drop(): Promise<void> }> {
  return createDatabase(name, { adminUrl: ADMIN_URL, poolMax: 10, replace: true });
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

/** A fleet heartbeat of droplet `id` in workspace ws-<id>, stamped `ts` (test/helpers/heartbeats.ts). */
export function heartbeatBody(id: number, ts: number) {
  return nativeHeartbeat(id, `ws-${id}`, { timestamp: new Date(ts).toISOString() });
}

/**
 * A Temporal dev server of the benchmark's own (free ports, the project's search attributes, its
 * SQLite file in a temporary folder removed at stop).
 */
export async function startTemporalDevServer(
  name: string,
  opts: { fastSqlite?: boolean } = {},
): Promise<{ address: string; stop(): void }> {
  const bin = findTemporalCli();
  if (!bin) throw new Error('temporal CLI not found (make test builds it, or set TEMPORAL_BIN)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port)];
  args.push('--ui-port', String(await freePort()), '--log-level', 'error');
  args.push('--db-filename', join(dir, 'temporal.db'));
  // a throwaway file: write-ahead log without fsync (what durability the benchmark does not need)
  if (opts.fastSqlite) args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=off');
  for (const [n, t] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${n}=${t}`);
  const child = spawn(bin, args, { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  await waitForTemporal(address, Date.now() + 60_000);
  return {
    address,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
