/**
 * The module graph of the sources, read with the TypeScript compiler's parser: no import circle
 * (neither among the modules loaded at run time nor through type imports), and no value import of
 * a workflow file outside workflows/ (`import type` and imports of types only are erased by the
 * compiler and allowed there).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = join(__dirname, '../..');
const FOLDERS = ['contracts', 'src', 'workflows', 'activities', 'bench'];

interface Edge {
  to: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'generated' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function resolveRelative(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const c of [`${base}.ts`, join(base, 'index.ts'), base])
    if (existsSync(c) && statSync(c).isFile() && c.endsWith('.ts')) return c;
  return undefined;
}

/** Relative imports and re-exports of a file, each marked type-only when the compiler erases it. */
export function importsOf(file: string): Edge[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const edges: Edge[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean) => {
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
    const to = resolveRelative(file, spec.text);
    if (to) edges.push({ to, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings : undefined;
      const typeOnly =
        !!c &&
        (c.isTypeOnly ||
          (!c.name && !!named && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause : undefined;
      const typeOnly =
        node.isTypeOnly ||
        (!!named && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

const rel = (f: string) => relative(root, f);
const inWorkflows = (f: string) => rel(f).startsWith('workflows/');

const files = FOLDERS.flatMap((d) => sources(join(root, d)));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

/**
 * Every circle, each once, as its files (Tarjan's strongly connected components): of the whole
 * graph, or of the modules loaded at run time only (type-only imports left out).
 */
function circles(withTypes: boolean): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const { to, typeOnly } of graph.get(v) ?? []) {
      if ((typeOnly && !withTypes) || !graph.has(to)) continue;
      if (!idx.has(to)) {
        strong(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, idx.get(to)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(rel(w));
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).some((e) => e.to === v && (withTypes || !e.typeOnly));
      if (scc.length > 1 || selfLoop) out.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
  return out;
}

describe('module graph', () => {
  it('reads the sources (the scanner finds the imports it must judge)', () => {
    expect(files.length).toBeGreaterThan(100);
    const client = graph.get(join(root, 'src/client/index.ts'))!;
    expect(client.map((e) => rel(e.to))).toContain('contracts/index.ts');
    // a type-only import is told apart from a value import
    const wake = graph.get(join(root, 'workflows/power/wake-droplet.ts'))!;
    expect(wake.find((e) => rel(e.to) === 'workflows/power/hard-reboot.ts')?.typeOnly).toBe(false);
    const drain = graph.get(join(root, 'workflows/heartbeat-drain.ts'))!;
    expect(drain.find((e) => rel(e.to) === 'activities/index.ts')?.typeOnly).toBe(true);
  });

  it('has no import circle, type imports included', () => {
    expect(circles(false)).toEqual([]);
    expect(circles(true)).toEqual([]);
  });

  it('has no value import of a workflow file outside workflows/', () => {
    const offenders = [...graph].flatMap(([from, edges]) =>
      inWorkflows(from)
        ? []
        : edges.filter((e) => !e.typeOnly && inWorkflows(e.to)).map((e) => `${rel(from)} -> ${rel(e.to)}`),
    );
    expect(offenders).toEqual([]);
  });

  it('contracts/ loads nothing of the project but contracts/ and src/domain/', () => {
    const offenders = [...graph].flatMap(([from, edges]) =>
      rel(from).startsWith('contracts/')
        ? edges
            .filter((e) => !/^(contracts|src\/domain)\//.test(rel(e.to)))
            .map((e) => `${rel(from)} -> ${rel(e.to)}`)
        : [],
    );
    expect(offenders).toEqual([]);
  });
});
