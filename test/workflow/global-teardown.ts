import { rmSync } from 'node:fs';
import stopTemporal from '../setup/global-teardown';
import { WORKFLOW_BUNDLE_ENV } from '../helpers/stub-activities';

export default async function globalTeardown(): Promise<void> {
  const bundle = process.env[WORKFLOW_BUNDLE_ENV];
  if (bundle) rmSync(bundle, { force: true });
  delete process.env[WORKFLOW_BUNDLE_ENV];
  await stopTemporal();
}
