import { existsSync, readFileSync, unlinkSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const file = process.env.GENESIS_TEST_TEMPORAL_PID_FILE;
  if (!file || !existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8'));
  unlinkSync(file);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}
