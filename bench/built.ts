/**
 * What the benchmarks that run the BUILT control plane share: where the build is, the image's
 * memory settings (read from deploy/Dockerfile, so a bench runs what production runs; the
 * BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX variables override them, empty: unset), and the
 * request/answer exchange with a child process (`ask`).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli.js');
export const BUNDLE = join(ROOT, 'dist/workflow-bundle.js');

const DOCKERFILE = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
function imageEnv(name: string): string | undefined {
  const m = new RegExp(`\\b${name}=(?:"([^"]*)"|(\\S+))`).exec(DOCKERFILE);
  return m ? (m[1] ?? m[2]) : undefined;
}
export const NODE_OPTIONS = process.env.BENCH_NODE_OPTIONS ?? imageEnv('NODE_OPTIONS') ?? '';
export const MALLOC_ARENA_MAX = process.env.BENCH_MALLOC_ARENA_MAX ?? imageEnv('MALLOC_ARENA_MAX') ?? '';

/** The environment every built control-plane process of a bench starts from: the image's settings. */
export function imageProcessEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_OPTIONS,
    ...(MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX } : {}),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Sends `msg` to the child and resolves with its first message of `type`. */
export function ask<T>(child: ChildProcess, msg: object, type: string): Promise<T> {
  return new Promise((res) => {
    const on = (m: { type?: string }) => {
      if (m?.type !== type) return;
      child.off('message', on);
      res(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}
