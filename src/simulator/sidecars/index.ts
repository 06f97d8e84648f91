/** Simulated sidecar agents (many in one process, one HTTP server): see fleet.ts. */
export {
  createSidecarFleet,
  type SidecarFleet,
  type SidecarFleetOptions,
  type SidecarFleetStats,
} from './fleet';
export type {
  AgentCondition,
  AgentPower,
  NewSidecarAgent,
  SidecarAgentView,
  SimCredential,
  SimWorkflow,
} from './agent';
export type { SidecarFault, SidecarFaultKind } from './faults';
export type { HeartbeatMode, HeartbeatStats } from './heartbeats';
export type { CommandCounters } from './server';
