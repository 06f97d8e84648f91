/**
 * The rules of the fleet rollout (workflows/rollout/) against stub activities: the rollout's
 * Postgres tables are an in-memory store here (a plan per rollout id, outcomes, the status row),
 * and every tenant's update is the real n8nContainerUpdate child on stub droplets that serve one
 * tag each; tenants in `broken` never pass HEALTH_CHECK on the rollout's version.
 */
import { Context } from '@temporalio/activity';
import {
  planWaves,
  type FleetRolloutInput,
  type RolloutTarget,
  type TargetResult,
} from '../../src/domain/rollout';
import { abortRolloutUpdate, resumeRolloutUpdate, rolloutIds, rolloutProgressQuery } from '../../contracts';
import type { FleetRolloutState } from '../../workflows/rollout/fleet-rollout';
import { ROLLBACK_PAGE } from '../../workflows/rollout/rollout';
import type { ActivityStubs } from '../helpers/stub-activities';
import { eventually } from '../helpers/temporal';
import { dropletRecord, failureOf, nowIso, stubWorkerPerFile, WORKSPACE } from './support';

jest.setTimeout(45_000);

const FROM = '1.0.0';
const TO = '1.1.0';

/** One rollout's rows: its plan (targets by wave), outcomes, status writes, wave starts with their run. */
interface RolloutRows {
  waves: RolloutTarget[][];
  results: Map<number, TargetResult>;
  statuses: { status: string; reason?: string | null }[];
  waveStarts: { wave: number; runId: string }[];
  /** waves whose tenants' desired state moved (-1: the skipped ones, at completion); reverts */
  desired: { moved: number[]; reverted: number };
}
const rollouts = new Map<string, RolloutRows>();
/** The tag each stub droplet is recorded with (what recordN8nTag last wrote). */
const recorded = new Map<number, string>();
const serving = new Map<number, string>();
const broken = new Set<number>();
/** Rollouts whose `paused` status writes wait for this promise. */
const heldPausedWrites = new Map<string, Promise<void>>();

const rows = (rolloutId: string) => rollouts.get(rolloutId)!;
const runId = () => Context.current().info.workflowExecution?.runId ?? '';

const stubs: ActivityStubs = {
  planRollout: (req) => {
    const r = rows(req.rolloutId);
    return { totalTenants: r.waves.flat().length, totalWaves: r.waves.length, skipped: 0, created: true };
  },
  startRolloutWave: (req) => {
    rows(req.rolloutId).waveStarts.push({ wave: req.wave, runId: runId() });
    return rows(req.rolloutId).waves[req.wave] ?? [];
  },
  recordRolloutResults: (req) => {
    for (const r of req.results) rows(req.rolloutId).results.set(r.dropletId, r);
  },
  finishRolloutWave: () => undefined,
  moveRolloutDesired: (req) => {
    rows(req.rolloutId).desired.moved.push(req.wave);
    return 0;
  },
  revertRolloutDesired: (rolloutId) => {
    rows(rolloutId).desired.reverted++;
    return 0;
  },
  setRolloutStatus: async (req) => {
    if (req.status === 'paused') await heldPausedWrites.get(req.rolloutId);
    rows(req.rolloutId).statuses.push({ status: req.status, reason: req.reason });
  },
  rolloutSucceededTargets: (req) =>
    rows(req.rolloutId)
      .waves.flatMap((targets, wave) => (req.wave === undefined || req.wave === wave ? targets : []))
      .filter(
        (t) =>
          t.dropletId > req.afterDropletId &&
          rows(req.rolloutId).results.get(t.dropletId)?.status === 'succeeded',
      )
      .sort((a, b) => a.dropletId - b.dropletId)
      .slice(0, req.limit),
  // the tenants' updates and rollbacks (n8nContainerUpdate children)
  getDropletRecord: (id) => dropletRecord(id, 'ACTIVE_HEALTHY'),
  recordedN8nTag: (id) => recorded.get(id) ?? null,
  transitionDroplet: () => ({ from: 'ACTIVE_HEALTHY', changed: true }),
  settleDroplet: () => ({ from: 'UPDATING', changed: true }),
  recordN8nTag: (req) => void recorded.set(req.dropletId, req.tag),
  sidecarSwapN8nContainer: (req) => void serving.set(req.dropletId, req.tag),
  sidecarHealthCheck: (id) =>
    broken.has(id) && serving.get(id) === TO
      ? { ok: false, error: 'n8n_status down' }
      : { ok: true, n8nStatus: 'healthy' },
  dropletHeartbeat: () => ({ lastHeartbeatAt: nowIso(), n8nStatus: 'healthy' }),
};
const ctx = stubWorkerPerFile('rollout-rules', stubs);

