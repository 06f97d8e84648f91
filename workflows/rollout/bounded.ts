/** Deterministic bounded fan-out of the fleet rollout. */

/**
 * Runs fn over items with at most `limit` in flight. Before each item, `gate` may wait (pause) and
 * answers false to stop taking new items; items already started always finish.
 */
export async function runBounded<T>(
  items: readonly T[],
  limit: number,
  gate: () => Promise<boolean>,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      if (!(await gate())) return;
      if (next >= items.length) return;
      await fn(items[next++]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, lane));
}
