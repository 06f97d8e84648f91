/**
 * The heartbeat buffer: one Redis Stream, one consumer group. The API appends (XADD, one entry per
 * accepted request), the drain reads with XREADGROUP, writes Postgres, then XACKs and deletes the
 * entries it acknowledged. Nothing is trimmed before it is acknowledged: an entry leaves the
 * stream only through `acknowledge`.
 */
import type Redis from 'ioredis';
import { redisKey } from '../redis';
import type { StreamHeartbeat } from './heartbeat';

export interface HeartbeatStreamNames {
  key: string;
  group: string;
}

export function heartbeatStreamNames(prefix: string, stream: string, group: string): HeartbeatStreamNames {
  return { key: redisKey(prefix, stream), group };
}

export type StreamEntry = [id: string, fields: string[]];

export async function appendHeartbeats(
  redis: Redis,
  names: HeartbeatStreamNames,
  hbs: StreamHeartbeat[],
): Promise<string> {
  const id = await redis.xadd(names.key, '*', 'hb', JSON.stringify(hbs));
  return id as string;
}

/** Creates the consumer group (from the start of the stream) if it does not exist. */
export async function ensureConsumerGroup(redis: Redis, names: HeartbeatStreamNames): Promise<void> {
  try {
    await redis.xgroup('CREATE', names.key, names.group, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}

export function entryPayload(fields: string[]): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'hb') return fields[i + 1];
  return undefined;
}

/** Reads entries for a consumer: its own pending ones (`fromId` '0') or new ones ('>'). */
export async function readGroup(
  redis: Redis,
  names: HeartbeatStreamNames,
  consumer: string,
  opts: { count: number; blockMs?: number; fromId: '0' | '>' },
): Promise<StreamEntry[]> {
  const args: (string | number)[] = ['GROUP', names.group, consumer, 'COUNT', opts.count];
  if (opts.blockMs !== undefined && opts.fromId === '>') args.push('BLOCK', opts.blockMs);
  args.push('STREAMS', names.key, opts.fromId);
  const res = (await redis.call('XREADGROUP', ...args)) as [string, StreamEntry[]][] | null;
  // Entries deleted while pending come back with null fields: they carry nothing to apply.
  return (res?.[0]?.[1] ?? []).map(([id, fields]) => [id, fields ?? []] as StreamEntry);
}

/** Takes over entries idle longer than `minIdleMs` in other consumers' pending lists (dead consumers). */
export async function claimAbandoned(
  redis: Redis,
  names: HeartbeatStreamNames,
  consumer: string,
  minIdleMs: number,
  count: number,
): Promise<StreamEntry[]> {
  const res = (await redis.call(
    'XAUTOCLAIM',
    names.key,
    names.group,
    consumer,
    minIdleMs,
    '0-0',
    'COUNT',
    count,
  )) as [string, StreamEntry[], string[]?];
  return (res?.[1] ?? []).filter((e) => e && e[1]).map(([id, fields]) => [id, fields] as StreamEntry);
}

export async function acknowledge(redis: Redis, names: HeartbeatStreamNames, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await redis
    .multi()
    .xack(names.key, names.group, ...ids)
    .xdel(names.key, ...ids)
    .exec();
}

export interface StreamBacklog {
  length: number;
  pending: number;
  lag: number | null;
}

export async function streamBacklog(redis: Redis, names: HeartbeatStreamNames): Promise<StreamBacklog> {
  const length = await redis.xlen(names.key);
  let pending = 0;
  let lag: number | null = null;
  try {
    const groups = (await redis.call('XINFO', 'GROUPS', names.key)) as (string | number | null)[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name === names.group) {
        pending = Number(info.pending ?? 0);
        lag = info.lag === null || info.lag === undefined ? null : Number(info.lag);
      }
    }
  } catch (err) {
    if (!String((err as Error).message).includes('no such key')) throw err;
  }
  return { length, pending, lag };
}
