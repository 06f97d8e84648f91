/** Every workflow the worker runs. Deterministic code only: see eslint.config.mjs. */
export { heartbeatDrain } from './heartbeat-drain';
export { hardReboot } from './power/hard-reboot';
export { hibernateDroplet } from './power/hibernate-droplet';
export { wakeDroplet } from './power/wake-droplet';
export { watchdog } from './watchdog';
export { credentialInjection } from './changes/credential-injection';
export { n8nContainerUpdate } from './changes/n8n-container-update';
export { setAgentDropletId } from './changes/set-agent-droplet-id';
export { workflowUpdate } from './changes/workflow-update';
export { scaleAlerts } from './scale-alerts';
export { fleetRollout } from './rollout/fleet-rollout';
export { powerScheduleCommand, powerScheduleTick } from './power-schedule';
export { fleetProbe } from './fleet-probe';
export { reconciler } from './reconcile/reconciler';
export { reconcileTenant } from './reconcile/reconcile-tenant';
export { setDesiredState, desiredStateView } from './reconcile/desired-state';
