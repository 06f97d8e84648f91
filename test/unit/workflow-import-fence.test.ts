/**
 * The ESLint fence around workflows/ holds by folder: a workflow file at any depth
 * (workflows/x.ts, workflows/power/x.ts) may import src/domain/ and activity *types*, nothing with
 * I/O. Lints real workflow files with probe imports added, through the project's own config.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');
// The CLI in a child process: the flat config is ESM, which jest's module sandbox cannot load.
const bin = join(root, 'node_modules/eslint/bin/eslint.js');

jest.setTimeout(120_000);

interface LintResult {
  filePath: string;
  messages: { ruleId: string | null; message: string; line: number }[];
}

function lint(args: string[], stdin?: string): LintResult[] {
  const r = spawnSync(process.execPath, [bin, '--format', 'json', ...args], {
    cwd: root,
    input: stdin,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`eslint exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as LintResult[];
}

const fenced = (results: LintResult[]) =>
  results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'no-restricted-imports'));

/** The lines (1-based, of the probes) the fence refused when the probes head the file. */
function refusedProbeLines(file: string, probes: string[]): number[] {
  const text = `${probes.join('\n')}\n${readFileSync(join(root, file), 'utf8')}`;
  return fenced(lint(['--stdin', '--stdin-filename', file], text))
    .map((m) => m.line)
    .filter((l) => l <= probes.length);
}

describe('workflows/ import fence', () => {
  it('refuses I/O imports from a nested workflow file, allows domain and type imports', () => {
    const probes = [
      "import { createPool } from '../../src/db/pool';",
      "import { createActivities } from '../../activities';",
      "import { SidecarClient } from '../../src/sidecar/client';",
      "import { readFileSync } from 'node:fs';",
      "import type { Activities } from '../../activities';",
      "import { WAKE_REASONS } from '../../src/domain/power';",
      "import type { Pool } from '../../src/db/pool';",
      "import { searchAttributes } from '../../contracts/search-attributes';",
    ];
    expect(refusedProbeLines('workflows/power/input.ts', probes)).toEqual([1, 2, 3, 4]);
  });

  it('refuses them from a top-level workflow file too', () => {
    const probes = [
      "import { createPool } from '../src/db/pool';",
      "import type { Pool } from '../src/db/pool';",
    ];
    expect(refusedProbeLines('workflows/watchdog.ts', probes)).toEqual([1]);
  });

  it('holds for the workflow files as they are', () => {
    expect(fenced(lint(['workflows/']))).toEqual([]);
  });
});
