/**
 * genesis-cp update-n8n, update-sidecar (refused for v1 agents) and rollout start|status|pause|resume|abort|list. Same conventions as
 * the other operator commands: human tables, --json, exit 0 ok / 1 failed / 2 usage / 3 not found.
 */
import { readFileSync } from 'node:fs';
import { type Client, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { type Command, CommanderError } from 'commander';
import type { Config } from '../config';
import { listRollouts } from '../db/rollouts';
import {
  invalidFleetRollout,
  type FleetRolloutInput,
  type RolloutProgress,
  type RolloutSelector,
} from '../domain/rollout';
import { agentSelfUpdateRefusal, invalidN8nUpdate } from '../domain/changes';
import { listWorkspaceDroplets } from '../db/droplets';
import { startN8nUpdate } from '../temporal/change-starts';
import {
  abortRollout,
  pauseRollout,
  resumeRollout,
  RolloutIdUsedError,
  RolloutRequestRefusedError,
  rolloutProgress,
  startFleetRollout,
} from '../temporal/rollout-starts';
import { EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE, fail, withContext } from './operator';
import { print } from './output';
import { codecKeyError, EXIT_INTERRUPTED, interruption, isCodecKeyProblem, progressLine } from './progress';

const usage = (message: string) => new CommanderError(EXIT_USAGE, 'genesis-cp.usage', message);

function int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw usage(`${flag} must be a number`);
  return n;
}

interface StartOptions {
  id?: string;
  kind: string;
  version: string;
  image?: string;
  workflowName?: string;
  workflowFile?: string;
  all?: boolean;
  workspaces?: string;
  plan?: string;
  percentage?: string;
  canary?: string;
  waveSize?: string;
  concurrency?: string;
  failureBudget?: string;
  pauseBetweenMs?: string;
  verifyWindowMs?: string;
  manualPromote?: boolean;
  rollbackScope?: string;
  wait?: boolean;
  json?: boolean;
}

function selectorFrom(o: StartOptions): RolloutSelector {
  const chosen = [o.all, o.workspaces, o.plan, o.percentage].filter((v) => v !== undefined);
  if (chosen.length !== 1) throw usage('choose exactly one of --all, --workspaces, --plan, --percentage');
  if (o.all) return { all: true };
  if (o.workspaces)
    return {
      workspaceIds: o.workspaces
        .split(',')
        .map((w) => w.trim())
        .filter(Boolean),
    };
  if (o.plan) return { plan: o.plan };
  return { percentage: int(o.percentage, '--percentage')! };
}

export function rolloutInputFrom(o: StartOptions, now = new Date()): FleetRolloutInput {
  const input: FleetRolloutInput = {
    rolloutId: o.id ?? `r-${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}`,
    kind: o.kind as FleetRolloutInput['kind'],
    targetVersion: o.version,
    selector: selectorFrom(o),
    canarySize: int(o.canary, '--canary'),
    waveSize: int(o.waveSize, '--wave-size'),
    maxConcurrency: int(o.concurrency, '--concurrency'),
    failureBudgetRatio: int(o.failureBudget, '--failure-budget'),
    pauseBetweenWavesMs: int(o.pauseBetweenMs, '--pause-between-ms'),
    autoPromote: !o.manualPromote,
    rollbackScope: o.rollbackScope as FleetRolloutInput['rollbackScope'],
    startedBy: process.env.USER ? `cli:${process.env.USER}` : 'cli',
  };
  if (o.kind === 'sidecar') {
    throw fail(EXIT_FAILED, `refused: ${agentSelfUpdateRefusal([])}`);
  } else if (o.kind === 'n8n') {
    input.n8n = { verifyWindowMs: int(o.verifyWindowMs, '--verify-window-ms') };
  } else if (o.kind === 'workflow') {
    if (!o.workflowName || !o.workflowFile)
      throw usage('--workflow-name and --workflow-file are required for a workflow rollout');
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(o.workflowFile, 'utf8'));
    } catch (err) {
      throw usage(`--workflow-file: ${(err as Error).message}`);
    }
    input.workflow = { workflowName: o.workflowName, workflowJson: json as Record<string, unknown> };
  }
  const problem = invalidFleetRollout(input);
  if (problem) throw usage(`invalid rollout: ${problem}`);
  return input;
}

