/** Every workflow the worker runs. Deterministic code only: see eslint.config.mjs. */
export { heartbeatDrain } from './heartbeat-drain';
