/** Finds the Temporal CLI binary (which carries the dev server) without downloading anything. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function findTemporalCli(): string | undefined {
  const fromEnv = process.env.TEMPORAL_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, 'temporal');
    if (dir && existsSync(candidate)) return candidate;
  }
  try {
    const gobin = execFileSync('go', ['env', 'GOBIN'], { encoding: 'utf8' }).trim();
    const gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim();
    const candidate = join(gobin || join(gopath, 'bin'), 'temporal');
    if (existsSync(candidate)) return candidate;
  } catch {
    /* no go toolchain */
  }
  return undefined;
}

/** Search attributes every start sets; registered on the dev server and documented for clusters. */
export const SEARCH_ATTRIBUTES = {
  WorkspaceId: 'Keyword',
  DropletId: 'Keyword',
  Operation: 'Keyword',
  Reason: 'Keyword',
  RolloutId: 'Keyword',
  WorkerGroup: 'Keyword',
} as const;