function progressRows(p: RolloutProgress, json: boolean): void {
  if (json) return print(p as unknown as Record<string, unknown>, true);
  print(
    {
      rollout: p.rolloutId,
      kind: p.kind,
      version: p.targetVersion,
      status: p.status,
      reason: p.reason ?? '-',
      tenants: p.totalTenants,
      waves: p.totalWaves,
      current_wave: p.currentWave ?? '-',
      succeeded: p.totals.succeeded,
      failed: p.totals.failed,
      rolled_back: p.totals.rolledBack,
      skipped: p.totals.skipped,
    },
    false,
  );
  if (p.waves.length)
    print(
      p.waves.map((w) => ({
        wave: w.canary ? `${w.wave} (canary)` : w.wave,
        size: w.size,
        running: w.running,
        succeeded: w.succeeded,
        failed: w.failed,
        status: w.status,
      })),
      false,
    );
  if (p.failures.length)
    print(
      p.failures.map((f) => ({
        wave: f.wave,
        workspace: f.workspaceId,
        droplet: f.dropletId,
        reason: f.reason,
      })),
      false,
    );
}

/** One line for --watch: status, wave, counts. */
export function watchLine(p: RolloutProgress): string {
  const wave = p.currentWave === null ? '-' : `${p.currentWave}/${p.totalWaves}`;
  const running = p.waves.reduce((n, w) => n + w.running, 0);
  return (
    `${p.status}${p.reason ? ` (${p.reason})` : ''}, wave ${wave}, ${p.totalTenants} tenants: ` +
    `${p.totals.succeeded} succeeded, ${running} running, ${p.totals.failed} failed, ` +
    `${p.totals.rolledBack} rolled back, ${p.totals.skipped} skipped`
  );
}

const readProgress = (client: Client, id: string, config: Config) =>
  steer(() => rolloutProgress(client, id)).catch((err: unknown) => {
    if (isCodecKeyProblem(err)) throw codecKeyError(`rollout ${id} exists`, !!config.codec.keys);
    throw err;
  });

/**
 * Prints a line (stderr) whenever the rollout's status, wave or counts change and returns its
 * progress once it has ended. Ctrl-C stops watching (exit 130); the rollout goes on.
 */
async function watchRollout(
  client: Client,
  id: string,
  config: Config,
  opts: { everyMs: number; quiet?: boolean },
): Promise<RolloutProgress> {
  const stop = interruption();
  try {
    let last = '';
    for (;;) {
      const p = await readProgress(client, id, config);
      const line = watchLine(p);
      if (line !== last && !opts.quiet) progressLine(`rollout ${id}: ${line}`);
      last = line;
      if (!['running', 'paused'].includes(p.status)) return p;
      const next = await Promise.race([
        new Promise<'tick'>((r) => setTimeout(() => r('tick'), opts.everyMs)),
        stop.interrupted,
      ]);
      if (next === 'interrupted') {
        process.stderr.write(
          `stopped watching; rollout ${id} keeps running (genesis-cp rollout status ${id})\n`,
        );
        throw new CommanderError(EXIT_INTERRUPTED, 'genesis-cp.interrupted', 'interrupted');
      }
    }
  } finally {
    stop.dispose();
  }
}

async function steer<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RolloutRequestRefusedError) throw fail(EXIT_FAILED, err.message);
    if (err instanceof WorkflowNotFoundError) throw fail(EXIT_NOT_FOUND, 'no such rollout');
    throw err;
  }
}

