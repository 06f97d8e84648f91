/**
 * The one contract every client's errors keep (DigitalOcean, the sidecar, the alert channels, the
 * fleet semaphore): a stable `code` naming what went wrong and `retryable`, whether trying the same
 * call again can help. `asActivityFailure` (activities/errors.ts) reads only these two facts, so a
 * new error class needs no new branch there.
 */
export interface ClientErrorContract {
  readonly code: string;
  readonly retryable: boolean;
}

/** The base class of the clients' typed errors; `name` is the concrete class's. */
export abstract class ClientError extends Error implements ClientErrorContract {
  abstract readonly code: string;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Whether `err` keeps the contract (by shape, so errors from another copy of a module count too). */
export function isClientError(err: unknown): err is Error & ClientErrorContract {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; retryable?: unknown };
  return typeof e.code === 'string' && typeof e.retryable === 'boolean';
}
