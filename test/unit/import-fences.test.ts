/**
 * The ESLint fences of eslint.config.mjs fail on a violation: for each fence, a real file of its
 * folder is linted with probe imports in front, through ESLint's Node API and the project's own
 * config (in a child process: the flat config is ESM, which jest's module sandbox cannot load).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');

jest.setTimeout(180_000);

interface Probe {
  file: string;
  refused: string[];
  allowed: string[];
}

const LINT = `
import { ESLint } from 'eslint';
const cases = JSON.parse(await new Promise((ok) => { let s = ''; process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => ok(s)); }));
const eslint = new ESLint({ cwd: process.cwd() });
const out = [];
for (const c of cases) {
  const [r] = await eslint.lintText(c.text, { filePath: c.file });
  out.push(r.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line));
}
process.stdout.write(JSON.stringify(out));
`;

/** For each probe set: the 1-based probe lines the fence refused. */
function refusedLines(probes: Probe[]): number[][] {
  const cases = probes.map((p) => ({
    file: join(root, p.file),
    text: `${[...p.refused, ...p.allowed].join('\n')}\n${readFileSync(join(root, p.file), 'utf8')}`,
  }));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', LINT], {
    cwd: root,
    input: JSON.stringify(cases),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`eslint failed (${r.status}): ${r.stderr}`);
  const lines = JSON.parse(r.stdout) as number[][];
  return lines.map((l, i) => [
    ...new Set(l.filter((n) => n <= probes[i]!.refused.length + probes[i]!.allowed.length)),
  ]);
}

const count = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

const probes: Probe[] = [
  {
    file: 'contracts/power.ts',
    refused: [
      "import { Client } from '@temporalio/client';",
      "import { defineSignal as ds } from '@temporalio/workflow';",
      "import { wakeDroplet } from '../workflows/power/wake-droplet';",
      "import { loadConfig } from '../src/config';",
      "import type { Config } from '../src/config';",
      "import { readFileSync } from 'node:fs';",
      "import { z } from 'zod';",
    ],
    allowed: [
      "import { WAKE_REASONS as W } from '../src/domain/power';",
      "import type { Payload } from '@temporalio/common';",
      "import { searchAttributes as sa } from './search-attributes';",
    ],
  },
  {
    file: 'workflows/power/wake-droplet.ts',
    refused: [
      "import { startWake } from '../../src/temporal/power-starts';",
      "import { createActivities } from '../../activities';",
      "import { Client } from '@temporalio/client';",
    ],
    allowed: [
      "import { changeIds as ci } from '../../contracts/changes';",
      "import type { Activities as A } from '../../activities';",
      "import { MAX_WAVE_SIZE } from '../../src/domain/rollout';",
    ],
  },
  {
    file: 'src/client/index.ts',
    refused: [
      "import { loadConfig } from '../config';",
      "import { wakeDroplet } from '../../workflows/power/wake-droplet';",
      "import type { wakeDroplet as w } from '../../workflows/power/wake-droplet';",
      "import { startWake } from '../temporal/power-starts';",
      "import { createPool } from '../db/pool';",
      "import { Worker } from '@temporalio/worker';",
      "import { z } from 'zod';",
    ],
    allowed: [
      "import { wakeContract as wc } from '../../contracts/power';",
      "import { startOrJoin } from '../temporal/idempotent-start';",
      "import { Connection as C } from '@temporalio/client';",
    ],
  },
  {
    file: 'src/temporal/start.ts',
    refused: [
      "import type { Config } from '../config';",
      "import { createLogger } from '../logger';",
      "import { wakeDroplet } from '../../workflows/power/wake-droplet';",
      "import { readFileSync } from 'node:fs';",
    ],
    allowed: [
      "import { wakeContract } from '../../contracts/power';",
      "import { dataConverterFor } from './payload-codec';",
      "import { gzipSync } from 'node:zlib';",
    ],
  },
  {
    file: 'src/temporal/power-starts.ts',
    refused: ["import { wakeDroplet } from '../../workflows/power/wake-droplet';"],
    allowed: [
      "import type { wakeDroplet as w } from '../../workflows/power/wake-droplet';",
      "import { loadConfig } from '../config';",
    ],
  },
  {
    file: 'activities/watchdog.ts',
    refused: ["import { watchdog } from '../workflows/watchdog';"],
    allowed: ["import type { HeartbeatWatch } from '../workflows/power/verify';"],
  },
  {
    file: 'bench/rollout.ts',
    refused: ["import { heartbeatDrain } from '../workflows/heartbeat-drain';"],
    allowed: ["import { heartbeatDrainContract as h } from '../contracts/heartbeat-drain';"],
  },
  {
    file: 'test/helpers/fleet-harness.ts',
    refused: ["import { heartbeatDrain } from '../../workflows/heartbeat-drain';"],
    allowed: [],
  },
];

describe('import fences (eslint.config.mjs)', () => {
  const results = refusedLines(probes);
  it.each(probes.map((p, i) => [p.file, p, i] as const))(
    '%s: refuses what its fence forbids, only that',
    (_f, p, i) => {
      expect(results[i]).toEqual(count(p.refused.length));
    },
  );
});

describe("docs/ARCHITECTURE.md's import table", () => {
  it('lists the fences of eslint.config.mjs, row for row', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const { fences } = await import('./eslint.config.mjs'); process.stdout.write(JSON.stringify(fences.map((f) => [f.name, f.mayImport])));",
      ],
      { cwd: root, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    const fences = JSON.parse(r.stdout) as [string, string][];
    const doc = readFileSync(join(root, 'docs/ARCHITECTURE.md'), 'utf8');
    const section = doc.slice(doc.indexOf('| fence '), doc.indexOf('\n\n', doc.indexOf('| fence ')));
    const rows = section
      .split('\n')
      .slice(2)
      .map((line) => line.split('|').map((c) => c.trim()))
      .map((cells) => [cells[1]!.replace(/`/g, ''), cells[3]!] as [string, string]);
    expect(rows).toEqual(fences);
  });
});
