/**
 * Starts one Temporal dev server for the integration run (unless TEMPORAL_ADDRESS points at one),
 * waits until its namespace answers, and hands the address to every test file through the env.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTemporalCli, SEARCH_ATTRIBUTES, waitForTemporal } from '../../src/temporal/cli-binary';
import { freePort } from '../helpers/throwaway';

export const PID_FILE = join(tmpdir(), `genesis-cp-test-temporal-${process.pid}.pid`);

export default async function globalSetup(): Promise<void> {
  if (process.env.TEMPORAL_ADDRESS) {
    await waitForTemporal(process.env.TEMPORAL_ADDRESS, Date.now() + 30_000);
    return;
  }
  const bin = findTemporalCli();
  if (!bin) throw new Error('temporal CLI not found: run `make test` (it builds it) or set TEMPORAL_BIN');
  const port = await freePort();
  const args = [
    'server',
    'start-dev',
    '--headless',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--log-level',
    'error',
  ];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  const child = spawn(bin, args, { stdio: 'ignore', detached: true });
  child.unref();
  writeFileSync(PID_FILE, String(child.pid));
  process.env.GENESIS_TEST_TEMPORAL_PID_FILE = PID_FILE;
  const address = `127.0.0.1:${port}`;
  await waitForTemporal(address, Date.now() + 60_000);
  process.env.TEMPORAL_ADDRESS = address;
}
