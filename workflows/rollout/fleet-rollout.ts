/**
 * Fleet rollout: an n8n image tag or an n8n workflow version pushed to many tenants.
 *
 *   plan (once, in Postgres: every target and its wave; canary = wave 0)
 *   for each wave, one per run:
 *     wait while paused -> update each tenant through its own child workflow (n8nContainerUpdate or
 *     workflowUpdate), at most maxConcurrency at once -> judge the wave against its failure budget
 *     -> passed: pause between waves (after the canary, wait for `resume` unless autoPromote),
 *        continue as new with the next wave
 *     -> over budget (halt) or `abort`: stop starting tenants, abort the in-flight ones, roll back
 *        what the rollout changed (this wave's, or every wave's, by rollbackScope), one page per run
 *
 * History stays bounded: one wave (at most MAX_WAVE_SIZE children) or one rollback page per run,
 * the full record lives in Postgres (rollouts, rollout_waves, rollout_targets). Children outlive a
 * terminated rollout (ABANDON): an update half-way through still finishes its own gate or rollback.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import {
  allowedFailures,
  invalidFleetRollout,
  MAX_WAVE_SIZE,
  ROLLOUT_KEEP_FAILURES,
  ROLLOUT_KEEP_WAVES,
  rolloutDefaults,
  waveSizeOf,
  type FleetRolloutInput,
  type FleetRolloutResult,
  type RolloutFailure,
  type RolloutProgress,
  type RolloutStatusName,
  type RolloutTarget,
  type TargetResult,
  type WaveProgress,
} from '../../src/domain/rollout';
import { n8nContainerUpdate } from '../changes/n8n-container-update';
import { workflowUpdate } from '../changes/workflow-update';
import { requireValid } from '../changes/input';
import { abortSignal, changeIds } from '../../contracts/changes';
import {
  abortRolloutUpdate,
  pauseRolloutUpdate,
  resumeRolloutUpdate,
  RolloutHalted,
  rolloutIds,
  rolloutProgressQuery,
} from '../../contracts/rollout';
import { searchAttributes } from '../../contracts/search-attributes';
import { rolloutDb } from './activities';
import { childFailureMessage, runBounded } from './bounded';

/** Carried from run to run by continue-as-new. */
export interface FleetRolloutState {
  plan: { totalTenants: number; totalWaves: number; skipped: number };
  nextWave: number;
  paused: boolean;
  pauseReason?: string;
  /** set once the rollout halted or was aborted: what remains is rolling back */
  stop?: { status: 'halted' | 'aborted'; reason: string; wave: number };
  /** rollback cursor: droplets up to this id are done */
  rollbackAfter: number;
  totals: RolloutProgress['totals'];
  waves: WaveProgress[];
  failures: RolloutFailure[];
}

/**
 * patched() id: the rollout's status row has one writer, the status writer of the main flow; the
 * pause/resume handlers only change the workflow's state (and wait until it is written). Runs
 * recorded before had the handlers write through their own activities.
 */
const PATCH_SINGLE_STATUS_WRITER = 'rollout-single-status-writer';

/** Tenants rolled back per run (each is one child workflow). */
const ROLLBACK_PAGE = MAX_WAVE_SIZE / 2;
/** Outcomes are written to Postgres in batches of this many (and at the end of every wave). */
const RECORD_BATCH = 25;

