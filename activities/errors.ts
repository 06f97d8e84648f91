/**
 * Maps the clients' typed errors onto Temporal's retry model through their one contract
 * `{code, retryable}` (src/errors/client-error.ts): a retryable error is rethrown as is (the
 * activity's retry policy applies); anything else becomes a non-retryable ApplicationFailure whose
 * type a workflow can branch on.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { isClientError } from '../src/errors/client-error';

export function asActivityFailure(err: unknown, type?: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (isClientError(err) && err.retryable) return err;
  const e = err as { name?: string; message?: string } | null | undefined;
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
