/** The DigitalOcean API v2 simulator: see simulator.ts. */
export {
  createDigitalOceanSimulator,
  DEFAULT_SIMULATOR_TOKEN,
  type DigitalOceanSimulator,
  type DigitalOceanSimulatorOptions,
  type DropletSnapshot,
  type SimulatorStats,
} from './simulator';
export type { DigitalOceanFault } from './faults';
export {
  DEFAULT_SIM_ACCOUNT,
  SIMULATED_ACTION_TYPES,
  SIMULATED_BULK_ACTION_TYPES,
  type NewDroplet,
  type PowerChangeListener,
  type SimulatedActionType,
} from './droplet-fleet';
export type { RequestLogEntry } from './request-log';
export { maxInAnyWindow } from './rate-limiter';
