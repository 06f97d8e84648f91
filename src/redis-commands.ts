/**
 * Lua scripts as named Redis commands (the way BullMQ keeps its `src/commands/*.lua`): each is
 * declared once with its name and key count, registered on a connection through ioredis
 * `defineCommand` (EVALSHA, loaded again with EVAL on NOSCRIPT, cached per connection), and called
 * as a method. Shared snippets are spliced in where the script is declared.
 */
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/**
 * Lua: `now`, the Redis server's clock in epoch ms (TIME is seconds + microseconds), so every
 * process on every host agrees on one clock.
 */
export const LUA_REDIS_NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Lua: `now` from ARGV[1] when the caller passes a clock (tests drive time), else the server's
 * (LUA_REDIS_NOW_MS).
 */
export const LUA_NOW_MS_OR_ARGV1 = `local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

export interface RedisCommand<Name extends string = string> {
  name: Name;
  /** fixed key count; undefined: the caller passes the key count as the first argument */
  numberOfKeys?: number;
  lua: string;
  /** SHA1 of `lua`, what EVALSHA is sent */
  sha: string;
}

export function redisCommand<Name extends string>(
  name: Name,
  lua: string,
  numberOfKeys?: number,
): RedisCommand<Name> {
  return { name, lua, numberOfKeys, sha: createHash('sha1').update(lua).digest('hex') };
}

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** The connection with `commands` defined on it (once per connection), callable by name. */
export function withCommands<Name extends string>(
  redis: Redis,
  commands: readonly RedisCommand<Name>[],
): Redis & Record<Name, Call> {
  const r = redis as unknown as Record<string, unknown>;
  for (const c of commands) {
    if (typeof r[c.name] === 'function') continue;
    redis.defineCommand(c.name, {
      lua: c.lua,
      ...(c.numberOfKeys === undefined ? {} : { numberOfKeys: c.numberOfKeys }),
    });
  }
  return redis as Redis & Record<Name, Call>;
}

/** What running a command needs when the connection is injected as EVALSHA/EVAL alone (unit tests). */
export type ScriptRunner = Pick<Redis, 'evalsha' | 'eval'>;

/**
 * Runs a command over EVALSHA, loading it with EVAL when the server does not know it (NOSCRIPT):
 * what ioredis does for a defined command, for callers given a bare EVALSHA/EVAL pair.
 */
export async function runCommand(
  redis: ScriptRunner,
  command: RedisCommand,
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await redis.evalsha(command.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
    return redis.eval(command.lua, keys.length, ...keys, ...args);
  }
}
