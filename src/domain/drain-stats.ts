/** What a heartbeat drain run reports. Pure, shared by the drain activity and workflow. */
export interface DrainInput {
  consumer: string;
  runForMs: number;
  batchSize: number;
  blockMs: number;
  claimIdleMs: number;
}

export interface DrainStats {
  batches: number;
  entries: number;
  heartbeats: number;
  applied: number;
  unknown: number;
  duplicates: number;
  outOfOrder: number;
  malformed: number;
  claimed: number;
  remediationSignals: number;
  /** Milliseconds from a heartbeat's arrival in the stream to its commit, worst seen. */
  maxLagMs: number;
}

export function emptyDrainStats(): DrainStats {
  return {
    batches: 0,
    entries: 0,
    heartbeats: 0,
    applied: 0,
    unknown: 0,
    duplicates: 0,
    outOfOrder: 0,
    malformed: 0,
    claimed: 0,
    remediationSignals: 0,
    maxLagMs: 0,
  };
}

export function addDrainStats(a: DrainStats, b: DrainStats): DrainStats {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof DrainStats)[]) {
    out[k] = k === 'maxLagMs' ? Math.max(a[k], b[k]) : a[k] + b[k];
  }
  return out;
}
