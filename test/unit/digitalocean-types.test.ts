/**
 * The committed DigitalOcean types must be exactly what openapi-typescript makes of the committed
 * spec, so neither can change without the other (regenerate with `npm run generate:do-types`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const committed = join(root, 'src', 'digitalocean', 'generated', 'schema.d.ts');
const spec = join(root, 'specs', 'digitalocean-v2-subset.yaml');
const cli = join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');

describe('generated DigitalOcean types', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'do-types-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('equal a fresh openapi-typescript run over specs/digitalocean-v2-subset.yaml', () => {
    const out = join(dir, 'schema.d.ts');
    execFileSync(process.execPath, [cli, spec, '-o', out], { cwd: root, stdio: 'pipe', timeout: 30_000 });
    const fresh = readFileSync(out, 'utf8');
    expect(fresh.length).toBeGreaterThan(10_000);
    expect(fresh).toContain('droplet_action');
    // Compare as text; on a mismatch show the first differing line rather than 4,000 lines.
    const a = fresh.split('\n');
    const b = readFileSync(committed, 'utf8').split('\n');
    let firstDiff = a.findIndex((line, i) => line !== b[i]);
    if (firstDiff < 0 && a.length !== b.length) firstDiff = Math.min(a.length, b.length);
    expect({ firstDiff, fresh: a[firstDiff], committed: b[firstDiff] }).toEqual({
      firstDiff: -1,
      fresh: undefined,
      committed: undefined,
    });
  });
});
