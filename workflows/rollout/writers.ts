/** The fleet rollout's two writers to Postgres, each one write at a time. */
import { condition } from '@temporalio/workflow';
import type { TargetResult } from '../../src/domain/rollout';

/** Outcomes are written to Postgres in batches of this many (and at the end of every wave). */
export const RECORD_BATCH = 25;

/** Buffers tenants' outcomes and writes them in batches; one write at a time. */
export class ResultRecorder {
  private readonly buffer: TargetResult[] = [];
  private writing: Promise<void> | undefined;

  constructor(private readonly record: (results: TargetResult[]) => Promise<void>) {}

  async add(result: TargetResult): Promise<void> {
    this.buffer.push(result);
    if (this.buffer.length >= RECORD_BATCH && !this.writing) {
      this.writing = this.write().finally(() => (this.writing = undefined));
    }
  }

  /** Every outcome added so far written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    await this.write();
  }

  private async write(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, 200);
      await this.record(batch);
    }
  }
}

/**
 * The one writer of the rollout's status row while it runs (paused/running): a loop of the main
 * flow that writes the workflow's state whenever it changed, one write at a time, so the row
 * ends where the workflow is (a pause then a quick resume ends `running`, whatever order two
 * concurrent writes would have landed in). Handlers call `changed()` and wait for their write.
 */
export class StatusRowWriter {
  private wanted = 0;
  private written = 0;
  private failure: unknown;

  /** `write` writes the row as the workflow's state is at the time of the call. */
  constructor(private readonly write: () => Promise<void>) {}

  /** Marks the state changed; settles once a write that includes the change committed. */
  async changed(): Promise<void> {
    const seq = ++this.wanted;
    await condition(() => this.written >= seq || this.failure !== undefined);
    if (this.written < seq) throw this.failure;
  }

  start(): void {
    const loop = async () => {
      for (;;) {
        await condition(() => this.written < this.wanted);
        const seq = this.wanted;
        await this.write();
        this.written = seq;
      }
    };
    loop().catch((err: unknown) => (this.failure = err));
  }

  /** Every change written (or the writer failed: thrown), before continue-as-new or the end. */
  async flushed(): Promise<void> {
    await condition(() => this.written >= this.wanted || this.failure !== undefined);
    if (this.written < this.wanted) throw this.failure;
  }
}
