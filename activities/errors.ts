/**
 * Maps the clients' typed errors onto Temporal's retry model: a retryable error is rethrown as is
 * (the activity's retry policy applies); anything else becomes a non-retryable ApplicationFailure
 * whose type a workflow can branch on.
 */
import { ApplicationFailure } from '@temporalio/activity';

export function asActivityFailure(err: unknown, type?: string): Error {
  if (err instanceof ApplicationFailure) return err;
  const e = err as { retryable?: unknown; name?: string; message?: string };
  if (e && typeof e === 'object' && e.retryable === true) return err as Error;
  return ApplicationFailure.nonRetryable(e?.message ?? String(err), type ?? e?.name ?? 'Error');
}

export function notConfigured(what: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what} is not configured on this worker`, 'NotConfigured');
}

/** A client this activity needs, or a clear non-retryable failure when the worker lacks it. */
export function required<T>(client: T | undefined, what: string): T {
  if (client === undefined) throw notConfigured(what);
  return client;
}
