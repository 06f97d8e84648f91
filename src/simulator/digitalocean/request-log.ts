/**
 * The simulator's record of requests, so tests can ask "how many requests in any 60 s window?".
 * A ring buffer: a long-running demo keeps only the newest `capacity` entries.
 */
import { maxInAnyWindow } from './rate-limiter';

export interface RequestLogEntry {
  /** Arrival time, epoch ms. */
  at: number;
  method: string;
  path: string;
  status: number;
  userAgent: string;
  /** Carried a valid token (only these count toward a token's limit). */
  authenticated: boolean;
  /** The account of the token, when it was valid. */
  account?: string;
}

export class RequestLog {
  private readonly ring: RequestLogEntry[] = [];
  private next = 0;
  total = 0;
  readonly byStatus: Record<string, number> = {};

  constructor(private readonly capacity: number) {}

  add(entry: RequestLogEntry): void {
    this.total += 1;
    this.byStatus[entry.status] = (this.byStatus[entry.status] ?? 0) + 1;
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  entries(): RequestLogEntry[] {
    if (this.ring.length < this.capacity) return this.ring.slice();
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  maxInWindow(windowMs: number, filter: (e: RequestLogEntry) => boolean = (e) => e.authenticated): number {
    const times = this.entries()
      .filter(filter)
      .map((e) => e.at)
      .sort((a, b) => a - b);
    return maxInAnyWindow(times, windowMs);
  }
}
