/** Waits for a condition that a synchronous read can see (a simulator's state, a counter). */
export async function waitFor<T>(
  fn: () => T | undefined | false,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