export async function fleetRollout(
  input: FleetRolloutInput,
  carried?: FleetRolloutState,
): Promise<FleetRolloutResult> {
  requireValid(input, invalidFleetRollout);
  const o = rolloutDefaults(input);
  const { rolloutId, kind, targetVersion } = input;
  const { workflowId } = workflowInfo();

  // Handlers are registered before the first await, so a pause or abort sent right after the start
  // is never refused; until the plan is stored the state is an empty plan.
  const s: FleetRolloutState = carried ?? {
    plan: { totalTenants: 0, totalWaves: 0, skipped: 0 },
    nextWave: 0,
    paused: false,
    rollbackAfter: 0,
    totals: { succeeded: 0, failed: 0, rolledBack: 0, skipped: 0 },
    waves: [],
    failures: [],
  };
  let current: WaveProgress | undefined;
  let abortRequested: string | undefined;
  let halted: string | undefined;
  let finishing = false;
  const inFlight = new Set<string>();
  const singleWriter = patched(PATCH_SINGLE_STATUS_WRITER);
  const row = statusRowWriter();

  const progress = (): RolloutProgress => ({
    rolloutId,
    kind,
    targetVersion,
    status: statusNow(),
    reason: s.stop?.reason ?? halted ?? abortRequested ?? (s.paused ? s.pauseReason : undefined),
    totalTenants: s.plan.totalTenants,
    totalWaves: s.plan.totalWaves,
    currentWave: current?.wave ?? (s.nextWave < s.plan.totalWaves ? s.nextWave : null),
    totals: { ...s.totals },
    waves: current ? [...s.waves, current] : [...s.waves],
    failures: [...s.failures],
  });
  let finished: FleetRolloutResult['status'] | undefined;
  const statusNow = (): RolloutStatusName =>
    finished ??
    s.stop?.status ??
    (halted ? 'halted' : abortRequested ? 'aborted' : s.paused ? 'paused' : 'running');
  const stopping = () => s.stop !== undefined || halted !== undefined || abortRequested !== undefined;

  setHandler(rolloutProgressQuery, progress);
  setHandler(
    pauseRolloutUpdate,
    async (req) => {
      s.paused = true;
      s.pauseReason = `paused${req?.by ? ` by ${req.by}` : ''}${req?.reason ? `: ${req.reason}` : ''}`;
      if (singleWriter) await row.changed();
      else await rolloutDb.setRolloutStatus({ rolloutId, status: 'paused', reason: s.pauseReason });
      return progress();
    },
    {
      validator: (_req) => {
        if (finishing || stopping()) throw new Error(`the rollout is ${statusNow()}; nothing to pause`);
        if (s.paused) throw new Error('the rollout is already paused');
      },
    },
  );
  setHandler(
    resumeRolloutUpdate,
    async (_req) => {
      s.paused = false;
      s.pauseReason = undefined;
      if (singleWriter) await row.changed();
      else await rolloutDb.setRolloutStatus({ rolloutId, status: 'running' });
      return progress();
    },
    {
      validator: (_req) => {
        if (finishing || stopping()) throw new Error(`the rollout is ${statusNow()}; nothing to resume`);
        if (!s.paused) throw new Error('the rollout is not paused');
      },
    },
  );
  setHandler(
    abortRolloutUpdate,
    (req) => {
      abortRequested = `aborted${req?.by ? ` by ${req.by}` : ''}${req?.reason ? `: ${req.reason}` : ''}`;
      abortInFlight(abortRequested);
      return progress();
    },
    {
      validator: (_req) => {
        if (finishing || stopping()) throw new Error(`the rollout is already ${statusNow()}`);
      },
    },
  );

  // Cancelling the workflow (Web UI, `temporal workflow cancel`) means abort: the run goes on,
  // shielded, aborting in-flight updates and rolling back like the `abort` update.
  CancellationScope.current().cancelRequested.catch(() => {
    if (finishing || stopping()) return;
    abortRequested = 'aborted: the workflow was cancelled';
    abortInFlight(abortRequested);
  });
  return CancellationScope.nonCancellable(() => {
    if (singleWriter) row.start();
    return step();
  });

  /** One step per run: a wave, or a page of rollbacks; then continue as new or finish. */
  async function step(): Promise<FleetRolloutResult> {
    if (!carried) await plan();

    if (!s.stop) {
      await condition(() => !s.paused || abortRequested !== undefined);
      if (abortRequested) s.stop = { status: 'aborted', reason: abortRequested, wave: -1 };
      else if (s.nextWave < s.plan.totalWaves) await runWave(s.nextWave);
    }

    if (s.stop) {
      const more = await rollbackPage();
      if (more) return next();
      return finish(s.stop.status, s.stop.reason);
    }
    if (s.nextWave >= s.plan.totalWaves) return finish('completed');

    // Between waves: after the canary without autoPromote, the next run waits for `resume` (the
    // promotion, which replaces the timed pause); otherwise pauseBetweenWavesMs of bake time.
    if (s.nextWave === 1 && !o.autoPromote) {
      if (!s.paused) {
        s.paused = true;
        s.pauseReason = 'canary passed; waiting for resume (promotion)';
        if (singleWriter)
          row.changed().catch(() => undefined); // written before continue-as-new
        else await rolloutDb.setRolloutStatus({ rolloutId, status: 'paused', reason: s.pauseReason });
      }
    } else if (o.pauseBetweenWavesMs > 0) {
      await condition(() => abortRequested !== undefined, o.pauseBetweenWavesMs);
    }
    if (abortRequested) s.stop = { status: 'aborted', reason: abortRequested, wave: -1 };
    return next();
  }

  async function plan(): Promise<void> {
    const p = await rolloutDb.planRollout({
      rolloutId,
      kind,
      targetVersion,
      component: kind === 'n8n' ? 'n8n' : `workflow:${input.workflow!.workflowName}`,
      selector: input.selector,
      canarySize: o.canarySize,
      waveSize: o.waveSize,
      workflowId,
      spec: {
        kind,
        targetVersion,
        workflowName: input.workflow?.workflowName,
        selector: input.selector,
        ...o,
        startedBy: input.startedBy,
      },
    });
    log.info('rollout planned', { rolloutId, ...p });
    s.plan = { totalTenants: p.totalTenants, totalWaves: p.totalWaves, skipped: p.skipped };
    s.totals.skipped = p.skipped;
  }

  async function runWave(wave: number): Promise<void> {
    const size = waveSizeOf(wave, s.plan.totalTenants, o.canarySize, o.waveSize);
    const targets = await rolloutDb.startRolloutWave({ rolloutId, wave, size });
    const allowed = allowedFailures(size, o.failureBudgetRatio);
    const w: WaveProgress = {
      wave,
      canary: wave === 0,
      size,
      running: 0,
      succeeded: 0,
      failed: 0,
      rolledBack: 0,
      skipped: 0,
      status: 'running',
    };
    current = w;
    log.info('rollout wave starts', { rolloutId, wave, size, allowedFailures: allowed });
    const recorder = resultRecorder();

    await runBounded(
      targets,
      o.maxConcurrency,
      async () => {
        await condition(() => !s.paused || stopping());
        return !stopping();
      },
      async (t) => {
        w.running++;
        const r = await updateTenant(t, wave);
        w.running--;
        if (r.status === 'succeeded') {
          w.succeeded++;
          s.totals.succeeded++;
        } else if (r.status === 'skipped') {
          w.skipped++;
          s.totals.skipped++;
        } else {
          w.failed++;
          s.totals.failed++;
          remember({ wave, workspaceId: t.workspaceId, dropletId: t.dropletId, reason: r.reason ?? '' });
          if (w.failed > allowed && halted === undefined) {
            halted = `wave ${wave}${wave === 0 ? ' (canary)' : ''}: ${w.failed} of ${size} tenants failed, budget ${allowed}; last: ${r.reason}`;
            log.warn('rollout halts', { rolloutId, wave, failed: w.failed, allowed });
            abortInFlight(halted);
          }
        }
        await recorder.add(r);
      },
    );
    await recorder.flush();

    const stop = halted ?? abortRequested;
    w.status = halted ? 'halted' : abortRequested ? 'aborted' : 'succeeded';
    await rolloutDb.finishRolloutWave({ rolloutId, wave, status: w.status });
    s.waves = [...s.waves, w].slice(-ROLLOUT_KEEP_WAVES);
    current = undefined;
    if (stop !== undefined) s.stop = { status: halted ? 'halted' : 'aborted', reason: stop, wave };
    else s.nextWave = wave + 1;
  }

  async function updateTenant(t: RolloutTarget, wave: number): Promise<TargetResult> {
    const base = { workspaceId: t.workspaceId, dropletId: t.dropletId };
    if (kind === 'n8n' && !t.fromVersion)
      return { ...base, status: 'skipped', reason: 'n8n tag not recorded' };
    const childId = childIdOf(t);
    inFlight.add(childId);
    try {
      if (kind === 'n8n') {
        await n8nChild(t, childId, t.fromVersion!, targetVersion, `${t.fromVersion}->${targetVersion}`, wave);
      } else {
        await workflowChild(t, childId, input.workflow!.workflowJson, targetVersion);
      }
      return { ...base, status: 'succeeded', workflowId: childId };
    } catch (err) {
      return { ...base, status: 'failed', reason: childFailureMessage(err) };
    } finally {
      inFlight.delete(childId);
    }
  }

  /** One tenant's n8nContainerUpdate child, from -> to: the rollout's update or its rollback. */
  function n8nChild(
    t: RolloutTarget,
    workflowId: string,
    fromTag: string,
    toTag: string,
    reason: string,
    wave?: number,
  ) {
    return executeChild(n8nContainerUpdate, {
      workflowId,
      args: [
        {
          workspaceId: t.workspaceId,
          dropletId: t.dropletId,
          fromTag,
          toTag,
          autoPromote: true,
          verifyWindowMs: input.n8n?.verifyWindowMs,
          verifyPollMs: input.n8n?.verifyPollMs,
          rolloutId,
          wave,
        },
      ],
      parentClosePolicy: 'ABANDON',
      typedSearchAttributes: searchAttributes({
        workspaceId: t.workspaceId,
        dropletId: t.dropletId,
        rolloutId,
        operation: 'n8n_update',
        reason,
      }),
    });
  }

  /** One tenant's workflowUpdate child: the rollout's version, or the previous one on rollback. */
  function workflowChild(
    t: RolloutTarget,
    workflowId: string,
    workflowJson: Record<string, unknown>,
    version: string,
    reason?: string,
  ) {
    const wf = input.workflow!;
    return executeChild(workflowUpdate, {
      workflowId,
      args: [
        {
          workspaceId: t.workspaceId,
          dropletId: t.dropletId,
          workflowName: wf.workflowName,
          workflowJson,
          version,
          credentialMap: wf.credentialMap,
        },
      ],
      parentClosePolicy: 'ABANDON',
      typedSearchAttributes: searchAttributes({
        workspaceId: t.workspaceId,
        dropletId: t.dropletId,
        rolloutId,
        operation: 'workflow_update',
        reason,
      }),
    });
  }

  function childIdOf(t: RolloutTarget): string {
    return kind === 'n8n'
      ? changeIds.n8nUpdate(t.dropletId, targetVersion)
      : changeIds.workflowUpdate(t.dropletId, input.workflow!.workflowName, targetVersion);
  }

  /** n8n updates in flight roll themselves back on `abort`; workflow updates just finish. */
  function abortInFlight(reason: string): void {
    if (kind !== 'n8n') return;
    for (const id of inFlight) {
      getExternalWorkflowHandle(id)
        .signal(abortSignal, { reason: `rollout ${rolloutId} ${reason}` })
        .catch(() => undefined); // it finished meanwhile
    }
  }

  /** One page of rollbacks; true when more remain. */
  async function rollbackPage(): Promise<boolean> {
    const stop = s.stop!;
    const wave = o.rollbackScope === 'wave' ? stop.wave : undefined;
    if (wave !== undefined && wave < 0) return false;
    const page = await rolloutDb.rolloutSucceededTargets({
      rolloutId,
      wave,
      afterDropletId: s.rollbackAfter,
      limit: ROLLBACK_PAGE,
    });
    if (page.length === 0) return false;
    log.info('rollout rolls back', { rolloutId, tenants: page.length, scope: o.rollbackScope });
    const recorder = resultRecorder();
    await runBounded(
      page,
      o.maxConcurrency,
      async () => true,
      async (t) => {
        const r = await rollbackTenant(t);
        if (r.status === 'rolled_back') {
          s.totals.succeeded--;
          s.totals.rolledBack++;
        } else if (r.status === 'failed') {
          s.totals.succeeded--;
          s.totals.failed++;
          remember({
            wave: stop.wave,
            workspaceId: t.workspaceId,
            dropletId: t.dropletId,
            reason: r.reason ?? '',
          });
        }
        await recorder.add(r);
      },
    );
    await recorder.flush();
    s.rollbackAfter = page[page.length - 1]!.dropletId;
    return page.length === ROLLBACK_PAGE;
  }

  async function rollbackTenant(t: RolloutTarget): Promise<TargetResult> {
    const base = { workspaceId: t.workspaceId, dropletId: t.dropletId };
    const workflowId = rolloutIds.rollback(rolloutId, t.dropletId);
    try {
      if (kind === 'n8n') {
        if (!t.fromVersion)
          return { ...base, status: 'succeeded', reason: 'not rolled back: previous tag unknown' };
        await n8nChild(
          t,
          workflowId,
          targetVersion,
          t.fromVersion,
          `rollback ${targetVersion}->${t.fromVersion}`,
        );
      } else {
        const tv = await rolloutDb.getTenantVersion({
          workspaceId: t.workspaceId,
          component: `workflow:${input.workflow!.workflowName}`,
        });
        const previous = tv?.previousArtifact?.workflow_json;
        if (!tv || tv.version !== targetVersion || !tv.previousVersion || typeof previous !== 'object')
          return { ...base, status: 'succeeded', reason: 'not rolled back: no previous version recorded' };
        await workflowChild(
          t,
          workflowId,
          previous as Record<string, unknown>,
          tv.previousVersion,
          'rollback',
        );
      }
      return { ...base, status: 'rolled_back', workflowId };
    } catch (err) {
      return { ...base, status: 'failed', reason: `rollback failed: ${childFailureMessage(err)}` };
    }
  }

  function remember(f: RolloutFailure): void {
    s.failures = [...s.failures, f].slice(-ROLLOUT_KEEP_FAILURES);
  }

  /** Buffers outcomes and writes them in batches; one write at a time. */
  function resultRecorder() {
    const buffer: TargetResult[] = [];
    let writing: Promise<void> | undefined;
    const write = async () => {
      while (buffer.length > 0) {
        const batch = buffer.splice(0, 200);
        await rolloutDb.recordRolloutResults({ rolloutId, results: batch });
      }
    };
    return {
      async add(r: TargetResult) {
        buffer.push(r);
        if (buffer.length >= RECORD_BATCH && !writing) {
          writing = write().finally(() => (writing = undefined));
        }
      },
      async flush() {
        while (writing) await writing;
        await write();
      },
    };
  }

  /**
   * The one writer of the rollout's status row while it runs (paused/running): a loop of the main
   * flow that writes the workflow's state whenever it changed, one write at a time, so the row
   * ends where the workflow is (a pause then a quick resume ends `running`, whatever order two
   * concurrent writes would have landed in). Handlers call `changed()` and wait for their write.
   */
  function statusRowWriter() {
    let wanted = 0;
    let written = 0;
    let failure: unknown;
    return {
      /** Marks the state changed; settles once a write that includes the change committed. */
      async changed(): Promise<void> {
        const seq = ++wanted;
        await condition(() => written >= seq || failure !== undefined);
        if (written < seq) throw failure;
      },
      start(): void {
        const loop = async () => {
          for (;;) {
            await condition(() => written < wanted);
            const seq = wanted;
            await rolloutDb.setRolloutStatus(
              s.paused
                ? { rolloutId, status: 'paused', reason: s.pauseReason ?? null }
                : { rolloutId, status: 'running', reason: null },
            );
            written = seq;
          }
        };
        loop().catch((err: unknown) => (failure = err));
      },
      /** Every change written (or the writer failed: thrown), before continue-as-new or the end. */
      async flushed(): Promise<void> {
        await condition(() => written >= wanted || failure !== undefined);
        if (written < wanted) throw failure;
      },
    };
  }

  async function next(): Promise<never> {
    await condition(allHandlersFinished);
    if (singleWriter) await row.flushed();
    // An abort (update or cancel) that arrived while waiting above must reach the next run: a
    // cancel does not carry over to it, and `abortRequested` is this run's. Without this the next
    // run starts paused after the canary and waits for a resume that never comes.
    if (abortRequested !== undefined && !s.stop)
      s.stop = { status: 'aborted', reason: abortRequested, wave: -1 };
    return continueAsNew<typeof fleetRollout>(input, s);
  }

  async function finish(status: FleetRolloutResult['status'], reason?: string): Promise<FleetRolloutResult> {
    finishing = true;
    await condition(allHandlersFinished);
    // The final status is written last: nothing of the status writer may land after it.
    if (singleWriter) await row.flushed();
    await rolloutDb.setRolloutStatus({ rolloutId, status, reason: reason ?? null });
    finished = status;
    log.info('rollout finished', { rolloutId, status, reason, ...s.totals });
    const result: FleetRolloutResult = {
      rolloutId,
      status,
      reason,
      totals: { ...s.totals },
      wavesRun: s.waves.length > 0 ? s.waves[s.waves.length - 1]!.wave + 1 : 0,
    };
    if (status === 'halted')
      throw ApplicationFailure.nonRetryable(`rollout ${rolloutId} halted: ${reason}`, RolloutHalted, result);
    return result;
  }
}

// Worker Versioning: long-running and continued as new, so it follows the deployment's current
// version (short operations stay PINNED, the workers' default). Changes to it must stay
// replay-compatible (patched()), which the recorded histories in test/fixtures check.
// Only a versioned worker may declare a behaviour (an unversioned one fails the task).
setWorkflowOptions(
  () =>
    workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {},
  fleetRollout,
);
