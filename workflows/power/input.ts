/** Start-time validation and timing defaults shared by the power workflows. */
import { invalidPowerInput, resolvePowerTimings, type PowerTimings } from '../../src/domain/power';

/** Step 1 of the droplet-operation prologue (../droplet-prologue.ts) for a power workflow. */
export function powerInputProblem(reasons?: readonly string[]) {
  return (input: object): string | undefined => invalidPowerInput(input, reasons);
}

export function timingsWith(overrides?: Partial<PowerTimings>): PowerTimings {
  return resolvePowerTimings(overrides);
}
