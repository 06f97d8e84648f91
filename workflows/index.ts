/** Every workflow the worker runs. Deterministic code only: see eslint.config.mjs. */
export { heartbeatDrain } from './heartbeat-drain';
export { hardReboot } from './power/hard-reboot';
export { hibernateDroplet } from './power/hibernate-droplet';
export { wakeDroplet } from './power/wake-droplet';
export { watchdog } from './watchdog';
export { credentialInjection } from './changes/credential-injection';
export { sidecarUpdate } from './changes/sidecar-update';
export { workflowUpdate } from './changes/workflow-update';
export { scaleAlerts } from './scale-alerts';
export { fleetRollout } from './rollout/fleet-rollout';
