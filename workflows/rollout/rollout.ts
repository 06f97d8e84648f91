/**
 * The fleet rollout's state and transitions (the workflow, ./fleet-rollout.ts, is the shell: its
 * handlers delegate here in one line and its main flow calls these steps in order).
 *
 * What the class holds: `state`, carried from run to run by continue-as-new (the plan, the next
 * wave, pause, the stop reason, totals, the last waves and failures), and what lives only in this
 * run: the wave running now, an abort or halt that arrived during it, the children in flight.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  allowedFailures,
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
  type WaveProgress,
} from '../../src/domain/rollout';
import { abortSignal } from '../../contracts/changes';
import { RolloutHalted } from '../../contracts/rollout';
import { rolloutDbPolicy } from '../policies';
import { runBounded } from './bounded';
import { rollbackTenant, updateTenant } from './tenants';
import { ResultRecorder, StatusRowWriter } from './writers';

const {
  planRollout,
  startRolloutWave,
  finishRolloutWave,
  recordRolloutResults,
  rolloutSucceededTargets,
  setRolloutStatus,
  moveRolloutDesired,
  revertRolloutDesired,
} =
  proxyActivities<
    Pick<
      Activities,
      | 'planRollout'
      | 'startRolloutWave'
      | 'finishRolloutWave'
      | 'recordRolloutResults'
      | 'rolloutSucceededTargets'
      | 'setRolloutStatus'
      | 'moveRolloutDesired'
      | 'revertRolloutDesired'
    >
  >(rolloutDbPolicy);

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
  /** the desired state this rollout moved was put back (after a halt or an abort) */
  desiredReverted?: boolean;
}

/** Until the plan is stored (the first run's first step) the state is an empty plan. */
/** The workflow's signature as the next run sees it (fleet-rollout.ts; not imported: no circle). */
type NextRun = (input: FleetRolloutInput, carried: FleetRolloutState) => Promise<FleetRolloutResult>;

export function initialRolloutState(): FleetRolloutState {
  return {
    plan: { totalTenants: 0, totalWaves: 0, skipped: 0 },
    nextWave: 0,
    paused: false,
    rollbackAfter: 0,
    totals: { succeeded: 0, failed: 0, rolledBack: 0, skipped: 0 },
    waves: [],
    failures: [],
  };
}

/** Tenants rolled back per run (each is one child workflow). */
export const ROLLBACK_PAGE = MAX_WAVE_SIZE / 2;

type Request = { reason?: string; by?: string } | undefined;
const requestText = (what: string, req: Request) =>
  `${what}${req?.by ? ` by ${req.by}` : ''}${req?.reason ? `: ${req.reason}` : ''}`;

export class Rollout {
  readonly options: ReturnType<typeof rolloutDefaults>;
  readonly rolloutId: string;
  /** the wave running in this run, while it runs */
  private currentWave: WaveProgress | undefined;
  /** an `abort` update or a cancellation arrived in this run (its reason) */
  private abortRequested: string | undefined;
  /** the wave running now went over its failure budget (the reason) */
  private halted: string | undefined;
  /** finish() began: no handler may change anything any more */
  private finishing = false;
  private finished: FleetRolloutResult['status'] | undefined;
  /** workflow ids of the n8n updates running now (an abort or a halt signals them) */
  private readonly inFlight = new Set<string>();
  private readonly statusRow: StatusRowWriter;

  constructor(
    private readonly input: FleetRolloutInput,
    private readonly workflowId: string,
    /** carried by continue-as-new, or a fresh empty plan */
    readonly state: FleetRolloutState,
    /** the status row has one writer (patched(); older runs wrote from the handlers) */
    private readonly singleWriter: boolean,
    /** waves move desired state, a halt puts it back (patched(); older runs did not) */
    private readonly movesDesired = false,
  ) {
    this.options = rolloutDefaults(input);
    this.rolloutId = input.rolloutId;
    this.statusRow = new StatusRowWriter(() =>
      setRolloutStatus(
        this.state.paused
          ? { rolloutId: this.rolloutId, status: 'paused', reason: this.state.pauseReason ?? null }
          : { rolloutId: this.rolloutId, status: 'running', reason: null },
      ),
    );
  }

