/**
 * The drain activity: Redis stream -> Postgres, at least once. It runs for a bounded time, then
 * returns its counts so the workflow can continue-as-new. Order of work in each round:
 *   1. its own pending entries first (left by a previous attempt of this consumer that died),
 *   2. entries other consumers left pending longer than `claimIdleMs` (dead consumers),
 *   3. new entries, blocking up to `blockMs`.
 * An entry is acknowledged (XACK + XDEL) only after the statement that wrote it committed, so a
 * crash at any point replays it; the write is idempotent (newer-wins, history ON CONFLICT).
 */
import { Context } from '@temporalio/activity';
import { applyHeartbeats } from '../src/db/heartbeats';
import { parseStreamPayload, type StreamHeartbeat } from '../src/heartbeats/heartbeat';
import {
  acknowledge,
  claimAbandoned,
  ensureConsumerGroup,
  entryPayload,
  readGroup,
  type StreamEntry,
} from '../src/heartbeats/stream';
import { emptyDrainStats, type DrainInput, type DrainStats } from '../src/domain/drain-stats';
import { SHARED } from '../src/observability/shared-metrics';
import type { ActivityDeps } from './deps';

/** Upper bound on the heartbeats one UNNEST statement carries (11 arrays of this length). */
const MAX_HEARTBEATS_PER_STATEMENT = 5_000;

/**
 * A read of fresh entries that came back short of a full batch is followed by the next one no
 * sooner than this after it: at the fleet's steady few hundred heartbeats/s a blocking read returns
 * with one or two entries, and each batch costs a statement, an XACK+XDEL and the shared counters
 * whatever its size, so batching for 100 ms cuts those round trips about 25-fold (bench:fleet-load)
 * and adds at most 100 ms to a heartbeat's way into Postgres. Full batches are read at once.
 */
export const FRESH_READ_LINGER_MS = 100;

export function createHeartbeatDrainActivities(deps: ActivityDeps) {
  const now = deps.clock ?? Date.now;

  async function processEntries(entries: StreamEntry[], stats: DrainStats): Promise<void> {
    if (entries.length === 0) return;
    const before = { ...stats };
    const hbs: StreamHeartbeat[] = [];
    for (const [, fields] of entries) {
      const raw = entryPayload(fields);
      const parsed = raw === undefined ? undefined : parseStreamPayload(raw);
      if (!parsed) stats.malformed++;
      else hbs.push(...parsed);
    }
    // One statement per chunk: entries may carry arrays, so a batch of entries can hold far more
    // heartbeats than one statement should. Acknowledged only after every chunk committed.
    for (let i = 0; i < hbs.length; i += MAX_HEARTBEATS_PER_STATEMENT) {
      const result = await applyHeartbeats(deps.pool, hbs.slice(i, i + MAX_HEARTBEATS_PER_STATEMENT));
      if (result.inRemediation.length > 0) {
        await deps.remediation.heartbeatsObserved(result.inRemediation);
        stats.remediationSignals += result.inRemediation.length;
      }
      stats.heartbeats += result.received;
      stats.applied += result.applied;
      stats.unknown += result.unknown;
      stats.duplicates += result.duplicates;
      stats.outOfOrder += result.outOfOrder;
    }
    const ids = entries.map(([id]) => id);
    await acknowledge(deps.redis, deps.heartbeatStream, ids);
    const oldestArrival = Math.min(...ids.map((id) => Number(id.split('-')[0])));
    stats.maxLagMs = Math.max(stats.maxLagMs, now() - oldestArrival);
    stats.batches++;
    stats.entries += entries.length;
    countBatch(before, stats);
  }

  /** The batch's outcomes into the fleet-wide counters /metrics serves. */
  function countBatch(before: DrainStats, after: DrainStats): void {
    const m = deps.sharedMetrics;
    if (!m) return;
    m.inc(SHARED.drainBatches);
    m.set(SHARED.drainLastBatchSize, {}, after.heartbeats - before.heartbeats);
    for (const [outcome, key] of [
      ['applied', 'applied'],
      ['unknown_droplet', 'unknown'],
      ['duplicate', 'duplicates'],
      ['out_of_order', 'outOfOrder'],
      ['malformed', 'malformed'],
    ] as const)
      m.inc(SHARED.drainHeartbeats, { outcome }, after[key] - before[key]);
  }

  /** Waits `ms` (nothing when <= 0), ending early on cancellation or shutdown. */
  function linger(ms: number, cancelled: AbortSignal): Promise<void> {
    if (ms <= 0 || cancelled.aborted || deps.shutdown?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        cancelled.removeEventListener('abort', done);
        deps.shutdown?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      cancelled.addEventListener('abort', done);
      deps.shutdown?.addEventListener('abort', done);
    });
  }

  return {
    async drainHeartbeats(input: DrainInput): Promise<DrainStats> {
      const ctx = Context.current();
      const stats = emptyDrainStats();
      const log = deps.logger.child({ activity: 'drainHeartbeats', consumer: input.consumer });
      // Blocking reads need a connection of their own; the shared one keeps serving everyone else.
      const reader = deps.redis.duplicate({
        enableOfflineQueue: true,
        commandTimeout: input.blockMs + 5_000,
      });
      try {
        await ensureConsumerGroup(deps.redis, deps.heartbeatStream);
        const deadline = now() + input.runForMs;
        let ownPendingDone = false;
        let lastClaim = 0;
        let lastFreshAt = 0;
        let lastFreshShort = false;
        // Fresh batches are pipelined: batch N+1 is read from Redis while batch N is written to
        // Postgres. Writes stay in order (N+1 starts after N committed and was acknowledged).
        let writing: Promise<void> = Promise.resolve();
        let writeError: unknown;
        const settle = async () => {
          await writing;
          if (writeError !== undefined) throw writeError;
        };
        while (now() < deadline && !ctx.cancellationSignal.aborted && !deps.shutdown?.aborted) {
          ctx.heartbeat(stats);
          if (!ownPendingDone) {
            // Sequential: entries read with '0' include every unacknowledged one of this consumer.
            const own = await readGroup(reader, deps.heartbeatStream, input.consumer, {
              count: input.batchSize,
              fromId: '0',
            });
            if (own.length === 0) ownPendingDone = true;
            else {
              log.info({ entries: own.length }, 'replaying own pending heartbeat entries');
              await processEntries(own, stats);
            }
            continue;
          }
          if (now() - lastClaim >= input.claimIdleMs / 2) {
            lastClaim = now();
            await settle();
            const claimed = await claimAbandoned(
              reader,
              deps.heartbeatStream,
              input.consumer,
              input.claimIdleMs,
              input.batchSize,
            );
            if (claimed.length > 0) {
              log.info(
                { entries: claimed.length },
                'claimed heartbeat entries abandoned by another consumer',
              );
              stats.claimed += claimed.length;
              await processEntries(claimed, stats);
              continue;
            }
          }
          if (lastFreshShort)
            await linger(lastFreshAt + FRESH_READ_LINGER_MS - now(), ctx.cancellationSignal);
          lastFreshAt = now();
          const fresh = await readGroup(reader, deps.heartbeatStream, input.consumer, {
            count: input.batchSize,
            blockMs: Math.max(1, Math.min(input.blockMs, deadline - now())),
            fromId: '>',
          });
          lastFreshShort = fresh.length < input.batchSize;
          await settle();
          writing = processEntries(fresh, stats).catch((err: unknown) => {
            writeError = err;
          });
        }
        await settle();
        return stats;
      } finally {
        reader.disconnect();
      }
    },
  };
}
