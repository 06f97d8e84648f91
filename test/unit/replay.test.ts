/**
 * Replay tests: histories recorded from real runs (test/fixtures/histories, refreshed with
 * RECORD_HISTORIES=1 by the integration tests) must replay without nondeterminism against today's
 * workflow code. A change that breaks them needs `patched()` or a new workflow type.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowInterceptorModules, workflowsSourcePath } from '../../src/worker/worker';

const dir = join(__dirname, '../fixtures/histories');
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

jest.setTimeout(60_000);

it('has recorded histories to replay', () => {
  expect(fixtures.length).toBeGreaterThan(0);
});

it.each(fixtures)('replays %s deterministically', async (file) => {
  // Decoded with @temporalio/proto's own protobufjs (the SDK's JSON helper trips over two copies
  // of protobufjs in this dependency tree).
  const history = temporal.api.history.v1.History.fromObject(
    JSON.parse(readFileSync(join(dir, file), 'utf8')),
  );
  await Worker.runReplayHistory(
    {
      workflowsPath: workflowsSourcePath(),
      interceptors: { workflowModules: workflowInterceptorModules() },
      replayName: file,
    },
    history,
  );
});
