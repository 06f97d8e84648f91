/**
 * The pause flag of a worker group, in Redis where every worker of the group sees it within
 * seconds. It outlives worker restarts (a paused group stays paused until resumed).
 */
import type Redis from 'ioredis';
import { redisKey } from '../redis';

export interface PauseInfo {
  group: string;
  by: string;
  at: string;
  reason?: string;
}

const key = (prefix: string, group: string) => redisKey(prefix, 'workers', 'paused', group);

export async function pauseGroup(redis: Redis, prefix: string, info: PauseInfo): Promise<void> {
  await redis.set(key(prefix, info.group), JSON.stringify(info));
}

export async function resumeGroup(redis: Redis, prefix: string, group: string): Promise<boolean> {
  return (await redis.del(key(prefix, group))) > 0;
}

export async function groupPause(
  redis: Redis,
  prefix: string,
  group: string,
): Promise<PauseInfo | undefined> {
  const v = await redis.get(key(prefix, group));
  return v ? (JSON.parse(v) as PauseInfo) : undefined;
}

export async function pausedGroups(redis: Redis, prefix: string): Promise<PauseInfo[]> {
  const out: PauseInfo[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', key(prefix, '*'), 'COUNT', 100);
    cursor = next;
    for (const k of keys) {
      const v = await redis.get(k);
      if (v) out.push(JSON.parse(v) as PauseInfo);
    }
  } while (cursor !== '0');
  return out;
}
