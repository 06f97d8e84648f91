/**
 * Keeps this process's worker in line with its group's pause flag, without restarting the process:
 * paused -> the worker stops polling and in-flight activities finish within the grace time
 * (Worker.shutdown); resumed -> a new worker on the same connection starts polling again.
 * While paused, /health reports `paused` (readiness fails, liveness stays up).
 */
import type { RunnableWorker } from './worker-set';
import type { Logger } from '../logger';

export type SupervisedState =
  'STARTING' | 'RUNNING' | 'PAUSING' | 'PAUSED' | 'STOPPING' | 'STOPPED' | 'FAILED';

export class WorkerSupervisor {
  private worker?: RunnableWorker;
  private running?: Promise<void>;
  private state: SupervisedState = 'STARTING';
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private failure?: (err: unknown) => void;
  /** Settles when stop() finished; rejects if a worker fails by itself. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly opts: {
      create: () => Promise<RunnableWorker>;
      /** true when the group is paused; throws when the flag cannot be read (state kept). */
      isPaused: () => Promise<boolean>;
      pollMs: number;
      logger: Logger;
      group: string;
      /** Called before a worker is told to stop: lets long-running activities return early. */
      beforeStop?: () => void;
    },
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.failure = reject;
    });
  }

  /** Reads the flag once and starts (or stays paused), then keeps checking every pollMs. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
  }

  currentState(): SupervisedState {
    return this.state;
  }

  isPaused(): boolean {
    return this.state === 'PAUSED' || this.state === 'PAUSING';
  }

  currentWorker(): RunnableWorker | undefined {
    return this.worker;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.checking;
    this.state = 'STOPPING';
    await this.stopWorker();
    this.state = 'STOPPED';
    this.resolveDone();
  }

  private tick(): void {
    if (this.checking || this.stopped) return;
    this.checking = this.check().finally(() => (this.checking = undefined));
  }

  private async check(): Promise<void> {
    let paused: boolean;
    try {
      paused = await this.opts.isPaused();
    } catch (err) {
      this.opts.logger.warn(
        { err: (err as Error).message, group: this.opts.group },
        'cannot read pause flag; keeping state',
      );
      if (this.state === 'STARTING') paused = false;
      else return;
    }
    if (this.stopped) return;
    if (paused && this.worker) {
      this.state = 'PAUSING';
      this.opts.logger.warn(
        { group: this.opts.group },
        'worker group paused: stopping polling, finishing in-flight work',
      );
      await this.stopWorker();
      this.state = 'PAUSED';
      this.opts.logger.warn({ group: this.opts.group }, 'worker paused');
    } else if (paused && this.state === 'STARTING') {
      this.state = 'PAUSED';
      this.opts.logger.warn({ group: this.opts.group }, 'worker group is paused: not polling until resumed');
    } else if (!paused && !this.worker) {
      const worker = await this.opts.create();
      this.worker = worker;
      this.running = worker.run().catch((err: unknown) => {
        if (this.worker === worker && !this.stopped) {
          this.state = 'FAILED';
          this.failure?.(err);
        }
      });
      this.state = 'RUNNING';
      this.opts.logger.info({ group: this.opts.group }, 'worker polling');
    }
  }

  private async stopWorker(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.opts.beforeStop?.();
    if (w.getState() === 'RUNNING') w.shutdown();
    await this.running;
    this.worker = undefined;
    this.running = undefined;
  }
}
