/**
 * The Temporal SDK's own metrics on a real worker process's Prometheus port (TEMPORAL_METRICS_PORT):
 * after a workflow that completes, one whose activity fails and one that fails, every name in
 * TEMPORAL_SDK_METRICS (what the alert rules and the dashboard query) is exported with its type.
 */
import { startHibernate, startWake } from '../../src/temporal/power-starts';
import { TEMPORAL_SDK_METRICS } from '../../src/observability/metric-names';
import { createDigitalOceanSimulator, DEFAULT_SIMULATOR_TOKEN } from '../../src/simulator/digitalocean';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { runCli, type ChildRun } from '../helpers/processes';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import { freePort } from '../helpers/throwaway';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';
import { workerEnv } from '../helpers/worker-env';

jest.setTimeout(120_000);

describe("the worker's Temporal SDK metrics", () => {
  let db: TestDatabase;
  let r: TestRedis;
  let t: TestTemporal;
  let worker: ChildRun | undefined;
  let sim: Awaited<ReturnType<typeof createDigitalOceanSimulator>>;
  const taskQueue = uniqueTaskQueue('worker-metrics');

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    t = await connectTestTemporal();
    sim = await createDigitalOceanSimulator({ actionDelayMs: 100 });
  });
  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await sim?.close();
    await t?.close();
    await r?.cleanup();
    await db?.drop();
  });

  it('exports every metric the rules and the dashboard use', async () => {
    const port = await freePort();
    worker = runCli(
      ['worker'],
      workerEnv(
        {
          databaseUrl: db.url,
          redisPrefix: r.prefix,
          taskQueue,
          digitaloceanUrl: sim.url,
          digitaloceanToken: DEFAULT_SIMULATOR_TOKEN,
        },
        {
          TEMPORAL_METRICS_PORT: String(port),
          WATCHDOG_ENABLED: 'false',
          SCALE_ALERTS_ENABLED: 'false',
          WORKER_SHUTDOWN_GRACE_MS: '1000',
        },
      ),
    );
    await worker.waitFor(/worker polling/, 60_000);

    // completes: hibernate of a droplet already hibernated
    await seedDroplet(db.pool, { id: 61, state: 'HIBERNATED' });
    await (
      await startHibernate(t.client, taskQueue, { workspaceId: 'ws-61', dropletId: 61 })
    ).handle.result();
    // an activity fails (DigitalOcean answers 404: the droplet is not there), then the workflow
    await seedDroplet(db.pool, { id: 62, state: 'HIBERNATED' });
    const wake = await startWake(t.client, taskQueue, {
      workspaceId: 'ws-62',
      dropletId: 62,
      reason: 'admin_request',
    });
    await expect(wake.handle.result()).rejects.toThrow();

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const types = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
    for (const { name, type } of TEMPORAL_SDK_METRICS)
      expect({ name, type: types.get(name) }).toEqual({ name, type });
  });
});