export function registerRolloutCommands(program: Command, loadConfig: () => Config): void {
  program
    .command('update-n8n <workspace> <tag>')
    .description(
      "blue-green update of a workspace's n8n container to n8nio/n8n:<tag> through the agent's SWAP_CONTAINER (joins a running one)",
    )
    .option('--manual-promote', 'wait at the gate for `promote`')
    .option(
      '--verify-window-ms <ms>',
      'health gate window (HEALTH_CHECK healthy + a keep-alive after the swap)',
    )
    .option('--json', 'JSON output')
    .action(
      (
        workspace: string,
        tag: string,
        o: { manualPromote?: boolean; verifyWindowMs?: string; json?: boolean },
      ) =>
        withContext(loadConfig, { pool: true, temporal: true }, async ({ pool, client, config }) => {
          const droplets = await listWorkspaceDroplets(pool!, workspace);
          if (droplets.length === 0) throw fail(EXIT_NOT_FOUND, `workspace ${workspace} has no droplet`);
          const out: Record<string, unknown>[] = [];
          for (const d of droplets) {
            if (d.n8nTag === tag) {
              out.push({ droplet: d.id, workflowId: '-', joined: false, note: `already on ${tag}` });
              continue;
            }
            const input = {
              workspaceId: workspace,
              dropletId: d.id,
              toTag: tag,
              autoPromote: !o.manualPromote,
              verifyWindowMs: int(o.verifyWindowMs, '--verify-window-ms'),
            };
            const problem = invalidN8nUpdate(input);
            if (problem) throw usage(`invalid update: ${problem}`);
            const s = await startN8nUpdate(client!, config.temporal.taskQueue, input);
            out.push({ droplet: input.dropletId, workflowId: s.workflowId, joined: s.joined, note: '' });
          }
          print(out, !!o.json);
        }),
    );

  program
    .command('update-sidecar <workspace> <version>')
    .description('update the agent itself: refused unless the agent advertises the self_update capability')
    .action((workspace: string) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const droplets = await listWorkspaceDroplets(pool!, workspace);
        if (droplets.length === 0) throw fail(EXIT_NOT_FOUND, `workspace ${workspace} has no droplet`);
        for (const d of droplets) {
          const refusal = agentSelfUpdateRefusal(d.capabilities);
          if (refusal) throw fail(EXIT_FAILED, `droplet ${d.id}: refused: ${refusal}`);
        }
        throw fail(EXIT_FAILED, 'refused: no agent update command exists in this control plane yet');
      }),
    );

  const rollout = program.command('rollout').description('fleet rollouts: canary, waves, failure budget');
  rollout
    .command('start')
    .description('start a fleet rollout (a retried start with the same --id joins it)')
    .requiredOption('--kind <kind>', "n8n (the n8n container's image tag) or workflow")
    .requiredOption('--version <version>', 'target version')
    .option('--id <id>', 'rollout id (default r-<utc timestamp>)')
    .option('--workflow-name <name>', 'n8n workflow name (kind workflow)')
    .option('--workflow-file <path>', 'n8n workflow JSON (kind workflow)')
    .option('--all', 'every tenant')
    .option('--workspaces <ids>', 'comma-separated workspace ids')
    .option('--plan <plan>', 'tenants on this plan')
    .option('--percentage <n>', 'a stable n % of tenants')
    .option('--canary <n>', 'canary size (default 10)')
    .option('--wave-size <n>', 'tenants per wave (default 100)')
    .option('--concurrency <n>', 'tenants at once (default 50 n8n, 100 workflow)')
    .option('--failure-budget <ratio>', 'failures tolerated per wave as a ratio (default 0.05)')
    .option('--pause-between-ms <ms>', 'bake time between waves')
    .option('--verify-window-ms <ms>', 'per-tenant health gate window (kind n8n)')
    .option('--manual-promote', 'pause after the canary until `rollout resume`')
    .option('--rollback-scope <scope>', 'rollout (default) or wave')
    .option('--wait', 'wait for the end (exit 1 unless completed)')
    .option('--json', 'JSON output')
    .action((o: StartOptions) =>
      withContext(loadConfig, { temporal: true }, async ({ client, config }) => {
        const input = rolloutInputFrom(o);
        let s;
        try {
          s = await startFleetRollout(client!, config.temporal.taskQueue, input);
        } catch (err) {
          if (err instanceof RolloutIdUsedError) throw fail(EXIT_FAILED, err.message);
          throw err;
        }
        const row: Record<string, unknown> = {
          rollout: input.rolloutId,
          workflowId: s.workflowId,
          joined: s.joined,
        };
        if (!o.wait) return print(row, !!o.json);
        try {
          // humans see the waves go by; --json prints only the final object
          if (!o.json) await watchRollout(client!, input.rolloutId, config, { everyMs: 2000 });
          const r = await s.handle.result();
          print({ ...row, status: r.status, ...r.totals }, !!o.json);
          if (r.status !== 'completed') throw fail(EXIT_FAILED, `rollout ${r.status}: ${r.reason ?? ''}`);
        } catch (err) {
          if (err instanceof WorkflowFailedError) throw fail(EXIT_FAILED, err.cause?.message ?? err.message);
          throw err;
        }
      }),
    );

  rollout
    .command('status <id>')
    .description('progress: per-wave counts, failures with reasons')
    .option('--watch', 'print a line on every change until the rollout ends (Ctrl-C stops watching)')
    .option('--interval-ms <ms>', 'how often --watch asks', '2000')
    .option('--json', 'JSON output')
    .action((id: string, o: { json?: boolean; watch?: boolean; intervalMs: string }) =>
      withContext(loadConfig, { temporal: true }, async ({ client, config }) => {
        if (!o.watch) return progressRows(await readProgress(client!, id, config), !!o.json);
        const p = await watchRollout(client!, id, config, {
          everyMs: int(o.intervalMs, '--interval-ms') ?? 2000,
          quiet: !!o.json,
        });
        progressRows(p, !!o.json);
        if (p.status !== 'completed') throw fail(EXIT_FAILED, `rollout ${p.status}: ${p.reason ?? ''}`);
      }),
    );

  for (const verb of ['pause', 'resume', 'abort'] as const) {
    rollout
      .command(`${verb} <id>`)
      .description(
        verb === 'pause'
          ? 'stop starting tenants (in-flight ones finish)'
          : verb === 'resume'
            ? 'continue a paused rollout (the promotion after a manual canary)'
            : 'stop, abort in-flight updates and roll back what the rollout changed',
      )
      .option('--reason <reason>', 'why (recorded)')
      .option('--json', 'JSON output')
      .action((id: string, o: { reason?: string; json?: boolean }) =>
        withContext(loadConfig, { temporal: true }, async ({ client }) => {
          const by = process.env.USER ? `cli:${process.env.USER}` : 'cli';
          const p = await steer(() =>
            verb === 'pause'
              ? pauseRollout(client!, id, { reason: o.reason, by })
              : verb === 'resume'
                ? resumeRollout(client!, id, { by })
                : abortRollout(client!, id, { reason: o.reason, by }),
          );
          progressRows(p, !!o.json);
        }),
      );
  }

  rollout
    .command('list')
    .description('recent rollouts from Postgres')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'JSON output')
    .action((o: { limit: string; json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const rows = await listRollouts(pool!, int(o.limit, '--limit') ?? 20);
        print(
          rows.map((r) => ({
            id: r.id,
            kind: r.kind,
            version: r.target_version,
            status: r.status,
            tenants: r.total_tenants,
            succeeded: r.succeeded,
            failed: r.failed,
            rolled_back: r.rolled_back,
            wave: r.current_wave ?? '-',
            created: r.created_at.toISOString(),
          })),
          !!o.json,
        );
      }),
    );
}
