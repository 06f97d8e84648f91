/** Real Temporal for tests: the run's dev server, a task queue per test file, real workers. */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { installRuntime } from '../../src/worker/runtime';
import { createWorker } from '../../src/worker/worker';
import type { WorkerSet } from '../../src/worker/worker-set';

export const testLogger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function temporalAddress(): string {
  const a = process.env.TEMPORAL_ADDRESS;
  if (!a) throw new Error('TEMPORAL_ADDRESS is not set: integration tests run under jest global setup');
  return a;
}

export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomBytes(3).toString('hex')}`;
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig('cli', {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
    REDIS_URL: 'redis://127.0.0.1:6379',
    TEMPORAL_ADDRESS: temporalAddress(),
    WORKER_SHUTDOWN_GRACE_MS: '2000',
    ...env,
  });
}

export interface TestTemporal {
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  close(): Promise<void>;
}

export async function connectTestTemporal(config?: Config): Promise<TestTemporal> {
  const { dataConverterFor } = await import('../../src/temporal/payload-codec');
  installRuntime(testLogger, 0); // before any native connection; SDK logs go through the test logger
  const connection = await Connection.connect({ address: temporalAddress() });
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
  const client = new Client({ connection, dataConverter: dataConverterFor(config?.codec.keys) });
  return {
    client,
    connection,
    nativeConnection,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** Terminates each workflow a test started and left running; one already closed is passed over. */
export async function terminateStarted(client: Client, workflowIds: Iterable<string>): Promise<void> {
  for (const id of workflowIds)
    await client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
}

export async function startTestWorker(
  t: TestTemporal,
  opts: { taskQueue: string; deps: ActivityDeps; config?: Config },
): Promise<{ worker: WorkerSet; running: Promise<void>; stop(): Promise<void> }> {
  const config = opts.config ?? testConfig();
  const worker = await createWorker({
    config,
    logger: testLogger,
    connection: t.nativeConnection,
    deps: opts.deps,
    taskQueue: opts.taskQueue,
  });
  const running = worker.run();
  return {
    worker,
    running,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

export async function eventually<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
    last = await fn();
  }
  return last;
}

/**
 * Replays a history from a real run against today's workflow code (fails on nondeterminism) and,
 * with RECORD_HISTORIES=1, stores it as a fixture the unit replay test keeps replaying.
 */
export async function replayAndRecord(name: string, history: unknown): Promise<void> {
  const { Worker } = await import('@temporalio/worker');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { workflowInterceptorModules, workflowsSourcePath } = await import('../../src/worker/worker');
  await Worker.runReplayHistory(
    {
      workflowsPath: workflowsSourcePath(),
      interceptors: { workflowModules: workflowInterceptorModules() },
      replayName: name,
    },
    history,
  );
  if (process.env.RECORD_HISTORIES === '1') {
    writeFileSync(join(__dirname, `../fixtures/histories/${name}.json`), JSON.stringify(history, null, 1));
  }
}