let nextDroplet = 84_000;
let nextRollout = 0;
/** A fleet of `total` tenants on FROM, planned in waves (canary first), and the rollout's input. */
function fleet(total: number, opts: Partial<FleetRolloutInput> & { canarySize: number; waveSize: number }) {
  const rolloutId = `rules-${Date.now()}-${nextRollout++}`;
  const tenants: RolloutTarget[] = Array.from({ length: total }, () => {
    const dropletId = nextDroplet++;
    recorded.set(dropletId, FROM);
    serving.set(dropletId, FROM);
    return { workspaceId: WORKSPACE, dropletId, fromVersion: FROM };
  });
  const waves: RolloutTarget[][] = [];
  let at = 0;
  for (const size of planWaves(total, opts.canarySize, opts.waveSize))
    waves.push(tenants.slice(at, (at += size)));
  rollouts.set(rolloutId, {
    waves,
    results: new Map(),
    statuses: [],
    waveStarts: [],
    desired: { moved: [], reverted: 0 },
  });
  const input: FleetRolloutInput = {
    rolloutId,
    kind: 'n8n',
    targetVersion: TO,
    n8n: { verifyWindowMs: 400, verifyPollMs: 100 },
    selector: { all: true },
    maxConcurrency: 4,
    ...opts,
  };
  return { rolloutId, tenants, waves, input };
}

function start(input: FleetRolloutInput, carried?: FleetRolloutState) {
  return ctx.start('fleetRollout', rolloutIds.rollout(input.rolloutId), carried ? [input, carried] : [input]);
}

