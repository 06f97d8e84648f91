/** Simulated sidecar agents, protocol v1 by default (many in one process, one HTTP server): see fleet.ts. */
export {
  createSidecarFleet,
  type SidecarFleet,
  type SidecarFleetOptions,
  type SidecarFleetStats,
} from './fleet';
export {
  DEFAULT_AGENT_VERSION,
  DEFAULT_N8N_IMAGE_TAG,
  type AgentCondition,
  type AgentPower,
  type N8nStatus,
  type NewSidecarAgent,
  type SidecarAgentView,
  type SimCredential,
  type SimWorkflow,
} from './agent';
export { V1_ACTIONS, type V1Action } from './commands';
export type { ExecutionStats } from './executions';
export { flakyDraw, type SidecarFault, type SidecarFaultKind } from './faults';
export { v1Capabilities, type HeartbeatMode, type HeartbeatStats } from './heartbeats';
export type { CommandCounters } from './server';
