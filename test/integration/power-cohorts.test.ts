/**
 * Power at the call floor and in cohorts, end to end: a real worker with the cohort batcher, the
 * DigitalOcean simulator (its request log counts every call) and v1 sidecar simulators.
 *   - a single user_login wake costs one DigitalOcean call, a single hibernation two;
 *   - a cohort of scheduled wakes costs four calls (tag, tag the members, one bulk action, delete
 *     the tag), whatever its size; members it did not start, and members that never came up, are
 *     retried singly and end verified or FAILED, each with its own workflow and lifecycle entries;
 *   - lookups of actions started long ago (hundreds of newer actions since) cost pages of
 *     GET /v2/actions, not a GET /v2/actions/{id} each.
 * Bulk-lane batches linger the default POWER_COHORT_BULK_LINGER_MS (5 s), remediation and
 * interactive lookups 400 ms: the power activities' timeouts hold with the longer linger.
 */
import { startHibernate, startWake } from '../../src/temporal/power-starts';
import { powerStatusQuery, workflowIds } from '../../contracts';
import type { RequestLogEntry } from '../../src/simulator/digitalocean';
import {
  createFleetHarness,
  harnessPowerTimings,
  lifecyclePath,
  type FleetHarness,
} from '../helpers/fleet-harness';
import { eventually, replayAndRecord } from '../helpers/temporal';

jest.setTimeout(120_000);

const timings = harnessPowerTimings;

