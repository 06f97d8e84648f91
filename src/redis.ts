/**
 * Redis connections. Commands fail fast while Redis is down (no offline queue, a command timeout),
 * so an HTTP request answers 503 instead of hanging; the connection keeps reconnecting by itself.
 */
import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from './logger';

export function createRedis(url: string, logger: Logger, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
    ...extra,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) logger.info('redis connection restored');
    down = false;
  });
  return redis;
}

/** Keys are always built through here so one prefix separates environments (and test files). */
export function redisKey(prefix: string, ...parts: string[]): string {
  return prefix + parts.join(':');
}
