/**
 * One worker per task queue of the control plane (contracts/task-queues.ts), run and stopped as
 * one: the supervisor, /health and the tests see a single worker. If one of them fails, the others
 * are shut down and run() rejects with the first failure once all have stopped.
 */
import type { State, Worker } from '@temporalio/worker';

/** What the supervisor and tests use of a worker: a Temporal Worker or a WorkerSet. */
export interface RunnableWorker {
  run(): Promise<void>;
  shutdown(): void;
  getState(): State;
}

export class WorkerSet implements RunnableWorker {
  constructor(readonly workers: ReadonlyMap<string, Worker>) {
    if (workers.size === 0) throw new Error('a worker set needs at least one worker');
  }

  async run(): Promise<void> {
    let failure: { err: unknown } | undefined;
    await Promise.all(
      [...this.workers.values()].map((w) =>
        w.run().catch((err: unknown) => {
          failure ??= { err };
          this.shutdown();
        }),
      ),
    );
    if (failure) throw failure.err;
  }

  shutdown(): void {
    for (const w of this.workers.values()) if (w.getState() === 'RUNNING') w.shutdown();
  }

  /** RUNNING only when every worker runs; otherwise the state of the first one that does not. */
  getState(): State {
    for (const w of this.workers.values()) if (w.getState() !== 'RUNNING') return w.getState();
    return 'RUNNING';
  }
}
