/** Start-time validation and timing defaults shared by the power workflows. */
import { invalidPowerInput, resolvePowerTimings, type PowerTimings } from '../../src/domain/power';
import { requireValidDropletInput } from '../droplet-owner';

/** Step 1 of the droplet-operation prologue for the power workflows (see ../droplet-owner.ts). */
export function requireValidInput(input: unknown, reasons?: readonly string[]): void {
  requireValidDropletInput(input, (i) => invalidPowerInput(i as never, reasons));
}

export function timingsWith(overrides?: Partial<PowerTimings>): PowerTimings {
  return resolvePowerTimings(overrides);
}
