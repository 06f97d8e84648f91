/**
 * What the Vercel app loads: src/client/index.ts is required in a child process (TypeScript
 * compiled on the fly by @swc/core, as jest does), then require.cache lists every module it
 * loaded. No workflow file, not the worker's configuration schema (src/config.ts), none of the
 * worker's libraries.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '../..');

const LOAD = `
const fs = require('node:fs');
const swc = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const client = require(process.argv[1]);
if (typeof client.createGenesisClient !== 'function') throw new Error('client entry did not load');
process.stdout.write(JSON.stringify(Object.keys(require.cache)));
`;

function loadedBy(entry: string): string[] {
  const r = spawnSync(process.execPath, ['-e', LOAD, join(root, entry)], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loading ${entry} failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as string[]).map((f) => f.slice(root.length + 1));
}

describe('the client module graph', () => {
  const loaded = loadedBy('src/client/index.ts');
  const own = loaded.filter((f) => !f.startsWith('node_modules/'));
  const packages = [
    ...new Set(
      loaded
        .filter((f) => f.startsWith('node_modules/'))
        .map((f) =>
          f
            .split('/')
            .slice(1, f.split('/')[1]!.startsWith('@') ? 3 : 2)
            .join('/'),
        ),
    ),
  ];

  it('loads the client and its contracts (the check sees what it must judge)', () => {
    expect(own).toContain('src/client/index.ts');
    expect(own).toContain('contracts/power.ts');
    expect(packages).toContain('@temporalio/client');
  });

  it('holds no workflow file and not the configuration schema', () => {
    expect(own.filter((f) => f.startsWith('workflows/'))).toEqual([]);
    expect(own).not.toContain('src/config.ts');
  });

  it('holds only contracts/, src/domain/, src/client/ and the client share of src/temporal/', () => {
    expect(own.filter((f) => !/^(contracts|src\/domain|src\/client|src\/temporal)\//.test(f))).toEqual([]);
    expect(own.filter((f) => f.startsWith('src/temporal/')).sort()).toEqual(
      [
        'src/temporal/codec-keys.ts',
        'src/temporal/connection-options.ts',
        'src/temporal/idempotent-start.ts',
        'src/temporal/payload-codec.ts',
        'src/temporal/rollout-starts.ts',
        'src/temporal/start.ts',
      ].sort(),
    );
  });

  it('loads none of the worker libraries', () => {
    for (const p of [
      '@temporalio/worker',
      '@temporalio/workflow',
      '@temporalio/activity',
      'zod',
      'pg',
      'ioredis',
      'pino',
      'express',
    ])
      expect(packages).not.toContain(p);
  });
});
