/**
 * Stand-in worker processes hammering the DigitalOcean simulator through a real client and the
 * Redis budget (test/fixtures/digitalocean-budget-worker.ts), for the budget and accounts tests.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { BudgetWorkerConfig, BudgetWorkerReport } from '../fixtures/digitalocean-budget-worker';

export type { BudgetWorkerConfig, BudgetWorkerReport };

const WORKER = join(__dirname, '..', 'fixtures', 'digitalocean-budget-worker.ts');
const SWC_REQUIRE = join(__dirname, '..', 'fixtures', 'swc-require.js');

export interface BudgetWorker {
  name: string;
  /** asks it to stop and returns what it saw */
  stop(): Promise<BudgetWorkerReport>;
}

const children = new Set<ChildProcess>();

/** SIGKILLs every worker still running (afterAll). */
export function killBudgetWorkers(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}

/** Starts a worker; resolves once it is sending requests. */
export async function startBudgetWorker(cfg: BudgetWorkerConfig): Promise<BudgetWorker> {
  const [w] = await startBudgetWorkers([cfg]);
  return w!;
}

/**
 * Starts the workers and lets them all begin at once, once every one of them is ready (a worker
 * forked late on a loaded machine would otherwise find a small window already spent by the others).
 */
export async function startBudgetWorkers(cfgs: BudgetWorkerConfig[]): Promise<BudgetWorker[]> {
  const ready = await Promise.all(cfgs.map((cfg) => forkBudgetWorker(cfg)));
  for (const w of ready) w.child.send('go');
  return ready.map((w) => w.worker);
}

async function forkBudgetWorker(
  cfg: BudgetWorkerConfig,
): Promise<{ child: ChildProcess; worker: BudgetWorker }> {
  const child = fork(WORKER, [JSON.stringify(cfg)], {
    execArgv: ['--require', SWC_REQUIRE],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  let report: BudgetWorkerReport | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.on('message', (msg) => {
      if (msg === 'ready') resolve();
      else report = msg as BudgetWorkerReport;
    });
    child.once('exit', (code) => reject(new Error(`worker ${cfg.name} exited early with ${code}`)));
  });
  const worker: BudgetWorker = {
    name: cfg.name,
    async stop() {
      child.send('stop');
      const code = await exited;
      children.delete(child);
      if (code !== 0 || !report) throw new Error(`worker ${cfg.name} ended with ${code}`);
      return report;
    },
  };
  return { child, worker };
}
