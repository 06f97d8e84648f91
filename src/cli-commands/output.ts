/** Human tables by default, JSON with --json: the CLI's one way to print results. */
export function print(rows: Record<string, unknown>[] | Record<string, unknown>, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const list = Array.isArray(rows) ? rows : [rows];
  if (list.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cols = [...new Set(list.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...list.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(cols.map((c) => c.toUpperCase()))}\n`);
  for (const r of list) process.stdout.write(`${line(cols.map((c) => cell(r[c])))}\n`);
}
