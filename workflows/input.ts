/** Start-time validation of every workflow's input: a non-retryable InvalidInput naming the field. */
import { ApplicationFailure } from '@temporalio/workflow';
import { PowerFailure } from '../src/domain/power';

/** The failure type of a refused start; the same constant for power, change and rollout workflows. */
export const INVALID_INPUT = PowerFailure.invalidInput;

/** Refuses a missing or malformed input with the first bad field and why, before anything reads it. */
export function requireValidInput<T>(input: T, problemOf: (input: T) => string | undefined): void {
  const problem = typeof input !== 'object' || input === null ? 'input must be an object' : problemOf(input);
  if (problem) throw ApplicationFailure.nonRetryable(`invalid input: ${problem}`, INVALID_INPUT);
}
