/** Finds the Temporal CLI binary (which carries the dev server) without downloading anything. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';

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

/** Waits until a Temporal server at `address` answers for its default namespace. */
export async function waitForTemporal(address: string, deadlineMs: number): Promise<void> {
  let lastErr: unknown;
  while (Date.now() < deadlineMs) {
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal at ${address} did not become ready: ${String(lastErr)}`);
}
