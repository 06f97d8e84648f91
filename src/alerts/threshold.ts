/**
 * Threshold evaluation with hysteresis, so a value hovering around a threshold does not open and
 * resolve an alert on every probe. A level is entered at value >= threshold and, once held, left
 * only when value < threshold * (1 - hysteresis). With warning 80 and hysteresis 0.05 an open
 * warning stays open at 78 (>= 76) and clears at 75.
 *
 * Pure: no I/O, no clock.
 */
import type { AlertSeverity } from './alert';

export interface ThresholdInput {
  value: number;
  warning?: number;
  critical?: number;
  /** Fraction of a threshold the value must fall below it before a held level clears. Default 0. */
  hysteresis?: number;
  /** The severity currently held (the open alert's), if any. */
  current?: AlertSeverity | null;
}

const LEVELS = ['critical', 'warning'] as const;
type Level = (typeof LEVELS)[number];
const RANK: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

/** The severity to hold after observing `value`, or undefined when nothing is breached. */
export function evaluateThreshold(input: ThresholdInput): Level | undefined {
  const { value, warning, critical, current } = input;
  const hysteresis = input.hysteresis ?? 0;
  if (!Number.isFinite(value)) throw new RangeError('value must be a finite number');
  if (!(hysteresis >= 0 && hysteresis < 1)) throw new RangeError('hysteresis must be in [0, 1)');
  if (warning === undefined && critical === undefined)
    throw new RangeError('a warning or critical threshold is needed');
  if (warning !== undefined && critical !== undefined && critical < warning) {
    throw new RangeError('the critical threshold must not be below the warning threshold');
  }
  const thresholds: Record<Level, number | undefined> = { critical, warning };
  const held = current ? RANK[current] : 0;
  for (const level of LEVELS) {
    const t = thresholds[level];
    if (t === undefined) continue;
    if (value >= t) return level;
    if (held >= RANK[level] && value >= t * (1 - hysteresis)) return level;
  }
  return undefined;
}
