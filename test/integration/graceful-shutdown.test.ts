/**
 * Graceful shutdown under load, as a platform does it: a real `genesis-cp all` process (worker +
 * API) with heartbeats flowing over keep-alive connections, the heartbeat drain running, and a
 * power operation in flight (waiting for a slow DigitalOcean action). SIGTERM must end the process
 * within WORKER_SHUTDOWN_GRACE_MS plus a few seconds, exit 0, and lose nothing: the operation is
 * finished by the next worker.
 */
import { Agent, request } from 'node:http';
import { issueHeartbeatToken } from '../../src/heartbeats/tokens';
import { startHibernate } from '../../src/temporal/power-starts';
import { powerStatusQuery } from '../../contracts';
import { createFleetHarness, harnessWorkerEnv, type FleetHarness } from '../helpers/fleet-harness';
import { runCli, type ChildRun } from '../helpers/processes';
import { eventually } from '../helpers/temporal';
import { freePort } from '../helpers/throwaway';

jest.setTimeout(180_000);

const GRACE_MS = 5_000;
/** What "a few seconds" past the grace may take on a loaded 2-core machine. */
const SLACK_MS = 5_000;
const LOAD_DROPLETS = 40;

describe('graceful shutdown under load', () => {
  let h: FleetHarness;
  let cp: ChildRun | undefined;
  let next: ChildRun | undefined;
  let stopLoad = false;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });

  beforeAll(async () => {
    // a power action takes 20 s: the hibernate is in flight when SIGTERM arrives
    h = await createFleetHarness('graceful', { actionDelayMs: 20_000 });
    await h.fleet.addDroplets(
      h.db.pool,
      Array.from({ length: LOAD_DROPLETS + 1 }, (_, i) => ({
        dropletId: 41_000 + i,
        workspaceId: `ws-g${i}`,
      })),
    );
  });
  afterAll(async () => {
    stopLoad = true;
    agent.destroy();
    await cp?.kill('SIGKILL');
    await next?.kill('SIGTERM');
    await h?.close();
  });

  it('exits within the grace time with heartbeats flowing and an operation in flight', async () => {
    const port = await freePort();
    const env = harnessWorkerEnv(h, {
      WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      PORT: String(port),
      SIDECAR_HANDSHAKE_SECRET: 'handshake-secret-for-tests',
      LOG_LEVEL: 'info',
    });
    cp = runCli(['all'], env);
    await cp.waitFor(/api listening/, 60_000);
    await cp.waitFor(/heartbeat drain workflows running/, 60_000);

    // heartbeats over keep-alive connections, as the fleet sends them
    const tokens = await Promise.all(
      Array.from({ length: LOAD_DROPLETS }, (_, i) => issueHeartbeatToken(h.db.pool, 41_001 + i)),
    );
    let accepted = 0;
    const send = (i: number) =>
      new Promise<number>((resolve) => {
        const body = JSON.stringify({
          workspace_id: `ws-g${i + 1}`,
          droplet_id: 41_001 + i,
          timestamp: new Date().toISOString(),
          cpu_percent: 10,
          memory_percent: 20,
          disk_percent: 30,
          n8n_status: 'healthy',
          sidecar_version: '1.0.0',
          n8n_version: '1.0.0',
          uptime_seconds: 100,
        });
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/heartbeats',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', () => resolve(0));
        req.end(body);
      });
    const load = (async () => {
      for (let n = 0; !stopLoad; n++) {
        const statuses = await Promise.all(
          Array.from({ length: 8 }, (_, k) => send((n * 8 + k) % LOAD_DROPLETS)),
        );
        accepted += statuses.filter((s) => s === 202).length;
        if (statuses.every((s) => s === 0)) await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // readiness: heartbeats accepted by the API under test and drained into Postgres
    await eventually(
      async () => accepted,
      (n) => n >= 200,
      { timeoutMs: 60_000, what: 'heartbeats accepted' },
    );
    await eventually(
      async () =>
        (
          await h.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM droplets WHERE id > 41000 AND last_heartbeat_at IS NOT NULL`,
          )
        ).rows[0]!.n,
      (n) => n === LOAD_DROPLETS,
      { timeoutMs: 60_000, what: 'the drain applying heartbeats' },
    );

    // an operation in flight: a hibernate waiting for its 20 s shutdown action
    const id = 41_000;
    const hib = await startHibernate(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-g0',
      dropletId: id,
      gracefulTimeoutMs: 60_000,
      timings: { actionPollMs: 500, actionTimeoutMs: 60_000 },
    });
    await eventually(
      () => hib.handle.query(powerStatusQuery),
      (s) => s.phase === 'shutting_down' || s.phase === 'looking_up_action',
      { timeoutMs: 60_000, what: 'the hibernate waiting for its shutdown' },
    );
    await eventually(
      async () => h.fleet.digitalocean.actionCount(id, 'shutdown'),
      (n) => n === 1,
      {
        what: 'the shutdown action started',
      },
    );
    // in flight on the worker under test: the look at the action (its first look waits) has started
    await eventually(
      async () => {
        const d = await hib.handle.describe();
        return (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name}:${String(a.state)}`);
      },
      (pending) => pending.some((p) => /^lookUpAction:(PENDING_ACTIVITY_STATE_STARTED|2)$/.test(p)),
      { timeoutMs: 60_000, what: 'lookUpAction running' },
    );

    const t0 = Date.now();
    const code = await cp.kill('SIGTERM');
    const tookMs = Date.now() - t0;
    stopLoad = true;
    await load;
    process.stdout.write(`graceful shutdown under load took ${tookMs} ms (grace ${GRACE_MS} ms)\n`);
    if (process.env.SHOW_OUTPUT)
      process.stdout.write(
        cp
          .output()
          .split('\n')
          .filter((l) => /stopping|stopped|shutting|Worker state|activity|drain|signal/i.test(l))
          .slice(-40)
          .join('\n'),
      );
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(GRACE_MS + SLACK_MS);
    expect(cp.output()).toMatch(/control plane stopped/);

    // nothing lost: the next worker finishes the hibernate
    next = runCli(['worker'], harnessWorkerEnv(h, { WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS) }));
    await expect(hib.handle.result()).resolves.toMatchObject({ outcome: 'hibernated' });
  });
});