  // ---- what the handlers answer and do -------------------------------------------------------

  progress(): RolloutProgress {
    const { state: s, currentWave } = this;
    return {
      rolloutId: this.rolloutId,
      kind: this.input.kind,
      targetVersion: this.input.targetVersion,
      status: this.status(),
      reason: s.stop?.reason ?? this.halted ?? this.abortRequested ?? (s.paused ? s.pauseReason : undefined),
      totalTenants: s.plan.totalTenants,
      totalWaves: s.plan.totalWaves,
      currentWave: currentWave?.wave ?? (s.nextWave < s.plan.totalWaves ? s.nextWave : null),
      totals: { ...s.totals },
      waves: currentWave ? [...s.waves, currentWave] : [...s.waves],
      failures: [...s.failures],
    };
  }

  status(): RolloutStatusName {
    return (
      this.finished ??
      this.state.stop?.status ??
      (this.halted ? 'halted' : this.abortRequested ? 'aborted' : this.state.paused ? 'paused' : 'running')
    );
  }

  /** Halted or aborted, in this run or an earlier one: no tenant is started any more. */
  get stopping(): boolean {
    return this.state.stop !== undefined || this.halted !== undefined || this.abortRequested !== undefined;
  }

  get stopped(): FleetRolloutState['stop'] {
    return this.state.stop;
  }

  refusePause(): void {
    if (this.finishing || this.stopping) throw new Error(`the rollout is ${this.status()}; nothing to pause`);
    if (this.state.paused) throw new Error('the rollout is already paused');
  }

  async pause(req: Request): Promise<RolloutProgress> {
    this.state.paused = true;
    this.state.pauseReason = requestText('paused', req);
    if (this.singleWriter) await this.statusRow.changed();
    else
      await setRolloutStatus({ rolloutId: this.rolloutId, status: 'paused', reason: this.state.pauseReason });
    return this.progress();
  }

  refuseResume(): void {
    if (this.finishing || this.stopping)
      throw new Error(`the rollout is ${this.status()}; nothing to resume`);
    if (!this.state.paused) throw new Error('the rollout is not paused');
  }

  async resume(): Promise<RolloutProgress> {
    this.state.paused = false;
    this.state.pauseReason = undefined;
    if (this.singleWriter) await this.statusRow.changed();
    else await setRolloutStatus({ rolloutId: this.rolloutId, status: 'running' });
    return this.progress();
  }

  refuseAbort(): void {
    if (this.finishing || this.stopping) throw new Error(`the rollout is already ${this.status()}`);
  }

  abort(req: Request): RolloutProgress {
    this.requestAbort(requestText('aborted', req));
    return this.progress();
  }

  /** Cancelling the workflow (Web UI, `temporal workflow cancel`) means abort. */
  cancelled(): void {
    if (this.finishing || this.stopping) return;
    this.requestAbort('aborted: the workflow was cancelled');
  }

  private requestAbort(reason: string): void {
    this.abortRequested = reason;
    this.abortInFlight(reason);
  }

  // ---- the main flow's steps ------------------------------------------------------------------

  startStatusWriter(): void {
    if (this.singleWriter) this.statusRow.start();
  }

  /** The first run's first step: every target and its wave stored in Postgres. */
  async plan(): Promise<void> {
    const { input, options, rolloutId } = this;
    const { kind, targetVersion } = input;
    const p = await planRollout({
      rolloutId,
      kind,
      targetVersion,
      component: kind === 'n8n' ? 'n8n' : `workflow:${input.workflow!.workflowName}`,
      selector: input.selector,
      canarySize: options.canarySize,
      waveSize: options.waveSize,
      workflowId: this.workflowId,
      spec: {
        kind,
        targetVersion,
        workflowName: input.workflow?.workflowName,
        selector: input.selector,
        ...options,
        startedBy: input.startedBy,
      },
    });
    log.info('rollout planned', { rolloutId, ...p });
    this.state.plan = { totalTenants: p.totalTenants, totalWaves: p.totalWaves, skipped: p.skipped };
    this.state.totals.skipped = p.skipped;
  }

  /** Waits while paused; an abort ends the wait. */
  untilResumedOrAborted(): Promise<void> {
    return condition(() => !this.state.paused || this.abortRequested !== undefined);
  }

