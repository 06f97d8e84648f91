/**
 * One timer for the whole simulated fleet: a min-heap of due tasks and a single setTimeout armed at
 * the earliest one. Thousands of agents' heartbeats, boots and command delays cost one timer and
 * O(log n) per event, instead of one setInterval per agent.
 *
 * Tasks due within `batchMs` of each other run in the same wake-up. Cancelled tasks stay in the heap
 * until they come up (lazy deletion). `close()` drops everything and clears the timer.
 */
export interface ScheduledTask {
  cancel(): void;
}

interface Entry {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler {
  private readonly heap: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private seq = 0;
  private closed = false;
  /** tasks run so far (for stats) */
  ran = 0;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly batchMs = 2,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  get size(): number {
    return this.heap.length;
  }

  at(due: number, fn: () => void): ScheduledTask {
    const entry: Entry = { due, seq: this.seq++, fn, cancelled: false };
    if (this.closed) return { cancel: () => {} };
    this.push(entry);
    if (this.heap[0] === entry) this.arm();
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  after(ms: number, fn: () => void): ScheduledTask {
    return this.at(this.clock() + Math.max(0, ms), fn);
  }

  /** Resolves after `ms` (never, once the scheduler is closed). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.after(ms, resolve);
    });
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
  }

  private arm(): void {
    const top = this.heap[0];
    if (!top || this.closed) return;
    if (this.timer && top.due >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = top.due;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, top.due - this.clock()));
    this.timer = setTimeout(() => this.run(), delay);
  }

  private run(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const limit = this.clock() + this.batchMs;
    while (!this.closed && this.heap.length > 0 && this.heap[0]!.due <= limit) {
      const entry = this.pop();
      if (entry.cancelled) continue;
      this.ran++;
      try {
        entry.fn();
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
