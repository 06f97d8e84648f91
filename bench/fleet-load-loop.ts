/**
 * Preloaded (`--require`) by bench:fleet-load into a server process that serves no /metrics (the
 * worker role): its own event-loop delay, every 15 s, as JSON lines {p99Ms, maxMs} appended to
 * BENCH_LOOP_FILE (the histogram is reset after each line, like prom-client's per scrape).
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const out = process.env.BENCH_LOOP_FILE;
if (out) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  setInterval(() => {
    appendFileSync(
      out,
      `${JSON.stringify({ at: Date.now(), p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 })}\n`,
    );
    h.reset();
  }, 15_000).unref();
}