describe('power calls per operation and cohorts', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    h = await createFleetHarness('power-cohorts', {
      cohorts: { lingerMs: 400, minSize: 3, maxSize: 100 },
    });
    await h.fleet.addDroplets(h.db.pool, [
      { dropletId: 41_000, workspaceId: 'ws-c0', poweredOn: false },
      { dropletId: 41_001, workspaceId: 'ws-c1', poweredOn: true },
      ...Array.from({ length: 8 }, (_, i) => ({
        dropletId: 41_100 + i,
        workspaceId: `ws-c${100 + i}`,
        // the last one is already up although its record says FAILED (a wake finds it on)
        poweredOn: i === 7,
      })),
    ]);
    await h.db.pool.query(`UPDATE droplets SET state = 'FAILED' WHERE id = 41107`);
    await h.fleet.addDroplets(
      h.db.pool,
      Array.from({ length: 6 }, (_, i) => ({
        dropletId: 41_200 + i,
        workspaceId: `ws-c${200 + i}`,
        poweredOn: false,
      })),
    );
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  /** The simulator's requests from `since` on (every request the operations made: no watchdog runs here). */
  const requestsSince = (since: number): RequestLogEntry[] =>
    h.fleet.digitalocean.requestLog().filter((e) => e.at >= since && e.authenticated);
  const calls = (entries: RequestLogEntry[]) => entries.map((e) => `${e.method} ${e.path}`);

  const lifecycle = async (id: number) =>
    (
      await h.db.pool.query<{ to_state: string; cause: string; detail: Record<string, unknown> | null }>(
        `SELECT to_state, cause, detail FROM droplet_lifecycle_log WHERE droplet_id = $1 ORDER BY id`,
        [id],
      )
    ).rows;

  it('a single user_login wake: one DigitalOcean call (power_on), verified by the agent', async () => {
    const id = 41_000;
    const since = Date.now();
    const { handle } = await startWake(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-c0',
      dropletId: id,
      reason: 'user_login',
      timings,
    });
    expect(await handle.result()).toMatchObject({ outcome: 'healthy' });
    expect(calls(requestsSince(since))).toEqual([`POST /v2/droplets/${id}/actions`]);
    expect(await lifecyclePath(h.db, id)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
    await replayAndRecord('wake-droplet-calls-floor', await handle.fetchHistory());
  });

  it('a single hibernation: two calls (shutdown, one look at its action)', async () => {
    const id = 41_001;
    await eventually(
      async () =>
        (await h.db.pool.query('SELECT last_heartbeat_at FROM droplets WHERE id = $1', [id])).rows[0],
      (r) => r?.last_heartbeat_at !== null,
    );
    const since = Date.now();
    const { handle } = await startHibernate(h.temporal.client, h.taskQueue, {
      workspaceId: 'ws-c1',
      dropletId: id,
      reason: 'admin_request',
      gracefulTimeoutMs: 5_000,
      timings,
    });
    expect(await handle.result()).toMatchObject({ outcome: 'hibernated' });
    expect(calls(requestsSince(since))).toEqual([
      `POST /v2/droplets/${id}/actions`,
      expect.stringMatching(/^GET \/v2\/actions\/\d+$/),
    ]);
    expect(h.fleet.digitalocean.getDroplet(id)?.status).toBe('off');
    await replayAndRecord('hibernate-droplet-calls-floor', await handle.fetchHistory());
  });

  it(
    'a cohort of 8 scheduled wakes: one bulk action; the member it did not start and the ones that ' +
      'never came up are retried singly and end verified or FAILED, each with its own lifecycle',
    async () => {
      const ids = Array.from({ length: 8 }, (_, i) => 41_100 + i);
      const [neverUp, upOnRetry, bulkErrored, alreadyOn] = [ids[4]!, ids[5]!, ids[6]!, ids[7]!];
      const normal = ids.slice(0, 4);
      h.fleet.digitalocean.setFault({ kind: 'neverBoots', dropletId: neverUp });
      h.fleet.digitalocean.setFault({ kind: 'neverBoots', dropletId: upOnRetry });
      h.fleet.digitalocean.setFault({ kind: 'actionErrored', dropletId: bulkErrored, times: 1 });
      const since = Date.now();
      const started = await Promise.all(
        ids.map((dropletId, i) =>
          startWake(h.temporal.client, h.taskQueue, {
            workspaceId: `ws-c${100 + i}`,
            dropletId,
            reason: 'scheduled_campaign',
            timings,
          }),
        ),
      );
      const handleOf = (id: number) => started[ids.indexOf(id)]!.handle;
      // the droplet whose boot "fixes itself" once its wake found the agent missing and looked up the action
      await eventually(
        () => handleOf(upOnRetry).query(powerStatusQuery),
        (s) => s.phase === 'looking_up_action' || s.phase === 'retrying',
        { what: 'the never-booted droplet looked up', timeoutMs: 30_000, intervalMs: 50 },
      );
      h.fleet.digitalocean.clearFaults(upOnRetry);

      const results = await Promise.all(
        ids.map((id) =>
          handleOf(id)
            .result()
            .then(
              () => 'ok',
              () => 'failed',
            ),
        ),
      );
      expect(Object.fromEntries(ids.map((id, i) => [id, results[i]]))).toEqual(
        Object.fromEntries(ids.map((id) => [id, id === neverUp ? 'failed' : 'ok'])),
      );

      // one cohort of all seven, its tag deleted
      const cohorts = (
        await h.db.pool.query<{ tag: string; members: string[]; started: string[]; deleted_at: Date | null }>(
          `SELECT tag, members, started, deleted_at FROM power_cohorts ORDER BY id`,
        )
      ).rows;
      expect(cohorts).toHaveLength(1);
      const [cohort] = cohorts;
      expect(cohort!.members.map(Number).sort()).toEqual(ids);
      // the bulk answer's action for the droplet already on ended errored at once: not started
      expect(cohort!.started.map(Number).sort()).toEqual(ids.filter((id) => id !== alreadyOn));
      expect(cohort!.deleted_at).not.toBeNull();
      expect(h.fleet.digitalocean.getTag(cohort!.tag)).toBeUndefined();

      // the cohort's own calls: 4 for 8 droplets; then a single action for the member it did not
      // start (answered "already powered on"), one look and one single retry for each of the three
      // that did not come up (two never booted, one action errored)
      const log = requestsSince(since);
      const cohortCalls = calls(log).filter((c) => /\/v2\/tags|\/v2\/droplets\/actions$/.test(c));
      expect(cohortCalls).toEqual([
        'POST /v2/tags',
        `POST /v2/tags/${cohort!.tag}/resources`,
        'POST /v2/droplets/actions',
        `DELETE /v2/tags/${cohort!.tag}`,
      ]);
      const singles = calls(log).filter((c) => /^POST \/v2\/droplets\/\d+\/actions$/.test(c));
      expect(singles.sort()).toEqual(
        [alreadyOn, bulkErrored, neverUp, upOnRetry].map((id) => `POST /v2/droplets/${id}/actions`).sort(),
      );
      // the three looks arrive together: one GET /v2/actions page (or one GET each, at most)
      const lookups = calls(log).filter((c) => c.startsWith('GET /v2/actions'));
      expect(lookups.length).toBeGreaterThanOrEqual(1);
      expect(lookups.length).toBeLessThanOrEqual(3);
      expect(log.length).toBeLessThanOrEqual(4 + 4 + 3);
      process.stdout.write(`calls per operation: cohort of ${ids.length} wakes with faults ${log.length}\n`);

      // each droplet: its own workflow, its own lifecycle, the cohort named where it powered it
      for (const id of normal) {
        expect((await handleOf(id).describe()).workflowId).toBe(workflowIds.power(id));
        expect(await lifecycle(id)).toEqual([
          expect.objectContaining({ to_state: 'WAKING' }),
          expect.objectContaining({ to_state: 'ACTIVE_HEALTHY', detail: { cohort: cohort!.tag } }),
        ]);
        expect((await handleOf(id).query(powerStatusQuery)).cohort).toBe(cohort!.tag);
        expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(1);
      }
      expect(await lifecycle(upOnRetry)).toEqual([
        expect.objectContaining({ to_state: 'WAKING' }),
        expect.objectContaining({
          to_state: 'ACTIVE_HEALTHY',
          detail: { cohort: cohort!.tag, retried: true },
        }),
      ]);
      expect(await lifecyclePath(h.db, neverUp)).toEqual(['WAKING', 'FAILED']);
      await replayAndRecord('wake-droplet-cohort-retried', await handleOf(upOnRetry).fetchHistory());
      expect(await lifecycle(bulkErrored)).toEqual([
        expect.objectContaining({ to_state: 'WAKING' }),
        expect.objectContaining({
          to_state: 'ACTIVE_HEALTHY',
          detail: { cohort: cohort!.tag, retried: true },
        }),
      ]);
      expect(await lifecyclePath(h.db, alreadyOn)).toEqual(['WAKING', 'ACTIVE_HEALTHY']);
      // two power_ons (the bulk one, the single retry) for those that did not come up
      for (const id of [neverUp, upOnRetry, bulkErrored])
        expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(2);
      // the errored-at-once action of the bulk answer, and no other: the single one was refused
      expect(h.fleet.digitalocean.actionCount(alreadyOn, 'power_on')).toBe(1);
    },
  );

  it('a clean cohort: 6 scheduled wakes cost 4 calls in all, then 6 scheduled hibernations 4 + one batched look', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => 41_200 + i);
    const cohortsBefore = (await h.db.pool.query('SELECT id FROM power_cohorts')).rowCount ?? 0;
    let since = Date.now();
    const wakes = await Promise.all(
      ids.map((dropletId, i) =>
        startWake(h.temporal.client, h.taskQueue, {
          workspaceId: `ws-c${200 + i}`,
          dropletId,
          reason: 'scheduled_campaign',
          timings,
        }),
      ),
    );
    const woken = await Promise.all(wakes.map((w) => w.handle.result()));
    expect(woken.map((r) => r.outcome)).toEqual(ids.map(() => 'healthy'));
    const wakeCalls = calls(requestsSince(since));
    expect(wakeCalls).toEqual([
      'POST /v2/tags',
      expect.stringMatching(/^POST \/v2\/tags\/genesis-cohort-\d+\/resources$/),
      'POST /v2/droplets/actions',
      expect.stringMatching(/^DELETE \/v2\/tags\/genesis-cohort-\d+$/),
    ]);

    since = Date.now();
    const hibernations = await Promise.all(
      ids.map((dropletId, i) =>
        startHibernate(h.temporal.client, h.taskQueue, {
          workspaceId: `ws-c${200 + i}`,
          dropletId,
          reason: 'scheduled',
          gracefulTimeoutMs: 5_000,
          timings,
        }),
      ),
    );
    const slept = await Promise.all(hibernations.map((w) => w.handle.result()));
    expect(slept.map((r) => r.outcome)).toEqual(ids.map(() => 'hibernated'));
    const hibernateCalls = calls(requestsSince(since));
    expect(hibernateCalls).toEqual([
      'POST /v2/tags',
      expect.stringMatching(/^POST \/v2\/tags\/genesis-cohort-\d+\/resources$/),
      'POST /v2/droplets/actions',
      expect.stringMatching(/^DELETE \/v2\/tags\/genesis-cohort-\d+$/),
      'GET /v2/actions',
    ]);
    for (const id of ids) {
      expect(h.fleet.digitalocean.getDroplet(id)?.status).toBe('off');
      expect(h.fleet.digitalocean.actionCount(id, 'power_on')).toBe(1);
      expect(h.fleet.digitalocean.actionCount(id, 'shutdown')).toBe(1);
    }
    expect((await h.db.pool.query('SELECT id FROM power_cohorts')).rowCount).toBe(cohortsBefore + 2);
    process.stdout.write(
      `calls per operation: cohort of ${ids.length} wakes ${wakeCalls.length} (${(wakeCalls.length / ids.length).toFixed(2)}/wake), ` +
        `hibernations ${hibernateCalls.length} (${(hibernateCalls.length / ids.length).toFixed(2)}/hibernation)\n`,
    );
  });

  it('looking up six shutdowns sent 700 actions ago costs 4 pages of GET /v2/actions, not a GET each', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => 41_200 + i);
    const shutdowns = (
      await h.db.pool.query<{ action_id: string }>(
        `SELECT action_id FROM power_actions WHERE droplet_id = ANY($1::bigint[]) AND type = 'shutdown'
         ORDER BY action_id`,
        [ids],
      )
    ).rows.map((r) => Number(r.action_id));
    expect(shutdowns).toHaveLength(6);
    // 700 newer actions in the account (droplets only the simulator knows: one bulk power_cycle)
    for (let i = 0; i < 700; i++)
      h.fleet.digitalocean.addDroplet({ id: 90_000 + i, status: 'active', tags: ['noise'] });
    const noise = await h.deps.digitalocean!.bulkDropletAction('noise', 'power_cycle');
    expect(noise).toHaveLength(700);
    expect(Math.min(...noise.map((a) => a.id!))).toBeGreaterThan(Math.max(...shutdowns));

    const mark = h.fleet.digitalocean.requestLog().length;
    const looks = await Promise.all(
      shutdowns.map((id) => h.deps.powerCohorts!.lookup('default', id, 'bulk')),
    );
    expect(looks.map((a) => [a?.id, a?.status])).toEqual(shutdowns.map((id) => [id, 'completed']));
    // the six are 701st to 706th from the newest: page 4 of 200. The old choice (2 pages, then
    // one GET each) cost 2 + 6
    const lookupCalls = calls(h.fleet.digitalocean.requestLog().slice(mark));
    expect(lookupCalls).toEqual(Array(4).fill('GET /v2/actions'));
    process.stdout.write(
      `calls per operation: lookup of ${shutdowns.length} actions 700 back ${lookupCalls.length}\n`,
    );
  });
});
