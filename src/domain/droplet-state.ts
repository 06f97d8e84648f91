/**
 * Droplet states and the transitions allowed between them. Pure: used by the database layer (which
 * enforces it inside the transaction that changes a state) and by workflows.
 */
export const DROPLET_STATES = [
  'PROVISIONING',
  'ACTIVE_HEALTHY',
  'ACTIVE_DEGRADED',
  'HIBERNATING',
  'HIBERNATED',
  'WAKING',
  'REBOOTING',
  'UPDATING',
  'ZOMBIE',
  'FAILED',
  'TERMINATED',
] as const;

export type DropletState = (typeof DROPLET_STATES)[number];

const ACTIVE: DropletState[] = ['ACTIVE_HEALTHY', 'ACTIVE_DEGRADED'];
/** An active droplet may move to the other active state and anywhere but PROVISIONING or HIBERNATED. */
const FROM_ACTIVE: DropletState[] = DROPLET_STATES.filter(
  (s) => s !== 'PROVISIONING' && s !== 'HIBERNATED' && !ACTIVE.includes(s),
);

/** from -> the states it may move to. A move to the same state is always a no-op, never an error. */
const ALLOWED: Record<DropletState, readonly DropletState[]> = {
  PROVISIONING: [...ACTIVE, 'FAILED', 'TERMINATED'],
  ACTIVE_HEALTHY: ['ACTIVE_DEGRADED', ...FROM_ACTIVE],
  ACTIVE_DEGRADED: ['ACTIVE_HEALTHY', ...FROM_ACTIVE],
  HIBERNATING: ['HIBERNATED', ...ACTIVE, 'FAILED'],
  HIBERNATED: ['WAKING', 'TERMINATED'],
  WAKING: [...ACTIVE, 'REBOOTING', 'HIBERNATED', 'ZOMBIE', 'FAILED'],
  REBOOTING: [...ACTIVE, 'ZOMBIE', 'FAILED'],
  UPDATING: [...ACTIVE, 'REBOOTING', 'FAILED'],
  ZOMBIE: [...ACTIVE, 'WAKING', 'REBOOTING', 'FAILED', 'TERMINATED'],
  FAILED: [...ACTIVE, 'WAKING', 'REBOOTING', 'PROVISIONING', 'TERMINATED'],
  TERMINATED: [],
};

export function canTransition(from: DropletState, to: DropletState): boolean {
  return from === to || ALLOWED[from].includes(to);
}

export function allowedTargets(from: DropletState): readonly DropletState[] {
  return ALLOWED[from];
}

/** States in which a droplet is not expected to heartbeat: never "stale" for the watchdog. */
export const NOT_EXPECTED_TO_HEARTBEAT: readonly DropletState[] = [
  'HIBERNATING',
  'HIBERNATED',
  'WAKING',
  'PROVISIONING',
  'UPDATING',
];

/**
 * States a workflow holds a droplet in while it works on it. No failure path may leave a droplet
 * here: a failing operation settles it to FAILED with the reason, and the watchdog re-drives one
 * found here past its deadline (its workflow was terminated or timed out).
 */
export const TRANSITIONAL_STATES = ['HIBERNATING', 'WAKING', 'REBOOTING', 'UPDATING'] as const;
export type TransitionalState = (typeof TRANSITIONAL_STATES)[number];

export function isTransitional(s: DropletState): s is TransitionalState {
  return (TRANSITIONAL_STATES as readonly string[]).includes(s);
}

/** States in which a remediation (wake or reboot) is in progress or has given up. */
export const REMEDIATION_STATES: readonly DropletState[] = ['WAKING', 'REBOOTING', 'ZOMBIE', 'FAILED'];

export function isDropletState(v: unknown): v is DropletState {
  return typeof v === 'string' && (DROPLET_STATES as readonly string[]).includes(v);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly dropletId: number,
    readonly from: DropletState,
    readonly to: DropletState,
  ) {
    super(`droplet ${dropletId}: ${from} -> ${to} is not an allowed transition`);
    this.name = 'IllegalTransitionError';
  }
}
