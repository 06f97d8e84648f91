/** Start-time validation and timing defaults shared by the power workflows. */
import { ApplicationFailure } from '@temporalio/workflow';
import {
  invalidPowerInput,
  PowerFailure,
  resolvePowerTimings,
  type PowerTimings,
} from '../../src/domain/power';

export function requireValidInput(input: unknown, reasons?: readonly string[]): void {
  const problem =
    typeof input !== 'object' || input === null
      ? 'input must be an object'
      : invalidPowerInput(input as never, reasons);
  if (problem) throw ApplicationFailure.nonRetryable(`invalid input: ${problem}`, PowerFailure.invalidInput);
}

export function timingsWith(overrides?: Partial<PowerTimings>): PowerTimings {
  return resolvePowerTimings(overrides);
}
