/**
 * What can go wrong talking to a sidecar, as typed errors. `retryable` says whether trying the same
 * command again (with a fresh token) can help; the caller (an activity) decides what to do with it.
 *
 *   401 SidecarUnauthorizedError   no/unaccepted token              not retryable
 *   403 SidecarForbiddenError      bad, mismatched or replayed token not retryable
 *   5xx SidecarServerError         the request broke on the sidecar retryable
 *   200 + success:false            SidecarCommandFailedError         not retryable (carries the sidecar's error)
 *   timeout                        SidecarTimeoutError               retryable
 *   refused/reset/unreachable      SidecarUnreachableError           retryable
 *   other status / bad answer      SidecarProtocolError              not retryable
 *   caller's signal aborted        SidecarCancelledError             not retryable
 */
export type SidecarErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'server_error'
  | 'command_failed'
  | 'timeout'
  | 'unreachable'
  | 'protocol'
  | 'cancelled';

export interface SidecarErrorContext {
  dropletId?: string;
  action?: string;
  status?: number;
}

export abstract class SidecarError extends Error {
  abstract readonly code: SidecarErrorCode;
  abstract readonly retryable: boolean;
  readonly dropletId?: string;
  readonly action?: string;
  readonly status?: number;

  constructor(message: string, ctx: SidecarErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
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
