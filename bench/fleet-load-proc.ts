/**
 * bench:fleet-load's process sampler: CPU time (utime + stime from /proc/<pid>/stat, including the
 * process's threads: libuv, V8 GC, Temporal's core) and resident memory (VmRSS from
 * /proc/<pid>/status), sampled every second. CPU is reported as CPU seconds per wall second over
 * the measured window, which a shared machine's contention affects far less than a %CPU snapshot.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

export interface ProcSample {
  at: number;
  cpuS: number;
  rssBytes: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start at state (field 3)
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { at: performance.now(), cpuS: (utime + stime) / TICKS_PER_S, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

export interface ProcSummary {
  /** CPU seconds per wall second over the window (1 = one core) */
  cores: number;
  rssMeanBytes: number;
  rssMaxBytes: number;
  rssEndBytes: number;
}

/** Samples one process every `everyMs` between start() and stop(). */
export class ProcSampler {
  private samples: ProcSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    private readonly everyMs = 1_000,
  ) {}

  start(): void {
    this.samples = [];
    this.take();
    this.timer = setInterval(() => this.take(), this.everyMs);
  }

  stop(): ProcSummary {
    clearInterval(this.timer);
    this.take();
    const s = this.samples;
    const first = s[0];
    const last = s[s.length - 1];
    if (!first || !last || last === first)
      return { cores: NaN, rssMeanBytes: NaN, rssMaxBytes: NaN, rssEndBytes: NaN };
    const rss = s.map((x) => x.rssBytes);
    return {
      cores: (last.cpuS - first.cpuS) / ((last.at - first.at) / 1000),
      rssMeanBytes: rss.reduce((a, b) => a + b, 0) / rss.length,
      rssMaxBytes: Math.max(...rss),
      rssEndBytes: last.rssBytes,
    };
  }

  private take(): void {
    const x = sampleProc(this.pid);
    if (x) this.samples.push(x);
  }
}

/** The machine's load (1, 5, 15 min) from /proc/loadavg. */
export function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
