/**
 * What can go wrong talking to a sidecar, as typed errors. `retryable` says whether trying the same
 * command again (with a fresh token) can help; the caller (an activity) decides what to do with it.
 *
 *   401 SidecarUnauthorizedError   no/unaccepted token              not retryable
 *   403 SidecarForbiddenError      bad, mismatched or replayed token not retryable
 *   5xx SidecarServerError         the request broke on the sidecar retryable
 *   200 + success:false            SidecarCommandFailedError         not retryable (carries the sidecar's error)
 *   200 + "Unknown command: X"     SidecarUnknownActionError         not retryable (the agent lacks the action)
 *   200 + result.success:false     SidecarActionFailedError          container actions retryable except
 *                                                                    SWAP_CONTAINER (the agent gives no reason)
 *   timeout                        SidecarTimeoutError               retryable
 *   refused/reset/unreachable      SidecarUnreachableError           retryable
 *   other status / bad answer      SidecarProtocolError              not retryable (names the field)
 *   caller's signal aborted        SidecarCancelledError             not retryable
 *
 * Every one keeps the clients' base contract `{code, retryable}` (src/errors/client-error.ts).
 */
import { ClientError } from '../errors/client-error';

export type SidecarErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'server_error'
  | 'command_failed'
  | 'unknown_action'
  | 'action_failed'
  | 'timeout'
  | 'unreachable'
  | 'protocol'
  | 'cancelled';

export interface SidecarErrorContext {
  dropletId?: string;
  action?: string;
  status?: number;
}

export abstract class SidecarError extends ClientError {
  abstract override readonly code: SidecarErrorCode;
  abstract override readonly retryable: boolean;
  readonly dropletId?: string;
  readonly action?: string;
  readonly status?: number;

  constructor(message: string, ctx: SidecarErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.dropletId = ctx.dropletId;
    this.action = ctx.action;
    this.status = ctx.status;
  }
}

export class SidecarUnauthorizedError extends SidecarError {
  readonly code = 'unauthorized';
  readonly retryable = false;
}

export class SidecarForbiddenError extends SidecarError {
  readonly code = 'forbidden';
  readonly retryable = false;
  /** from the agent's "Droplet mismatch (expected X, got Y)": the droplet_id claim it expects */
  readonly expectedDropletId?: string;
  constructor(message: string, ctx: SidecarErrorContext & { expectedDropletId?: string } = {}) {
    super(message, ctx);
    this.expectedDropletId = ctx.expectedDropletId;
  }
}

export class SidecarServerError extends SidecarError {
  readonly code = 'server_error';
  readonly retryable = true;
}

export class SidecarTimeoutError extends SidecarError {
  readonly code = 'timeout';
  readonly retryable = true;
  constructor(
    readonly timeoutMs: number,
    ctx: SidecarErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(`sidecar did not answer within ${timeoutMs} ms`, ctx, options);
  }
}

export class SidecarUnreachableError extends SidecarError {
  readonly code = 'unreachable';
  readonly retryable = true;
}

export class SidecarCommandFailedError extends SidecarError {
  readonly code = 'command_failed';
  readonly retryable = false;
  constructor(
    /** the `error` the sidecar answered with */
    readonly sidecarError: string,
    ctx: SidecarErrorContext = {},
    readonly executionTimeMs?: number,
  ) {
    super(`sidecar ${ctx.action ?? 'command'} failed: ${sidecarError}`, ctx);
  }
}

/** The agent answered "Unknown command: X": it does not implement the action at all. */
export class SidecarUnknownActionError extends SidecarError {
  readonly code = 'unknown_action';
  readonly retryable = false;
  constructor(
    readonly sidecarError: string,
    ctx: SidecarErrorContext = {},
  ) {
    super(`sidecar does not implement ${ctx.action ?? 'the action'}: ${sidecarError}`, ctx);
  }
}

/**
 * The agent ran the action and reported `result.success: false` (outer `success: true`, no error
 * text): a failed docker step of RESTART_N8N / PULL_IMAGE / SWAP_CONTAINER, or a `{success:false}`
 * answer of another action. A failed SWAP_CONTAINER has already removed the new container and
 * left the old one serving, so repeating it blindly only repeats the 60 s health wait.
 */
export class SidecarActionFailedError extends SidecarError {
  readonly code = 'action_failed';
  readonly retryable: boolean;
  readonly executionTimeMs?: number;
  constructor(ctx: SidecarErrorContext & { action: string }, executionTimeMs?: number) {
    super(`sidecar ${ctx.action} reported result.success false (the agent gives no reason)`, ctx);
    this.retryable = ctx.action !== 'SWAP_CONTAINER';
    this.executionTimeMs = executionTimeMs;
  }
}

export class SidecarProtocolError extends SidecarError {
  readonly code = 'protocol';
  readonly retryable = false;
}

export class SidecarCancelledError extends SidecarError {
  readonly code = 'cancelled';
  readonly retryable = false;
}

export function isSidecarError(err: unknown): err is SidecarError {
  return err instanceof SidecarError;
}
