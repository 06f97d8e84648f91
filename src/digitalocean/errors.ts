/**
 * Typed errors of the DigitalOcean client. Every error says whether trying again can help
 * (`retryable`), carries the HTTP status (0 when there was no answer) and names the method, the
 * path and DigitalOcean's own error id/message. None of them ever contains the API token: messages
 * are built only from the method, the path (no query string) and DigitalOcean's answer. Each class
 * has its `code` (the base contract of src/errors/client-error.ts).
 */
import { ClientError } from '../errors/client-error';

export type DigitalOceanErrorCode =
  | 'not_found'
  | 'unauthorized'
  | 'rate_limited'
  | 'server_error'
  | 'request_rejected'
  | 'already_in_state'
  | 'bad_response'
  | 'network'
  | 'action_failed'
  | 'action_timeout'
  | 'budget_exhausted';

export interface DigitalOceanErrorDetails {
  method: string;
  path: string;
  status: number;
  /** DigitalOcean's error id, e.g. "not_found", "unprocessable_entity". */
  doId?: string;
  /** DigitalOcean's human-readable message. */
  doMessage?: string;
  /** DigitalOcean's request id, to quote to their support. */
  requestId?: string;
}

function describe(d: DigitalOceanErrorDetails, fallback: string): string {
  const head = `DigitalOcean ${d.method} ${d.path}` + (d.status ? ` -> ${d.status}` : '');
  const what = d.doId || d.doMessage ? `${d.doId ?? 'error'}: ${d.doMessage ?? ''}`.trim() : fallback;
  return `${head} ${what}` + (d.requestId ? ` (request_id ${d.requestId})` : '');
}

export abstract class DigitalOceanError extends ClientError {
  abstract override readonly code: DigitalOceanErrorCode;
  abstract override readonly retryable: boolean;
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly doId?: string;
  readonly doMessage?: string;
  readonly requestId?: string;

  constructor(details: DigitalOceanErrorDetails, fallback: string, options?: { cause?: unknown }) {
    super(describe(details, fallback), options);
    this.status = details.status;
    this.method = details.method;
    this.path = details.path;
    this.doId = details.doId;
    this.doMessage = details.doMessage;
    this.requestId = details.requestId;
  }
}

/** 404: the droplet or action does not exist (any more). */
export class DigitalOceanNotFoundError extends DigitalOceanError {
  readonly code = 'not_found';
  readonly retryable = false;
  constructor(details: DigitalOceanErrorDetails) {
    super(details, 'not found');
  }
}

/** 401/403: the token is wrong, revoked or lacks the scope. Retrying cannot help. */
export class DigitalOceanUnauthorizedError extends DigitalOceanError {
  readonly code = 'unauthorized';
  readonly retryable = false;
  constructor(details: DigitalOceanErrorDetails) {
    super(details, 'unauthorized');
  }
}

/** Whether a request that got no (good) answer may still have been carried out by DigitalOcean. */
export interface AttemptFacts {
  /** A POST that timed out or got a 5xx may have started its action: look before starting another. */
  mayHaveReachedServer?: boolean;
  cause?: unknown;
}

/** 429 that outlived the client's waits under the shared budget. `retryAfterMs` is how long DigitalOcean asked to wait. */
export class DigitalOceanRateLimitedError extends DigitalOceanError {
  readonly code = 'rate_limited';
  readonly retryable = true;
  constructor(
    details: DigitalOceanErrorDetails,
    readonly retryAfterMs: number,
  ) {
    super(details, 'rate limited');
  }
}

/** 5xx: thrown at once; the caller's retry policy tries again. */
export class DigitalOceanServerError extends DigitalOceanError {
  readonly code = 'server_error';
  readonly retryable = true;
  readonly mayHaveReachedServer: boolean;
  constructor(details: DigitalOceanErrorDetails, facts: AttemptFacts = {}) {
    super(details, 'server error');
    this.mayHaveReachedServer = facts.mayHaveReachedServer ?? false;
  }
}

/** Any other 4xx (400, 422 ...): the request itself is wrong for the droplet's state. Never retried. */
export class DigitalOceanRequestError extends DigitalOceanError {
  readonly code: DigitalOceanErrorCode = 'request_rejected';
  readonly retryable = false;
  constructor(details: DigitalOceanErrorDetails) {
    super(details, 'request rejected');
  }
}

/**
 * 422 "Droplet is already powered off" / "already powered on": the droplet is already in `state`.
 * For an action whose goal is that state (power_off/shutdown -> off, power_on -> active) the
 * goal holds: the caller treats it as done (`goalHolds` in client.ts).
 */
export class DigitalOceanAlreadyInStateError extends DigitalOceanRequestError {
  override readonly code: DigitalOceanErrorCode = 'already_in_state';
  constructor(
    details: DigitalOceanErrorDetails,
    readonly state: 'off' | 'active',
  ) {
    super(details);
  }
}

/** A 2xx whose body is not what the API documents (missing `droplet`, `action` ...). */
export class DigitalOceanResponseError extends DigitalOceanError {
  readonly code = 'bad_response';
  readonly retryable = false;
  constructor(details: DigitalOceanErrorDetails, problem: string) {
    super(details, `unexpected response: ${problem}`);
  }
}

/** No answer: connection refused/reset, DNS, or the request timed out. Thrown at once. */
export class DigitalOceanNetworkError extends DigitalOceanError {
  readonly code = 'network';
  readonly retryable = true;
  readonly mayHaveReachedServer: boolean;
  constructor(details: Omit<DigitalOceanErrorDetails, 'status'>, reason: string, facts: AttemptFacts = {}) {
    super({ ...details, status: 0 }, `network error: ${reason}`, { cause: facts.cause });
    this.mayHaveReachedServer = facts.mayHaveReachedServer ?? false;
  }
}

/** The action ran and ended `errored` (DigitalOcean could not do it). */
export class DigitalOceanActionFailedError extends DigitalOceanError {
  readonly code = 'action_failed';
  readonly retryable = false;
  constructor(
    readonly actionId: number,
    readonly actionType: string,
    readonly resourceId: number | null | undefined,
  ) {
    super(
      { method: 'GET', path: `/v2/actions/${actionId}`, status: 200 },
      `action ${actionId} (${actionType} on droplet ${resourceId ?? '?'}) ended errored`,
    );
  }
}

/** The action was still in progress when the caller's deadline passed. */
export class DigitalOceanActionTimeoutError extends DigitalOceanError {
  readonly code = 'action_timeout';
  readonly retryable = true;
  constructor(
    readonly actionId: number,
    readonly lastStatus: string,
    readonly timeoutMs: number,
  ) {
    super(
      { method: 'GET', path: `/v2/actions/${actionId}`, status: 200 },
      `action ${actionId} still ${lastStatus} after ${timeoutMs} ms`,
    );
  }
}

/**
 * The fleet-wide request budget would make this request wait longer than the caller allows.
 * Retryable: an activity retry after `waitMs` will find room.
 */
export class DigitalOceanBudgetExhaustedError extends ClientError {
  readonly code = 'budget_exhausted';
  readonly retryable = true;
  readonly status = 0;
  constructor(
    readonly waitMs: number,
    readonly maxWaitMs: number,
    readonly reason: 'window' | 'blocked',
  ) {
    super(
      reason === 'blocked'
        ? `DigitalOcean request budget: all workers are blocked for ${waitMs} ms after a rate-limit signal (max wait ${maxWaitMs} ms)`
        : `DigitalOcean request budget exhausted: next slot in ${waitMs} ms (max wait ${maxWaitMs} ms)`,
    );
  }
}
