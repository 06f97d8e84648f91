/**
 * SIGKILL the worker process in the middle of two cohorts (scheduled wakes: power_on; watchdog
 * hard reboots: power_cycle, which has no goal state a 422 could protect): their bulk actions have
 * reached DigitalOcean (the simulator carried them out) but their answers never reach the worker,
 * so no member's action id is recorded. A new worker carries the operations on: each retried power
 * activity finds its claim without an action id, finds the action the bulk started, and reuses it.
 * Every droplet ends verified with exactly one power action in its attempt (counted by the
 * simulator), and the cohorts' leftover tags are deleted by the sweep.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { startHardReboot, startWake } from '../../src/temporal/power-starts';
import {
  createFleetHarness,
  harnessWorkerEnv,
  lifecyclePath,
  type FleetHarness,
} from '../helpers/fleet-harness';
import { runCli, type ChildRun } from '../helpers/processes';
import { eventually } from '../helpers/temporal';

jest.setTimeout(150_000);

/**
 * A proxy in front of the simulator that forwards everything, but while `holding` holds back the
 * answers of bulk actions (POST /v2/droplets/actions) for good once the simulator carried them out.
 */
function holdingProxy(target: string) {
  const held: ServerResponse[] = [];
  let bulkRequests = 0;
  let bulkCarriedOut = 0;
  let holding = true;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const bulk = req.method === 'POST' && (req.url ?? '').startsWith('/v2/droplets/actions?');
      if (bulk) bulkRequests += 1;
      const holdThis = bulk && holding;
      const upstream = request(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: req.headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            if (holdThis) {
              bulkCarriedOut += 1;
              held.push(res); // never answered: the worker dies waiting
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  return {
    server,
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`),
        ),
      ),
    bulkRequests: () => bulkRequests,
    bulkCarriedOut: () => bulkCarriedOut,
    stopHolding: () => {
      holding = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of held) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('a cohort survives a worker SIGKILL', () => {
  let h: FleetHarness;
  let proxy: ReturnType<typeof holdingProxy>;
  let worker: ChildRun | undefined;
  const ids = Array.from({ length: 5 }, (_, i) => 42_000 + i);
  const rebootIds = Array.from({ length: 3 }, (_, i) => 42_010 + i);

  beforeAll(async () => {
    h = await createFleetHarness('cohort-crash');
    await h.fleet.addDroplets(h.db.pool, [
      ...ids.map((dropletId) => ({ dropletId, workspaceId: `ws-k${dropletId}`, poweredOn: false })),
      ...rebootIds.map((dropletId) => ({ dropletId, workspaceId: `ws-k${dropletId}` })),
    ]);
    for (const id of rebootIds) h.fleet.sidecars.setFault(id, { kind: 'recoverOnlyAfterPowerCycle' });
    proxy = holdingProxy(h.fleet.digitalocean.url);
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await proxy?.close();
    await h?.close();
  });

  it('no droplet is powered twice in its attempt; every one ends verified; the tag is swept', async () => {
    const env = harnessWorkerEnv(h, {
      DIGITALOCEAN_API_URL: await proxy.listen(),
      SIDECAR_COMMAND_TIMEOUT_MS: '2000',
      POWER_COHORT_LINGER_MS: '500',
      POWER_COHORT_MIN_SIZE: '3',
      POWER_COHORT_SWEEP_MS: '2000',
    });
    worker = runCli(['worker'], env);
    await worker.waitFor(/worker polling/);
    // the window covers the drain's own recovery: the killed worker also ran the heartbeat drain,
    // whose activity is retried after its heartbeat timeout
    const timings = { verifyWindowMs: 45_000, verifyPollMs: 500, actionTimeoutMs: 30_000, actionPollMs: 300 };
    const started = await Promise.all([
      ...ids.map((dropletId) =>
        startWake(h.temporal.client, h.taskQueue, {
          workspaceId: `ws-k${dropletId}`,
          dropletId,
          reason: 'scheduled_campaign',
          timings,
        }),
      ),
      ...rebootIds.map((dropletId) =>
        startHardReboot(h.temporal.client, h.taskQueue, {
          workspaceId: `ws-k${dropletId}`,
          dropletId,
          reason: 'watchdog_heartbeat_timeout',
          maxAttempts: 1,
          timings,
        }),
      ),
    ]);
    await eventually(
      async () => proxy.bulkCarriedOut(),
      (n) => n === 2,
      { what: 'both bulk actions carried out' },
    );
    // each bulk started one action per droplet, and none of them is recorded
    for (const id of ids) expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(1);
    for (const id of rebootIds) expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(1);
    const all = [...ids, ...rebootIds];
    const recorded = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM power_actions WHERE droplet_id = ANY($1::bigint[]) AND action_id IS NOT NULL`,
      [all],
    );
    expect(recorded.rows[0].n).toBe(0);
    worker.child.kill('SIGKILL');
    await worker.exited;
    proxy.stopHolding();

    worker = runCli(['worker'], env);
    await worker.waitFor(/worker polling/);
    const results = await Promise.all(started.map((s) => s.handle.result()));
    expect(results.map((r) => r.outcome)).toEqual(all.map(() => 'healthy'));
    // at most one power action per droplet for the attempt: the bulk's, found and reused
    for (const id of ids) {
      expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(1);
      expect(await lifecyclePath(h.db, id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
    }
    for (const id of rebootIds) {
      expect(h.fleet.digitalocean.actionCount(id, 'power_cycle')).toBe(1);
      expect(await lifecyclePath(h.db, id)).toEqual(['REBOOTING', 'ACTIVE_HEALTHY']);
    }
    expect(proxy.bulkRequests()).toBe(2);
    // the crashed cohorts' tags: deleted by the new worker's sweep, never used again
    const cohorts = await eventually(
      async () =>
        (
          await h.db.pool.query<{ tag: string; deleted_at: Date | null }>(
            `SELECT tag, deleted_at FROM power_cohorts`,
          )
        ).rows,
      (rows) => rows.length === 2 && rows.every((r) => r.deleted_at !== null),
      { what: 'the leftover tags swept', timeoutMs: 30_000 },
    );
    for (const c of cohorts) expect(h.fleet.digitalocean.getTag(c.tag)).toBeUndefined();
  });
});
