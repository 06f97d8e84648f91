/** The suite runs on the Node the project requires (make test and .ci/run put Node 24 on PATH). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '@temporalio/core-bridge';

describe('runtime', () => {
  it("is at least package.json's engines.node, Node 24 LTS", () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const required = Number(/^>=(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(required).toBe(24);
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(required);
  });

  it('loads the Temporal SDK native bridge on this Node (prebuilt for the platform)', () => {
    // Importing it loaded the platform's .node binary; its functions are the native ones.
    expect(typeof native.newRuntime).toBe('function');
    expect(typeof native.newWorker).toBe('function');
  });
});
