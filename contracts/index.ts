/**
 * Every Temporal contract of the control plane, one file per operation family: what a caller (the
 * client, the CLI, activities, schedules) and a workflow must agree on. Pure: loads nothing but
 * @temporalio/common and src/domain, so the Vercel client and the workflow sandbox both load it.
 */
import {
  credentialInjectionContract,
  n8nUpdateContract,
  setAgentDropletIdContract,
  workflowUpdateContract,
} from './changes';
import { fleetProbeContract, fleetProbeIds } from './fleet-probe';
import { drainIds, heartbeatDrainContract } from './heartbeat-drain';
import { hardRebootContract, hibernateContract, powerIds, wakeContract } from './power';
import { powerScheduleCommandContract, powerScheduleIds, powerScheduleTickContract } from './power-schedule';
import { fleetRolloutContract } from './rollout';
import {
  desiredStateViewContract,
  reconcileIds,
  reconcilerContract,
  reconcileTenantContract,
  setDesiredStateContract,
} from './reconcile';
import { scaleAlertsContract } from './scale-alerts';
import { watchdogContract, watchdogIds } from './watchdog';

export * from './define';
export * from './search-attributes';
export * from './task-queues';
export * from './scheduled';
export * from './power';
export * from './changes';
export * from './rollout';
export * from './heartbeat-drain';
export * from './watchdog';
export * from './scale-alerts';
export * from './power-schedule';
export * from './fleet-probe';
export * from './reconcile';

/** The ids of the fixed-id workflows and schedules (the same functions as each family's ids). */
export const workflowIds = {
  heartbeatDrain: drainIds.consumer,
  power: powerIds.power,
  powerEscalation: powerIds.escalation,
  watchdogSchedule: watchdogIds.schedule,
  powerScheduleSchedule: powerScheduleIds.schedule,
  fleetProbeSchedule: fleetProbeIds.schedule,
  reconcilerSchedule: reconcileIds.schedule,
};

/** Every workflow started by name, by the contract it is started with. */
export const workflowContracts = {
  wake: wakeContract,
  hibernate: hibernateContract,
  hardReboot: hardRebootContract,
  n8nUpdate: n8nUpdateContract,
  credentialInjection: credentialInjectionContract,
  workflowUpdate: workflowUpdateContract,
  setAgentDropletId: setAgentDropletIdContract,
  fleetRollout: fleetRolloutContract,
  heartbeatDrain: heartbeatDrainContract,
  watchdog: watchdogContract,
  scaleAlerts: scaleAlertsContract,
  powerScheduleTick: powerScheduleTickContract,
  powerScheduleCommand: powerScheduleCommandContract,
  fleetProbe: fleetProbeContract,
  reconciler: reconcilerContract,
  reconcileTenant: reconcileTenantContract,
  setDesiredState: setDesiredStateContract,
  desiredStateView: desiredStateViewContract,
} as const;
