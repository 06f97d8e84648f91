/**
 * Release and rollback with Worker Versioning on the real dev server: two real worker processes of
 * one task queue, builds v1 and v2 of one worker deployment. The first worker makes itself current
 * (bootstrap); `genesis-cp release set-current v2` sends new runs to v2; `genesis-cp release
 * rollback` sends new runs to v1 again. Which build ran a workflow is read from the server
 * (the execution's versioning info), not from the workers.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { wakeDroplet } from '../../workflows/power/wake-droplet';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { runCli, type ChildRun } from '../helpers/processes';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import { connectTestTemporal, eventually, uniqueTaskQueue, type TestTemporal } from '../helpers/temporal';
import { rsaTestKeys } from '../helpers/keys';
import { workerEnv } from '../helpers/worker-env';

jest.setTimeout(180_000);

describe('release set-current / rollback (Worker Versioning)', () => {
  let db: TestDatabase;
  let r: TestRedis;
  let t: TestTemporal;
  const workers: ChildRun[] = [];
  const taskQueue = uniqueTaskQueue('versioning');
  const deployment = `genesis-test-${randomBytes(3).toString('hex')}`;
  const key = rsaTestKeys().privatePem;

  beforeAll(async () => {
    db = await createTestDatabase();
    r = await createTestRedis();
    t = await connectTestTemporal();
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    await t?.close();
    await r?.cleanup();
    await db?.drop();
  });

  const env = (buildId: string) => ({
    ...workerEnv({
      databaseUrl: db.url,
      redisPrefix: r.prefix,
      taskQueue,
      digitaloceanToken: 'unused-in-this-test',
      privateKeyPem: key,
    }),
    WATCHDOG_ENABLED: 'false',
    SCALE_ALERTS_ENABLED: 'false',
    WORKER_SHUTDOWN_GRACE_MS: '1000',
    WORKER_VERSIONING: 'true',
    WORKER_DEPLOYMENT_NAME: deployment,
    WORKER_BUILD_ID: buildId,
    WORKER_GROUP: `group-${buildId}`,
    LOG_LEVEL: 'info',
  });
  const cli = async (...args: string[]) => {
    const run = runCli(args, {
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
      WORKER_DEPLOYMENT_NAME: deployment,
    });
    return { code: await run.exited, out: run.output() };
  };

  /** Runs one short workflow (a wake refused for bad input) and answers the build that ran it. */
  let n = 0;
  const buildThatRuns = async (client: Client): Promise<string | undefined> => {
    const handle = await client.workflow.start(wakeDroplet, {
      taskQueue,
      workflowId: `versioning-probe-${++n}`,
      args: [{ workspaceId: 'ws', dropletId: -1, reason: 'admin_request' }],
    });
    await handle.result().catch(() => undefined); // fails with InvalidInput on its first task
    const d = await handle.describe();
    return d.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId ?? undefined;
  };

  it('sends new runs to the current build, and back to v1 after a rollback', async () => {
    const v1 = runCli(['worker'], env('v1'));
    workers.push(v1);
    await v1.waitFor(/"outcome":"bootstrapped"/, 60_000);
    const v2 = runCli(['worker'], env('v2'));
    workers.push(v2);
    await v2.waitFor(/"outcome":"other-current"/, 60_000);

    expect(await buildThatRuns(t.client)).toBe('v1');
    expect(await buildThatRuns(t.client)).toBe('v1');
    // short operations are PINNED (the workers' default); the long-running drain follows releases
    const behavior = async (workflowId: string) =>
      String(
        (await t.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo
          ?.behavior,
      );
    expect(await behavior('versioning-probe-1')).toMatch(/PINNED|^1$/);
    await eventually(
      () => behavior(`heartbeat-drain/${taskQueue}/0`),
      (b) => /AUTO_UPGRADE|^2$/.test(b),
      {
        what: 'the drain running with AUTO_UPGRADE',
      },
    );

    const set = await cli('release', 'set-current', 'v2', '--json');
    expect(set.code).toBe(0);
    expect(JSON.parse(set.out)).toEqual({ previous: 'v1', current: 'v2' });
    expect(await buildThatRuns(t.client)).toBe('v2');
    expect(await buildThatRuns(t.client)).toBe('v2');

    const back = await cli('release', 'rollback', '--json');
    expect(back.code).toBe(0);
    expect(JSON.parse(back.out)).toEqual({ rolledBackFrom: 'v2', current: 'v1' });
    expect(await buildThatRuns(t.client)).toBe('v1');

    const status = await cli('release', 'status', '--json');
    expect(status.code).toBe(0);
    const s = JSON.parse(status.out) as { current: string; versions: { buildId: string }[] };
    expect(s.current).toBe('v1');
    expect(s.versions.map((v) => v.buildId).sort()).toEqual(['v1', 'v2']);

    const { rows } = await db.pool.query<{
      build_id: string;
      previous_build_id: string | null;
      action: string;
    }>(
      `SELECT build_id, previous_build_id, action FROM worker_releases WHERE deployment_name = $1 ORDER BY id`,
      [deployment],
    );
    expect(rows).toEqual([
      { build_id: 'v1', previous_build_id: null, action: 'bootstrap' },
      { build_id: 'v2', previous_build_id: 'v1', action: 'set-current' },
      { build_id: 'v1', previous_build_id: 'v2', action: 'rollback' },
    ]);

    // a build no worker ever ran is refused with "not found" (exit 3), the current one unchanged
    const unknown = await cli('release', 'set-current', 'v9');
    expect(unknown.code).toBe(3);
    expect(await buildThatRuns(t.client)).toBe('v1');
    expect((await cli('release', 'status', '--deployment', 'no-such-deployment')).code).toBe(3);
  });
});
