/** Start-time validation of the change workflows: a non-retryable InvalidInput naming the field. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { ChangeFailure } from '../../src/domain/changes';

export function requireValid<T>(input: T, check: (i: T) => string | undefined): void {
  const problem = typeof input !== 'object' || input === null ? 'input must be an object' : check(input);
  if (problem) throw ApplicationFailure.nonRetryable(`invalid input: ${problem}`, ChangeFailure.invalidInput);
}

/** The message of an activity failure's cause (what went wrong), or of the error itself. */
export function failureMessage(err: unknown): string {
  const e = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return e instanceof Error ? e.message : String(e);
}
