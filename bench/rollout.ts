/**
 * npm run bench:rollout -- an n8n image rollout at 1,000 tenants (BENCH_TENANTS), canary 10, waves
 * of 100, concurrency 50, on a Temporal dev server this script starts, with the v1 fleet simulator
 * (the deployed agent's protocol: SWAP_CONTAINER of the n8n container, handshake keep-alives; the
 * fleet's 60 s keep-alive scaled down to BENCH_KEEPALIVE_MS, default 2 s, with the gate window
 * scaled with it), the real API + heartbeat drain, real activities and the fleet-wide semaphore at
 * its production limit (50). Runs a good tag to the end, then a tag whose container fails the
 * docker health wait on 20 % of the fleet (flakyTag, a deterministic fifth of the droplets), and
 * prints wall times, the longest workflow histories (events) and whether any tenant was left on the
 * broken tag. Everything shares this machine's cores.
 */
import { createServer, type Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import Redis from 'ioredis';
import { createActivities } from '../activities';
import { FleetSemaphore } from '../src/concurrency/fleet-semaphore';
import { heartbeatStreamNames } from '../src/heartbeats/stream';
import { createLogger } from '../src/logger';
import { SidecarClient } from '../src/sidecar/client';
import { createFleetSimulator } from '../src/simulator/fleet';
import { startFleetRollout } from '../src/temporal/rollout-starts';
import { heartbeatDrainContract, type HeartbeatDrainWorkflow } from '../contracts/heartbeat-drain';
import type { FleetRolloutInput } from '../src/domain/rollout';
import { baseActivityDeps } from '../test/helpers/activity-deps';
import { ingestApp } from '../test/helpers/ingest-app';
import { freshDatabase, machine, REDIS_URL, startTemporalDevServer } from './common';
import { rsaTestKeys } from '../test/helpers/keys';

const TENANTS = Number(process.env.BENCH_TENANTS ?? 1_000);
const FIRST = 100_001;
const TASK_QUEUE = 'bench-rollout';
const KEEPALIVE_MS = Number(process.env.BENCH_KEEPALIVE_MS ?? 2_000);
const HANDSHAKE_SECRET = 'bench-rollout-handshake-secret-0123';

const listen = (s: Server) =>
  new Promise<number>((res) => s.listen(0, '127.0.0.1', () => res((s.address() as { port: number }).port)));

async function main() {
  console.log(`bench:rollout on ${machine()}; ${TENANTS} tenants`);
  const logger = createLogger({ level: 'warn' });
  Runtime.install({
    logger: { log: () => undefined, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const temporal = await startTemporalDevServer('rollout');
  const db = await freshDatabase('genesis_bench_rollout');
  const redis = new Redis(REDIS_URL);
  const prefix = `bench-rollout:${process.pid}:`;
  const stream = heartbeatStreamNames(prefix, 'heartbeats', 'drain');
  const privateKeyPem = rsaTestKeys().privatePem;

  // the API's ingest routes, built as the tests build them
  const api = createServer(
    ingestApp({ redis, stream, pool: db.pool, logger, handshakeSecret: HANDSHAKE_SECRET }),
  );
  const apiUrl = `http://127.0.0.1:${await listen(api)}`;
  const fleet = await createFleetSimulator({
    jwtPrivateKey: privateKeyPem,
    dashboardUrl: apiUrl,
    handshakeSecret: HANDSHAKE_SECRET,
    heartbeatIntervalMs: KEEPALIVE_MS,
    bootDelayMs: 300,
    actionDelayMs: 400,
    pullDelayMs: 200,
    swapDelayMs: 100,
    // the agent's 60 s docker health wait, scaled like the keep-alive
    swapHealthWaitMs: KEEPALIVE_MS,
  });
  const seeded = Date.now();
  await fleet.addDroplets(
    db.pool,
    Array.from({ length: TENANTS }, (_, i) => ({ dropletId: FIRST + i, workspaceId: `ws-${i}` })),
  );
  for (let i = 0; i < TENANTS; i++)
    fleet.sidecars.setFault(FIRST + i, { kind: 'flakyTag', tag: '2.1.0-bad', share: 0.2 });
  console.log(`seeded ${TENANTS} droplets and agents in ${Date.now() - seeded} ms`);

  const connection = await NativeConnection.connect({ address: temporal.address });
  const clientConnection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection: clientConnection });
  const worker = await Worker.create({
    connection,
    taskQueue: TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities(
      baseActivityDeps(
        { pool: db.pool, redis, logger, heartbeatStream: stream },
        {
          sidecar: new SidecarClient({ privateKey: privateKeyPem, logger, timeoutMs: 10_000 }),
          temporal: { client, taskQueue: TASK_QUEUE },
          concurrency: new FleetSemaphore({
            redis,
            keyPrefix: prefix,
            limits: { n8n_update: 50, workflow_update: 100, credential: 50 },
          }),
        },
      ),
    ),
    maxConcurrentActivityTaskExecutions: 200,
    maxCachedWorkflows: 2_000,
  });
  const running = worker.run();
  await client.workflow.start<HeartbeatDrainWorkflow>(heartbeatDrainContract.workflowType, {
    taskQueue: TASK_QUEUE,
    workflowId: 'bench-drain',
    args: [{ consumer: 'drain-0', activityRunMs: 60_000, blockMs: 200, heartbeatTimeoutMs: 10_000 }],
  });

  const rollout = (over: Partial<FleetRolloutInput>): FleetRolloutInput => ({
    rolloutId: 'x',
    kind: 'n8n',
    targetVersion: '2.0.0',
    // production: 5 min for a 60 s keep-alive; here the same number of keep-alives fits the window
    n8n: { verifyWindowMs: 15 * KEEPALIVE_MS, verifyPollMs: 500 },
    selector: { all: true },
    canarySize: 10,
    waveSize: 100,
    maxConcurrency: 50,
    failureBudgetRatio: 0.05,
    ...over,
  });

  async function measure(input: FleetRolloutInput) {
    const t0 = Date.now();
    const started = await startFleetRollout(client, TASK_QUEUE, input);
    const outcome = await started.handle.result().then(
      (r) => r,
      (e: Error & { cause?: { message?: string } }) => ({ failed: e.cause?.message ?? e.message }),
    );
    const wallMs = Date.now() - t0;
    let longestRun = 0;
    let runs = 0;
    for await (const w of client.workflow.list({ query: `WorkflowId = '${started.workflowId}'` })) {
      runs++;
      const h = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      longestRun = Math.max(longestRun, h.events?.length ?? 0);
    }
    let longestChild = 0;
    let children = 0;
    for await (const w of client.workflow.list({
      query: `RolloutId = '${input.rolloutId}' AND WorkflowType = 'n8nContainerUpdate'`,
    })) {
      children++;
      if (children % 25 === 1 || children <= 50) {
        const h = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
        longestChild = Math.max(longestChild, h.events?.length ?? 0);
      }
    }
    return { wallMs, outcome, runs, longestRun, children, longestChild };
  }

  const good = await measure(rollout({ rolloutId: 'bench-good' }));
  const onGood = fleet.sidecars.stats();
  const maxSwaps = onGood.commands.maxInFlight.SWAP_CONTAINER ?? 0;
  console.log(
    `good tag 2.0.0: ${(good.wallMs / 1000).toFixed(1)} s wall, ${JSON.stringify(good.outcome)}; ` +
      `${good.runs} rollout runs, longest run history ${good.longestRun} events; ` +
      `${good.children} child updates, longest sampled child history ${good.longestChild} events; ` +
      `max SWAP_CONTAINER in flight ${maxSwaps} (limit 50)`,
  );

  const bad = await measure(rollout({ rolloutId: 'bench-bad', targetVersion: '2.1.0-bad' }));
  let onBad = 0;
  for (let i = 0; i < TENANTS; i++) if (fleet.sidecars.agent(FIRST + i)?.n8nImageTag === '2.1.0-bad') onBad++;
  const counts = await db.pool.query<{ status: string; n: string }>(
    `SELECT status, count(*) AS n FROM rollout_targets WHERE rollout_id = 'bench-bad' GROUP BY status ORDER BY status`,
  );
  const waves = await db.pool.query<{ wave: number; status: string }>(
    `SELECT wave, status FROM rollout_waves WHERE rollout_id = 'bench-bad' ORDER BY wave`,
  );
  console.log(
    `broken tag 2.1.0-bad (fails the health wait on 20 % of agents): ${(bad.wallMs / 1000).toFixed(1)} s wall, ` +
      `${JSON.stringify(bad.outcome)}; waves ${waves.rows.map((w) => `${w.wave}:${w.status}`).join(', ')}; ` +
      `targets ${counts.rows.map((r) => `${r.status} ${r.n}`).join(', ')}; ` +
      `${bad.runs} runs, longest run history ${bad.longestRun} events; tenants left on 2.1.0-bad: ${onBad}`,
  );

  worker.shutdown();
  await running;
  await fleet.close();
  await new Promise((r) => api.close(r));
  redis.disconnect();
  await clientConnection.close();
  await connection.close();
  await db.drop();
  temporal.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
