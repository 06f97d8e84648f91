/**
 * Power operations: their inputs, reasons, defaults and status. Pure; shared by workflows, the
 * client and the CLI. Every duration is an input with a production default, so tests (which have
 * no time-skipping server here) run the same code with short windows.
 */
import { isDropletId, MAX_DROPLET_ID } from './droplet-id';
import { DEFAULT_HEARTBEAT_TIMEOUT_S } from './liveness';

export const WAKE_REASONS = [
  'user_login',
  'scheduled_campaign',
  'admin_request',
  'watchdog_recovery',
] as const;
export type WakeReason = (typeof WAKE_REASONS)[number];

/**
 * Why a droplet hibernates: an operator or the dashboard asked (someone waits for it), the tenant
 * was idle, or its workspace's power schedule says so. Absent means admin_request (the only kind
 * there was before reasons).
 */
export const HIBERNATE_REASONS = ['admin_request', 'idle', 'scheduled'] as const;
export type HibernateReason = (typeof HIBERNATE_REASONS)[number];

export const REBOOT_REASONS = ['watchdog_heartbeat_timeout', 'admin_request', 'zombie_detected'] as const;
export type RebootReason = (typeof REBOOT_REASONS)[number];

/** What a power action is for: its operation and reason pick its budget lane (src/domain/budget-lanes.ts). */
export type PowerPurpose =
  | { operation: 'wake'; reason: WakeReason }
  | { operation: 'hibernate'; reason?: HibernateReason }
  | { operation: 'hard_reboot'; reason: RebootReason };

export interface PowerTimings {
  /**
   * A keep-alive older than this is stale (WATCHDOG_HEARTBEAT_TIMEOUT_S): a wake of an
   * ACTIVE_HEALTHY droplet returns at once only with a keep-alive newer than this.
   */
  heartbeatTimeoutMs: number;
  /**
   * How long verification may take: HEALTH_CHECK answers and a fresh heartbeat arrives. Defaults
   * to heartbeatTimeoutMs: a live agent sends a keep-alive within that time, a dead one never does.
   */
  verifyWindowMs: number;
  /** Polling fallback between verification probes (a heartbeat signal ends the wait early). */
  verifyPollMs: number;
  /** How long a DigitalOcean action may stay in progress. */
  actionTimeoutMs: number;
  /** First action-status poll interval. */
  actionPollMs: number;
  /**
   * How long after a graceful shutdown was sent its action is first looked up (the shutdown's
   * answer: completed means off). Capped by the graceful timeout.
   */
  actionFirstLookMs: number;
}

export const DEFAULT_POWER_TIMINGS: PowerTimings = {
  heartbeatTimeoutMs: DEFAULT_HEARTBEAT_TIMEOUT_S * 1000,
  verifyWindowMs: DEFAULT_HEARTBEAT_TIMEOUT_S * 1000,
  verifyPollMs: 10_000,
  actionTimeoutMs: 5 * 60_000,
  actionPollMs: 2_000,
  actionFirstLookMs: 15_000,
};

/** The defaults with overrides applied; a shorter heartbeat timeout also shortens the window. */
export function resolvePowerTimings(overrides?: Partial<PowerTimings>): PowerTimings {
  const given = Object.fromEntries(
    Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<PowerTimings>;
  const heartbeatTimeoutMs = given.heartbeatTimeoutMs ?? DEFAULT_POWER_TIMINGS.heartbeatTimeoutMs;
  return { ...DEFAULT_POWER_TIMINGS, verifyWindowMs: heartbeatTimeoutMs, ...given, heartbeatTimeoutMs };
}

/** The power timings every starter passes for a fleet whose heartbeat timeout is `seconds`. */
export const timingsForHeartbeatTimeout = (seconds: number): Partial<PowerTimings> => ({
  heartbeatTimeoutMs: seconds * 1000,
});

export interface WakeDropletInput {
  workspaceId: string;
  dropletId: number;
  reason: WakeReason;
  timings?: Partial<PowerTimings>;
  /** Passed to the hard reboot a failed watchdog_recovery wake escalates to. */
  reboot?: Pick<HardRebootInput, 'maxAttempts' | 'backoffInitialMs'>;
}

export interface HardRebootInput {
  workspaceId: string;
  dropletId: number;
  reason: RebootReason;
  maxAttempts?: number;
  /** Backoff before attempt n+1 is backoffInitialMs * 2^(n-1). Production default 10 s. */
  backoffInitialMs?: number;
  timings?: Partial<PowerTimings>;
}

export interface HibernateDropletInput {
  workspaceId: string;
  dropletId: number;
  /** default admin_request */
  reason?: HibernateReason;
  /** Graceful shutdown may take this long before power_off is used. Production default 2 min. */
  gracefulTimeoutMs?: number;
  timings?: Partial<PowerTimings>;
}

export const DEFAULT_REBOOT_ATTEMPTS = 3;
export const DEFAULT_REBOOT_BACKOFF_MS = 10_000;
export const DEFAULT_GRACEFUL_SHUTDOWN_MS = 2 * 60_000;

export type PowerPhase =
  | 'starting'
  | 'checking'
  | 'powering_on'
  | 'power_cycling'
  | 'shutting_down'
  | 'powering_off'
  | 'waiting_for_action'
  | 'looking_up_action'
  | 'retrying'
  | 'verifying'
  | 'backing_off'
  | 'escalated'
  | 'done'
  | 'failed';

export interface PowerStatus {
  operation: 'wake' | 'hibernate' | 'hard_reboot';
  dropletId: number;
  phase: PowerPhase;
  attempt: number;
  lastError?: string;
  outcome?: string;
  /** the cohort tag when the power action was started by a cohort's bulk action */
  cohort?: string;
}

export interface PowerResult {
  dropletId: number;
  outcome: 'already_healthy' | 'healthy' | 'degraded' | 'hibernated' | 'already_hibernated';
  attempts: number;
}

/** Failure types a caller can branch on (ApplicationFailure.type). */
export const PowerFailure = {
  verificationFailed: 'VerificationFailed',
  zombie: 'DropletZombie',
  busy: 'DropletBusy',
  illegalState: 'IllegalDropletState',
  invalidInput: 'InvalidInput',
  notFound: 'DropletNotFound',
  provider: 'ProviderRefused',
} as const;

/** Validates a start's input; returns the first bad field and why, or undefined. */
export function invalidPowerInput(
  input: { workspaceId?: unknown; dropletId?: unknown; reason?: unknown; maxAttempts?: unknown },
  reasons?: readonly string[],
): string | undefined {
  if (typeof input.workspaceId !== 'string' || input.workspaceId.length === 0)
    return 'workspaceId must be a non-empty string';
  if (!isDropletId(input.dropletId)) {
    return `dropletId must be a positive integer up to ${MAX_DROPLET_ID}`;
  }
  if (reasons && !reasons.includes(input.reason as string))
    return `reason must be one of ${reasons.join(', ')}`;
  if (
    input.maxAttempts !== undefined &&
    (!Number.isInteger(input.maxAttempts) ||
      (input.maxAttempts as number) < 1 ||
      (input.maxAttempts as number) > 20)
  ) {
    return 'maxAttempts must be an integer from 1 to 20';
  }
  return undefined;
}