  /** An abort that arrived in this run becomes the rollout's stop (what remains is rolling back). */
  stopIfAbortRequested(): void {
    if (this.abortRequested) this.state.stop = { status: 'aborted', reason: this.abortRequested, wave: -1 };
  }

  get abortWasRequested(): boolean {
    return this.abortRequested !== undefined;
  }

  get wavesLeft(): boolean {
    return this.state.nextWave < this.state.plan.totalWaves;
  }

  /** One wave: each tenant through its own child, bounded, judged against the failure budget. */
  async runWave(wave: number): Promise<void> {
    const { state: s, options, rolloutId } = this;
    const size = waveSizeOf(wave, s.plan.totalTenants, options.canarySize, options.waveSize);
    const targets = await startRolloutWave({ rolloutId, wave, size });
    const allowed = allowedFailures(size, options.failureBudgetRatio);
    const progress: WaveProgress = {
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
    this.currentWave = progress;
    log.info('rollout wave starts', { rolloutId, wave, size, allowedFailures: allowed });
    const recorder = this.resultRecorder();

    await runBounded(
      targets,
      options.maxConcurrency,
      async () => {
        await condition(() => !s.paused || this.stopping);
        return !this.stopping;
      },
      async (target) => {
        progress.running++;
        const result = await updateTenant(this.input, target, wave, this.inFlight);
        progress.running--;
        if (result.status === 'succeeded') {
          progress.succeeded++;
          s.totals.succeeded++;
        } else if (result.status === 'skipped') {
          progress.skipped++;
          s.totals.skipped++;
        } else {
          progress.failed++;
          s.totals.failed++;
          this.remember({
            wave,
            workspaceId: target.workspaceId,
            dropletId: target.dropletId,
            reason: result.reason ?? '',
          });
          if (progress.failed > allowed && this.halted === undefined) {
            this.halted = `wave ${wave}${wave === 0 ? ' (canary)' : ''}: ${progress.failed} of ${size} tenants failed, budget ${allowed}; last: ${result.reason}`;
            log.warn('rollout halts', { rolloutId, wave, failed: progress.failed, allowed });
            this.abortInFlight(this.halted);
          }
        }
        await recorder.add(result);
      },
    );
    await recorder.flush();

    const stop = this.halted ?? this.abortRequested;
    progress.status = this.halted ? 'halted' : this.abortRequested ? 'aborted' : 'succeeded';
    await finishRolloutWave({ rolloutId, wave, status: progress.status });
    if (this.movesDesired && progress.status === 'succeeded') await this.moveDesired(wave);
    s.waves = [...s.waves, progress].slice(-ROLLOUT_KEEP_WAVES);
    this.currentWave = undefined;
    if (stop !== undefined) s.stop = { status: this.halted ? 'halted' : 'aborted', reason: stop, wave };
    else s.nextWave = wave + 1;
  }

  /**
   * Between waves: after the canary without autoPromote, the next run waits for `resume` (the
   * promotion, which replaces the timed pause); otherwise pauseBetweenWavesMs of bake time, which
   * an abort ends.
   */
  async betweenWaves(): Promise<void> {
    const { state: s, options } = this;
    if (s.nextWave === 1 && !options.autoPromote) {
      if (!s.paused) {
        s.paused = true;
        s.pauseReason = 'canary passed; waiting for resume (promotion)';
        if (this.singleWriter)
          this.statusRow.changed().catch(() => undefined); // written before continue-as-new
        else await setRolloutStatus({ rolloutId: this.rolloutId, status: 'paused', reason: s.pauseReason });
      }
    } else if (options.pauseBetweenWavesMs > 0) {
      await condition(() => this.abortRequested !== undefined, options.pauseBetweenWavesMs);
    }
  }

  /**
   * A halted or aborted rollout leaves desired state as it was: before its first rollback page,
   * what its passed waves moved is put back (scope 'rollout'; with scope 'wave' the passed waves
   * keep the version, and their desired state with it).
   */
  async revertDesiredState(): Promise<void> {
    const { state: s, options } = this;
    if (!this.movesDesired || s.desiredReverted || options.rollbackScope !== 'rollout') return;
    await revertRolloutDesired(this.rolloutId);
    s.desiredReverted = true;
  }

  /** The tenants of a passed wave (-1: those the plan skipped, at completion) move to the version. */
  private async moveDesired(wave: number): Promise<void> {
    const { input } = this;
    await moveRolloutDesired({
      rolloutId: this.rolloutId,
      component: input.kind === 'n8n' ? 'n8n' : `workflow:${input.workflow!.workflowName}`,
      version: input.targetVersion,
      workflow:
        input.kind === 'workflow'
          ? { workflowJson: input.workflow!.workflowJson, credentialMap: input.workflow!.credentialMap }
          : undefined,
      wave,
    });
  }

  /** One page of rollbacks (of this wave's or every wave's tenants, by rollbackScope); true when more remain. */
  async rollbackPage(): Promise<boolean> {
    const { state: s, options, rolloutId } = this;
    const stop = s.stop!;
    const wave = options.rollbackScope === 'wave' ? stop.wave : undefined;
    if (wave !== undefined && wave < 0) return false;
    const page = await rolloutSucceededTargets({
      rolloutId,
      wave,
      afterDropletId: s.rollbackAfter,
      limit: ROLLBACK_PAGE,
    });
    if (page.length === 0) return false;
    log.info('rollout rolls back', { rolloutId, tenants: page.length, scope: options.rollbackScope });
    const recorder = this.resultRecorder();
    await runBounded(
      page,
      options.maxConcurrency,
      async () => true,
      async (target) => {
        const result = await rollbackTenant(this.input, target);
        if (result.status === 'rolled_back') {
          s.totals.succeeded--;
          s.totals.rolledBack++;
        } else if (result.status === 'failed') {
          s.totals.succeeded--;
          s.totals.failed++;
          this.remember({
            wave: stop.wave,
            workspaceId: target.workspaceId,
            dropletId: target.dropletId,
            reason: result.reason ?? '',
          });
        }
        await recorder.add(result);
      },
    );
    await recorder.flush();
    s.rollbackAfter = page[page.length - 1]!.dropletId;
    return page.length === ROLLBACK_PAGE;
  }

  /** Ends this run and carries the state into the next one. */
  async continueAsNew(): Promise<never> {
    await condition(allHandlersFinished);
    if (this.singleWriter) await this.statusRow.flushed();
    // An abort (update or cancel) that arrived while waiting above must reach the next run: a
    // cancel does not carry over to it, and `abortRequested` is this run's. Without this the next
    // run starts paused after the canary and waits for a resume that never comes.
    if (this.abortRequested !== undefined && !this.state.stop)
      this.state.stop = { status: 'aborted', reason: this.abortRequested, wave: -1 };
    return continueAsNew<NextRun>(this.input, this.state);
  }

  /** Ends the rollout: the final status written last; a halt fails the workflow with RolloutHalted. */
  async finish(status: FleetRolloutResult['status'], reason?: string): Promise<FleetRolloutResult> {
    const { state: s, rolloutId } = this;
    this.finishing = true;
    await condition(allHandlersFinished);
    // The final status is written last: nothing of the status writer may land after it.
    if (this.singleWriter) await this.statusRow.flushed();
    // every wave passed: the tenants the plan skipped (hibernated, not healthy, already there) are
    // to run the version too; the reconciler brings each when it can (a hibernated one at its wake)
    if (this.movesDesired && status === 'completed') await this.moveDesired(-1);
    await setRolloutStatus({ rolloutId, status, reason: reason ?? null });
    this.finished = status;
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

  /** n8n updates in flight roll themselves back on `abort`; workflow updates just finish. */
  private abortInFlight(reason: string): void {
    if (this.input.kind !== 'n8n') return;
    for (const id of this.inFlight) {
      getExternalWorkflowHandle(id)
        .signal(abortSignal, { reason: `rollout ${this.rolloutId} ${reason}` })
        .catch(() => undefined); // it finished meanwhile
    }
  }

  private remember(failure: RolloutFailure): void {
    this.state.failures = [...this.state.failures, failure].slice(-ROLLOUT_KEEP_FAILURES);
  }

  private resultRecorder(): ResultRecorder {
    return new ResultRecorder((results) => recordRolloutResults({ rolloutId: this.rolloutId, results }));
  }
}
