/**
 * Structural comparison of JSON values for contract tests against recorded exchanges: same field
 * names and same JSON types, recursively; the values themselves (ids, timestamps, durations) may
 * differ.
 *
 *   - types: null, boolean, number, string, array, object (integer vs fraction is not a type);
 *   - objects: the same set of keys, unless the path is listed in `open` (then `actual` may carry
 *     keys `expected` lacks, as an n8n object does; every key of `expected` must still be there);
 *   - arrays: element by element when both have the same length; otherwise every element of
 *     `actual` against the first of `expected`; an empty array on either side matches any array
 *     (the recording says nothing about its elements).
 *
 * Paths are written `$.result.workflow.nodes[0].id`; `open` entries use the same form without
 * indices for arrays (`$.result.workflow.nodes[]`).
 */
export interface ShapeOptions {
  /** object paths where `actual` may have extra keys */
  open?: readonly string[];
}

type JsonType = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'undefined' | 'other';

export function jsonType(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'boolean':
    case 'number':
    case 'string':
    case 'object':
    case 'undefined':
      return typeof v as JsonType;
    default:
      return 'other';
  }
}

/** Every difference in shape, as "<path>: <what>"; empty when the shapes agree. */
export function shapeDifferences(expected: unknown, actual: unknown, opts: ShapeOptions = {}): string[] {
  const out: string[] = [];
  const open = new Set(opts.open ?? []);
  const walk = (e: unknown, a: unknown, path: string, pattern: string) => {
    const te = jsonType(e);
    const ta = jsonType(a);
    if (te !== ta) {
      out.push(`${path}: expected ${te}, got ${ta}`);
      return;
    }
    if (te === 'array') {
      const ea = e as unknown[];
      const aa = a as unknown[];
      if (ea.length === 0 || aa.length === 0) return;
      aa.forEach((item, i) =>
        walk(ea.length === aa.length ? ea[i] : ea[0], item, `${path}[${i}]`, `${pattern}[]`),
      );
      return;
    }
    if (te === 'object') {
      const eo = e as Record<string, unknown>;
      const ao = a as Record<string, unknown>;
      for (const k of Object.keys(eo)) {
        if (!(k in ao)) out.push(`${path}.${k}: missing`);
        else walk(eo[k], ao[k], `${path}.${k}`, `${pattern}.${k}`);
      }
      if (!open.has(pattern)) {
        for (const k of Object.keys(ao)) if (!(k in eo)) out.push(`${path}.${k}: not in the recording`);
      }
    }
  };
  walk(expected, actual, '$', '$');
  return out;
}

/** True when `actual` has the shape of `expected` (see shapeDifferences). */
export function sameShape(expected: unknown, actual: unknown, opts: ShapeOptions = {}): boolean {
  return shapeDifferences(expected, actual, opts).length === 0;
}
