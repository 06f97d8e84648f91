/**
 * Per-droplet heartbeat tokens. A token is 32 random bytes (base64url); only its SHA-256 is stored.
 * A fast hash is right here: the token is high-entropy, so there is nothing to brute-force.
 * Verification compares hashes in constant time and caches rows briefly, so 15,000 agents cost
 * Postgres a few queries a minute, and ingest keeps working from the cache during a short outage.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from 'pg';
import { heartbeatTokenOf, storeHeartbeatTokenHash } from '../db/tokens';
import { parseDropletId } from '../domain/droplet-id';

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashToken(a), hashToken(b));
}

/** Tokens look like `<dropletId>.<32 random bytes, base64url>`: the droplet part picks the row. */
export function parseHeartbeatToken(token: string): { dropletId: number } | undefined {
  const m = /^(\d{1,16})\.[A-Za-z0-9_-]{43}$/.exec(token);
  const dropletId = m ? parseDropletId(m[1]!) : undefined;
  return dropletId === undefined ? undefined : { dropletId };
}

/** Creates (or replaces) a droplet's token; returns the token, which is shown once and never stored. */
export async function issueHeartbeatToken(pool: Pool, dropletId: number): Promise<string> {
  const token = `${dropletId}.${randomBytes(32).toString('base64url')}`;
  await storeHeartbeatTokenHash(pool, dropletId, hashToken(token));
  return token;
}

export type TokenCheck =
  | { ok: true; dropletId: number; workspaceId: string }
  | { ok: false; reason: 'malformed_token' | 'unknown_droplet' | 'bad_token' };

interface CacheEntry {
  hash: Buffer | null;
  workspaceId: string | null;
  expiresAt: number;
}

export class HeartbeatTokenVerifier {
  private readonly cache = new Map<number, CacheEntry>();
  private readonly inflight = new Map<number, Promise<CacheEntry>>();
  private readonly now: () => number;

  constructor(
    private readonly pool: Pool,
    private readonly opts: {
      ttlMs: number;
      negativeTtlMs: number;
      maxEntries: number;
      now?: () => number;
    } = {
      ttlMs: 60_000,
      negativeTtlMs: 10_000,
      maxEntries: 50_000,
    },
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Throws when the database cannot be asked and the cache has no answer (the caller answers 503). */
  async verify(token: string): Promise<TokenCheck> {
    const parsed = parseHeartbeatToken(token);
    if (!parsed) return { ok: false, reason: 'malformed_token' };
    const { dropletId } = parsed;
    const now = this.now();
    let entry = this.cache.get(dropletId);
    if (!entry || entry.expiresAt <= now) {
      try {
        entry = await this.load(dropletId);
      } catch (err) {
        // Serve a recently expired entry rather than fail ingest while Postgres blips.
        if (entry && entry.hash && entry.expiresAt + this.opts.ttlMs * 10 > now) {
          return this.compare(dropletId, entry, token);
        }
        throw err;
      }
    }
    return this.compare(dropletId, entry, token);
  }

  /** Forget a droplet's cached token (after rotation). */
  invalidate(dropletId: number): void {
    this.cache.delete(dropletId);
  }

  private compare(dropletId: number, entry: CacheEntry, token: string): TokenCheck {
    if (!entry.hash || !entry.workspaceId) return { ok: false, reason: 'unknown_droplet' };
    return timingSafeEqual(entry.hash, hashToken(token))
      ? { ok: true, dropletId, workspaceId: entry.workspaceId }
      : { ok: false, reason: 'bad_token' };
  }

  /** One query per droplet at a time, however many requests wait for it. */
  private load(dropletId: number): Promise<CacheEntry> {
    let p = this.inflight.get(dropletId);
    if (!p) {
      p = this.query(dropletId).finally(() => this.inflight.delete(dropletId));
      this.inflight.set(dropletId, p);
    }
    return p;
  }

  private async query(dropletId: number): Promise<CacheEntry> {
    const row = await heartbeatTokenOf(this.pool, dropletId);
    const now = this.now();
    const entry: CacheEntry = row
      ? { hash: row.tokenHash, workspaceId: row.workspaceId, expiresAt: now + this.opts.ttlMs }
      : { hash: null, workspaceId: null, expiresAt: now + this.opts.negativeTtlMs };
    if (this.cache.size >= this.opts.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(dropletId, entry);
    return entry;
  }
}
