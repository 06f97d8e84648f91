/**
 * One environment for every process of a deployment: the CLI reads an env file before it parses
 * the configuration, so `genesis-cp worker`, `genesis-cp api` and the operator commands in another
 * terminal all see the same settings (`make dev` writes `.data/dev.env` and links `.env` to it).
 *
 * Which file: `--dotenv FILE`, else `GENESIS_ENV_FILE`, else `./.env` when it exists. A variable
 * already set in the environment always wins over the file (a platform's injected secret, or a
 * one-off `REDIS_KEY_PREFIX=x genesis-cp ...`). Values are never logged or printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

export class EnvFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`env file ${file}: ${reason}`);
    this.name = 'EnvFileError';
  }
}

export interface LoadedEnvFile {
  /** The file read, or undefined when none was named and there is no ./.env. */
  file?: string;
  /** Variables the file set (names only). */
  applied: string[];
  /** Variables the file also names but the environment already set (the environment won). */
  keptFromEnvironment: string[];
}

/** The file to read: the flag, then GENESIS_ENV_FILE, then ./.env if present. */
export function envFileToRead(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): { file: string; explicit: boolean } | undefined {
  const named = flag ?? env.GENESIS_ENV_FILE;
  if (named) return { file: resolve(cwd, named), explicit: true };
  const dotenv = resolve(cwd, '.env');
  return existsSync(dotenv) ? { file: dotenv, explicit: false } : undefined;
}

/** Reads the env file into `env` without overriding what is already set there. */
export function loadEnvFile(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): LoadedEnvFile {
  const target = envFileToRead(flag, env, cwd);
  if (!target) return { applied: [], keptFromEnvironment: [] };
  let text: string;
  try {
    text = readFileSync(target.file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EnvFileError(target.file, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`);
  }
  const values = parseEnv(text);
  const applied: string[] = [];
  const keptFromEnvironment: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (env[name] !== undefined) keptFromEnvironment.push(name);
    else {
      env[name] = value;
      applied.push(name);
    }
  }
  return { file: target.file, applied, keptFromEnvironment };
}
