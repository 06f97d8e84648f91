/** Start-time validation and timing defaults shared by the power workflows. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import {
  DEFAULT_POWER_TIMINGS,
  invalidPowerInput,
  PowerFailure,
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
  return {
    ...DEFAULT_POWER_TIMINGS,
    ...Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined)),
  };
}

/** An activity failure the provider means for good (not an errored action, which a retry may fix). */
export function permanentRefusal(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (
    cause instanceof ApplicationFailure &&
    cause.nonRetryable &&
    cause.type !== 'DigitalOceanActionFailedError'
  ) {
    return ApplicationFailure.nonRetryable(cause.message, cause.type ?? PowerFailure.provider);
  }
  return undefined;
}

export function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