/** The promise, or a failure naming what hung once `ms` passed. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung`)), ms)),
  );
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

const wavesStarted = (rolloutId: string) => rows(rolloutId).waveStarts.map((s) => s.wave);
const onVersion = (tenants: RolloutTarget[]) => tenants.map((t) => recorded.get(t.dropletId));

it.concurrent('every wave runs in its own run (continue-as-new), the totals carried to the end', async () => {
  const f = fleet(5, { canarySize: 1, waveSize: 2 });
  const result = await (await start(f.input)).result();
  expect(result).toMatchObject({ status: 'completed', wavesRun: 3, totals: { succeeded: 5, failed: 0 } });
  expect(wavesStarted(f.rolloutId)).toEqual([0, 1, 2]);
  expect(new Set(rows(f.rolloutId).waveStarts.map((s) => s.runId)).size).toBe(3);
  expect(onVersion(f.tenants)).toEqual(Array(5).fill(TO));
  expect(rows(f.rolloutId).statuses.at(-1)).toEqual({ status: 'completed', reason: null });
  // each passed wave moved its tenants' desired state, the completion the tenants the plan skipped
  expect(rows(f.rolloutId).desired).toEqual({ moved: [0, 1, 2, -1], reverted: 0 });
});

it.concurrent(
  'a halt after a passed wave puts back the desired state it moved, before its first rollback',
  async () => {
    const f = fleet(5, { canarySize: 2, waveSize: 3, failureBudgetRatio: 0 });
    broken.add(f.waves[1]![0]!.dropletId);
    const failure = await failureOf((await start(f.input)).result());
    expect(failure.type).toBe('RolloutHalted');
    expect(rows(f.rolloutId).desired).toEqual({ moved: [0], reverted: 1 });
    const order = ctx.w.calls
      .filter(
        (c) =>
          c.name === 'revertRolloutDesired' ||
          (c.name === 'sidecarSwapN8nContainer' &&
            (c.arg as { tag: string }).tag === FROM &&
            f.waves[0]!.some((t) => t.dropletId === (c.arg as { dropletId: number }).dropletId)),
      )
      .map((c) => c.name);
    expect(order[0]).toBe('revertRolloutDesired');
    expect(order.filter((n) => n === 'sidecarSwapN8nContainer')).toHaveLength(2); // the canary rolled back
  },
);

it.concurrent(
  'over its failure budget the canary halts the rollout (RolloutHalted): no later wave, the canary rolled back',
  async () => {
    // canary of 4 with budget 25 %: one failure allowed, the second halts
    const f = fleet(8, { canarySize: 4, waveSize: 4, failureBudgetRatio: 0.25 });
    broken.add(f.waves[0]![0]!.dropletId);
    broken.add(f.waves[0]![1]!.dropletId);
    const failure = await failureOf((await start(f.input)).result());
    expect(failure.type).toBe('RolloutHalted');
    expect(failure.message).toContain('wave 0 (canary): 2 of 4 tenants failed, budget 1');
    expect(wavesStarted(f.rolloutId)).toEqual([0]);
    expect(onVersion(f.tenants)).toEqual(Array(8).fill(FROM));
    expect(ctx.calls(f.waves[0]![3]!.dropletId, 'sidecarSwapN8nContainer').map((c) => c.arg)).toEqual([
      { dropletId: f.waves[0]![3]!.dropletId, tag: TO },
      { dropletId: f.waves[0]![3]!.dropletId, tag: FROM },
    ]);
    expect(rows(f.rolloutId).statuses.at(-1)?.status).toBe('halted');
  },
);

it.concurrent(
  'without autoPromote the rollout pauses after the canary until resumed (the promotion)',
  async () => {
    const f = fleet(4, { canarySize: 2, waveSize: 2, autoPromote: false });
    const handle = await start(f.input);
    const paused = await eventually(
      () => handle.query(rolloutProgressQuery),
      (p) => p.status === 'paused' && p.currentWave === 1,
      { what: 'the pause after the canary' },
    );
    expect(paused.reason).toBe('canary passed; waiting for resume (promotion)');
    await eventually(
      async () => rows(f.rolloutId).statuses.at(-1)?.status,
      (s) => s === 'paused',
      { what: 'the paused row' },
    );
    expect(wavesStarted(f.rolloutId)).toEqual([0]);
    await handle.executeUpdate(resumeRolloutUpdate, { args: [{ by: 'test' }] });
    expect(await handle.result()).toMatchObject({ status: 'completed', totals: { succeeded: 4 } });
    expect(wavesStarted(f.rolloutId)).toEqual([0, 1]);
  },
);

it.concurrent(
  'an abort during the bake between waves ends the bake at once and rolls back every tenant updated',
  async () => {
    const f = fleet(4, { canarySize: 2, waveSize: 2, pauseBetweenWavesMs: 120_000 });
    const handle = await start(f.input);
    await eventually(
      () => handle.query(rolloutProgressQuery),
      (p) => p.waves.length === 1 && p.currentWave === 1,
      { what: 'the canary done, the bake begun' },
    );
    const progress = await handle.executeUpdate(abortRolloutUpdate, {
      args: [{ reason: 'looks wrong', by: 'test' }],
    });
    expect(progress.status).toBe('aborted');
    const result = await within(20_000, 'the aborted rollout', handle.result());
    expect(result).toMatchObject({
      status: 'aborted',
      reason: 'aborted by test: looks wrong',
      totals: { rolledBack: 2 },
    });
    expect(wavesStarted(f.rolloutId)).toEqual([0]);
    expect(onVersion(f.tenants)).toEqual(Array(4).fill(FROM));
  },
);

it.concurrent(
  'rolls back one page per run: a full page continues as new and the next page starts after its last droplet',
  async () => {
    // as a run carries it: aborted, ROLLBACK_PAGE + 2 tenants succeeded, 3 of them with a previous tag to return to
    const f = fleet(ROLLBACK_PAGE + 2, { canarySize: 2, waveSize: ROLLBACK_PAGE });
    const withTag = [f.tenants[0]!, f.tenants[ROLLBACK_PAGE - 1]!, f.tenants[ROLLBACK_PAGE + 1]!];
    for (const t of f.tenants) {
      rows(f.rolloutId).results.set(t.dropletId, { ...t, status: 'succeeded' });
      if (!withTag.includes(t)) t.fromVersion = null; // previous tag unknown: nothing to roll back
      recorded.set(t.dropletId, TO);
    }
    const carried: FleetRolloutState = {
      plan: { totalTenants: f.tenants.length, totalWaves: 2, skipped: 0 },
      nextWave: 2,
      paused: false,
      stop: { status: 'aborted', reason: 'aborted by test', wave: -1 },
      rollbackAfter: 0,
      totals: { succeeded: f.tenants.length, failed: 0, rolledBack: 0, skipped: 0 },
      waves: [],
      failures: [],
    };
    const result = await (await start(f.input, carried)).result();
    expect(result).toMatchObject({
      status: 'aborted',
      totals: { rolledBack: 3, succeeded: f.tenants.length - 3 },
    });
    const pageCalls = ctx.w.calls
      .filter(
        (c) =>
          c.name === 'rolloutSucceededTargets' && (c.arg as { rolloutId: string }).rolloutId === f.rolloutId,
      )
      .map((c) => c.arg as { afterDropletId: number; limit: number });
    expect(pageCalls).toEqual([
      expect.objectContaining({ afterDropletId: 0, limit: ROLLBACK_PAGE }),
      expect.objectContaining({
        afterDropletId: f.tenants[ROLLBACK_PAGE - 1]!.dropletId,
        limit: ROLLBACK_PAGE,
      }),
    ]);
    expect(onVersion(withTag)).toEqual([FROM, FROM, FROM]);
  },
);

it.concurrent(
  'a cancel that arrives while the run waits to continue as new aborts the next run, which rolls back (never a hang)',
  async () => {
    const f = fleet(4, { canarySize: 2, waveSize: 2, autoPromote: false });
    // the write of the pause after the canary is held: the run waits for it before continuing as new
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    heldPausedWrites.set(f.rolloutId, held);
    const holding = () =>
      ctx.w.calls.some(
        (c) =>
          c.name === 'setRolloutStatus' &&
          (c.arg as { rolloutId: string; status: string }).rolloutId === f.rolloutId &&
          (c.arg as { status: string }).status === 'paused',
      );
    try {
      const handle = await start(f.input);
      await eventually(
        async () => holding(),
        (h) => h,
        { what: 'the held paused write' },
      );
      await handle.cancel();
      release();
      const result = await within(20_000, 'the cancelled rollout', handle.result());
      expect(result).toMatchObject({ status: 'aborted', reason: 'aborted: the workflow was cancelled' });
      expect(result.totals).toMatchObject({ rolledBack: 2 });
      expect(wavesStarted(f.rolloutId)).toEqual([0]);
      expect(onVersion(f.tenants)).toEqual(Array(4).fill(FROM));
    } finally {
      release();
    }
  },
);
