/**
 * Which workspaces exist, for the handshake route's 404 (the dashboard's own answer for an unknown
 * workspace_id). Cached, because 15,000 agents handshake every 60 s: a known workspace is asked
 * again after `ttlMs`, an unknown one after `negativeTtlMs`, and one query runs per workspace at a
 * time however many requests wait for it. Throws only when Postgres cannot be asked and the cache
 * has no answer.
 */
import type { Pool } from 'pg';
import { workspaceExists } from '../db/tokens';

interface Entry {
  exists: boolean;
  expiresAt: number;
}

export interface WorkspaceDirectoryOptions {
  /** default 10 min */
  ttlMs?: number;
  /** default 10 s */
  negativeTtlMs?: number;
  /** default 50,000 */
  maxEntries?: number;
  now?: () => number;
}

export class WorkspaceDirectory {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly pool: Pool,
    opts: WorkspaceDirectoryOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.negativeTtlMs = opts.negativeTtlMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 50_000;
    this.now = opts.now ?? Date.now;
  }

  async exists(workspaceId: string): Promise<boolean> {
    const cached = this.cache.get(workspaceId);
    if (cached && cached.expiresAt > this.now()) return cached.exists;
    try {
      return (await this.load(workspaceId)).exists;
    } catch (err) {
      // A workspace seen recently still exists while Postgres blips.
      if (cached?.exists) return true;
      throw err;
    }
  }

  private load(workspaceId: string): Promise<Entry> {
    let p = this.inflight.get(workspaceId);
    if (!p) {
      p = this.query(workspaceId).finally(() => this.inflight.delete(workspaceId));
      this.inflight.set(workspaceId, p);
    }
    return p;
  }

  private async query(workspaceId: string): Promise<Entry> {
    const exists = await workspaceExists(this.pool, workspaceId);
    const entry = { exists, expiresAt: this.now() + (exists ? this.ttlMs : this.negativeTtlMs) };
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(workspaceId, entry);
    return entry;
  }
}
