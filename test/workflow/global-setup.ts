/**
 * The workflow tier's setup: the run's one Temporal dev server (the integration tier's setup,
 * shared: whichever project's setup runs first starts it, the other finds TEMPORAL_ADDRESS set),
 * and the workflows bundled once from source for every stub worker of the run.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { workflowInterceptorModules, workflowsSourcePath } from '../../src/worker/worker';
import startTemporal from '../setup/global-setup';
import { WORKFLOW_BUNDLE_ENV } from '../helpers/stub-activities';

export default async function globalSetup(): Promise<void> {
  // the dev server starts while the workflows bundle (both take seconds)
  await Promise.all([startTemporal(), bundleOnce()]);
}

async function bundleOnce(): Promise<void> {
  if (process.env[WORKFLOW_BUNDLE_ENV]) return;
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsSourcePath(),
    workflowInterceptorModules: workflowInterceptorModules(),
    logger: new DefaultLogger('WARN'),
  });
  const path = join(tmpdir(), `genesis-cp-test-workflows-${process.pid}.js`);
  writeFileSync(path, code);
  process.env[WORKFLOW_BUNDLE_ENV] = path;
}
