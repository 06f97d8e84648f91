/**
 * The fleet probe, run by a Temporal Schedule (fleet-probe/<task queue>, overlap SKIP) that a
 * worker creates or updates when it starts; each run is fleet-probe-run/<task queue>.
 */
import type { FleetProbeInput, FleetProbeSummary } from '../src/domain/fleet-probe';
import { scheduledRunContract } from './scheduled';

export type { FleetProbeInput, FleetProbeSummary };

export type FleetProbeWorkflow = (input?: FleetProbeInput) => Promise<FleetProbeSummary>;

export const fleetProbeIds = {
  schedule: (taskQueue: string) => `fleet-probe/${taskQueue}`,
  run: (taskQueue: string) => `fleet-probe-run/${taskQueue}`,
};

export const fleetProbeContract = scheduledRunContract<FleetProbeWorkflow>(
  'fleetProbe',
  'fleet_probe',
  fleetProbeIds.run,
);
